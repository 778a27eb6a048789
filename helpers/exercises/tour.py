"""Checks for the exercises of notebook 00 (the tour)."""

from __future__ import annotations

import numpy as np

from helpers.exercises import call, convert, not_done, report


def check_cosine(cosine) -> bool:
    """``cosine(u, v)`` must return the cosine similarity of two 1-D numpy vectors."""
    if not_done(cosine):
        return False
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=16), rng.normal(size=16)
    expected = float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    got, error = call(cosine, u, v)
    if error:
        return report(False, f"cosine(u, v) {error}")
    if not_done(got):
        return False
    got, problem = convert(got, float, "a number")
    if problem:
        return report(False, problem)
    if abs(got - expected) > 1e-6:
        return report(False, f"cosine(u, v) = {got:.4f}, expected {expected:.4f}. Divide u·v by |u|·|v|.")
    scaled, error = call(lambda: float(cosine(3 * u, v)))
    if error or abs(scaled - expected) > 1e-6:
        return report(False, "Scaling u must not change the cosine: normalise by the lengths of both vectors.")
    orthogonal, error = call(lambda: float(cosine(np.array([1.0, 0]), np.array([0, 2.0]))))
    if error or abs(orthogonal) > 1e-9:
        return report(False, "Orthogonal vectors must have cosine 0.")
    return report(True, "cosine is right: it ignores length and measures only the angle.")


def check_top_k(top_k) -> bool:
    """``top_k(query, corpus, k)`` must return the indices of the k most similar corpus rows, best first."""
    if not_done(top_k):
        return False
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(50, 8))
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    query = corpus[7] + 0.05 * rng.normal(size=8)
    expected = np.argsort(-(corpus @ query))[:5].tolist()
    got, error = call(top_k, query, corpus, 5)
    if error:
        return report(False, f"top_k {error}")
    if not_done(got):
        return False
    got, problem = convert(got, lambda value: [int(i) for i in value], "a list of row indices")
    if problem:
        return report(False, problem)
    if got != expected:
        if sorted(got) == sorted(expected):
            return report(False, "Right documents, wrong order: sort by similarity, highest first.")
        return report(False, f"Got {got}, expected {expected}. Score every row with a dot product, then sort.")
    return report(True, "top_k is right: this is exactly what a retrieval evaluation ranks.")


def check_most_similar(most_similar) -> bool:
    """``most_similar(query, candidates)`` must return the candidate text closest to the query (MiniLM)."""
    if not_done(most_similar):
        return False
    from helpers.embed import minilm_embedder

    candidates = ["A kitten is napping on the couch.", "Interest rates rose again this quarter.",
                  "The rocket launch was delayed by bad weather."]
    for query in ("A young cat is dozing on a settee.", "The central bank made borrowing dearer."):
        vectors = minilm_embedder().encode([query, *candidates])
        expected = candidates[int(np.argmax(vectors[1:] @ vectors[0]))]
        got, error = call(most_similar, query, candidates)
        if error:
            return report(False, f"most_similar {error}")
        if not_done(got):
            return False
        if got != expected:
            return report(False, f"For {query!r} you returned {got!r}; MiniLM's nearest is {expected!r}.")
    return report(True, "most_similar works: paraphrases land near each other even without shared words.")


def check_holm(holm_adjust) -> bool:
    """``holm_adjust(p_values)`` must return Holm's corrected p-values (capped at 1), in the order given."""
    if not_done(holm_adjust):
        return False
    p_values = np.array([0.025, 0.001, 0.200, 0.004, 0.020])
    # sorted: 0.001 x 5, 0.004 x 4, 0.020 x 3 = 0.060, 0.025 x 2 = 0.050 -> 0.060 (at least the one before), 0.2 x 1
    expected = np.array([0.060, 0.005, 0.200, 0.016, 0.060])
    got, error = call(holm_adjust, p_values.tolist())
    if error:
        return report(False, f"holm_adjust {error}")
    if not_done(got):
        return False
    got, problem = convert(got, lambda value: np.array([float(p) for p in value]), "a list of numbers")
    if problem:
        return report(False, problem)
    if len(got) != len(expected):
        return report(False, f"Got {len(got)} values for {len(p_values)} p-values: return one per p-value.")
    if np.allclose(got, np.minimum(1, p_values * len(p_values))):
        return report(False, "That is Bonferroni (every p-value times 5). Holm multiplies the smallest by 5, the "
                             "next by 4, and so on.")
    if np.allclose(got, [0.050, 0.005, 0.200, 0.016, 0.060]):
        return report(False, "Almost: 0.025 x 2 = 0.050 is below the 0.060 before it. Holm's corrected values never "
                             "fall as the p-values rise: keep each at least the one before (a running maximum).")
    if np.allclose(np.sort(got), np.sort(expected)) and not np.allclose(got, expected):
        return report(False, "Right values, wrong order: return them in the order of the input.")
    if not np.allclose(got, expected):
        return report(False, f"Got {np.round(got, 4).tolist()}, expected {expected.tolist()}. Sort the p-values, "
                             "multiply the k-th smallest by (m - k + 1), keep each at least the one before, cap at 1.")
    capped, error = call(lambda: [float(p) for p in holm_adjust([0.6, 0.5])])
    if error or not np.allclose(capped, [1.0, 1.0]):
        return report(False, "Corrected p-values are probabilities: cap them at 1 (0.5 x 2 and 0.6 are both 1 here).")
    return report(True, "holm_adjust is right: helpers.evaluate.holm applies it to the nine task rows of compare().")
