"""Run notebook 10's two multi-seed experiments and commit what they measured as data/artifacts/frontier_results.

    python scripts/train_frontier.py                 # ≈ 12 min on 2 idle cores, cold
    python scripts/train_frontier.py --leaderboard   # and notebook 11's two rows, scored on the whole mini-MTEB

1. SmolLM2's frozen causal token states (after layer 26 for GRIT, after the last layer for the pooling heads) of
   the training pairs and of the texts of the retrieval tasks notebook 10 scores (``frontier.RETRIEVAL_TASKS``,
   test: only evaluated, never trained on), and the next-token windows' states;
2. the latent-attention and mean + MLP pooling heads, one per training seed (``frontier.SEEDS``);
3. GRIT's tuned top layers, embedding-only, joint and LM-only, one per training seed;
4. every model scored on the retrieval tasks (test) and every GRIT model's next-token loss on the held-out windows
   (``helpers.frontier_experiments.run_experiments``), committed with a card: notebook 10 reads them.

Every state, model and vector is cached as soon as it is made (under the course cache), so an interrupted run
resumes where it stopped: run it again. With ``--leaderboard`` the two rows notebook 11 scores (latent attention,
GRIT joint) are scored on the whole mini-MTEB too, which fills the embedding cache.
"""

import sys
import time

from helpers import artifacts, grit, latent_attention
from helpers import frontier_experiments as experiments
from helpers.evaluate import average_interval, compare, mini_mteb


def main() -> None:
    start = time.perf_counter()
    value = experiments.run_experiments(progress=True)
    seconds = time.perf_counter() - start
    heads, tops = value["head_results"], value["grit_results"]
    seed = latent_attention.HEAD_RECIPE["seed"]
    scores = {"latent_minus_mean_seed_42": average_interval(compare(heads["latent", seed], heads["mean", seed])),
              "joint_minus_untuned_seed_42": average_interval(compare(tops["joint", seed], tops["untuned"])),
              "joint_minus_embedding_only_seed_42": average_interval(compare(tops["joint", seed],
                                                                             tops["embedding_only", seed]))}
    path = artifacts.save(experiments.ARTIFACT, experiments.results_key(), value, experiments.save_files,
                          experiments.SCRIPT, seconds, scores=scores)
    print(f"{path} in {seconds / 60:.1f} min ({artifacts.size_mb():.2f} MB of committed artifacts): {scores}",
          flush=True)
    if "--leaderboard" in sys.argv:  # notebook 11's two rows on the whole mini-MTEB (≈ 2 minutes more, idle)
        for embedder in (latent_attention.pooling_head_embedder("latent"), grit.grit_embedder("joint")):
            print(mini_mteb(embedder)["score"].round(4).to_dict(), flush=True)


if __name__ == "__main__":
    main()
