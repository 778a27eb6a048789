"""Build notebook 10's caches and artifacts (the notebook and helpers.frontier rebuild them when missing).

    python scripts/train_frontier.py                 # notebook 10's caches and artifacts
    python scripts/train_frontier.py --leaderboard   # and notebook 11's two rows, scored on the whole mini-MTEB

1. SmolLM2's frozen causal token states (after layer 26 for GRIT, after the last layer for the pooling heads) of
   the training pairs and of the texts of the retrieval tasks notebook 10 scores (``frontier.RETRIEVAL_TASKS``,
   dev and test: only evaluated, never trained on), and the next-token windows' states;
2. the latent-attention and mean + MLP pooling heads, one per training seed (``frontier.SEEDS``);
3. GRIT's tuned top layers, embedding-only and joint, one per training seed;
4. the vectors notebook 10 scores: every head and GRIT model on the retrieval tasks' test texts (embedding cache);
5. with ``--leaderboard``, the mini-MTEB vectors of the two rows notebook 11 scores (latent attention, GRIT joint).
Everything goes to ``helpers.config.cache_dir()`` (``frontier/`` and ``embeddings/``).
"""

import sys
import time

from helpers import config, data, frontier, grit, latent_attention
from helpers.evaluate import mini_mteb


def main() -> None:
    start = time.perf_counter()
    pairs = frontier.training_pairs(latent_attention.HEAD_RECIPE["n_pairs"], latent_attention.HEAD_RECIPE["seed"])
    evaluation = [text for split in data.SPLITS for text in frontier.retrieval_texts(split)]
    frontier.smollm2_states().ensure(pairs.queries + pairs.passages + evaluation)
    recipe = grit.GRIT_RECIPE
    grit.lm_data(recipe["seq_len"], recipe["train_windows"], recipe["held_out_windows"])
    print(f"states: {time.perf_counter() - start:.0f} s", flush=True)
    for seed in frontier.SEEDS:
        for kind in ("latent", "mean"):
            latent_attention.pooling_head(kind, seed=seed)
    print(f"pooling heads: {time.perf_counter() - start:.0f} s", flush=True)
    for seed in frontier.SEEDS:
        for variant in grit.VARIANTS:
            grit.grit_model(variant, seed=seed)
    print(f"GRIT models: {time.perf_counter() - start:.0f} s", flush=True)
    for seed in frontier.SEEDS:  # notebook 10's evaluations, so that it reads them from the embedding cache
        heads = [latent_attention.pooling_head_embedder(kind, seed) for kind in ("latent", "mean")]
        for embedder in (*heads, grit.grit_embedder("embedding_only", seed), grit.grit_embedder("joint", seed)):
            mini_mteb(embedder, tasks=frontier.RETRIEVAL_TASKS)
    print(f"notebook 10's evaluations: {time.perf_counter() - start:.0f} s", flush=True)
    if "--leaderboard" in sys.argv:  # notebook 11's two rows on the whole mini-MTEB (≈ 1 minute more, idle)
        for embedder in (latent_attention.pooling_head_embedder("latent"), grit.grit_embedder("joint")):
            print(mini_mteb(embedder)["score"].round(4).to_dict(), flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s; artifacts in {config.cache_dir() / 'frontier'}")


if __name__ == "__main__":
    main()
