"""Checks for the exercises of notebook 08 (synthetic data with an LLM)."""

from __future__ import annotations

import numpy as np

from helpers import synthetic
from helpers.exercises import call, convert, not_done, report


def check_fusion(fuse) -> bool:
    """``fuse(scores_a, scores_b)`` must return reciprocal-rank-fusion scores (k = 60) of the same items."""
    if not_done(fuse):
        return False
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=7), rng.normal(size=7)
    expected = synthetic.reciprocal_rank_fusion(a, b, k=60)
    got, error = call(fuse, a, b)
    if error:
        return report(False, f"fuse(a, b) {error}")
    if not_done(got):
        return False
    got, problem = convert(got, lambda value: np.asarray(value, dtype=float), "an array of scores")
    if problem:
        return report(False, problem)
    if got.shape != expected.shape:
        return report(False, f"Return one fused score per item: shape {expected.shape}, got {got.shape}.")
    if np.allclose(got, synthetic.reciprocal_rank_fusion(-a, -b, k=60)):
        return report(False, "Rank 1 must be the highest score, not the lowest.")
    if not np.allclose(got, expected, atol=1e-9):
        return report(False, "Each item scores 1/(60 + rank in a) + 1/(60 + rank in b), rank 1 = highest score.")
    return report(True, "Fusion is right: only ranks count, so scores on different scales mix safely.")


def _stub(*args):
    ...


def _is_stub(function) -> bool:
    """True for a function whose body does nothing (``...``, ``pass`` or ``return None``): an unanswered exercise,
    told apart by its code because ``None`` is a right answer for some inputs of :func:`check_extract_json`."""
    code = getattr(function, "__code__", None)
    return code is not None and code.co_code == _stub.__code__.co_code and code.co_consts[:1] == (None,)


def check_extract_json(extract) -> bool:
    """``extract(text)`` must return the first JSON object in ``text`` as a dict, or ``None`` when there is none."""
    if not_done(extract) or (_is_stub(extract) and not_done(None)):
        return False
    cases = [
        ('Sure! {"a": "b"} Hope it helps.', {"a": "b"}),
        ('```json\n{"q": "what is {x}?", "n": {"m": 1}}\n```', {"q": "what is {x}?", "n": {"m": 1}}),
        ('{"user_query": "cut off mid-', None),
        ("no JSON here at all", None),
        ('{"a": 1,}', None),
    ]
    for text, expected in cases:
        got, error = call(extract, text)
        if error:
            return report(False, f"extract({text!r}) {error}")
        if got != expected:
            return report(False, f"extract({text!r}) gave {got!r}, expected {expected!r}. Mind braces inside "
                                 "strings, unfinished objects and invalid JSON (return None, don't raise).")
    return report(True, "Your extractor survives chatty, fenced, truncated and invalid answers.")


def check_window(window_ranks) -> bool:
    """``window_ranks(scores, low, high)`` must return the indices at 1-based ranks low..high, best first."""
    if not_done(window_ranks):
        return False
    rng = np.random.default_rng(2)
    scores = rng.normal(size=150)
    expected = np.argsort(-scores, kind="stable")[29:100].tolist()
    got, error = call(window_ranks, scores, 30, 100)
    if error:
        return report(False, f"window_ranks(scores, 30, 100) {error}")
    if not_done(got):
        return False
    got, problem = convert(got, lambda value: [int(i) for i in value], "a list of indices")
    if problem:
        return report(False, problem)
    if len(got) != 71:
        return report(False, f"Ranks 30..100 inclusive are 71 items, you returned {len(got)}: mind the 1-based ranks.")
    if got != expected:
        return report(False, "Sort the scores from highest to lowest and take positions 29..99 (0-based).")
    return report(True, "That is SFR's window: similar enough to be hard, far enough to be rarely a positive.")
