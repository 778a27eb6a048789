"""GloVe (Pennington et al. 2014) from scratch in PyTorch (taught in notebook 01).

* :func:`cooccurrence_matrix`: symmetric co-occurrence counts within a window, each pair weighted by
  1/distance, as the reference ``cooccur.c`` does; windows never cross a document boundary;
* :func:`glove_weight`: f(x) = (x / x_max)^α, capped at 1 (x_max = 100, α = 0.75);
* :func:`glove_loss`: f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)², per non-zero entry;
* :func:`train_glove`: AdaGrad over shuffled batches of the non-zero entries (the reference trains with
  AdaGrad, learning rate 0.05, accumulators starting at 1); the word vectors are W + W̃.

Vocabulary, evaluation and the averaged-vector embedder are those of :mod:`helpers.word2vec`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from helpers.word2vec import TrainingLog, WordVectors, build_vocabulary, corpus_ids


def cooccurrence_matrix(ids: np.ndarray, docs: np.ndarray, vocabulary_size: int, window: int = 10) -> sp.csr_matrix:
    """X[i, j] = Σ 1/d over the times word j occurs d ≤ ``window`` words from word i, in the same document.

    Symmetric: each occurrence counts for (i, j) and (j, i). ``ids`` and ``docs`` come from
    :func:`helpers.word2vec.corpus_ids`.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}.")
    rows, columns, weights = [], [], []
    for distance in range(1, window + 1):
        same = docs[distance:] == docs[:-distance]
        left, right = ids[:-distance][same], ids[distance:][same]
        rows += [left, right]
        columns += [right, left]
        weights.append(np.full(2 * len(left), 1.0 / distance))
    matrix = sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))),
                           shape=(vocabulary_size, vocabulary_size))
    return matrix.tocsr()  # duplicates are summed


def glove_weight(x, x_max: float = 100.0, alpha: float = 0.75):
    """f(x) = (x / x_max)^α for x < x_max, else 1: rare co-occurrences count less, frequent ones are capped."""
    if isinstance(x, torch.Tensor):
        return (x / x_max).pow(alpha).clamp(max=1.0)
    return np.minimum(1.0, (np.asarray(x, dtype=np.float64) / x_max) ** alpha)


def glove_loss(w: torch.Tensor, w_context: torch.Tensor, b: torch.Tensor, b_context: torch.Tensor,
               counts: torch.Tensor, x_max: float = 100.0, alpha: float = 0.75) -> torch.Tensor:
    """Per-entry weighted least squares: f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)²."""
    error = (w * w_context).sum(-1) + b + b_context - counts.log()
    return glove_weight(counts, x_max, alpha) * error**2


def train_glove(documents: list[list[str]], dim: int = 100, window: int = 10, min_count: int = 5,
                x_max: float = 100.0, alpha: float = 0.75, epochs: int = 15, learning_rate: float = 0.05,
                batch_size: int = 16384, seed: int = 42, progress: bool = True) -> tuple[WordVectors, TrainingLog]:
    """Train GloVe on a tokenised corpus; returns W + W̃ as :class:`WordVectors` and the loss per epoch."""
    generator = torch.Generator().manual_seed(seed)
    vocabulary = build_vocabulary(documents, min_count)
    size = len(vocabulary)
    start = time.perf_counter()
    matrix = cooccurrence_matrix(*corpus_ids(documents, vocabulary), size, window).tocoo()
    rows, columns = torch.from_numpy(matrix.row.astype(np.int64)), torch.from_numpy(matrix.col.astype(np.int64))
    counts = torch.from_numpy(matrix.data).float()

    def table(width):
        embedding = torch.nn.Embedding(size, width, sparse=True)
        torch.nn.init.uniform_(embedding.weight, -0.5 / dim, 0.5 / dim, generator=generator)
        return embedding

    word, context, bias, context_bias = table(dim), table(dim), table(1), table(1)
    parameters = [*word.parameters(), *context.parameters(), *bias.parameters(), *context_bias.parameters()]
    optimizer = torch.optim.Adagrad(parameters, lr=learning_rate, initial_accumulator_value=1.0)
    log = TrainingLog()
    for _ in tqdm(range(epochs), desc="GloVe epochs", disable=not progress):
        order = torch.randperm(len(counts), generator=generator)
        total = 0.0
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            i, j = rows[batch], columns[batch]
            losses = glove_loss(word(i), context(j), bias(i).squeeze(-1), context_bias(j).squeeze(-1), counts[batch],
                                x_max, alpha)
            optimizer.zero_grad()
            losses.sum().backward()
            with warnings.catch_warnings():  # torch notes that it skips checks of the sparse gradients
                warnings.filterwarnings("ignore", message="Sparse invariant checks")
                optimizer.step()
            total += float(losses.detach().sum())
        log.steps.append(len(log.steps) + 1)
        log.losses.append(total / len(counts))
    log.seconds = time.perf_counter() - start
    log.words = sum(len(document) for document in documents) * epochs
    return WordVectors(vocabulary.words, (word.weight + context.weight).detach().numpy()), log
