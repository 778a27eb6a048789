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
