"""Train notebook 07's LLM2Vec stages on SmolLM2-135M and commit the adapters as data/artifacts/llm2vec (seeded).

    python scripts/train_llm2vec.py     # ≈ 47 min on 2 cores: 42 of training, then mini-MTEB's test split

Stage 2 (MNTP) trains LoRA adapters on all seven projections of every layer with bidirectional attention;
stage 3 (SimCSE) trains new adapters on the merged MNTP model, batches of 64 through GradCache. The recipe is
``helpers.llm2vec.RECIPE`` (the paper's, scaled to a CPU; notebook 07 sets the two side by side). The card
records the training and held-out curves and each stage's test average with its paired comparisons. The
mini-MTEB runs also fill the embedding cache with the embedders notebook 07 builds, so the notebook reads them.
"""

from __future__ import annotations

from helpers import artifacts, llm2vec
from helpers.decoder import smollm2_embedder
from helpers.evaluate import average_interval, compare, mini_mteb


def main() -> None:
    value = llm2vec.train_llm2vec(progress=True)
    history = value["history"]
    print(f"trained in {value['seconds'] / 60:.1f} min; MNTP held out {history['mntp']['held_out']}; "
          f"SimCSE loss {history['simcse']['loss'][0]} -> {history['simcse']['loss'][-1]}", flush=True)
    key = llm2vec.artifact_key()
    # Saved first without scores: llm2vec_embedder below loads the stages from the committed artifact.
    artifacts.save(llm2vec.ARTIFACT, key, value, llm2vec.save_files, "python scripts/train_llm2vec.py",
                   value["seconds"], history=history)
    results = {"causal mean": mini_mteb(smollm2_embedder("mean"))}
    for stage in llm2vec.STAGES:
        results[stage] = mini_mteb(llm2vec.llm2vec_embedder(stage))
    scores = {f"test_average_{name}": average_interval(result) for name, result in results.items()}
    for a, b in (("bidirectional", "causal mean"), ("mntp", "bidirectional"), ("simcse", "mntp"),
                 ("simcse", "causal mean")):
        scores[f"{a}_minus_{b}"] = average_interval(compare(results[a], results[b]))
    path = artifacts.save(llm2vec.ARTIFACT, key, value, llm2vec.save_files, "python scripts/train_llm2vec.py",
                          value["seconds"], history=history, scores=scores)
    print(f"{path} ({artifacts.size_mb():.2f} MB of committed artifacts): {scores}")


if __name__ == "__main__":
    main()
