"""Training data written by an LLM (taught in notebook 08; the full set is made by
``scripts/make_synthetic_data.py`` and used to train the embedder of notebook 09).

Three recipes, each run for real with SmolLM2-135M-Instruct:

* **E5-mistral** (Wang et al. 2023), two prompts: brainstorm retrieval tasks, then for one task and a few
  sampled attributes (query type, length, clarity, document length, difficulty) write a JSON object with a
  ``user_query``, a ``positive_document`` and a ``hard_negative_document``. Small models often write broken
  JSON, so every answer goes through :func:`parse_example`, which keeps it or names the reason it is rejected;
  :func:`filter_examples` also drops duplicates.
* **Gecko** (Lee et al. 2024), on real passages: the LLM writes a task and a query for a passage; a first-stage
  embedder retrieves neighbours; the LLM re-scores them by query likelihood (:func:`query_log_likelihood`, from
  its own log-probabilities) and by a relevance prompt (:func:`relevance_scores`); the two rankings are fused by
  :func:`reciprocal_rank_fusion`; the top passage becomes the positive, a lower one the hard negative.
* **SFR-Embedding**: hard negatives sampled from ranks 30-100 of a teacher's ranking
  (:func:`window_hard_negatives`), far enough down to be rarely a false negative.

Gecko's real passages (:func:`training_passages`) come from the course's training documents
(:func:`helpers.data.training_background`), which share no sentence with any text the mini-MTEB scores.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from helpers import config, data

DATA_DIR = config.data_dir() / "synthetic"

# E5-mistral's sampled attributes (its prompt templates, Table 8 of the paper, shortened).
QUERY_TYPES = ("extremely long-tail", "long-tail", "common")
QUERY_LENGTHS = ("less than 5 words", "5 to 15 words", "at least 10 words")
CLARITY = ("clear", "understandable with some effort", "ambiguous")
DOCUMENT_LENGTHS = ("30 words", "50 words", "100 words")
DIFFICULTY = ("high school", "college", "PhD")
ATTRIBUTES = {"query_type": QUERY_TYPES, "query_length": QUERY_LENGTHS, "clarity": CLARITY,
              "document_length": DOCUMENT_LENGTHS, "difficulty": DIFFICULTY}

EXAMPLE_KEYS = ("user_query", "positive_document", "hard_negative_document")
# The answer is started for the model ("prefilled"): a 135M model rarely opens the JSON object by itself.
EXAMPLE_PREFILL = '{"user_query": "'

# Gecko asks the LLM for a task too; a 135M model copies the passage's first sentence instead, so the task is
# sampled from these and prefilled, and the LLM writes the query.
GECKO_TASKS = (
    "Given a question, retrieve news passages that answer it",
    "Given a short search query, retrieve the news report it is looking for",
    "Given a claim, retrieve news passages that support or refute it",
)


# ---------------------------------------------------------------------------------------------------------
# Generation with a chat model


@contextlib.contextmanager
def left_padding(tokenizer):
    """Pad on the left inside the block (a decoder generates after the last real token), then restore."""
    before = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = before


def chat_prompt(tokenizer, user: str, prefill: str = "") -> str:
    """The chat-formatted prompt for one user message, with the assistant's answer started by ``prefill``."""
    messages = [{"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill


TOP_K = 50  # transformers' default, which the course's generation always used


def sampling_distribution(logits: torch.Tensor, temperature: float = 0.7, top_k: int = TOP_K,
                          top_p: float = 0.9) -> tuple[torch.Tensor, torch.Tensor]:
    """What one sampling step draws from, for each row of ``logits`` (batch, vocabulary): ``(probabilities,
    token_ids)`` over the ``top_k`` most likely tokens (most likely first) after dividing by ``temperature``,
    renormalised over the nucleus: the most likely tokens until their mass reaches ``top_p`` (at least one).
    transformers' temperature, top-k and top-p warpers give the same distribution (tested); working on ``top_k``
    candidates instead of the whole vocabulary skips a sort and a draw over 49,152 tokens at every step."""
    values, token_ids = (logits.float() / temperature).topk(top_k, dim=-1)  # sorted, most likely first
    probabilities = values.softmax(dim=-1)
    mass_before = probabilities.cumsum(dim=-1) - probabilities
    probabilities = probabilities * (mass_before < top_p)  # the first token always stays (mass before it: 0)
    return probabilities / probabilities.sum(dim=-1, keepdim=True), token_ids


def _ends_with_stop(tokenizer, rows: list[list[int]], stop: str) -> list[bool]:
    """Whether each row's newest tokens contain ``stop`` (a string of n characters spans at most n tokens; one
    more covers a token that ends with it)."""
    tails = tokenizer.batch_decode([row[-(len(stop) + 1):] for row in rows], skip_special_tokens=True)
    return [stop in tail for tail in tails]


def _sample_batch(tokenizer, model, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float,
                  stop: str | None) -> list[str]:
    """Sample continuations of one left-padded batch with a KV cache, each row stopping on its own."""
    from transformers import DynamicCache

    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    mask = encoded["attention_mask"]
    positions = (mask.cumsum(dim=-1) - 1).masked_fill(mask == 0, 1)  # left padding: count real tokens only
    cache, new = DynamicCache(), [[] for _ in prompts]
    done = torch.zeros(len(prompts), dtype=torch.bool, device=model.device)
    logits = model(input_ids=encoded["input_ids"], attention_mask=mask, position_ids=positions,
                   cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
    for _ in range(max_new_tokens):
        probabilities, token_ids = sampling_distribution(logits, temperature, TOP_K, top_p)
        token = token_ids.gather(1, torch.multinomial(probabilities, 1)).squeeze(1)
        token = token.masked_fill(done, tokenizer.pad_token_id)  # a finished row only pads
        for row in (~done).nonzero().flatten().tolist():
            new[row].append(token[row].item())
        done |= token == tokenizer.eos_token_id
        if stop:
            open_rows = (~done).nonzero().flatten().tolist()
            for row, stopped in zip(open_rows, _ends_with_stop(tokenizer, [new[r] for r in open_rows], stop),
                                    strict=True):
                done[row] |= stopped
        if done.all():
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        positions = positions[:, -1:] + 1
        logits = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions,
                       cache=cache, use_cache=True).logits[:, -1]
    return tokenizer.batch_decode(new, skip_special_tokens=True)


def generate(tokenizer, model, prompts: list[str], max_new_tokens: int = 160, temperature: float = 0.7,
             top_p: float = 0.9, batch_size: int = 32, seed: int = 0, stop: str | None = None,
             desc: str = "Generating") -> list[str]:
    """Sample one continuation per prompt (already chat-formatted); returns the new text only.

    Batched with left padding and a KV cache, each sequence stopping on its own (EOS, or ``stop``, which ends an
    answer at the token that completes that string: ``"}"`` for a flat JSON object), on the fast inference path
    (:func:`helpers.config.inference_precision`). Sampling as transformers' ``generate(do_sample=True)`` with
    SmolLM2's settings: temperature, then the :data:`TOP_K` most likely tokens, then the nucleus of mass
    ``top_p`` (:func:`sampling_distribution`). A batch of 32 makes several times the new tokens per second of one
    sequence at a time on 2 cores (``scripts/benchmark_generation.py``). Seeded per batch, so a run is
    reproducible on the same machine, thread count and precision.
    """
    if not prompts:
        raise ValueError("generate() got no prompts.")
    answers = []
    batches = [prompts[start : start + batch_size] for start in range(0, len(prompts), batch_size)]
    # no_grad, not inference_mode: under inference_mode autocast casts every weight to bfloat16 again at every
    # step; under no_grad it casts each once per call and keeps the copy (one sixth of a decoding step here).
    with left_padding(tokenizer), torch.no_grad(), config.inference_precision(model.device.type):
        for number, batch in enumerate(config.progress_bar(batches, desc=desc, disable=len(batches) < 2)):
            torch.manual_seed(seed + number)
            answers += _sample_batch(tokenizer, model, batch, max_new_tokens, temperature, top_p, stop)
    return answers


# ---------------------------------------------------------------------------------------------------------
# E5-mistral step 1: brainstorm tasks


def brainstorm_prompt(n_tasks: int = 5) -> str:
    """E5-mistral's first prompt: ask for a list of text retrieval tasks."""
    return (f"Brainstorm a list of {n_tasks} potentially useful text retrieval tasks. "
            "Each task says what the search query is and what documents should be found, in one sentence "
            "starting with 'Retrieve' or 'Given'. Answer with one task per line.")


def parse_task_list(text: str) -> list[str]:
    """The tasks in a brainstorm answer: a JSON list, or one per line with or without numbering/bullets.

    Lines that are too short (under 5 words) or too long (over 40) are not tasks.
    """
    tasks = []
    try:
        parsed = json.loads(text)
        lines = [str(item) for item in parsed] if isinstance(parsed, list) else text.splitlines()
    except json.JSONDecodeError:
        lines = text.splitlines()
    for line in lines:
        task = re.sub(r"^\s*(?:[-*•]|\d+[.)]|(?:task|sentence)\s*\d*:)\s*", "", line, flags=re.IGNORECASE)
        task = task.replace("**", "").strip(" \"',")
        if 5 <= len(task.split()) <= 40 and not task.endswith(":"):
            tasks.append(task.rstrip("."))
    return tasks


# ---------------------------------------------------------------------------------------------------------
# E5-mistral step 2: one example per task, with sampled attributes


def sample_attributes(rng: np.random.Generator) -> dict[str, str]:
    """Draw E5-mistral's attributes for one example."""
    return {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}


def example_prompt(task: str, attributes: dict[str, str]) -> str:
    """E5-mistral's second prompt: one JSON training example for ``task`` (with a one-shot demonstration)."""
    return (
        f"You have been assigned a retrieval task: {task}\n"
        "Write one example for this task as a JSON object with three string keys:\n"
        '- "user_query": a search query, '
        f"{attributes['query_type']}, {attributes['query_length']}, {attributes['clarity']}.\n"
        f'- "positive_document": a relevant document of about {attributes["document_length"]}.\n'
        '- "hard_negative_document": a document on the same topic that does NOT answer the query.\n'
        f"The documents need {attributes['difficulty']} level knowledge. Answer with the JSON object only."
    )


def first_json_object(text: str) -> str | None:
    """The first balanced ``{...}`` in ``text`` (braces inside strings are respected), or ``None``."""
    start = text.find("{")
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    for position in range(start, len(text)):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : position + 1]
    return None


def is_degenerate(text: str, min_words: int = 3) -> str | None:
    """Why ``text`` is not usable training text (``None`` when it is): too short, or a repetition loop."""
    words = re.findall(r"\w+", text.lower())
    if len(words) < min_words:
        return "too short"
    if len(words) >= 8 and len(set(words)) / len(words) < 0.4:
        return "repetitive"
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if len(trigrams) >= 6 and Counter(trigrams).most_common(1)[0][1] >= 3:
        return "repetitive"
    return None


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def parse_example(answer: str, prefill: str = EXAMPLE_PREFILL) -> tuple[dict | None, str]:
    """Parse and validate one step-2 answer. Returns ``(example, "ok")`` or ``(None, reason)``.

    ``answer`` is the generated text; ``prefill`` (the start of the answer we wrote for the model) is put back
    in front. Reasons: ``no JSON object``, ``invalid JSON``, ``missing key``, ``not a string``, ``too short``,
    ``repetitive``, ``copies the instructions``, ``positive = negative``, ``query copies a document``.
    """
    raw = first_json_object(prefill + answer)
    if raw is None:
        return None, "no JSON object"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return None, "invalid JSON"
    if not isinstance(parsed, dict) or any(key not in parsed for key in EXAMPLE_KEYS):
        return None, "missing key"
    if any(not isinstance(parsed[key], str) for key in EXAMPLE_KEYS):
        return None, "not a string"
    example = {key: parsed[key].strip() for key in EXAMPLE_KEYS}
    for key, minimum in zip(EXAMPLE_KEYS, (2, 5, 5), strict=True):
        problem = is_degenerate(example[key], min_words=minimum)
        if problem:
            return None, problem
    normal = {key: _normalise(value) for key, value in example.items()}
    if any(normal[key] in _normalise(example_prompt("", dict.fromkeys(ATTRIBUTES, ""))) for key in EXAMPLE_KEYS):
        return None, "copies the instructions"
    if normal["positive_document"] == normal["hard_negative_document"]:
        return None, "positive = negative"
    if normal["user_query"] in (normal["positive_document"], normal["hard_negative_document"]):
        return None, "query copies a document"
    return example, "ok"


def filter_examples(records: list[dict], key: str = "query") -> tuple[list[dict], Counter]:
    """Keep the records whose ``status`` is ``"ok"`` and whose ``key`` text was not seen before.

    Returns the kept records and a count of every status (``"duplicate"`` added for repeats).
    """
    kept, seen, reasons = [], set(), Counter()
    for record in records:
        status = record["status"]
        if status == "ok":
            normal = _normalise(record[key])
            if normal in seen:
                status = "duplicate"
            else:
                seen.add(normal)
                kept.append(record)
        reasons[status] += 1
    return kept, reasons


# ---------------------------------------------------------------------------------------------------------
# Real passages from the course's training documents


def training_passages(sentences_per_passage: int = 3, max_words: int = 70) -> list[dict]:
    """Passages of a few sentences from the course's training documents (:func:`helpers.data.training_background`).

    Each is ``{"doc_id": int, "passage": str}`` (``doc_id`` indexes the training documents); passages under 25
    words are skipped.
    """
    passages = []
    for doc_id, document in enumerate(data.training_background()):
        sentences = data.split_sentences(document)
        for start in range(0, len(sentences), sentences_per_passage):
            words = " ".join(sentences[start : start + sentences_per_passage]).split()
            if len(words) >= 25:
                passages.append({"doc_id": doc_id, "passage": " ".join(words[:max_words])})
    return passages


def generation_passages(settings: dict) -> list[dict]:
    """The passages a saved set (:func:`load_synthetic`) was generated from, in the order its indices use.

    A set made under the course's earlier held-out rule lists the documents it left out in
    ``settings["held_out_documents"]``: its passages are :func:`training_passages` less those documents (a subset
    of today's training documents). A set made since used every training passage. Raises ``ValueError`` when the
    count differs from the one the set recorded (the passages changed since it was made: regenerate it).
    """
    left_out = set(settings.get("held_out_documents", ()))
    passages = [p for p in training_passages() if p["doc_id"] not in left_out]
    expected = settings["counts"]["training_passages"]
    if len(passages) != expected:
        raise ValueError(f"The saved set was made from {expected} passages, these are {len(passages)}: the training "
                         "passages changed since; regenerate it with `make data`.")
    return passages


# ---------------------------------------------------------------------------------------------------------
# Gecko: a task and query for a real passage, then LLM re-ranking of the neighbours


def gecko_prompt(passage: str) -> str:
    """Gecko's first prompt: a retrieval task and a query that the passage answers."""
    return (
        "Read the passage and write a retrieval task for it and a short search query that the passage answers.\n"
        f"Passage: {passage}\n"
        'Answer as JSON: {"task": "...", "query": "..."}'
    )


def gecko_prefill(task: str) -> str:
    """The start of the answer we write for the model: the task is given, the query is the model's."""
    return json.dumps({"task": task, "query": ""})[:-2]


def first_json_string(text: str) -> str | None:
    """The first complete JSON string literal in ``text`` (quotes included), or ``None``."""
    match = re.search(r'"(?:[^"\\\n]|\\.)*"', text)
    return match.group(0) if match else None


def parse_task_and_query(answer: str, passage: str, prefill: str) -> tuple[dict | None, str]:
    """Parse a Gecko answer: ``({"task", "query"}, "ok")`` or ``(None, reason)``.

    The prefill gives the task and opens the query string, so the query is that string up to its closing
    quote; whatever the model writes after it (extra keys, chatter) is ignored. Reasons: ``unfinished query``,
    ``too short``, ``repetitive``, ``query copies a document`` (a verbatim span of the passage) and
    ``off-topic`` (no word of four letters or more in common with the passage).
    """
    task = json.loads(first_json_object(prefill + '"}') or "{}").get("task")
    if not task:
        raise ValueError("prefill must be gecko_prefill(task): it opens the query string after a task.")
    literal = first_json_string('"' + answer)
    if literal is None:
        return None, "unfinished query"
    try:
        query = json.loads(literal).strip()
    except json.JSONDecodeError:
        return None, "unfinished query"
    problem = is_degenerate(query, min_words=3)
    if problem:
        return None, problem
    if _normalise(query) in _normalise(passage):
        return None, "query copies a document"
    if not set(re.findall(r"\w{4,}", query.lower())) & set(re.findall(r"\w{4,}", passage.lower())):
        return None, "off-topic"
    return {"task": task, "query": query}, "ok"


def _answer_log_probs(tokenizer, model, prompts: list[str], answers: list[str]) -> torch.Tensor:
    """Mean log-probability per token of each ``answer`` after its ``prompt`` (teacher forcing)."""
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    answer_ids = [tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]
    rows = [p + a for p, a in zip(prompt_ids, answer_ids, strict=True)]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for k, row in enumerate(rows):  # right padding: positions are the same as without padding
        ids[k, : len(row)] = torch.tensor(row)
        mask[k, : len(row)] = 1
    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    scores = []
    for k, (p, a) in enumerate(zip(prompt_ids, answer_ids, strict=True)):
        targets = torch.tensor(a, device=log_probs.device)
        # token p + j is predicted by the logits at position p + j - 1
        scores.append(log_probs[k, len(p) - 1 : len(p) - 1 + len(a)].gather(1, targets[:, None]).mean())
    return torch.stack(scores).cpu()


def query_log_likelihood(tokenizer, model, query: str, passages: list[str]) -> np.ndarray:
    """Gecko's first re-ranker: the mean log-probability the LLM gives the query after reading each passage."""
    prompts = [chat_prompt(tokenizer, f"Passage: {p}\nWrite a search query that this passage answers.")
               for p in passages]
    with torch.inference_mode():
        return _answer_log_probs(tokenizer, model, prompts, [query] * len(passages)).numpy()


def relevance_scores(tokenizer, model, query: str, passages: list[str]) -> np.ndarray:
    """Gecko's second re-ranker: log P(Yes) - log P(No) for "Does the passage answer the query?"."""
    yes, no = (tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in ("Yes", "No"))
    prompts = [chat_prompt(tokenizer, f"Query: {query}\nPassage: {p}\n"
                                      "Does the passage answer the query? Answer Yes or No.") for p in passages]
    with left_padding(tokenizer), torch.inference_mode():
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        last = torch.log_softmax(model(**encoded).logits[:, -1].float(), dim=-1)
    return (last[:, yes] - last[:, no]).cpu().numpy()


def ranks(scores) -> np.ndarray:
    """Rank of each item (1 = best, highest score); ties keep the input order."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    result = np.empty(len(order), dtype=int)
    result[order] = np.arange(1, len(order) + 1)
    return result


def reciprocal_rank_fusion(*score_lists, k: int = 60) -> np.ndarray:
    """Fuse several scorings of the same items: sum over scorings of 1 / (k + rank) (Cormack et al. 2009)."""
    if not score_lists:
        raise ValueError("reciprocal_rank_fusion needs at least one list of scores.")
    lengths = {len(scores) for scores in score_lists}
    if len(lengths) != 1:
        raise ValueError(f"Every scoring must score the same items; got lengths {sorted(lengths)}.")
    return sum(1.0 / (k + ranks(scores)) for scores in score_lists)


def gecko_rerank(tokenizer, model, query: str, candidates: list[int], passages: list[str],
                 negative_rank: int = -1) -> dict:
    """Re-score ``candidates`` (indices into ``passages``, the first-stage neighbours) with both LLM scorers,
    fuse them, and choose the positive (fused rank 1) and the hard negative (the candidate at fused position
    ``negative_rank``, by default the last). Returns the indices and every score."""
    texts = [passages[c] for c in candidates]
    likelihood = query_log_likelihood(tokenizer, model, query, texts)
    relevance = relevance_scores(tokenizer, model, query, texts)
    fused = reciprocal_rank_fusion(likelihood, relevance)
    order = np.argsort(-fused, kind="stable")
    return {"positive": int(candidates[order[0]]), "hard_negative": int(candidates[order[negative_rank]]),
            "likelihood": likelihood.round(4).tolist(), "relevance": relevance.round(4).tolist(),
            "fused": fused.round(6).tolist()}


# ---------------------------------------------------------------------------------------------------------
# SFR-Embedding: hard negatives from a window of a teacher's ranking


def window_hard_negatives(query_vectors: np.ndarray, corpus_vectors: np.ndarray, positives, window=(30, 100),
                          seed: int = 0) -> np.ndarray:
    """For each query, one corpus index drawn at random from ranks ``window[0]``..``window[1]`` (1-based,
    inclusive) of the teacher's cosine ranking, never its positive. Vectors must be L2-normalised."""
    low, high = window
    if not 1 <= low <= high <= len(corpus_vectors):
        raise ValueError(f"window {window} must lie within ranks 1..{len(corpus_vectors)} (the corpus size).")
    rng = np.random.default_rng(seed)
    order = np.argsort(-(query_vectors @ corpus_vectors.T), axis=1, kind="stable")
    chosen = []
    for row, positive in zip(order, positives, strict=True):
        pool = [c for c in row[low - 1 : high] if c != positive]
        chosen.append(int(rng.choice(pool)))
    return np.array(chosen)


# ---------------------------------------------------------------------------------------------------------
# The saved set


def load_synthetic(folder: Path | str = DATA_DIR) -> tuple[list[dict], dict]:
    """The generated training set and its generation settings, as written by ``scripts/make_synthetic_data.py``.

    Returns ``(examples, settings)``; each example has ``source`` ("e5" or "gecko"), ``task``, ``query``,
    ``positive``, ``hard_negative`` and (after the SFR step) ``window_negative``.
    """
    folder = Path(folder)
    path = folder / "train.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/make_synthetic_data.py` (or `make data`).")
    examples = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    settings = json.loads((folder / "settings.json").read_text())
    return examples, settings
