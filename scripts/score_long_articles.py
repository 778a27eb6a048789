"""Score the long-article task (helpers.evaluate.EXTRA_TASKS["LongArticleRetrieval"]: a sentence from the second half
of a 600-word news article finds the rest of it) for the rows of helpers.leaderboard.LONG_ROWS, and commit them as
data/artifacts/long_articles (notebook 11 reads them to test "LLM embeddings do better on long texts").

    python scripts/score_long_articles.py     # about 8 min on 2 idle cores, cold

MiniLM reads its 256 tokens; SmolLM2 reads 256 and up to 1,024. Every text's vectors are cached as they are made,
so an interrupted run resumes: run it again.
"""

from __future__ import annotations

from helpers import artifacts, leaderboard


def main() -> None:
    artifacts.save_scored_results(leaderboard.LONG_ARTIFACT, leaderboard.long_articles_key(),
                                  leaderboard.score_long_articles, "python scripts/score_long_articles.py")


if __name__ == "__main__":
    main()
