"""Score the rows the fast inference path changes most in float32 and commit them as data/artifacts/precision.

    python scripts/compare_precision.py     # about 25 min on 2 cores: four rows in float32, then on the fast path

The rows are ``helpers.leaderboard.PRECISION_ROWS`` (causal mean, PromptEOL, echo, LLM2Vec), each scored on the
test split with ``COURSE_PRECISION=fp32``; notebook 11 scores the same rows on the fast path and compares, paired.
Every text's vectors are cached as they are made, so an interrupted run resumes where it stopped: run it again.
"""

from __future__ import annotations

import time

from helpers import artifacts, config, leaderboard
from helpers.evaluate import average_interval


def main() -> None:
    start = time.perf_counter()
    fp32 = leaderboard.score_rows(leaderboard.PRECISION_ROWS, "fp32")
    seconds = time.perf_counter() - start
    fast = leaderboard.score_rows(leaderboard.PRECISION_ROWS, "fast")
    table = leaderboard.precision_table(fast, fp32)
    scores = {}
    for name in leaderboard.PRECISION_ROWS:
        scores[f"{name}: fp32"] = average_interval(fp32[name])
        scores[f"{name}: fast - fp32"] = {"difference": round(float(table.loc[name, "difference"]), 4),
                                          "ci_low": round(float(table.loc[name, "ci_low"]), 4),
                                          "ci_high": round(float(table.loc[name, "ci_high"]), 4)}
    path = artifacts.save(leaderboard.PRECISION_ARTIFACT, leaderboard.precision_key(), fp32,
                          artifacts.save_results, "python scripts/compare_precision.py", seconds,
                          history={"fast_dtype": config.inference_dtype(), "minutes_fast": round(
                              (time.perf_counter() - start - seconds) / 60, 1)}, scores=scores)
    print(f"{path} in {seconds / 60:.1f} min (float32), {(time.perf_counter() - start) / 60:.1f} min in all:")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
