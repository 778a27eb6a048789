"""Build notebook 10's caches and artifacts (the notebook and helpers.frontier rebuild them when missing).

    python scripts/train_frontier.py                 # notebook 10's caches and artifacts
    python scripts/train_frontier.py --leaderboard   # and notebook 11's two rows, scored on the whole mini-MTEB

1. SmolLM2's frozen causal token states (after layer 26 for GRIT, after the last layer for the pooling heads) of
   the training pairs and of the inverse-cloze task's texts (dev and test: only evaluated, never trained on), and
   the next-token windows' states;
2. the latent-attention and mean + MLP pooling heads;
3. GRIT's tuned top layers, embedding-only and joint;
4. with ``--leaderboard``, the mini-MTEB vectors of the two rows notebook 11 scores (latent attention, GRIT joint).
Everything goes to ``helpers.config.cache_dir() / "frontier"``.
"""

import sys
import time

from helpers import config, data, frontier
from helpers.evaluate import mini_mteb


def main() -> None:
    start = time.perf_counter()
    pairs = frontier.training_pairs(frontier.HEAD_RECIPE["n_pairs"], frontier.HEAD_RECIPE["seed"])
    evaluation = [data.inverse_cloze_task(split) for split in data.SPLITS]  # states cached for notebook 10's scores
    texts = pairs.queries + pairs.passages + [text for task in evaluation for text in task.queries + task.corpus]
    frontier.smollm2_states().ensure(texts)
    recipe = frontier.GRIT_RECIPE
    frontier.lm_data(recipe["seq_len"], recipe["train_windows"], recipe["held_out_windows"])
    print(f"states: {time.perf_counter() - start:.0f} s", flush=True)
    for kind in ("latent", "mean"):
        frontier.pooling_head(kind)
    for variant in ("embedding_only", "joint"):
        frontier.grit_model(variant)
    if "--leaderboard" in sys.argv:  # notebook 11's two rows on the whole mini-MTEB (≈ 1 minute more, idle)
        for embedder in (frontier.pooling_head_embedder("latent"), frontier.grit_embedder("joint")):
            print(mini_mteb(embedder)["score"].round(4).to_dict(), flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s; artifacts in {config.cache_dir() / 'frontier'}")


if __name__ == "__main__":
    main()
