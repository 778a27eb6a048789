"""Distil SmolLM2-135M into a static table and commit it, with the sweep that chose how it reads a token
(notebook 12; SmolLM2's passes over its vocabulary are most of the time).

    python scripts/distil_static_embeddings.py

1. ``helpers.static.reading_sweep``: each of SmolLM2's 49,135 non-special tokens through each reading of
   ``static.READINGS`` (alone, as Model2Vec runs it; after ``<|endoftext|>``; inside the echo template), one
   forward pass a reading in float32 that keeps every layer of ``static.SWEEP_LAYERS``; each (reading, layer)
   distilled with Model2Vec's recipe (PCA to 256, SIF weights from Zipf ranks) and scored on the dev split; each
   reading at the last layer and at its best dev layer scored on test. Committed as
   ``data/artifacts/static_smollm2_readings`` (scores and bootstrap values, no weights).
2. The script stops unless ``static.SMOLLM2_RECIPE`` is the dev split's best (reading, layer): the choice is made
   on dev, in the code, never on test.
3. That table, stored with 8 bits a value and one scale per row (a quarter of float32), committed as
   ``data/artifacts/static_smollm2``. Its card records the seconds, the share of variance the PCA keeps, and on
   the test split the float32 table, the stored one (which must stay within 0.002 of it), the teacher (the
   SmolLM2 embedder that reads a text as the token was read, on the fast path) and Model2Vec as it runs (alone,
   last layer), with the paired differences.
"""

from __future__ import annotations

import time

import numpy as np

from helpers import artifacts, evaluate, static

TEACHER = "smollm2"
STORAGE_TOLERANCE = 0.002  # the stored table's average may move this much from float32's (issue 32)


def main() -> None:
    key, sweep_key = static.artifact_key(TEACHER), static.readings_key()  # from the code that runs, first
    recipe = static.SMOLLM2_RECIPE
    sweep = static.reading_sweep()  # cached once run: its seconds are those of the run that made it
    sweep_seconds = sweep["seconds"]
    dev = sweep["dev"]["average"]
    best = dev.idxmax()
    print("dev averages (rows: reading, columns: layer):\n" + dev.unstack().round(3).to_string())
    artifacts.save(static.READINGS_ARTIFACT, sweep_key, sweep, static.save_sweep, static.SCRIPT, sweep_seconds,
                   scores={"dev_best": {"reading": best[0], "layer": int(best[1]),
                                        "average": round(float(dev.max()), 4)},
                           "test": {name: evaluate.average_interval(frame) for name, frame in sweep["test"].items()}})
    if (recipe["reading"], recipe["layer"]) != (best[0], int(best[1])):
        raise SystemExit(f"static.SMOLLM2_RECIPE is {recipe}, but the dev split's best is reading {best[0]!r} at "
                         f"layer {int(best[1])}: set it to that and run this script again (the sweep is cached).")

    tokenizer = static.teacher_tokenizer(TEACHER)
    start = time.perf_counter()
    ids, states = static.token_states(TEACHER, recipe["reading"], recipe["layer"])
    table = static.distil_table(states, ids, tokenizer.get_vocab_size(), **static.RECIPE)
    seconds = time.perf_counter() - start + sweep_seconds
    centred = states.astype(np.float64) - states.astype(np.float64).mean(0)
    kept_variance = float(static.pca(states, static.RECIPE["pca_dims"]).astype(np.float64).var(0).sum()
                          / centred.var(0).sum())
    print(f"{len(ids):,} tokens; PCA keeps {kept_variance:.1%} of the variance")

    stored_table = artifacts.dequantize_rows(*artifacts.quantize_rows(table))
    full = static.StaticEmbedder(tokenizer, table, "SmolLM2 distilled to static (float32)")
    stored = static.StaticEmbedder(tokenizer, stored_table, "SmolLM2 distilled to static")
    alone = sweep["test"][static.sweep_label("alone", static.SWEEP_LAYERS[-1])]
    frames = {"float32": evaluate.mini_mteb(full), "stored_8bit": evaluate.mini_mteb(stored),
              "teacher": evaluate.mini_mteb(static.teacher_embedder())}
    scores = {name: evaluate.average_interval(frame) for name, frame in frames.items()}
    scores["model2vec_as_is"] = evaluate.average_interval(alone)
    for name, (a, b) in {"stored_minus_float32": ("stored_8bit", "float32"),
                         "stored_minus_teacher": ("stored_8bit", "teacher")}.items():
        scores[name] = evaluate.average_interval(evaluate.compare(frames[a], frames[b]))
    scores["stored_minus_model2vec_as_is"] = evaluate.average_interval(evaluate.compare(frames["stored_8bit"], alone))
    scores["tasks"] = {name: round(float(frames["stored_8bit"].loc[name, "score"]), 4) for name in evaluate.TASKS}
    moved = abs(scores["stored_minus_float32"]["difference"])
    if moved > STORAGE_TOLERANCE:
        raise SystemExit(f"8-bit storage moves the average by {moved:.4f} > {STORAGE_TOLERANCE}: store fp16 instead.")
    history = {"kept_tokens": len(ids), "pca_variance_kept": round(kept_variance, 4),
               "sweep_seconds": round(sweep_seconds, 1)}
    path = artifacts.save(static.ARTIFACTS[TEACHER], key, table, static.save_table_8bit, static.SCRIPT, seconds,
                          history=history, scores=scores)
    print(f"{path}: " + ", ".join(f"{name} {value}" for name, value in scores.items() if name != "tasks"))
    print(f"committed artifacts: {artifacts.size_mb():.1f} MB")


if __name__ == "__main__":
    main()
