"""Word2vec, skip-gram with negative sampling (SGNS), from scratch in PyTorch (taught in notebook 01).

The pieces, in the order the notebook builds them:

* :func:`keep_probability`: frequent-word subsampling, word2vec.c's rule (gensim's too);
* :func:`noise_distribution`: unigram counts raised to 0.75, for negative sampling, and
  :func:`unigram_table`, word2vec.c's fast way to draw from it;
* :func:`skipgram_pairs`: (centre, context) pairs with a window shrunk at random per centre word;
* :func:`sgns_loss`: -log σ(v·u_context) - Σ log σ(-v·u_negative), and :func:`sgns_gradients` by hand;
* :func:`sgns_update`: one batched SGD step, the same gradients fused into one gather and one sparse
  ``index_add_`` per table, on reused buffers;
* :func:`train_sgns`: the whole trainer, vectorised over batches of pairs with plain SGD, a linearly
  decaying learning rate (as word2vec.c) and sparse ``index_add_`` updates of the touched rows.

The result is a :class:`~helpers.word_vectors.WordVectors` table; the vocabulary, the evaluations and the
averaged-vector embedder, which GloVe (:mod:`helpers.glove`) shares, are in :mod:`helpers.word_vectors`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from helpers import config
from helpers.corpus import count_tokens
from helpers.word_vectors import TrainingLog, WordVectors, build_vocabulary, corpus_ids


def keep_probability(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """word2vec.c's subsampling: keep a word of count c with probability (sqrt(c / (s·N)) + 1) · s·N / c,
    capped at 1 (N = total count, s = ``sample``). Words rarer than about s·N are always kept."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def paper_discard_probability(frequencies: np.ndarray, t: float = 1e-5) -> np.ndarray:
    """The paper's rule (Mikolov et al. 2013): discard a word of relative frequency f with 1 - sqrt(t / f)."""
    return np.maximum(0.0, 1 - np.sqrt(t / np.asarray(frequencies, dtype=np.float64)))


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Negative-sampling probabilities: counts raised to ``power``, normalised to sum to 1."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def skipgram_pairs(ids: np.ndarray, docs: np.ndarray, window: int, rng: np.random.Generator):
    """(centre, context) id pairs with word2vec's dynamic window.

    Each centre word draws its own window ``b`` uniformly from 1..``window`` and pairs with the words at
    distance 1..b on both sides, within its document. Nearby words are thus sampled more often (distance
    d is used with probability (window - d + 1) / window). Returns two int64 arrays, grouped by distance.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}.")
    reach = rng.integers(1, window + 1, size=len(ids))
    centres, contexts = [], []
    for distance in range(1, window + 1):
        same_doc = docs[distance:] == docs[:-distance]
        right = same_doc & (reach[:-distance] >= distance)  # centre on the left, context to its right
        left = same_doc & (reach[distance:] >= distance)  # centre on the right, context to its left
        centres += [ids[:-distance][right], ids[distance:][left]]
        contexts += [ids[distance:][right], ids[:-distance][left]]
    return np.concatenate(centres), np.concatenate(contexts)


def sgns_loss(centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Per-pair SGNS loss: -log σ(v·u_o) - Σ_k log σ(-v·u_k).

    ``centre`` (batch, dim) are input vectors v, ``context`` (batch, dim) output vectors u_o of the true
    context words, ``negatives`` (batch, k, dim) output vectors u_k of words drawn from the noise.
    """
    if centre.shape != context.shape or negatives.dim() != 3 or negatives.shape[::2] != centre.shape:
        raise ValueError(f"Expected centre and context (batch, dim) and negatives (batch, k, dim); got "
                         f"{tuple(centre.shape)}, {tuple(context.shape)}, {tuple(negatives.shape)}.")
    positive = (centre * context).sum(-1)
    negative = torch.einsum("bd,bkd->bk", centre, negatives)
    return -F.logsigmoid(positive) - F.logsigmoid(-negative).sum(-1)


def sgns_gradients(centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor):
    """The SGNS loss and its gradients by hand, with s_o = v·u_o and s_k = v·u_k:

    ∂L/∂v = (σ(s_o) - 1) u_o + Σ_k σ(s_k) u_k,   ∂L/∂u_o = (σ(s_o) - 1) v,   ∂L/∂u_k = σ(s_k) v.

    Returns ``(losses, grad_centre, grad_context, grad_negatives)``; equal to autograd on :func:`sgns_loss`
    (tested), and about a third cheaper, which is what the trainer needs.
    """
    positive = (centre * context).sum(-1)
    negative = torch.bmm(negatives, centre.unsqueeze(-1)).squeeze(-1)
    losses = -F.logsigmoid(positive) - F.logsigmoid(-negative).sum(-1)
    g_positive = torch.sigmoid(positive).sub_(1).unsqueeze(-1)
    g_negative = torch.sigmoid(negative)
    grad_centre = g_positive * context + torch.bmm(g_negative.unsqueeze(1), negatives).squeeze(1)
    return losses, grad_centre, g_positive * centre, g_negative.unsqueeze(-1) * centre.unsqueeze(1)


def unigram_table(counts: np.ndarray, power: float = 0.75, size: int = 1_000_000) -> torch.Tensor:
    """word2vec.c's table: word k fills a share ≈ :func:`noise_distribution` of ``size`` slots, so that
    a uniformly random slot is a draw from the noise distribution (much faster than inverse-CDF search)."""
    edges = np.round(np.cumsum(noise_distribution(counts, power)) * size).astype(np.int64)
    return torch.from_numpy(np.repeat(np.arange(len(edges)), np.diff(edges, prepend=0)))


def sgns_update(input_vectors: torch.Tensor, output_vectors: torch.Tensor, centres: torch.Tensor,
                targets: torch.Tensor, weights: torch.Tensor, rate: float, buffers: dict | None = None) -> torch.Tensor:
    """One SGD step of SGNS on a batch, in place; returns the scores s = v·u of every (centre, target).

    The fused form of :func:`sgns_gradients` that :func:`train_sgns` runs: ``targets`` (batch, 1 + k) holds
    the true context in column 0 and the k noise words after it, so one gather fetches all output vectors
    and one ``index_add_`` writes them back. With labels y = (1, 0, ..., 0), every gradient is
    g = σ(s) - y times a vector: ∂L/∂v = Σ_t g_t u_t and ∂L/∂u_t = g_t v. ``weights`` (batch, 1 + k)
    multiplies g (0 drops a noise word that equals the context, as word2vec.c skips it).
    ``buffers`` (from :func:`sgns_buffers`) lets the caller reuse memory across batches: on a CPU, fresh
    multi-megabyte tensors every step cost page faults, about a third of the step.
    """
    batch, width = targets.shape
    dim = input_vectors.shape[1]
    flat = targets.reshape(-1)
    if buffers is None:
        buffers = sgns_buffers(batch, width - 1, dim, input_vectors.device)
    # index_select into a preallocated buffer: 4x faster on a CPU than advanced indexing output_vectors[targets]
    v = torch.index_select(input_vectors, 0, centres, out=buffers["v"][:batch])
    u = torch.index_select(output_vectors, 0, flat, out=buffers["u"][: batch * width]).view(batch, width, dim)
    scores = torch.bmm(u, v.unsqueeze(-1), out=buffers["scores"][:batch]).squeeze(-1)
    g = torch.sigmoid(scores, out=buffers["g"][:batch])
    g[:, 0] -= 1
    g.mul_(weights).mul_(-rate)
    grad_v = torch.bmm(g.unsqueeze(1), u, out=buffers["grad_v"][:batch]).squeeze(1)
    grad_u = torch.mul(g.unsqueeze(-1), v.unsqueeze(1), out=buffers["grad_u"][:batch])
    input_vectors.index_add_(0, centres, grad_v)
    output_vectors.index_add_(0, flat, grad_u.view(-1, dim))
    return scores


def sgns_buffers(batch_size: int, negative: int, dim: int, device="cpu") -> dict:
    """Reusable work tensors for :func:`sgns_update` (batches up to ``batch_size`` pairs)."""
    width = negative + 1
    shapes = {"v": (batch_size, dim), "u": (batch_size * width, dim), "scores": (batch_size, width, 1),
              "g": (batch_size, width), "grad_v": (batch_size, 1, dim), "grad_u": (batch_size, width, dim)}
    return {name: torch.empty(shape, device=device) for name, shape in shapes.items()}


def train_sgns(documents: list[list[str]], dim: int = 100, window: int = 5, min_count: int = 5,
               negative: int = 5, sample: float = 1e-3, epochs: int = 5, alpha: float = 0.025,
               min_alpha: float = 1e-4, batch_size: int = 2048, seed: int = 42, progress: bool = True,
               device: str = "cpu", threads: int | None = 1) -> tuple[WordVectors, TrainingLog]:
    """Train skip-gram with negative sampling; gensim's ``Word2Vec(sg=1)`` defaults for every setting.

    Per epoch: subsample the corpus, build all (centre, context) pairs with the dynamic window and shuffle
    them; draw ``negative`` noise words per pair from :func:`unigram_table` (for 64 batches at a time);
    then per batch apply :func:`sgns_update`, the gradients of :func:`sgns_gradients` added with
    ``index_add_`` (plain SGD, learning rate decaying linearly from ``alpha`` to ``min_alpha``). Input
    vectors start uniform in ±0.5/dim and output vectors at zero, as in word2vec.c. The input vectors
    are returned. The log's seconds cover everything from the vocabulary on, as gensim's wall time does.
    ``device="cuda"`` runs the same code on a GPU. ``threads``: PyTorch's CPU threads while training
    (restored afterwards; ``None`` keeps the current setting). One is the default: a second thread gains about a
    third on an idle 2-core machine (notebook 01 uses two, as gensim gets two workers) but loses a lot when
    another process shares the cores.
    """
    with config.cpu_threads(threads):
        return _train_sgns(documents, dim, window, min_count, negative, sample, epochs, alpha, min_alpha,
                           batch_size, seed, progress, device)


def _train_sgns(documents, dim, window, min_count, negative, sample, epochs, alpha, min_alpha, batch_size, seed,
                progress, device):
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    vocabulary = build_vocabulary(documents, min_count)
    ids, docs = corpus_ids(documents, vocabulary)
    keep = keep_probability(vocabulary.counts, sample)
    table = unigram_table(vocabulary.counts).to(device)
    size = len(vocabulary)
    input_vectors = (torch.rand(size, dim, generator=generator, device=device) - 0.5) / dim
    output_vectors = torch.zeros(size, dim, device=device)
    buffers = sgns_buffers(batch_size, negative, dim, device)

    epoch_pairs = [skipgram_pairs(*_subsample(ids, docs, keep, rng), window, rng) for _ in range(epochs)]
    total = sum(len(centres) for centres, _ in epoch_pairs)
    log, done = TrainingLog(), 0
    bar = config.progress_bar(total=total, desc="SGNS pairs", unit="pair", unit_scale=True, disable=not progress)
    chunk = 64 * batch_size
    for centres_all, contexts_all in epoch_pairs:
        order = rng.permutation(len(centres_all))
        centres_all = torch.from_numpy(centres_all[order]).to(device)
        contexts_all = torch.from_numpy(contexts_all[order]).to(device)
        for first in range(0, len(centres_all), chunk):
            centres_chunk, contexts_chunk = centres_all[first : first + chunk], contexts_all[first : first + chunk]
            noise = table[torch.randint(len(table), (len(centres_chunk), negative), generator=generator, device=device)]
            targets = torch.cat([contexts_chunk[:, None], noise], 1)
            weights = torch.cat([torch.ones_like(noise[:, :1]), noise != contexts_chunk[:, None]], 1).float()
            for begin in range(0, len(centres_chunk), batch_size):
                batch = slice(begin, begin + batch_size)
                rate = max(min_alpha, alpha - (alpha - min_alpha) * done / total)
                scores = sgns_update(input_vectors, output_vectors, centres_chunk[batch], targets[batch],
                                     weights[batch], rate, buffers)
                if begin == 0:  # the loss before this batch's update, once per chunk
                    losses = -F.logsigmoid(scores[:, 0]) - (F.logsigmoid(-scores[:, 1:]) * weights[batch, 1:]).sum(-1)
                    log.steps.append(done)
                    log.losses.append(float(losses.mean()))
                done += len(scores)
            bar.update(len(centres_chunk))
    bar.close()
    log.seconds = time.perf_counter() - start
    log.words = count_tokens(documents) * epochs
    return WordVectors(vocabulary.words, input_vectors.cpu().numpy()), log


def _subsample(ids: np.ndarray, docs: np.ndarray, keep: np.ndarray, rng: np.random.Generator):
    kept = rng.random(len(ids)) < keep[ids]
    return ids[kept], docs[kept]
