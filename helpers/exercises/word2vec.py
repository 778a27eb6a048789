"""Exercise checks for notebook 01 (Word2vec and GloVe); solutions in ``solutions/01_word2vec.py``."""

from __future__ import annotations

import numpy as np

from helpers.exercises import call, not_done, report


def check_discard_probability(discard_probability) -> bool:
    """Exercise 1: the paper's subsampling rule, P(discard) = 1 - sqrt(t / f), never below 0."""
    if not_done(discard_probability):
        return False
    frequencies = np.array([0.05, 1e-3, 1e-5, 1e-7])
    expected = np.maximum(0.0, 1 - np.sqrt(1e-5 / frequencies))
    # reading the answer as numbers is guarded too: an answer that is not numbers is reported, not raised
    answer, error = call(lambda: np.asarray(discard_probability(frequencies, t=1e-5), dtype=np.float64))
    if error:
        return report(False, f"Your function {error}")
    if answer.shape != frequencies.shape:
        return report(False, f"Return one probability per frequency: shape {frequencies.shape}, got {answer.shape}.")
    if answer[-1] < 0:
        return report(False, "A word rarer than t would get a negative probability: clip at 0 (np.maximum).")
    if not np.allclose(answer, expected, atol=1e-9):
        return report(False, f"For f = {frequencies.tolist()} expected {expected.round(4).tolist()}, "
                             f"got {answer.round(4).tolist()}.")
    return report(True, "Right: a word with f = 5% is dropped 98.6% of the time, one rarer than t never.")


def check_fixed_window_pairs(fixed_window_pairs) -> bool:
    """Exercise 2: every (centre, context) pair within a fixed window, in one document."""
    if not_done(fixed_window_pairs):
        return False
    ids = [4, 8, 15, 16, 23, 42]
    expected = sorted((ids[i], ids[j]) for i in range(len(ids)) for j in range(len(ids)) if 0 < abs(i - j) <= 2)
    # unpacking the pairs is guarded too: an answer that is not (centre, context) pairs is reported, not raised
    answer, error = call(lambda: sorted((int(c), int(o)) for c, o in fixed_window_pairs(ids, window=2)))
    if error:
        return report(False, f"Your function {error}")
    if answer != expected:
        missing, extra = sorted(set(expected) - set(answer)), sorted(set(answer) - set(expected))
        return report(False, f"{len(answer)} pairs, expected {len(expected)}; "
                             f"missing {missing[:4]}, extra {extra[:4]}.")
    return report(True, f"Right: {len(expected)} pairs from 6 words with window 2 (the edges have fewer).")


def check_analogy(solve_analogy, vectors) -> bool:
    """Exercise 3: 3CosAdd, the word closest to b - a + c (unit vectors), a, b and c excluded."""
    if not_done(solve_analogy):
        return False
    frequent = vectors.words[20:60]
    questions = [tuple(frequent[k : k + 3]) for k in range(0, 30, 3)]
    for a, b, c in questions:
        expected = vectors.analogy(a, b, c)[0][0]
        answer, error = call(solve_analogy, vectors, a, b, c)
        if error:
            return report(False, f"Your function {error}")
        if answer in (a, b, c):
            return report(False, f"{a} : {b} :: {c} : {answer}? Leave the three question words out of the answer.")
        if answer != expected:
            return report(False, f"{a} : {b} :: {c} : expected {expected!r}, got {answer!r}. Normalise the vectors "
                                 "first (vectors.unit) and rank every word by cosine to b - a + c.")
    return report(True, f"Right on {len(questions)} analogies: you wrote 3CosAdd.")
