"""Score the leaderboard rows whose models notebooks 09 and 10 train, and commit them as
data/artifacts/leaderboard_rows (notebook 11 reads them; without the artifact it trains them, minutes each).

    python scripts/score_leaderboard_rows.py     # about 10 min on 2 idle cores, cold

The rows are ``helpers.leaderboard.TRAINED_ROWS``: the E5 and GTE instruction-tuned SmolLM2s (notebook 09's recipe)
and SmolLM2 with the latent-attention head and GRIT joint (notebook 10's, the recipe's seed). Each model is trained
(or read from the course cache, where notebooks 09 and 10 keep them) and scored on the test split; every trained
model and every text's vectors are cached as they are made, so an interrupted run resumes: run it again.
"""

from __future__ import annotations

import time

from helpers import artifacts, config, leaderboard
from helpers.evaluate import average_interval


def main() -> None:
    start = time.perf_counter()
    results = leaderboard.score_rows(leaderboard.TRAINED_ROWS, config.precision())
    seconds = time.perf_counter() - start
    scores = {name: average_interval(frame) for name, frame in results.items()}
    path = artifacts.save(leaderboard.TRAINED_ROWS_ARTIFACT, leaderboard.trained_rows_key(), results,
                          artifacts.save_results, "python scripts/score_leaderboard_rows.py", seconds, scores=scores)
    print(f"{path} in {seconds / 60:.1f} min: {scores}")


if __name__ == "__main__":
    main()
