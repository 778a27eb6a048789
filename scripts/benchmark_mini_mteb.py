"""Time the offline mini-MTEB (test split) on the course's two reference models, every cache off.

Budgets on 2 idle CPU cores: all-MiniLM-L6-v2 ≤ 15 s, SmolLM2-135M mean pooling ≤ 45 s on the fast inference path
(``COURSE_PRECISION=fast``, the default; model loading is timed apart). SmolLM2 is also timed in float32, for the
ratio. Run on an idle machine: a second job on 2 cores can double every figure.

    python scripts/benchmark_mini_mteb.py        (or: make bench)
"""

from __future__ import annotations

import time

import torch

from helpers import config, evaluate
from helpers.decoder import smollm2_embedder
from helpers.embed import minilm_embedder

BUDGET_S = {"all-MiniLM-L6-v2": 15.0, "SmolLM2-135M mean": 45.0, "SmolLM2-135M mean, fp32": None}
MODELS = (("all-MiniLM-L6-v2", minilm_embedder, "fast"), ("SmolLM2-135M mean", smollm2_embedder, "fast"),
          ("SmolLM2-135M mean, fp32", smollm2_embedder, "fp32"))


def main() -> int:
    print(f"torch threads: {torch.get_num_threads()}")
    over = []
    print(f"fast inference path: {config.inference_dtype()}")
    for name, make, precision in MODELS:
        start = time.perf_counter()
        embedder = make()
        load_s = time.perf_counter() - start
        embedder.cache = False
        with config.using_precision(precision):
            start = time.perf_counter()
            table = evaluate.mini_mteb(embedder, split="test")
            eval_s = time.perf_counter() - start
        average = table.loc["average"]
        budget = "no budget" if BUDGET_S[name] is None else f"budget {BUDGET_S[name]:.0f} s"
        print(f"{name:24s} load {load_s:5.1f} s   mini-MTEB {eval_s:5.1f} s ({budget})   "
              f"average {average['score']:.3f} [{average['ci_low']:.3f}, {average['ci_high']:.3f}]")
        print(table[["score", "ci_low", "ci_high", "seconds"]].round(3).to_string(), "\n")
        if BUDGET_S[name] is not None and eval_s > BUDGET_S[name]:
            over.append(name)
    if over:
        print(f"Over budget: {', '.join(over)} (is the machine busy?)")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
