"""Generate the synthetic training set of notebooks 08 and 09 with SmolLM2-135M-Instruct, on the CPU.

    python scripts/make_synthetic_data.py                 # the committed set (data/synthetic/); resumes
    python scripts/make_synthetic_data.py --e5 32 --gecko 64 --out /tmp/try   # a quick try

Steps (see helpers/synthetic.py): E5-mistral, for each of its four task kinds, a brainstorm of tasks and one JSON
example per (task, sampled attributes); Gecko, a query for real passages of the course's training documents
(``helpers.data.training_background``, no sentence of the benchmark; each passage drawn with up to each of the
Gecko tasks), MiniLM neighbours, LLM re-ranking by query likelihood and a relevance prompt fused by reciprocal
rank (ties to the relevance prompt); SFR's rank-30..100 window negative for every kept example. Writes
``train.jsonl`` (kept examples), ``e5_answers.jsonl`` and ``gecko_answers.jsonl`` (every raw answer with its
verdict) and ``settings.json`` (the card: settings, code hash, yields, relabelling statistics, minutes).

Every step is written as shards (atomically) under ``.cache/synthetic_parts/<key>/``: a run that is stopped
resumes from the last finished shard when started again with the same arguments, and says what remains.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from helpers import cache, config, contrastive, synthetic
from helpers.embed import minilm_embedder
from helpers.models import load_smollm2

# The arguments that decide the data (saved with it and in the shards' key); --out only says where it goes.
ARGUMENTS = ("seed", "brainstorms", "tasks_per_prompt", "brainstorm_tokens", "e5", "example_tokens", "gecko",
             "gecko_tokens", "neighbours", "window", "batch_size", "shard_size")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


class Shards:
    """Each step's result, one JSON file per shard, reused when present (so a stopped run resumes)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, name: str, make, remaining: str = "") -> dict:
        path = self.folder / f"{name}.json"
        if path.exists():
            return cache.load_json(path)
        start = time.perf_counter()
        value = {**make(), "seconds": 0.0}
        value["seconds"] = time.perf_counter() - start
        cache.save_json(path, value)
        print(f"shard {name} written ({value['seconds']:.0f} s){'; ' + remaining if remaining else ''}", flush=True)
        return value


def e5_kind(tokenizer, model, args, kind: str, number: int) -> dict:
    """Step 1 (tasks) and step 2 (examples) of E5-mistral for one task kind; every answer with its verdict."""
    rng = np.random.default_rng([args.seed, 1, number])
    prompt = synthetic.chat_prompt(tokenizer, synthetic.brainstorm_prompt(args.tasks_per_prompt, kind))
    answers = synthetic.generate(tokenizer, model, [prompt] * args.brainstorms, max_new_tokens=args.brainstorm_tokens,
                                 temperature=1.0, batch_size=args.batch_size, seed=args.seed + 100 * number,
                                 desc=f"E5 {kind}: tasks")
    tasks = list(dict.fromkeys(task for answer in answers for task in synthetic.parse_task_list(answer)))
    if not tasks:
        return {"records": [], "tasks": []}
    chosen = [tasks[k % len(tasks)] for k in range(args.e5 // len(synthetic.E5_KINDS))]
    attributes = [synthetic.sample_attributes(rng, kind) for _ in chosen]
    prompts = [synthetic.chat_prompt(tokenizer, synthetic.example_prompt(t, a), prefill=synthetic.EXAMPLE_PREFILL)
               for t, a in zip(chosen, attributes, strict=True)]
    answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=args.example_tokens, stop="}",
                                 batch_size=args.batch_size, seed=args.seed + 1000 + 100 * number,
                                 desc=f"E5 {kind}: examples")
    records = []
    for task, attrs, answer in zip(chosen, attributes, answers, strict=True):
        example, status = synthetic.parse_example(answer)
        record = {"kind": kind, "task": task, "attributes": attrs, "answer": answer, "status": status}
        if example:
            record.update(query=example["user_query"], positive=example["positive_document"],
                          hard_negative=example["hard_negative_document"])
        records.append(record)
    return {"records": records, "tasks": tasks}


def gecko_plan(args, n_passages: int) -> tuple[np.ndarray, list[str]]:
    """Distinct (passage, task) pairs in random order: a passage seeds up to one query per Gecko task."""
    n_tasks = len(synthetic.GECKO_TASKS)
    if args.gecko > n_passages * n_tasks:
        raise ValueError(f"--gecko {args.gecko} exceeds the {n_passages * n_tasks} (passage, task) pairs.")
    pairs = np.random.default_rng([args.seed, 2]).choice(n_passages * n_tasks, size=args.gecko, replace=False)
    return pairs // n_tasks, [synthetic.GECKO_TASKS[k] for k in pairs % n_tasks]


def gecko_queries(tokenizer, model, args, texts: list[str], seeds, tasks, number: int) -> dict:
    """Gecko's first step for one shard of (passage, task) pairs: the LLM's query and its verdict."""
    prompts = [synthetic.gecko_chat(tokenizer, texts[s], t) for s, t in zip(seeds, tasks, strict=True)]
    answers = synthetic.generate(tokenizer, model, prompts, max_new_tokens=args.gecko_tokens, stop="}",
                                 batch_size=args.batch_size, seed=args.seed + 2000 + 100 * number,
                                 desc=f"Gecko queries, shard {number}")
    records = []
    for seed_index, task, answer in zip(seeds, tasks, answers, strict=True):
        prefill = synthetic.gecko_prefill(task)
        parsed, status = synthetic.parse_task_and_query(answer, texts[int(seed_index)], prefill)
        records.append({"seed": int(seed_index), "prefill": prefill, "answer": answer, "status": status,
                        **(parsed or {})})
    return {"records": records}


def gecko_rerank(tokenizer, model, args, texts: list[str], records: list[dict], neighbours: np.ndarray,
                 number: int) -> dict:
    """Gecko's second step for one shard of kept queries: the LLM re-ranks each query's first-stage neighbours."""
    out = []
    with torch.no_grad(), config.inference_precision(model.device.type):  # weights cast once for the shard
        for record, row in zip(config.progress_bar(records, desc=f"Gecko re-ranking, shard {number}"), neighbours,
                               strict=True):
            candidates = [int(c) for c in row]
            choice = synthetic.gecko_rerank(tokenizer, model, record["query"], candidates, texts)
            out.append({**record, "neighbours": candidates, **choice,
                        "seed_in_neighbours": record["seed"] in candidates,
                        "positive_is_seed": choice["positive"] == record["seed"]})
    return {"records": out}


def merge(args, passages: list[dict], e5_parts: list[dict], gecko_records: list[dict], seconds: dict) -> None:
    """Filter, build the training examples, add SFR window negatives, write the set and its card."""
    e5_records = [r for part in e5_parts for r in part["records"]]
    tasks = {kind: part["tasks"] for kind, part in zip(synthetic.E5_KINDS, e5_parts, strict=True)}
    e5_kept, e5_reasons = synthetic.filter_examples(e5_records)
    reranked = [r for r in gecko_records if "positive" in r]
    gecko_kept, gecko_reasons = synthetic.filter_examples(gecko_records, key="query")
    assert len(gecko_kept) == len(reranked), "every kept Gecko query is re-ranked"
    texts = [p["passage"] for p in passages]
    examples = [{"source": "e5", "kind": r["kind"], "task": r["task"], "query": r["query"],
                 "positive": r["positive"], "hard_negative": r["hard_negative"]} for r in e5_kept]
    examples += [{"source": "gecko", "task": r["task"], "query": r["query"], "positive": texts[r["positive"]],
                  "hard_negative": texts[r["hard_negative"]], "seed_passage": texts[r["seed"]],
                  "positive_is_seed": r["positive_is_seed"]} for r in reranked]
    write_jsonl(args.out / "e5_answers.jsonl", e5_records)
    write_jsonl(args.out / "gecko_answers.jsonl", gecko_records)
    if not examples:
        raise RuntimeError("No answer passed validation: generate more (--e5, --gecko) or try another --seed.")

    # SFR: a window negative for every example, from MiniLM's ranking of all passages and generated documents.
    start = time.perf_counter()
    corpus = list(dict.fromkeys(texts + [e[k] for e in examples for k in ("positive", "hard_negative")]))
    position = {text: k for k, text in enumerate(corpus)}
    embedder = minilm_embedder()
    negatives = contrastive.mine_hard_negatives(embedder.encode([e["query"] for e in examples]),
                                                embedder.encode(corpus), [position[e["positive"]] for e in examples],
                                                "ranks", ranks=tuple(args.window), seed=args.seed)
    for example, negative in zip(examples, negatives, strict=True):
        example["window_negative"] = corpus[negative]
    seconds["sfr_window"] = time.perf_counter() - start

    write_jsonl(args.out / "train.jsonl", examples)
    settings = {
        "generator": "SmolLM2-135M-Instruct (helpers.models.load_smollm2, Q4_1 GGUF de-quantised to float32)",
        "first_stage_embedder": "all-MiniLM-L6-v2",
        "arguments": {k: v for k, v in vars(args).items() if k in ARGUMENTS},
        "sampling": {"temperature": 0.7, "top_p": 0.9, "top_k": synthetic.TOP_K, "brainstorm_temperature": 1.0},
        "inference_dtype": config.inference_dtype(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "code": {"helpers.synthetic": cache.source_hash(synthetic), "script": cache.file_sha256(__file__)},
        "tasks": tasks, "gecko_tasks": list(synthetic.GECKO_TASKS),
        "e5_reasons": dict(e5_reasons), "gecko_reasons": dict(gecko_reasons),
        "relabelling": {"llm_overrides_first_stage": sum(r["overrides_first_stage"] for r in reranked),
                        "positive_is_seed": sum(r["positive_is_seed"] for r in reranked),
                        "seed_in_neighbours": sum(r["seed_in_neighbours"] for r in reranked),
                        "fused_tie_at_top": sum(synthetic.fused_tie_at_top(r["fused"]) for r in reranked),
                        "of": len(reranked)},
        "counts": {"e5_answers": len(e5_records), "e5_kept": len(e5_kept), "gecko_answers": len(gecko_records),
                   "gecko_kept": len(gecko_kept), "training_passages": len(passages),
                   "training_documents": len({p["doc_id"] for p in passages}), "examples": len(examples)},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "minutes": round(sum(seconds.values()) / 60, 1),
    }
    (args.out / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    print(json.dumps({k: settings[k] for k in ("counts", "e5_reasons", "gecko_reasons", "relabelling", "minutes")},
                     indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--brainstorms", type=int, default=8, help="E5 step-1 prompts per task kind")
    parser.add_argument("--tasks-per-prompt", type=int, default=5)
    parser.add_argument("--brainstorm-tokens", type=int, default=100)
    parser.add_argument("--e5", type=int, default=256, help="E5 step-2 answers to generate (over the four kinds)")
    parser.add_argument("--example-tokens", type=int, default=160)
    parser.add_argument("--gecko", type=int, default=2304, help="(seed passage, task) pairs for Gecko")
    parser.add_argument("--gecko-tokens", type=int, default=40)
    parser.add_argument("--neighbours", type=int, default=5, help="first-stage candidates re-ranked by the LLM")
    parser.add_argument("--window", type=int, nargs=2, default=(30, 100), help="SFR hard-negative ranks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--shard-size", type=int, default=256, help="prompts (or re-ranked queries) per shard")
    parser.add_argument("--out", type=Path, default=synthetic.DATA_DIR)
    args = parser.parse_args()

    # The shards are keyed by the arguments and helpers.synthetic (the prompts, sampling and filters they hold).
    key = cache.key_digest({"arguments": {k: getattr(args, k) for k in ARGUMENTS},
                            "code": cache.source_hash(synthetic)})
    shards = Shards(config.cache_dir() / "synthetic_parts" / key)
    print(f"shards in {shards.folder}", flush=True)
    config.seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    passages = synthetic.training_passages()
    texts = [p["passage"] for p in passages]
    tokenizer, model = load_smollm2()

    e5_parts = [shards.get(f"e5_{kind}", lambda kind=kind, k=k: e5_kind(tokenizer, model, args, kind, k))
                for k, kind in enumerate(synthetic.E5_KINDS)]

    seeds, tasks = gecko_plan(args, len(passages))
    starts = range(0, len(seeds), args.shard_size)
    records, seconds = [], {"e5": sum(p["seconds"] for p in e5_parts), "gecko_queries": 0.0, "gecko_rerank": 0.0}
    for number, start in enumerate(starts):
        part = slice(start, start + args.shard_size)
        shard = shards.get(f"gecko_queries_{number}", lambda part=part, number=number: gecko_queries(
            tokenizer, model, args, texts, seeds[part], tasks[part], number),
            remaining=f"{len(starts) - number - 1} query shards left")
        records += shard["records"]
        seconds["gecko_queries"] += shard["seconds"]

    kept, _ = synthetic.filter_examples(records, key="query")
    embedder = minilm_embedder()
    similarity = embedder.encode([r["query"] for r in kept]) @ embedder.encode(texts).T
    neighbours = np.argsort(-similarity, axis=1, kind="stable")[:, : args.neighbours]
    reranked = []
    starts = range(0, len(kept), args.shard_size)
    for number, start in enumerate(starts):
        part = slice(start, start + args.shard_size)
        shard = shards.get(f"gecko_rerank_{number}", lambda part=part, number=number: gecko_rerank(
            tokenizer, model, args, texts, kept[part], neighbours[part], number),
            remaining=f"{len(starts) - number - 1} re-ranking shards left")
        reranked += shard["records"]
        seconds["gecko_rerank"] += shard["seconds"]

    by_answer = {(r["seed"], r["prefill"], r["answer"]): r for r in reranked}
    gecko_records = [by_answer.get((r["seed"], r["prefill"], r["answer"]), r) for r in records]
    merge(args, passages, e5_parts, gecko_records, seconds)


if __name__ == "__main__":
    main()
