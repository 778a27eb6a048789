"""Choose LLM2Vec's SimCSE learning rate on the dev split and commit the sweep as data/artifacts/llm2vec_lr.

    python scripts/sweep_llm2vec_lr.py     # 87 min on 2 cores here: two SimCSE runs of 40 min, three mini-MTEB dev runs

Each run repeats step 3 of ``scripts/train_llm2vec.py`` from the committed MNTP adapters at another rate
(``helpers.llm2vec.SIMCSE_LRS``: the paper's 3e-5, the recipe's 2e-4 and twice that); the recipe's own rate is
the committed SimCSE stage. Notebook 07 plots the dev averages and checks that no rate beats the recipe's.
"""

from __future__ import annotations

from helpers import artifacts, llm2vec


def main() -> None:
    value = llm2vec.simcse_lr_sweep(progress=True)
    scores = {f"dev_average_lr_{run['lr']:g}": run["dev"] for run in value["runs"]}
    scores.update({f"lr_{run['lr']:g}_minus_recipe": run["minus_recipe"] for run in value["runs"]})
    path = artifacts.save(llm2vec.LR_SWEEP, llm2vec.lr_sweep_key(), value, llm2vec._save_sweep,
                          "python scripts/sweep_llm2vec_lr.py", value["seconds"], scores=scores)
    print(f"{path} ({artifacts.size_mb():.2f} MB of committed artifacts) in {value['seconds'] / 60:.1f} min:")
    for name, score in scores.items():
        print(f"  {name}: {score}")


if __name__ == "__main__":
    main()
