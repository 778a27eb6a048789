"""GloVe (Pennington et al. 2014) from scratch in PyTorch (taught in notebook 01).

* :func:`cooccurrence_matrix`: symmetric co-occurrence counts within a window, each pair weighted by
  1/distance, as the reference ``cooccur.c`` does; windows never cross a document boundary;
* :func:`glove_weight`: f(x) = (x / x_max)^α, capped at 1 (α = 0.75; x_max = 10 by default, the value
  of the reference's ``demo.sh`` for text8, not the paper's 100: see notebook 01 for why small corpora
  need it);
* :func:`glove_loss`: f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)², per non-zero entry, and
  :func:`glove_gradients`, the gradients of half of it by hand (glove.c's cost is ½ f e²);
* :func:`glove_adagrad_step`: glove.c's AdaGrad (learning rate 0.05, accumulators of (η·g)² starting at 1)
  on a batch of entries, with ``index_add_`` updates of the touched rows;
* :func:`train_glove`: shuffled batches of the non-zero entries, every parameter initialised uniform in
  ±0.5/dim as glove.c does; the word vectors are W + W̃.

Vocabulary, evaluation and the averaged-vector embedder are those of :mod:`helpers.word_vectors`.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch

from helpers import config
from helpers.word_vectors import TrainingLog, WordVectors, build_vocabulary, corpus_ids


def cooccurrence_matrix(ids: np.ndarray, docs: np.ndarray, vocabulary_size: int, window: int = 10) -> sp.csr_matrix:
    """X[i, j] = Σ 1/d over the times word j occurs d ≤ ``window`` words from word i, in the same document.

    Symmetric: each occurrence counts for (i, j) and (j, i). ``ids`` and ``docs`` come from
    :func:`helpers.word_vectors.corpus_ids`.
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


def glove_weight(x, x_max: float = 10.0, alpha: float = 0.75):
    """f(x) = (x / x_max)^α for x < x_max, else 1: rare co-occurrences count less, frequent ones are capped."""
    if isinstance(x, torch.Tensor):
        return (x / x_max).pow(alpha).clamp(max=1.0)
    return np.minimum(1.0, (np.asarray(x, dtype=np.float64) / x_max) ** alpha)


def glove_loss(w: torch.Tensor, w_context: torch.Tensor, b: torch.Tensor, b_context: torch.Tensor,
               counts: torch.Tensor, x_max: float = 10.0, alpha: float = 0.75) -> torch.Tensor:
    """Per-entry weighted least squares (the paper's J): f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)²."""
    error = (w * w_context).sum(-1) + b + b_context - counts.log()
    return glove_weight(counts, x_max, alpha) * error**2


def glove_gradients(w: torch.Tensor, w_context: torch.Tensor, b: torch.Tensor, b_context: torch.Tensor,
                    counts: torch.Tensor, x_max: float = 10.0, alpha: float = 0.75, scale: float = 1.0):
    """The loss and the gradients of **half** of it by hand, as glove.c computes them (its cost is ½ f e²).

    With e = w·w̃ + b + b̃ - log X and f = f(X): ∂(½ f e²)/∂w = f e w̃, ∂/∂w̃ = f e w, ∂/∂b = ∂/∂b̃ = f e.
    Returns ``(losses, grad_w, grad_w_context, grad_b)`` (the two bias gradients are equal); ``losses`` is
    :func:`glove_loss`. Equal to autograd on ½ :func:`glove_loss` (tested). ``scale`` multiplies the
    gradients (the trainer passes the learning rate: cheaper on the (batch,) factor than on the results).
    """
    error = torch.bmm(w.unsqueeze(1), w_context.unsqueeze(-1)).view(-1) + b + b_context - counts.log()
    f_error = glove_weight(counts, x_max, alpha) * error
    losses = f_error * error
    f_error = f_error.mul_(scale).unsqueeze(-1)
    return losses, f_error * w_context, f_error * w, f_error.squeeze(-1)


def glove_adagrad_step(tables: list[torch.Tensor], accumulators: list[torch.Tensor], rows: torch.Tensor,
                       columns: torch.Tensor, counts: torch.Tensor, learning_rate: float = 0.05,
                       x_max: float = 10.0, alpha: float = 0.75) -> torch.Tensor:
    """glove.c's AdaGrad update for a batch of entries (i, j, X_ij), in place; returns the per-entry losses.

    ``tables`` are [W, W̃, b, b̃] (vectors (V, dim), biases (V,)), ``accumulators`` the matching tensors of
    summed squares, which start at 1. For each parameter θ with gradient g of ½ f e², glove.c does

        θ -= η g / sqrt(G);   G += (η g)²

    Note the η inside the square: glove.c's accumulator grows η² = 400 times slower than textbook AdaGrad
    (``torch.optim.Adagrad`` adds g²), so its steps stay near η g for much longer. A batch of one entry is
    exactly glove.c's step (tested); in a larger batch, every entry reads G from before the batch and the
    updates of a row that occurs several times are summed, as glove.c's lock-free threads nearly do.
    """
    word, context, bias, context_bias = tables
    # index_select rather than word[rows]: the same rows, several times faster on a CPU
    losses, step_w, step_context, step_b = glove_gradients(
        word.index_select(0, rows), context.index_select(0, columns), bias.index_select(0, rows),
        context_bias.index_select(0, columns), counts, x_max, alpha, scale=learning_rate)  # steps η g
    # in place where possible: each pass over (batch, dim) costs about as much as the arithmetic
    for table, accumulator, index, step in zip(tables, accumulators, [rows, columns, rows, columns],
                                               [step_w, step_context, step_b, step_b], strict=True):
        table.index_add_(0, index, accumulator.index_select(0, index).rsqrt_().mul_(step), alpha=-1.0)
        accumulator.index_add_(0, index, step.square_() if step is not step_b else step * step)
    return losses


def train_glove(documents: list[list[str]], dim: int = 100, window: int = 10, min_count: int = 5,
                x_max: float = 10.0, alpha: float = 0.75, epochs: int = 10, learning_rate: float = 0.05,
                batch_size: int = 4096, seed: int = 42, progress: bool = True,
                threads: int | None = 1) -> tuple[WordVectors, TrainingLog]:
    """Train GloVe on a tokenised corpus; returns W + W̃ as :class:`WordVectors` and the loss per epoch.

    Counts with :func:`cooccurrence_matrix`, starts every parameter (vectors and biases) uniform in
    ±0.5/dim as glove.c does, then per epoch shuffles the non-zero entries and applies
    :func:`glove_adagrad_step` batch by batch. The logged loss is the paper's J per entry (the mean of
    :func:`glove_loss`, twice glove.c's printed cost), measured while training as glove.c does.
    ``threads``: PyTorch CPU threads while training, as in :func:`helpers.word2vec.train_sgns`.
    """
    with config.cpu_threads(threads):
        return _train_glove(documents, dim, window, min_count, x_max, alpha, epochs, learning_rate, batch_size,
                            seed, progress)


def _train_glove(documents, dim, window, min_count, x_max, alpha, epochs, learning_rate, batch_size, seed, progress):
    generator = torch.Generator().manual_seed(seed)
    vocabulary = build_vocabulary(documents, min_count)
    size = len(vocabulary)
    start = time.perf_counter()
    matrix = cooccurrence_matrix(*corpus_ids(documents, vocabulary), size, window).tocoo()
    rows, columns = torch.from_numpy(matrix.row.astype(np.int64)), torch.from_numpy(matrix.col.astype(np.int64))
    counts = torch.from_numpy(matrix.data).float()

    def uniform(*shape):
        return (torch.rand(*shape, generator=generator) - 0.5) / dim

    tables = [uniform(size, dim), uniform(size, dim), uniform(size), uniform(size)]
    accumulators = [torch.ones_like(table) for table in tables]
    log = TrainingLog()
    for _ in config.progress_bar(range(epochs), desc="GloVe epochs", disable=not progress):
        order = torch.randperm(len(counts), generator=generator)
        epoch_rows, epoch_columns, epoch_counts = rows[order], columns[order], counts[order]
        total = 0.0
        for begin in range(0, len(order), batch_size):
            batch = slice(begin, begin + batch_size)
            losses = glove_adagrad_step(tables, accumulators, epoch_rows[batch], epoch_columns[batch],
                                        epoch_counts[batch], learning_rate, x_max, alpha)
            total += float(losses.sum())
        log.steps.append(len(log.steps) + 1)
        log.losses.append(total / len(counts))
    log.seconds = time.perf_counter() - start
    log.words = sum(len(document) for document in documents) * epochs
    return WordVectors(vocabulary.words, (tables[0] + tables[1]).numpy()), log
