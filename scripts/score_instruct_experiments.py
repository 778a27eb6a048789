"""Score notebook 09's experiments and commit them as data/artifacts/instruct_results.

    python scripts/score_instruct_experiments.py     # about an hour on 2 cores cold; minutes with the caches

Trains every variant of ``helpers.instruct.VARIANTS`` and every ablation of
``helpers.instruct_experiments.ABLATIONS`` that is not saved yet (``helpers.instruct.RECIPE``, seeded), then
scores each tuned model and each untuned start (no instruction, a neutral prefix, the task's instruction) on the
whole mini-MTEB (test), the tuned variants on dev (to choose the best), the instruction wordings on the
inverse-cloze task (dev, then test) and k = 0..3 in-context examples
(``helpers.instruct_experiments.run_experiments``). Every trained model and every text's vectors are cached as
they are made, so an interrupted run resumes where it stopped: run it again.
"""

from __future__ import annotations

import time

from helpers import artifacts
from helpers import instruct_experiments as experiments
from helpers.evaluate import average_interval, compare


def main() -> None:
    key = experiments.results_key()  # of the code that runs, even if a file is edited while it runs
    start = time.perf_counter()
    value = experiments.run_experiments(progress=True)
    seconds = time.perf_counter() - start
    results = value["results"]
    scores = {f"{variant}: tuned - untuned": average_interval(compare(results[names["tuned"]],
                                                                      results[names["instruction"]]))
              for variant, names in value["names"].items()}
    scores |= {f"{variant}: instruction - neutral prefix": average_interval(compare(results[names["instruction"]],
                                                                                    results[names["neutral"]]))
               for variant, names in value["names"].items()}
    tuned = value["names"][experiments.ABLATION_VARIANT]["tuned"]
    scores |= {f"recipe - {name}": average_interval(compare(results[tuned], results[model]))
               for name, model in value["ablation_names"].items()}
    scores["best on dev"] = value["best"]
    scores["wording chosen on dev"] = value["chosen"]
    scores["icl k=3 - k=0"] = average_interval(compare(value["icl"][3], value["icl"][0], tasks=experiments.RETRIEVAL),
                                               row=experiments.RETRIEVAL[0])
    path = artifacts.save(experiments.ARTIFACT, key, value, experiments.save_files, experiments.SCRIPT, seconds,
                          scores=scores)
    print(f"{path} in {seconds / 60:.1f} min ({artifacts.size_mb():.2f} MB of committed artifacts): {scores}")


if __name__ == "__main__":
    main()
