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
