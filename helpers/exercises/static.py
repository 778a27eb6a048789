"""Checks for the exercises of notebook 12 (static embeddings distilled from a transformer)."""

from __future__ import annotations

import numpy as np

from helpers.exercises import call, convert, not_done, report


def _as_array(answer) -> tuple[np.ndarray | None, str | None]:
    return convert(answer, lambda value: np.asarray(value, dtype=np.float64), "an array of numbers")


def check_sif_weights(sif_weights) -> bool:
    """``sif_weights(n, coefficient)`` -> the SIF weight of each of ``n`` tokens in vocabulary order, their
    frequencies estimated by Zipf's law as Model2Vec does: rank r = 2..n+1, p = (1/r) / sum(1/r),
    weight = coefficient / (coefficient + p)."""
    if not_done(sif_weights):
        return False
    from helpers.static import sif_weights as reference

    for n, coefficient in [(6, 0.05), (30_522, 1e-4)]:
        got, error = call(sif_weights, n, coefficient)
        if error:
            return report(False, f"sif_weights({n}, {coefficient}) {error}")
        if not_done(got):
            return False
        got, problem = _as_array(got)
        if problem:
            return report(False, problem)
        expected = reference(n, coefficient)
        if got.shape != expected.shape:
            return report(False, f"sif_weights({n}, ...) has shape {got.shape}: return one weight per token, ({n},).")
        if np.allclose(got, expected, rtol=1e-6, atol=1e-12):
            continue
        rank = np.arange(1, n + 1)
        from_one = coefficient / (coefficient + (1 / rank) / (1 / rank).sum())
        if np.allclose(got, from_one, rtol=1e-6):
            return report(False, "Model2Vec's ranks start at 2 (np.arange(2, n + 2)), not at 1.")
        if np.allclose(got, coefficient / (coefficient + 1 / (rank + 1)), rtol=1e-6):
            return report(False, "Normalise the Zipf estimates into probabilities: p = (1/r) / sum(1/r).")
        return report(False, f"sif_weights({n}, {coefficient}) is off (first weights {np.round(got[:3], 5)}, "
                             f"expected {np.round(expected[:3], 5)}): weight = coefficient / (coefficient + p).")
    return report(True, "sif_weights is right: the first (most frequent) tokens are scaled towards zero, the rare "
                        "ones keep almost all of their length.")


def check_embed_bags(embed_bags) -> bool:
    """``embed_bags(ids, offsets, table)`` -> one unit vector per text: text k is ``ids[offsets[k]:offsets[k+1]]``
    (the last one runs to the end), its vector the normalised mean of those rows of ``table`` (the layout of
    PyTorch's ``EmbeddingBag``, which sentence-transformers' ``StaticEmbedding`` uses)."""
    if not_done(embed_bags):
        return False
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 6))
    texts = [[3, 7, 7, 1], [12], [40, 2, 9], [5, 5]]
    ids = np.array([token for text in texts for token in text])
    offsets = np.cumsum([0] + [len(text) for text in texts[:-1]])
    means = np.stack([table[text].mean(0) for text in texts])
    expected = means / np.linalg.norm(means, axis=1, keepdims=True)
    got, error = call(embed_bags, ids, offsets, table)
    if error:
        return report(False, f"embed_bags {error}")
    if not_done(got):
        return False
    got, problem = _as_array(got)
    if problem:
        return report(False, problem)
    if got.shape == (len(texts) - 1, table.shape[1]):
        return report(False, "One text is missing: the last bag runs from offsets[-1] to the end of ids.")
    if got.shape != expected.shape:
        return report(False, f"Got shape {got.shape}, expected {expected.shape}: one row per offset.")
    if np.allclose(got, means, atol=1e-8):
        return report(False, "Those are the means: divide each by its length so that cosine is a dot product.")
    if not np.allclose(got, expected, atol=1e-8):
        return report(False, "Text k is ids[offsets[k]:offsets[k + 1]]: take the mean of its rows, then normalise.")
    return report(True, "embed_bags is right: a whole static model is this lookup and a mean.")
