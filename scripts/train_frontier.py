"""Build notebook 10's caches and artifacts (the notebook and helpers.frontier rebuild them when missing).

    python scripts/train_frontier.py

1. SmolLM2's frozen token states (final causal layer for the pooling heads, bidirectional after layer 26 for
   GRIT) of the training pairs and the mini-MTEB retrieval texts, and the next-token windows' states;
2. the latent-attention and mean + MLP pooling heads;
3. GRIT's tuned top layers, embedding-only and joint.
Everything goes to ``helpers.config.cache_dir() / "frontier"``.
"""

import time

from helpers import config, data, frontier


def main() -> None:
    start = time.perf_counter()
    task = data.inverse_cloze_task()
    pairs = frontier.training_pairs(frontier.HEAD_RECIPE["n_pairs"], frontier.HEAD_RECIPE["seed"])
    texts = pairs.queries + pairs.passages + task.queries + task.corpus
    frontier.final_states().ensure(texts)
    frontier.split_states().ensure(texts)
    frontier.lm_data(frontier.GRIT_RECIPE["seq_len"])
    print(f"states: {time.perf_counter() - start:.0f} s", flush=True)
    for kind in ("latent", "mean"):
        frontier.pooling_head(kind)
    for variant in ("embedding_only", "joint"):
        frontier.grit_model(variant)
    print(f"done in {time.perf_counter() - start:.0f} s; artifacts in {config.cache_dir() / 'frontier'}")


if __name__ == "__main__":
    main()
