"""Train the instruction-tuned SmolLM2 embedders of notebook 09 on the synthetic set of notebook 08.

    python scripts/train_instruct_embedder.py                      # every variant, then evaluate each
    python scripts/train_instruct_embedder.py --variants e5_last   # one variant
    python scripts/train_instruct_embedder.py --baseline --variants   # only evaluate the untuned model

Each variant (``helpers.instruct.VARIANTS``: E5 last-token, mean pooling, bidirectional mean) is trained with
the same recipe (``helpers.instruct.RECIPE``, seeded) and saved under ``<cache>/instruct/<variant>``;
``helpers.instruct.tuned_embedder(variant)`` loads it (and trains it first when it is missing). With
``--evaluate`` (the default) the offline mini-MTEB runs on each, which also fills the embedding cache, so the
notebook's evaluations of the same models are read from disk. Variants are independent: run them in parallel
processes to use more cores.

Cost on one CPU thread (a shared 2-core machine): about 2.5 minutes to train a variant (40 steps, the frozen
lower layers run once per text) and 3 to 4 minutes for each mini-MTEB evaluation; ``--baseline`` adds the three
untuned evaluations. Notebook 09 reads its scores from ``data/artifacts/instruct_results``, which
``scripts/score_instruct_experiments.py`` makes (training whatever variant this script has not).
"""

from __future__ import annotations

import argparse
import json
import time

from helpers import config, instruct
from helpers.evaluate import scoreboard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="*", default=list(instruct.VARIANTS), choices=list(instruct.VARIANTS))
    parser.add_argument("--baseline", action="store_true", help="also evaluate the untuned model of every variant")
    parser.add_argument("--no-evaluate", dest="evaluate", action="store_false")
    parser.add_argument("--retrain", action="store_true", help="train even when a saved variant exists")
    args = parser.parse_args()

    config.seed_everything(instruct.RECIPE["seed"])
    results = {}
    for variant in instruct.VARIANTS if args.baseline else ():
        untuned = instruct.untuned_embedder(variant)
        results[untuned.name] = instruct.instructed_mini_mteb(untuned)
    for variant in args.variants:
        folder = instruct.tuned_folder(variant)
        if args.retrain or not instruct.is_trained(variant):
            start = time.perf_counter()
            instruct.build_tuned(variant)
            print(f"{variant}: trained in {time.perf_counter() - start:.0f} s -> {folder}")
        if args.evaluate:
            embedder = instruct.load_tuned(folder)
            results[embedder.name] = instruct.instructed_mini_mteb(embedder)
    if results:
        print(scoreboard(results).to_string())
        seconds = {name: round(float(frame.loc["average", "seconds"]), 1) for name, frame in results.items()}
        print(json.dumps({"evaluation_seconds": seconds}))


if __name__ == "__main__":
    main()
