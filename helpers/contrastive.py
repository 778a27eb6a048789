"""Contrastive training in miniature (taught in notebook 04).

Everything a contrastive run needs, small enough for 2 CPU cores:

* training pairs from real text: inverse-cloze pairs (:func:`ict_training_pairs`) from the course's training
  documents (:func:`helpers.data.training_background`, Lee background articles that share no sentence with
  any text the mini-MTEB scores);
* a student that trains in seconds: frozen features (MiniLM's input token table, mean-pooled, see
  :class:`StaticFeatures`; or MiniLM's own sentence vectors) under a trainable :class:`ProjectionHead`,
  with dropout, so that SimCSE's two dropout views exist;
* batching: random batches, or :func:`no_duplicate_batches` (no document twice in a batch);
* hard-negative mining with a first-stage model (:func:`mine_hard_negatives`: random, top-ranked, or a
  band of ranks such as 30-100);
* a training loop (:func:`train`) that logs the loss, alignment and uniformity, and a probe that scores
  retrieval on the benchmark's inverse-cloze task, dev split by default (:class:`RetrievalProbe`);
* :func:`grad_cache_step`: a large-batch gradient computed chunk by chunk, identical to the full batch's;
* :func:`seed_mean`: the mini-MTEB results of several training seeds of one recipe as one result, so that
  :func:`helpers.evaluate.compare` judges two recipes on their seed-averaged scores.
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from helpers import config, data
from helpers.embed import Embedder, check_texts, weights_fingerprint
from helpers.evaluate import interval, retrieval_scores
from helpers.losses import alignment, deduplicated_info_nce, info_nce, matryoshka_loss, symmetric_info_nce, uniformity

# Training pairs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairSet:
    """Query/passage training pairs: ``positive[i]`` is the passage of query i; ``article[p]`` the index of the
    training document that passage p comes from (passages of one article are near-relatives)."""

    queries: list[str]
    passages: list[str]
    positive: np.ndarray
    article: np.ndarray


@functools.lru_cache(maxsize=4)
def ict_training_pairs(passage_sentences: int = 6, queries_per_passage: int = 2, seed: int = 42,
                       documents: tuple[str, ...] | None = None) -> PairSet:
    """Inverse-cloze training pairs from ``documents``, by default the course's training documents
    (:func:`helpers.data.training_background`, which share no sentence with the benchmark).

    Each article is cut into windows of ``passage_sentences`` sentences; from each window
    ``queries_per_passage`` sentences (of 6 words or more) are taken out as queries, and the remaining
    sentences form their one shared passage. So every passage is the positive of several queries: a
    random batch can hold it twice, and then one copy is a false negative for the other query.
    """
    if queries_per_passage < 1 or passage_sentences < queries_per_passage + 2:
        raise ValueError("Need queries_per_passage >= 1 and passage_sentences >= queries_per_passage + 2.")
    rng = np.random.default_rng(seed)
    queries, passages, positive, article = [], [], [], []
    for index, text in enumerate(data.training_background() if documents is None else documents):
        sentences = data.split_sentences(text)
        for start in range(0, len(sentences), passage_sentences):
            window = sentences[start : start + passage_sentences]
            candidates = [k for k, s in enumerate(window) if len(s.split()) >= 6]
            if len(window) < queries_per_passage + 2 or len(candidates) < queries_per_passage:
                continue
            taken = set(rng.choice(candidates, queries_per_passage, replace=False).tolist())
            passages.append(" ".join(s for k, s in enumerate(window) if k not in taken))
            article.append(index)
            for k in sorted(taken):
                queries.append(window[k])
                positive.append(len(passages) - 1)
    return PairSet(queries, passages, np.array(positive), np.array(article))


# The student: frozen features, a trainable projection --------------------------------------------------


class StaticFeatures:
    """Frozen text features: the mean of a token-embedding table's rows over a text's tokens.

    With MiniLM's input table this is a static-embedding model (as in sentence-transformers'
    ``StaticEmbedding``): no attention, no word order, thousands of texts a second on a CPU.
    """

    def __init__(self, tokenizer, table: torch.Tensor, max_length: int = 256):
        self.tokenizer, self.table, self.max_length = tokenizer, table.detach(), max_length

    def __call__(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """(len(texts), dim) mean token vectors; special tokens are left out."""
        pooled = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(list(texts[start : start + batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, add_special_tokens=False,
                                   return_tensors="pt").to(self.table.device)
            mask = batch["attention_mask"].unsqueeze(-1).to(self.table.dtype)
            vectors = self.table[batch["input_ids"]] * mask
            pooled.append(vectors.sum(1) / mask.sum(1).clamp(min=1))
        return torch.cat(pooled).cpu()  # features live on the CPU, as EncoderFeatures' do: the heads train there

    def settings(self) -> dict:
        return {"table": weights_fingerprint(torch.nn.Embedding.from_pretrained(self.table)),
                "max_length": self.max_length, "tokenizer": self.tokenizer.name_or_path}


def minilm_static_features() -> StaticFeatures:
    """MiniLM's input token-embedding table (30,522 x 384), mean-pooled: the weak, cheap starting point."""
    from helpers.models import load_minilm

    model = load_minilm()
    return StaticFeatures(model.tokenizer, model[0].auto_model.embeddings.word_embeddings.weight)


class EncoderFeatures:
    """Frozen sentence vectors of another :class:`~helpers.embed.Embedder` (e.g. MiniLM), as features."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def __call__(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        return torch.from_numpy(self.embedder.encode(texts, batch_size=batch_size))

    def settings(self) -> dict:
        return {"embedder": self.embedder.fingerprint()}


class ProjectionHead(torch.nn.Module):
    """Dropout, then a square linear map that starts as the identity (so training starts from the features).

    In train mode the dropout makes two encodings of one text differ: SimCSE's augmentation.
    """

    def __init__(self, dim: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.linear = torch.nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dim))
            self.linear.bias.zero_()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(features))


class HeadEmbedder(Embedder):
    """Frozen ``features`` + a trained :class:`ProjectionHead`, optionally truncated to its first ``dims``."""

    def __init__(self, features, head: ProjectionHead, name: str, dims: int | None = None):
        self.features, self.head, self.name = features, head, name
        self.dim = dims or head.linear.out_features
        if not 1 <= self.dim <= head.linear.out_features:
            raise ValueError(f"dims must lie in 1..{head.linear.out_features}, got {dims}.")

    def encode(self, texts, batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        # The features of a whole list at once (an EncoderFeatures answers from its disk cache), then the head.
        vectors = self.embed_batch(check_texts(texts))
        return F.normalize(vectors, dim=-1).numpy()

    def embed_batch(self, texts):
        with torch.inference_mode():
            return self.head.linear(self.features(texts))[:, : self.dim]  # inference: no dropout

    def code(self):
        return (sys.modules[__name__],)  # the head and the feature extractors

    def settings(self):
        return {"features": self.features.settings(), "head": weights_fingerprint(self.head), "dims": self.dim}


# Batches and hard negatives ----------------------------------------------------------------------------


def random_batches(n_pairs: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of shuffled batches (the last one may be smaller)."""
    order = rng.permutation(n_pairs)
    return [order[start : start + batch_size] for start in range(0, n_pairs, batch_size)]


def no_duplicate_batches(positive, batch_size: int, rng: np.random.Generator,
                         hard_negatives=None) -> list[np.ndarray]:
    """One epoch of batches in which no passage occurs twice (as positive or hard negative).

    Like sentence-transformers' ``NoDuplicatesBatchSampler``: walk the shuffled pairs, put each into the
    first open batch where its passages are new; every pair is used once per epoch.
    """
    positive = np.asarray(positive)
    keys = positive[:, None] if hard_negatives is None else np.column_stack([positive, hard_negatives])
    batches, seen = [], []
    for pair in rng.permutation(len(positive)):
        for batch, used in zip(batches, seen, strict=True):
            if len(batch) < batch_size and not used.intersection(keys[pair]):
                batch.append(pair)
                used.update(keys[pair])
                break
        else:
            batches.append([pair])
            seen.append(set(keys[pair]))
    return [np.array(batch) for batch in batches]


def duplicate_rate(batches: list[np.ndarray], positive) -> float:
    """Fraction of pairs whose positive passage occurs more than once in their batch."""
    positive = np.asarray(positive)
    repeated = 0
    for batch in batches:
        _, inverse, counts = np.unique(positive[batch], return_inverse=True, return_counts=True)
        repeated += int((counts[inverse] > 1).sum())
    return repeated / sum(len(batch) for batch in batches)


STRATEGIES = ("random", "top", "ranks")


def mine_hard_negatives(query_vectors: np.ndarray, passage_vectors: np.ndarray, positive, strategy: str,
                        ranks: tuple[int, int] = (30, 100), seed: int = 42) -> np.ndarray:
    """One mined negative passage per query, from a first-stage model's vectors (unit rows).

    ``"random"``: any passage but the positive; ``"top"``: the best-ranked passage that is not the positive
    (often a false negative: a passage that answers the query too); ``"ranks"``: a random passage among
    ranks ``ranks[0]..ranks[1]`` (1-based, positive left out), the SFR-Embedding-Mistral recipe.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; choose one of {STRATEGIES}.")
    positive = np.asarray(positive)
    n_passages = len(passage_vectors)
    if strategy == "ranks" and not 1 <= ranks[0] <= ranks[1] <= n_passages - 1:
        raise ValueError(f"ranks must satisfy 1 <= low <= high <= {n_passages - 1}, got {ranks}.")
    rng = np.random.default_rng(seed)
    order = np.argsort(-(query_vectors @ passage_vectors.T), axis=1, kind="stable")
    mined = np.empty(len(positive), dtype=int)
    for q, ranking in enumerate(order):
        ranking = ranking[ranking != positive[q]]
        if strategy == "random":
            mined[q] = rng.choice(ranking)
        elif strategy == "top":
            mined[q] = ranking[0]
        else:
            mined[q] = rng.choice(ranking[ranks[0] - 1 : ranks[1]])
    return mined


def positive_aware_negatives(query_vectors: np.ndarray, passage_vectors: np.ndarray, positive, k: int = 1,
                             max_ratio: float | None = 0.95) -> np.ndarray:
    """The ``k`` best-scored passages per query other than its positive, by a teacher's cosine (unit rows).

    With ``max_ratio`` (NV-Retriever's "TopK-PercPos"), a candidate scoring above ``max_ratio`` x the positive's
    score is skipped as a probable false negative; ``None`` keeps plain top-k mining. Returns (queries, k).
    """
    positive = np.asarray(positive)
    if max_ratio is not None and not 0 < max_ratio <= 1:
        raise ValueError(f"max_ratio must lie in (0, 1], or be None; got {max_ratio}.")
    scores = query_vectors @ passage_vectors.T
    positive_scores = scores[np.arange(len(positive)), positive]
    mined = np.empty((len(positive), k), dtype=int)
    for q, row in enumerate(scores):
        ranking = np.argsort(-row, kind="stable")
        ranking = ranking[ranking != positive[q]]
        if max_ratio is not None:
            ranking = ranking[row[ranking] <= max_ratio * positive_scores[q]]
        if len(ranking) < k:
            raise ValueError(f"Query {q} keeps fewer than {k} negatives: lower k or raise max_ratio.")
        mined[q] = ranking[:k]
    return mined


# Training ----------------------------------------------------------------------------------------------


class RetrievalProbe:
    """nDCG@10 on a retrieval task from frozen features, computed fast enough to call during training.

    By default the inverse-cloze task's ``split`` (``"dev"``: a probe during training chooses settings, and
    choices are made on dev, reported on test); equals ``helpers.evaluate.eval_inverse_cloze(embedder,
    split).metrics["ndcg@10"]`` of the matching :class:`HeadEmbedder`.
    """

    def __init__(self, features, task: data.RetrievalTask | None = None, split: str = "dev"):
        self.task = task or data.inverse_cloze_task(split)
        self.query_features = features(self.task.queries)
        self.corpus_features = features(self.task.corpus)

    def vectors(self, head: ProjectionHead | None = None, dims: int | None = None):
        """Unit query and corpus vectors: the head's (no dropout), or the features' when ``head`` is None."""
        with torch.inference_mode():
            q, c = self.query_features, self.corpus_features
            if head is not None:
                q, c = head.linear(q), head.linear(c)
            return F.normalize(q[:, :dims], dim=-1), F.normalize(c[:, :dims], dim=-1)

    def __call__(self, head: ProjectionHead | None = None, dims: int | None = None) -> float:
        """nDCG@10 of the head's vectors (the features themselves when ``head`` is None), first ``dims`` only."""
        q, c = self.vectors(head, dims)
        return retrieval_scores(q.numpy(), c.numpy(), self.task.relevant)["ndcg@10"]

    def measure(self, head: ProjectionHead | None = None) -> dict[str, float]:
        """nDCG@10 plus the alignment of each query with its passage and the uniformity of the passages."""
        q, c = self.vectors(head)
        relevant = torch.as_tensor(self.task.relevant)
        return {"ndcg@10": self(head), "alignment": alignment(q, c[relevant]).item(),
                "uniformity": uniformity(c).item()}


LOSSES = ("info_nce", "symmetric", "deduplicated", "matryoshka")


def _batch_loss(loss, queries, docs, doc_ids, temperature, mined, mined_ids, matryoshka_dims):
    if loss == "info_nce":
        return info_nce(queries, docs, temperature, mined)
    if loss == "symmetric":
        return symmetric_info_nce(queries, docs, temperature, mined)
    if loss == "deduplicated":
        return deduplicated_info_nce(queries, docs, doc_ids, temperature, mined, mined_ids)
    return matryoshka_loss(queries, docs, matryoshka_dims, temperature=temperature, hard_negatives=mined)


def train(head: ProjectionHead, query_features: torch.Tensor, passage_features: torch.Tensor, positive, *,
          epochs: int = 8, batch_size: int = 64, temperature: float = 0.05, lr: float = 1e-3,
          loss: str = "info_nce", hard_negatives=None, no_duplicates: bool = False,
          matryoshka_dims=(32, 64, 128, 256, 384), dropout_views: bool = True,
          probe: RetrievalProbe | None = None, probe_every: int = 0, seed: int = 42,
          steps: int | None = None, micro_batch: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Train ``head`` with a contrastive loss; return one row per step: its loss, and every ``probe_every``
    steps (0: at the end only) the probe's nDCG@10, alignment and uniformity on held-out pairs.

    ``positive[i]`` is the row of ``passage_features`` paired with query i. For SimCSE pass the same
    features twice and ``positive = arange(n)``: with ``dropout_views=True`` (train mode) the two encodings
    differ by their dropout masks; with ``False`` (eval mode) they are identical. ``loss`` is one of
    :data:`LOSSES`; ``hard_negatives`` (one passage index per query) adds a mined negative to each row.

    ``steps``: stop after exactly this many optimizer steps, drawing as many epochs as that takes (``epochs``
    is then ignored), so that batch sizes can be compared at a fixed number of steps. ``micro_batch``: cut
    each batch into consecutive micro-batches of this many pairs and average the loss over the pairs, each
    micro-batch with only its own in-batch negatives: what gradient accumulation computes, i.e. the same
    pairs and steps as the full batch with fewer negatives (a micro-batch of one pair is left out).
    """
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {LOSSES}.")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be a positive number of optimizer steps, got {steps}.")
    if micro_batch is not None and micro_batch < 2:
        raise ValueError(f"micro_batch must hold at least 2 pairs (one negative each), got {micro_batch}.")
    positive = torch.as_tensor(np.asarray(positive))
    if len(positive) != len(query_features):
        raise ValueError(f"Need one positive per query: {len(positive)} positives, {len(query_features)} queries.")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    negatives = None if hard_negatives is None else torch.as_tensor(np.asarray(hard_negatives))
    rows = []
    head.train(dropout_views)
    with config.cpu_threads(1):  # a (64 x 384) step is too small to gain from a second thread
        epoch_numbers = range(epochs) if steps is None else itertools.count()
        for epoch in config.progress_bar(epoch_numbers, desc="epochs", disable=not progress, leave=False):
            if steps is not None and len(rows) == steps:
                break
            if no_duplicates:
                batches = no_duplicate_batches(positive.numpy(), batch_size, rng,
                                               None if negatives is None else negatives.numpy())
            else:
                batches = random_batches(len(positive), batch_size, rng)
            for batch in batches:
                if len(batch) < 2:  # a lone pair has no negative to learn from
                    continue
                if steps is not None and len(rows) == steps:
                    break
                batch = torch.as_tensor(batch)
                queries = head(query_features[batch])
                docs = head(passage_features[positive[batch]])
                mined = None if negatives is None else head(passage_features[negatives[batch]])
                if micro_batch is None:
                    value = _batch_loss(loss, queries, docs, positive[batch], temperature, mined,
                                        None if mined is None else negatives[batch], matryoshka_dims)
                else:  # gradient accumulation's loss: each micro-batch sees only its own negatives
                    cuts = [slice(k, k + micro_batch) for k in range(0, len(batch), micro_batch) if len(batch) - k >= 2]
                    sizes = [len(batch[cut]) for cut in cuts]
                    value = sum(size * _batch_loss(loss, queries[cut], docs[cut], positive[batch[cut]], temperature,
                                                   None if mined is None else mined[cut],
                                                   None if mined is None else negatives[batch[cut]], matryoshka_dims)
                                for cut, size in zip(cuts, sizes, strict=True)) / sum(sizes)
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                rows.append({"epoch": epoch, "loss": value.item()})
                if probe is not None and probe_every and len(rows) % probe_every == 0:
                    rows[-1].update(probe.measure(head))
    head.eval()
    if probe is not None and "ndcg@10" not in rows[-1]:
        rows[-1].update(probe.measure(head))
    return pd.DataFrame(rows).rename_axis("step")


# GradCache ---------------------------------------------------------------------------------------------


class _RandomState:
    """Remembers the random generators' state so that a chunk can be re-encoded with the same dropout."""

    def __init__(self):
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    def restore(self):
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


def grad_cache_step(encode: Callable[[torch.Tensor], torch.Tensor], queries: torch.Tensor, docs: torch.Tensor,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], chunk_size: int) -> torch.Tensor:
    """Back-propagate ``loss_fn`` over a whole batch while the encoder only ever holds ``chunk_size`` inputs
    in its graph (Gao et al. 2021, GradCache). Returns the loss; gradients land in ``encode``'s parameters.

    1. encode every chunk without a graph and keep the vectors (cheap to store);
    2. compute the loss on the full batch of vectors: every query sees every document as a negative;
       back-propagate it to the vectors only;
    3. re-encode each chunk with a graph (same dropout masks) and back-propagate its cached vector gradient.
    The parameter gradients equal those of one big batch; gradient accumulation over chunks does not,
    because each chunk's loss sees only that chunk's documents as negatives.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}.")
    chunks = {"queries": queries.split(chunk_size), "docs": docs.split(chunk_size)}
    states, vectors = {}, {}
    with torch.no_grad():
        for side, parts in chunks.items():
            states[side] = []
            encoded = []
            for part in parts:
                states[side].append(_RandomState())
                encoded.append(encode(part))
            vectors[side] = torch.cat(encoded).requires_grad_()
    loss = loss_fn(vectors["queries"], vectors["docs"])
    loss.backward()
    for side, parts in chunks.items():
        for part, state, grad in zip(parts, states[side], vectors[side].grad.split(chunk_size), strict=True):
            state.restore()
            encode(part).backward(gradient=grad)
    return loss.detach()


# Several seeds of one recipe ---------------------------------------------------------------------------


def seed_mean(results: list[pd.DataFrame], name: str | None = None) -> pd.DataFrame:
    """The mean of :func:`helpers.evaluate.mini_mteb` results of one recipe trained with different seeds, as
    one result that :func:`helpers.evaluate.compare` accepts.

    Task by task, the score and the bootstrap replicates are averaged over the seeds. The replicates of every
    result resample the same units (they depend only on the task), so the averaged replicates are those of the
    seed-averaged score, and ``compare(seed_mean(a), seed_mean(b))`` gives the paired interval of the
    seed-averaged difference. That interval covers the sampling of the benchmark's items, not the spread
    between seeds: show that spread next to it (e.g. one ``compare`` per seed).
    """
    if not results:
        raise ValueError("seed_mean needs at least one mini_mteb result.")
    first = results[0]
    for frame in results:
        if "replicates" not in frame.attrs:
            raise ValueError("seed_mean needs mini_mteb results: this frame has no bootstrap values.")
        if list(frame.index) != list(first.index) or frame.attrs.get("split") != first.attrs.get("split"):
            raise ValueError("seed_mean needs results of the same tasks on the same split.")
    frame = first.copy()
    replicates = {task: np.mean([r.attrs["replicates"][task] for r in results], axis=0) for task in first.index}
    for task in first.index:
        score = float(np.mean([r.loc[task, "score"] for r in results]))
        low, high = interval(replicates[task], score)
        frame.loc[task, ["score", "ci_low", "ci_high"]] = [score, low, high]
        frame.at[task, "metrics"] = {key: float(np.mean([r.loc[task, "metrics"][key] for r in results]))
                                     for key in first.loc[task, "metrics"]}
    frame["seconds"] = np.sum([r["seconds"].to_numpy() for r in results], axis=0)
    frame.attrs = {**first.attrs, "replicates": replicates, "seeds": len(results),
                   "model": name or f"{first.attrs.get('model')} (mean of {len(results)} seeds)"}
    return frame
