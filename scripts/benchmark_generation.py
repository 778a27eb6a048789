"""New tokens per second of SmolLM2-135M's batched, KV-cached generation (helpers.synthetic.generate).

Target on 2 idle CPU cores: ≥ 150 new tokens/s at a batch of 32 on the fast path. Also prints one sequence at a
time and float32, for comparison. Run on an idle machine (or: make bench).

    python scripts/benchmark_generation.py
"""

from __future__ import annotations

import time

import torch

from helpers import config, synthetic
from helpers.models import load_smollm2

TARGET = 150.0  # new tokens/s, batch 32, fast path
NEW_TOKENS = 64


def tokens_per_second(tokenizer, model, batch: int, precision: str) -> float:
    prompts = [synthetic.chat_prompt(tokenizer, synthetic.gecko_prompt(f"Passage number {k}: the city council "
                                                                       "voted on Tuesday to expand the bus network.",
                                                                       synthetic.GECKO_TASKS[0]))
               for k in range(batch)]
    with config.using_precision(precision):
        start = time.perf_counter()
        answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=NEW_TOKENS, batch_size=batch, seed=0)
        seconds = time.perf_counter() - start
    new = sum(len(tokenizer(answer, add_special_tokens=False)["input_ids"]) for answer in answers)
    return new / seconds


def main() -> int:
    tokenizer, model = load_smollm2()
    print(f"torch threads: {torch.get_num_threads()}; fast path in {config.inference_dtype()}")
    tokens_per_second(tokenizer, model, 2, "fast")  # warm-up
    rates = {}
    for batch, precision in ((1, "fast"), (32, "fp32"), (32, "fast")):
        rates[batch, precision] = tokens_per_second(tokenizer, model, batch, precision)
        print(f"batch {batch:2d}, {precision:4s}: {rates[batch, precision]:6.1f} new tokens/s")
    ok = rates[32, "fast"] >= TARGET
    print(f"batch 32, fast: {rates[32, 'fast']:.1f} new tokens/s (target {TARGET:.0f}): {'ok' if ok else 'BELOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
