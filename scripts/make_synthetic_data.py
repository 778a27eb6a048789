"""Generate the synthetic training set of notebooks 08 and 09 with SmolLM2-135M-Instruct, on the CPU.

    python scripts/make_synthetic_data.py            # the committed set (data/synthetic/), one process
    python scripts/make_synthetic_data.py --e5 8 --gecko 8 --out /tmp/try   # a quick try

    # the same set from four processes (each part in its own process, then the merge):
    for part in e5 gecko:0 gecko:1 gecko:2; do python scripts/make_synthetic_data.py --gecko-parts 3 --part $part & done
    wait; python scripts/make_synthetic_data.py --gecko-parts 3 --part merge

Steps (see helpers/synthetic.py): E5-mistral brainstorm + one JSON example per (task, sampled attributes);
Gecko task + query for real passages of the course's training documents (``helpers.data.training_background``,
no sentence of the benchmark), MiniLM neighbours, LLM re-ranking by query likelihood and a relevance prompt
fused by reciprocal rank; SFR's rank-30..100 window negative for every kept example. Writes ``train.jsonl``
(kept examples), ``e5_answers.jsonl`` and ``gecko_answers.jsonl`` (every raw answer with its verdict) and
``settings.json`` (settings, counts, times).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from helpers import config, synthetic
from helpers.embed import minilm_embedder
from helpers.models import load_smollm2


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def e5_examples(tokenizer, model, args, rng) -> tuple[list[dict], list[str]]:
    """Step 1 (tasks) and step 2 (examples) of E5-mistral; every answer is returned with its verdict."""
    prompts = [synthetic.chat_prompt(tokenizer, synthetic.brainstorm_prompt(args.tasks_per_prompt))] * args.brainstorms
    answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=args.brainstorm_tokens,
                                 temperature=1.0, batch_size=args.batch_size, seed=args.seed, desc="E5 step 1: tasks")
    tasks = list(dict.fromkeys(task for answer in answers for task in synthetic.parse_task_list(answer)))
    if not tasks:
        raise RuntimeError("The brainstorm step produced no usable task; try another --seed or more --brainstorms.")
    chosen = [tasks[k % len(tasks)] for k in range(args.e5)]
    attributes = [synthetic.sample_attributes(rng) for _ in chosen]
    prompts = [synthetic.chat_prompt(tokenizer, synthetic.example_prompt(t, a), prefill=synthetic.EXAMPLE_PREFILL)
               for t, a in zip(chosen, attributes, strict=True)]
    answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=args.example_tokens, stop="}",
                                 batch_size=args.batch_size, seed=args.seed + 1000, desc="E5 step 2: examples")
    records = []
    for task, attrs, answer in zip(chosen, attributes, answers, strict=True):
        example, status = synthetic.parse_example(answer)
        record = {"task": task, "attributes": attrs, "answer": answer, "status": status}
        if example:
            record.update(query=example["user_query"], positive=example["positive_document"],
                          hard_negative=example["hard_negative_document"])
        records.append(record)
    return records, tasks


def gecko_examples(tokenizer, model, args, rng, passages: list[dict], part: int = 0, parts: int = 1) -> list[dict]:
    """Gecko: task + query per seed passage, MiniLM neighbours, LLM re-ranking fused by reciprocal rank.

    ``part`` of ``parts`` takes a share of whole generation batches: the answers equal those of one run.
    """
    texts = [p["passage"] for p in passages]
    seeds = rng.choice(len(passages), size=args.gecko, replace=False)
    prefills = [synthetic.gecko_prefill(str(rng.choice(synthetic.GECKO_TASKS))) for _ in seeds]
    n_batches = -(-len(seeds) // args.batch_size)
    first, last = (n_batches * part // parts, n_batches * (part + 1) // parts)
    seeds, prefills = (x[first * args.batch_size : last * args.batch_size] for x in (seeds, prefills))
    prompts = [synthetic.chat_prompt(tokenizer, synthetic.gecko_prompt(texts[s]), prefill=p)
               for s, p in zip(seeds, prefills, strict=True)]
    answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=args.gecko_tokens, stop="}",
                                 batch_size=args.batch_size, seed=args.seed + 2000 + first, desc="Gecko: query")
    records = []
    for seed_index, prefill, answer in zip(seeds, prefills, answers, strict=True):
        parsed, status = synthetic.parse_task_and_query(answer, texts[seed_index], prefill)
        record = {"seed": int(seed_index), "prefill": prefill, "answer": answer, "status": status}
        if parsed:
            record.update(parsed)
        records.append(record)

    kept = [r for r in records if r["status"] == "ok"]
    embedder = minilm_embedder()
    corpus_vectors = embedder.encode(texts)
    query_vectors = embedder.encode([r["query"] for r in kept]) if kept else np.zeros((0, embedder.dim))
    pairs = list(zip(kept, query_vectors, strict=True))
    for record, vector in config.progress_bar(pairs, desc="Gecko: LLM re-ranking"):
        neighbours = [int(c) for c in np.argsort(-(corpus_vectors @ vector), kind="stable")[: args.neighbours]]
        choice = synthetic.gecko_rerank(tokenizer, model, record["query"], neighbours, texts)
        record.update(neighbours=neighbours, **choice, seed_in_neighbours=record["seed"] in neighbours,
                      positive_is_seed=choice["positive"] == record["seed"])
    return records


def merge(args, passages: list[dict]) -> None:
    """Filter, build the training examples, add SFR window negatives, write the set and its settings."""
    parts = json.loads((args.parts_dir / "e5.json").read_text())
    e5_records, tasks, times = parts["records"], parts["tasks"], {"e5": parts["seconds"]}
    gecko_records, times["gecko"] = [], 0.0
    for k in range(args.gecko_parts):
        part = json.loads((args.parts_dir / f"gecko_{k}.json").read_text())
        gecko_records += part["records"]
        times["gecko"] += part["seconds"]

    e5_kept, e5_reasons = synthetic.filter_examples(e5_records)
    gecko_kept, gecko_reasons = synthetic.filter_examples(gecko_records, key="query")
    texts = [p["passage"] for p in passages]
    examples = [{"source": "e5", "task": r["task"], "query": r["query"], "positive": r["positive"],
                 "hard_negative": r["hard_negative"]} for r in e5_kept]
    examples += [{"source": "gecko", "task": r["task"], "query": r["query"], "positive": texts[r["positive"]],
                  "hard_negative": texts[r["hard_negative"]], "seed_passage": texts[r["seed"]],
                  "positive_is_seed": r["positive_is_seed"]} for r in gecko_kept]
    write_jsonl(args.out / "e5_answers.jsonl", e5_records)
    write_jsonl(args.out / "gecko_answers.jsonl", gecko_records)
    if not examples:
        raise RuntimeError("No answer passed validation: generate more (--e5, --gecko) or try another --seed.")

    # SFR: a window negative for every example, from MiniLM's ranking of all passages and generated documents.
    start = time.perf_counter()
    corpus = list(dict.fromkeys(texts + [e[k] for e in examples for k in ("positive", "hard_negative")]))
    position = {text: k for k, text in enumerate(corpus)}
    embedder = minilm_embedder()
    query_vectors = embedder.encode([e["query"] for e in examples])
    negatives = synthetic.window_hard_negatives(query_vectors, embedder.encode(corpus),
                                                [position[e["positive"]] for e in examples], tuple(args.window),
                                                seed=args.seed)
    for example, negative in zip(examples, negatives, strict=True):
        example["window_negative"] = corpus[negative]
    times["sfr_window"] = time.perf_counter() - start

    write_jsonl(args.out / "train.jsonl", examples)
    settings = {
        "generator": "SmolLM2-135M-Instruct (helpers.models.load_smollm2, Q4_1 GGUF de-quantised to float32)",
        "first_stage_embedder": "all-MiniLM-L6-v2",
        "arguments": {k: v for k, v in vars(args).items() if k in ARGUMENTS},
        "sampling": {"temperature": 0.7, "top_p": 0.9, "brainstorm_temperature": 1.0},
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "tasks": tasks,
        "e5_reasons": dict(e5_reasons), "gecko_reasons": dict(gecko_reasons),
        "counts": {"e5_answers": len(e5_records), "e5_kept": len(e5_kept), "gecko_answers": len(gecko_records),
                   "gecko_kept": len(gecko_kept), "training_passages": len(passages),
                   "training_documents": len({p["doc_id"] for p in passages}), "examples": len(examples)},
        "seconds": {k: round(v, 1) for k, v in times.items()},
    }
    (args.out / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    print(json.dumps({"counts": settings["counts"], "e5_reasons": settings["e5_reasons"],
                      "gecko_reasons": settings["gecko_reasons"], "seconds": settings["seconds"]}, indent=1))


# The arguments that decide the data (saved with it); --part, --out and --parts-dir only organise the work.
ARGUMENTS = ("seed", "brainstorms", "tasks_per_prompt", "brainstorm_tokens", "e5", "example_tokens", "gecko",
             "gecko_tokens", "neighbours", "window", "batch_size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--brainstorms", type=int, default=2, help="E5 step-1 prompts")
    parser.add_argument("--tasks-per-prompt", type=int, default=5)
    parser.add_argument("--brainstorm-tokens", type=int, default=80)
    parser.add_argument("--e5", type=int, default=8, help="E5 step-2 answers to generate")
    parser.add_argument("--example-tokens", type=int, default=100)
    parser.add_argument("--gecko", type=int, default=56, help="seed passages for Gecko")
    parser.add_argument("--gecko-tokens", type=int, default=40)
    parser.add_argument("--neighbours", type=int, default=5, help="first-stage candidates re-ranked by the LLM")
    parser.add_argument("--window", type=int, nargs=2, default=(30, 100), help="SFR hard-negative ranks")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=synthetic.DATA_DIR)
    parser.add_argument("--part", default="all", help="all | e5 | gecko:K (K of --gecko-parts) | merge; run the "
                        "e5 and gecko:K parts in parallel processes to use more cores, then merge")
    parser.add_argument("--gecko-parts", type=int, default=1)
    parser.add_argument("--parts-dir", type=Path, default=config.cache_dir() / "synthetic_parts")
    args = parser.parse_args()

    config.seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    args.parts_dir.mkdir(parents=True, exist_ok=True)
    passages = synthetic.training_passages()
    if args.part in ("all", "e5"):
        tokenizer, model = load_smollm2()
        start = time.perf_counter()
        records, tasks = e5_examples(tokenizer, model, args, np.random.default_rng([args.seed, 1]))
        (args.parts_dir / "e5.json").write_text(json.dumps({"records": records, "tasks": tasks,
                                                            "seconds": time.perf_counter() - start}))
    gecko_parts = range(args.gecko_parts) if args.part == "all" else (
        [int(args.part.split(":")[1])] if args.part.startswith("gecko:") else [])
    for k in gecko_parts:
        tokenizer, model = load_smollm2()
        start = time.perf_counter()
        records = gecko_examples(tokenizer, model, args, np.random.default_rng([args.seed, 2]), passages,
                                 part=k, parts=args.gecko_parts)
        (args.parts_dir / f"gecko_{k}.json").write_text(json.dumps({"records": records,
                                                                     "seconds": time.perf_counter() - start}))
    if args.part in ("all", "merge"):
        merge(args, passages)


if __name__ == "__main__":
    main()
