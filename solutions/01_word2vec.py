"""Solutions to the exercises of notebook 01 (Word2vec and GloVe)."""

import numpy as np


def discard_probability(frequencies, t=1e-5):
    """Exercise 1: the paper's subsampling rule."""
    return np.maximum(0.0, 1 - np.sqrt(t / np.asarray(frequencies)))


def fixed_window_pairs(ids, window):
    """Exercise 2: all (centre, context) pairs at distance 1..window."""
    return [(ids[i], ids[j]) for i in range(len(ids))
            for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]


def solve_analogy(vectors, a, b, c):
    """Exercise 3: 3CosAdd on a helpers.word_vectors.WordVectors table."""
    query = vectors.unit[vectors.index[b]] - vectors.unit[vectors.index[a]] + vectors.unit[vectors.index[c]]
    scores = vectors.unit @ query
    for word in (a, b, c):
        scores[vectors.index[word]] = -np.inf
    return vectors.words[int(np.argmax(scores))]
