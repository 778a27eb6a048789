"""Checks for the exercises of notebook 11 (leaderboard and trade-offs)."""

from __future__ import annotations

import pandas as pd

from helpers.exercises import call, not_done, report

_TABLE = pd.DataFrame({"average": [0.64, 0.49, 0.52, 0.30, 0.55],
                       "ms_per_text": [3.0, 40.0, 45.0, 0.5, 120.0]},
                      index=["small encoder", "LLM mean", "LLM tuned", "word vectors", "LLM echo"])


def check_pareto_front(pareto) -> bool:
    """``pareto(table)`` -> the names (index) of the rows that no other row beats on both ``ms_per_text`` (lower)
    and ``average`` (higher), cheapest first."""
    if not_done(pareto):
        return False
    from helpers.leaderboard import pareto_front

    expected = pareto_front(_TABLE)
    got, error = call(pareto, _TABLE.copy())
    if error:
        return report(False, f"pareto {error}")
    if got is None or list(got) != expected:
        if got is not None and sorted(got) == sorted(expected):
            return report(False, "Right rows, wrong order: list them cheapest first.")
        return report(False, f"Got {got}, expected {expected}: sort by cost, keep a row when it beats the best "
                             "average seen so far.")
    return report(True, f"pareto is right: {expected} — every other row is beaten on both axes.")


def check_best_under_budget(best_under_budget) -> bool:
    """``best_under_budget(table, max_ms)`` -> the name of the best-``average`` row whose ``ms_per_text`` is at most
    ``max_ms``, or ``None`` when no row fits."""
    if not_done(best_under_budget):
        return False
    cases = [(1.0, "word vectors"), (50.0, "small encoder"), (0.1, None)]
    for budget, expected in cases:
        got, error = call(best_under_budget, _TABLE.copy(), budget)
        if error:
            return report(False, f"best_under_budget {error}")
        if got != expected:
            hint = "return None when nothing fits" if expected is None else "filter by ms_per_text first, then take " \
                   "the highest average"
            return report(False, f"With a budget of {budget} ms, got {got!r}, expected {expected!r}: {hint}.")
    return report(True, "best_under_budget is right: quality is only worth what you can afford to run.")
