"""Distil SmolLM2-135M into a static table and commit it (notebook 12; the teacher pass is most of the time).

    python scripts/distil_static_embeddings.py

The recipe is ``helpers.static``'s, Model2Vec's: each of SmolLM2's 49,135 non-special tokens alone through
``smollm2_embedder("mean")`` in float32, PCA to 256 dimensions, SIF weights from Zipf ranks. The table is stored
with 8 bits a value and one scale per row (12.8 MB instead of 50 MB in float32). The card records the seconds of
the distillation, the share of variance the PCA keeps, and on the test split the mini-MTEB average of the float32
table, of the stored one and of the teacher (SmolLM2 mean pooling on the fast path, as the leaderboard scores it),
with the paired differences.
"""

from __future__ import annotations

import time

import numpy as np

from helpers import artifacts, evaluate, static
from helpers.decoder import smollm2_embedder

TEACHER = "smollm2"


def main() -> None:
    key = static.artifact_key(TEACHER)  # from the code that runs, before anything else does
    tokenizer = static.teacher_tokenizer(TEACHER)
    start = time.perf_counter()
    ids, states = static.token_states(TEACHER)
    table = static.distil_table(states, ids, tokenizer.get_vocab_size(), **static.RECIPE)
    seconds = time.perf_counter() - start
    centred = states.astype(np.float64) - states.astype(np.float64).mean(0)
    kept_variance = float(static.pca(states, static.RECIPE["pca_dims"]).astype(np.float64).var(0).sum()
                          / centred.var(0).sum())
    print(f"{len(ids):,} tokens distilled in {seconds / 60:.1f} min; PCA keeps {kept_variance:.1%} of the variance")

    stored_table = artifacts.dequantize_rows(*artifacts.quantize_rows(table))
    full = static.StaticEmbedder(tokenizer, table, "SmolLM2 distilled to static (float32)")
    stored = static.StaticEmbedder(tokenizer, stored_table, "SmolLM2 distilled to static")
    frames = {"float32": evaluate.mini_mteb(full), "stored_8bit": evaluate.mini_mteb(stored),
              "teacher": evaluate.mini_mteb(smollm2_embedder("mean"))}
    scores = {name: evaluate.average_interval(frame) for name, frame in frames.items()}
    scores["stored_minus_float32"] = evaluate.average_interval(evaluate.compare(frames["stored_8bit"],
                                                                                frames["float32"]))
    scores["stored_minus_teacher"] = evaluate.average_interval(evaluate.compare(frames["stored_8bit"],
                                                                                frames["teacher"]))
    scores["tasks"] = {name: round(float(frames["stored_8bit"].loc[name, "score"]), 4) for name in evaluate.TASKS}
    history = {"kept_tokens": len(ids), "pca_variance_kept": round(kept_variance, 4)}
    path = artifacts.save(static.ARTIFACTS[TEACHER], key, table, static.save_table_8bit, static.SCRIPT, seconds,
                          history=history, scores=scores)
    print(f"{path}: " + ", ".join(f"{name} {value}" for name, value in scores.items() if name != "tasks"))
    print(f"committed artifacts: {artifacts.size_mb():.1f} MB")


if __name__ == "__main__":
    main()
