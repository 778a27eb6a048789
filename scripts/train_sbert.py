"""Train notebook 03's two Sentence-BERTs and commit them as data/artifacts/sbert_mlm and sbert_random (seeded).

    python scripts/train_sbert.py --sweep   # dev split: each start's learning rate (≈ 11 min on 2 cores)
    python scripts/train_sbert.py           # every seed of both starts; commits seed 0 (≈ 32 min on 2 cores)

Each trained run is kept in the course cache as soon as it is done (helpers.artifacts.shard): a stopped run,
started again, reads the runs it finished and trains the rest.

Both start from notebook 02's artifact (``data/artifacts/mlm_encoder``): its pre-trained weights (``mlm``) or the
same architecture with random weights (``random``, its tokenizer). The recipe is ``helpers.sbert.RECIPE``; the
sweep prints the dev-split average of each learning rate, and RECIPE holds the best one for each start. Every
seed of ``helpers.sbert.SEEDS`` is scored on the mini-MTEB's test split; the card of each artifact records the
per-seed averages and, for ``sbert_mlm``, the paired comparisons with the random start and with the untrained
MLM encoder, seed by seed.
"""

from __future__ import annotations

import argparse

from helpers import artifacts, encoder, mlm, sbert
from helpers.evaluate import average_interval, compare, mini_mteb

SWEEP = (3e-4, 1e-3)


def _embedder(value: dict, name: str):
    model = encoder.Encoder(encoder.EncoderConfig(**value["encoder_config"]))
    model.load_state_dict(value["state"])
    return encoder.ScratchEmbedder(mlm.mlm_tokenizer(), model.eval(), "mean", name=name)


def sweep() -> None:
    for start in sbert.STARTS:
        for rate in SWEEP:
            recipe = {**sbert.RECIPE, "learning_rate": {**sbert.RECIPE["learning_rate"], start: rate}}
            value = sbert.train_sentence_bert(start, recipe=recipe, progress=True)
            embedder = _embedder(value, f"sweep {start} {rate}")
            embedder.cache = False
            print(f"{start} lr={rate:g}: dev average {average_interval(mini_mteb(embedder, split='dev'))}", flush=True)


def train() -> None:
    untrained = encoder.ScratchEmbedder(mlm.mlm_tokenizer(), mlm.pretrained_mlm(progress=False)[0].encoder, "mean",
                                        name="MLM encoder (mean)")
    untrained_result = mini_mteb(untrained)
    results, kept = {start: {} for start in sbert.STARTS}, {}
    for seed in sbert.SEEDS:
        for start in sbert.STARTS:
            key = sbert.artifact_key(start, seed)
            run = lambda start=start, seed=seed: sbert.train_sentence_bert(start, seed, progress=True)  # noqa: E731
            value = artifacts.shard(f"sbert_{start}_seed{seed}", key, run, sbert.save_files, sbert.load_files)
            seconds = value["seconds"]
            embedder = _embedder(value, f"SBERT {start} seed {seed}")  # cached vectors: a rerun reads its scores
            results[start][seed] = mini_mteb(embedder)
            print(f"{start} seed {seed}: test average {average_interval(results[start][seed])} ({seconds:.0f} s)",
                  flush=True)
            if seed == sbert.COMMITTED_SEED:
                kept[start] = (key, value, seconds)
    for start, (key, value, seconds) in kept.items():
        scores = {"test_average_by_seed": {seed: average_interval(result) for seed, result in results[start].items()}}
        if start == "mlm":
            for other, versus in (("random", lambda seed: results["random"][seed]),
                                  ("untrained_mlm", lambda seed: untrained_result)):
                scores[f"minus_{other}_by_seed"] = {
                    seed: average_interval(compare(results["mlm"][seed], versus(seed))) for seed in sbert.SEEDS}
        path = artifacts.save(f"sbert_{start}", key, value, sbert.save_files, "python scripts/train_sbert.py", seconds,
                              history={"loss": value["losses"]}, scores=scores)
        print(f"{path}: {scores}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true", help="only the dev-split learning-rate sweep")
    args = parser.parse_args()
    sweep() if args.sweep else train()


if __name__ == "__main__":
    main()
