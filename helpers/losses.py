"""Contrastive losses (taught in notebook 04; used to train every embedder from notebook 03 on)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, docs: torch.Tensor, temperature: float = 0.05,
             hard_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with in-batch negatives: query i must pick document i among all documents in the batch.

    ``queries`` and ``docs`` are (batch, dim); ``hard_negatives`` is (batch, dim) or (batch, k, dim) and
    joins the candidate pool of every query. Similarities are cosines divided by ``temperature``; the
    loss is the cross-entropy with the paired document as the target. With temperature 0.05 this equals
    sentence-transformers' ``MultipleNegativesRankingLoss`` (scale 20).
    """
    if queries.dim() != 2 or queries.shape != docs.shape:
        raise ValueError(
            f"queries and docs must both be (batch, dim); got {tuple(queries.shape)} and {tuple(docs.shape)}."
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    candidates = docs
    if hard_negatives is not None:
        if hard_negatives.dim() == 3:  # (batch, k, dim) -> k blocks of (batch, dim), as MNRL orders columns
            hard_negatives = hard_negatives.transpose(0, 1).reshape(-1, hard_negatives.shape[-1])
        if hard_negatives.dim() != 2 or hard_negatives.shape[1] != docs.shape[1]:
            raise ValueError(
                f"hard_negatives must be (batch, dim) or (batch, k, dim); got {tuple(hard_negatives.shape)}."
            )
        candidates = torch.cat([docs, hard_negatives])
    logits = F.normalize(queries, dim=-1) @ F.normalize(candidates, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries), device=queries.device))


def symmetric_info_nce(queries: torch.Tensor, docs: torch.Tensor, temperature: float = 0.05,
                       hard_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """The two-way InfoNCE: the mean of query -> document (hard negatives included) and document -> query.

    Equals sentence-transformers' ``MultipleNegativesRankingLoss`` with ``directions=("query_to_doc",
    "doc_to_query")`` and ``partition_mode="per_direction"`` (formerly ``MultipleNegativesSymmetricRankingLoss``).
    """
    forward = info_nce(queries, docs, temperature, hard_negatives)
    return (forward + info_nce(docs, queries, temperature)) / 2


def deduplicated_info_nce(queries: torch.Tensor, docs: torch.Tensor, doc_ids, temperature: float = 0.05,
                          hard_negatives: torch.Tensor | None = None, hard_negative_ids=None) -> torch.Tensor:
    """InfoNCE that never counts a copy of a query's own positive as a negative.

    ``doc_ids`` (batch,) names each paired document; a candidate whose id equals row i's positive id (other
    than column i itself) is masked out of row i: a copy of a query's own document no longer takes a share of
    the softmax, which would weaken (never reverse) the pull towards it (notebook 04, section 7).
    ``hard_negative_ids`` (batch,) or (batch, k) does the same for mined negatives. With all ids distinct this
    equals :func:`info_nce`.
    """
    doc_ids = torch.as_tensor(doc_ids, device=queries.device).reshape(-1)
    if len(doc_ids) != len(queries):
        raise ValueError(f"Need one doc id per query: got {len(doc_ids)} ids for {len(queries)} queries.")
    if (hard_negatives is None) != (hard_negative_ids is None):
        raise ValueError("Pass hard_negatives and hard_negative_ids together (one id per hard negative).")
    candidates, candidate_ids = docs, doc_ids
    if hard_negatives is not None:
        hard_negative_ids = torch.as_tensor(hard_negative_ids, device=queries.device)
        if hard_negatives.dim() == 3:  # same column order as info_nce: k blocks of (batch, dim)
            hard_negatives = hard_negatives.transpose(0, 1).reshape(-1, hard_negatives.shape[-1])
            hard_negative_ids = hard_negative_ids.T.reshape(-1)
        if len(hard_negative_ids) != len(hard_negatives):
            raise ValueError("Need one id per hard negative: hard_negative_ids must match hard_negatives' rows.")
        candidates = torch.cat([docs, hard_negatives])
        candidate_ids = torch.cat([doc_ids, hard_negative_ids.reshape(-1)])
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    logits = F.normalize(queries, dim=-1) @ F.normalize(candidates, dim=-1).T / temperature
    rows = torch.arange(len(queries), device=queries.device)
    false_negative = candidate_ids[None, :] == doc_ids[:, None]
    false_negative[rows, rows] = False
    return F.cross_entropy(logits.masked_fill(false_negative, float("-inf")), rows)


def matryoshka_loss(queries: torch.Tensor, docs: torch.Tensor, dims, weights=None, temperature: float = 0.05,
                    hard_negatives: torch.Tensor | None = None, loss=info_nce) -> torch.Tensor:
    """Matryoshka representation learning: the weighted sum of ``loss`` on the first ``d`` dimensions, for
    every ``d`` in ``dims``, so that each prefix of the vector is an embedding in its own right.

    Each prefix is re-normalised (the cosine inside ``loss`` does it). Equals sentence-transformers'
    ``MatryoshkaLoss`` wrapped around ``MultipleNegativesRankingLoss`` (weights default to 1).
    """
    dims = [int(d) for d in dims]
    weights = [1.0] * len(dims) if weights is None else list(weights)
    if not dims or len(weights) != len(dims):
        raise ValueError(f"Give at least one dimension and one weight per dimension; got {dims} and {weights}.")
    if min(dims) < 1 or max(dims) > queries.shape[-1]:
        raise ValueError(f"Every dimension must lie in 1..{queries.shape[-1]}, got {dims}.")
    total = queries.new_zeros(())
    for dim, weight in zip(dims, weights, strict=True):
        negatives = None if hard_negatives is None else hard_negatives[..., :dim]
        total = total + weight * loss(queries[:, :dim], docs[:, :dim], temperature=temperature,
                                      hard_negatives=negatives)
    return total


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """Wang & Isola's alignment: mean ``||f(x) - f(y)||^alpha`` over positive pairs (lower is better).

    Rows are L2-normalised first, so the value lies in [0, 2^alpha].
    """
    if x.shape != y.shape:
        raise ValueError(f"alignment needs paired rows of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}.")
    return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=-1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """Wang & Isola's uniformity: ``log mean exp(-t ||f(x_i) - f(x_j)||^2)`` over distinct pairs i < j
    (lower means the vectors spread more evenly over the sphere; -4 is the floor at t = 2 in high dimension).
    """
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"uniformity needs a (n >= 2, dim) matrix, got {tuple(x.shape)}.")
    return torch.pdist(F.normalize(x, dim=-1)).pow(2).mul(-t).exp().mean().log()
