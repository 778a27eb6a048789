"""Score the leaderboard rows that notebooks read instead of scoring, and commit them as
data/artifacts/leaderboard_rows (notebooks 05, 06, 07 and 11 read them; without the artifact they are scored where
they are first needed, minutes each).

    python scripts/score_leaderboard_rows.py     # about 30 min on 2 idle cores, cold

The rows are ``helpers.leaderboard.STORED_ROWS``: four training-free readings of SmolLM2 that each need a pass of their
own (the mean of layer 24, PromptEOL, echo, bidirectional attention), LLM2Vec after MNTP and after SimCSE (the
committed adapters), the E5 and GTE instruction-tuned SmolLM2s (notebook 09's recipe) and SmolLM2 with the
latent-attention head and GRIT joint (notebook 10's, the recipe's seed). Each model is built (trained, or read from the
course cache where notebooks 09 and 10 keep them) and scored on the test split; every trained model and every text's
vectors are cached as they are made, so an interrupted run resumes: run it again.
"""

from __future__ import annotations

from helpers import artifacts, config, leaderboard


def main() -> None:
    artifacts.save_scored_results(leaderboard.STORED_ROWS_ARTIFACT, leaderboard.stored_rows_key(),
                                  lambda: leaderboard.score_rows(leaderboard.STORED_ROWS, config.precision()),
                                  "python scripts/score_leaderboard_rows.py")


if __name__ == "__main__":
    main()
