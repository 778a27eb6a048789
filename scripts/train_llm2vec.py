"""Train the LLM2Vec stages of notebook 07 on SmolLM2-135M and save the adapters (reproducible, seeded).

    python scripts/train_llm2vec.py              # writes <cache>/llm2vec/smollm2_llm2vec.safetensors (if missing)
    python scripts/train_llm2vec.py --retrain    # train again even if the file exists
    python scripts/train_llm2vec.py --evaluate   # also score both stages on the offline mini-MTEB (test split)

Stage 2 (MNTP) trains LoRA adapters on the top layers with bidirectional attention; stage 3 (SimCSE) trains
new adapters on top of the merged MNTP model. The recipe is ``helpers.llm2vec.RECIPE``. Notebook 07 runs the
first steps of both loops live, checks they match the saved curves, and loads the adapters; if the file is
missing, ``helpers.llm2vec.llm2vec_model`` runs this same training. ``--evaluate`` fills the embedding cache
with the embedders the notebook builds (same names; the key is the weights' fingerprint), so the notebook's
mini-MTEB of the trained stages reads the stored vectors.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--retrain", action="store_true", help="train even if the artifact exists")
    parser.add_argument("--evaluate", action="store_true", help="score both stages on mini-MTEB afterwards")
    args = parser.parse_args()

    from helpers import llm2vec

    start = time.perf_counter()
    artifact = llm2vec.build_artifact() if args.retrain else llm2vec.load_artifact()
    print(f"ready in {time.perf_counter() - start:.0f} s: {llm2vec.artifact_path()}")
    print(f"MNTP loss {artifact['mntp_losses'][0]:.3f} -> {artifact['mntp_losses'][-1]:.3f}; "
          f"SimCSE loss {artifact['simcse_losses'][0]:.3f} -> {artifact['simcse_losses'][-1]:.3f}")
    if args.evaluate:
        from helpers.decoder import smollm2_embedder
        from helpers.evaluate import mini_mteb

        for stage in ("mntp", "simcse"):
            tokenizer, model = llm2vec.llm2vec_model(stage)
            print(f"MNTP loss on held-out text after {stage}: "
                  f"{llm2vec.held_out_mntp_loss(model, tokenizer, bidirectional=True):.3f}")
            embedder = smollm2_embedder("mean", bidirectional=True, model=model, name=f"SmolLM2-135M LLM2Vec {stage}")
            result = mini_mteb(embedder, split="test")
            print(stage, result[["score", "ci_low", "ci_high"]].round(4).to_string(), sep="\n")


if __name__ == "__main__":
    main()
