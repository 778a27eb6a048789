"""Solutions to the exercises of notebook 00."""

import numpy as np

from helpers.embed import minilm_embedder


def cosine(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def top_k(query, corpus, k):
    return np.argsort(-(corpus @ query))[:k]


def most_similar(query, candidates):
    vectors = minilm_embedder().encode([query, *candidates])
    return candidates[int(np.argmax(vectors[1:] @ vectors[0]))]


def holm_adjust(p_values):
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * np.asarray(p_values)[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()
