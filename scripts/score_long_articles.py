"""Score the long-article task (helpers.evaluate.EXTRA_TASKS["LongArticleRetrieval"]: a sentence from the second half
of a 600-word news article finds the rest of it) for the rows of helpers.leaderboard.LONG_ROWS, and commit them as
data/artifacts/long_articles (notebook 11 reads them to test "LLM embeddings do better on long texts").

    python scripts/score_long_articles.py     # about 8 min on 2 idle cores, cold

MiniLM reads its 256 tokens; SmolLM2 reads 256 and up to 1,024. Every text's vectors are cached as they are made,
so an interrupted run resumes: run it again.
"""

from __future__ import annotations

import time

from helpers import artifacts, leaderboard
from helpers.evaluate import average_interval


def main() -> None:
    start = time.perf_counter()
    results = leaderboard.score_long_articles()
    seconds = time.perf_counter() - start
    scores = {name: average_interval(frame) for name, frame in results.items()}
    path = artifacts.save(leaderboard.LONG_ARTIFACT, leaderboard.long_articles_key(), results,
                          artifacts.save_results, "python scripts/score_long_articles.py", seconds, scores=scores)
    print(f"{path} in {seconds / 60:.1f} min: {scores}")


if __name__ == "__main__":
    main()
