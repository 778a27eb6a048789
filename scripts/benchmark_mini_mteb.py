"""Time the offline mini-MTEB (test split) on the course's two reference models, every cache off.

Budgets on 2 idle CPU cores: all-MiniLM-L6-v2 ≤ 15 s, SmolLM2-135M mean pooling ≤ 90 s (model loading is timed
apart). Run on an idle machine: a second job on 2 cores can double every figure.

    python scripts/benchmark_mini_mteb.py        (or: make bench)
"""

from __future__ import annotations

import time

import torch

from helpers import evaluate
from helpers.decoder import smollm2_embedder
from helpers.embed import minilm_embedder

BUDGET_S = {"all-MiniLM-L6-v2": 15.0, "SmolLM2-135M mean": 90.0}


def main() -> int:
    print(f"torch threads: {torch.get_num_threads()}")
    over = []
    for name, make in (("all-MiniLM-L6-v2", minilm_embedder), ("SmolLM2-135M mean", smollm2_embedder)):
        start = time.perf_counter()
        embedder = make()
        load_s = time.perf_counter() - start
        embedder.cache = False
        start = time.perf_counter()
        table = evaluate.mini_mteb(embedder, split="test")
        eval_s = time.perf_counter() - start
        average = table.loc["average"]
        print(f"{name:20s} load {load_s:5.1f} s   mini-MTEB {eval_s:5.1f} s (budget {BUDGET_S[name]:.0f} s)   "
              f"average {average['score']:.3f} [{average['ci_low']:.3f}, {average['ci_high']:.3f}]")
        print(table[["score", "ci_low", "ci_high", "seconds"]].round(3).to_string(), "\n")
        if eval_s > BUDGET_S[name]:
            over.append(name)
    if over:
        print(f"Over budget: {', '.join(over)} (is the machine busy?)")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
