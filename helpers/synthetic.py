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
  Ties in the fusion (with few candidates, rank pairs (a, b) and (b, a) fuse to the same score) go to the
  LLM's relevance score, never back to the first stage's order.
* **SFR-Embedding**: hard negatives sampled from ranks 30-100 of a teacher's ranking
  (:func:`helpers.contrastive.mine_hard_negatives` with ``"ranks"``), far enough down to be rarely a false negative.

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
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

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

# E5-mistral's four asymmetric task kinds (query length - document length): what its step 1 asks for, and the
# lengths its step 2 samples for that kind (short-long uses the attributes above).
E5_KINDS = {
    "short-long": {"tasks": "text retrieval tasks, where a short search query finds a longer document",
                   "query_length": QUERY_LENGTHS, "document_length": DOCUMENT_LENGTHS},
    "long-short": {"tasks": "tasks where a long text is the query and a short text (a title, a label, a topic) "
                            "is the document to find", "query_length": ("about 50 words", "about 80 words"),
                   "document_length": ("5 words", "10 words")},
    "short-short": {"tasks": "tasks where a short text is the query and another short text with a related "
                             "meaning is the document to find", "query_length": ("less than 10 words",),
                    "document_length": ("10 words", "15 words")},
    "long-long": {"tasks": "tasks where a long text is the query and another long text on the same subject is "
                           "the document to find", "query_length": ("about 50 words",),
                  "document_length": ("50 words", "100 words")},
}

EXAMPLE_KEYS = ("user_query", "positive_document", "hard_negative_document")
# The answer is started for the model ("prefilled"): a 135M model rarely opens the JSON object by itself.
EXAMPLE_PREFILL = '{"user_query": "'

# Gecko asks the LLM for a task too; a 135M model copies the passage's first sentence instead, so the task is
# sampled from these and prefilled, and the LLM writes the query.
GECKO_TASKS = (
    "Given a question, retrieve news passages that answer it",
    "Given a short search query, retrieve the news report it is looking for",
    "Given a claim, retrieve news passages that support or refute it",
    "Given a topic, retrieve news passages about it",
    "Given a question about an event, retrieve the news report of that event",
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


def chat_prompt(tokenizer, user: str, prefill: str = "", demonstration: tuple[str, str] | None = None) -> str:
    """The chat-formatted prompt for one user message, with the assistant's answer started by ``prefill``;
    ``demonstration`` (a user message and the answer we want) goes first, as a one-shot example."""
    messages = [{"role": "user", "content": user}]
    if demonstration is not None:
        messages = [{"role": "user", "content": demonstration[0]},
                    {"role": "assistant", "content": demonstration[1]}, *messages]
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


def brainstorm_prompt(n_tasks: int = 5, kind: str = "short-long") -> str:
    """E5-mistral's first prompt: ask for a list of tasks of one of the :data:`E5_KINDS`."""
    if kind not in E5_KINDS:
        raise ValueError(f"Unknown task kind {kind!r}; choose one of {list(E5_KINDS)}.")
    return (f"Brainstorm a list of {n_tasks} potentially useful {E5_KINDS[kind]['tasks']}. "
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


def sample_attributes(rng: np.random.Generator, kind: str = "short-long") -> dict[str, str]:
    """Draw E5-mistral's attributes for one example of a task of ``kind`` (its query and document lengths)."""
    choices = {**ATTRIBUTES, **{name: E5_KINDS[kind][name] for name in ("query_length", "document_length")}}
    return {name: str(rng.choice(values)) for name, values in choices.items()}


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


# Every word step 2's prompt can show the model (all attribute values): a field made only of them copies the prompt.
PROMPT_TEXT = example_prompt("", {name: " ".join(v for kind in E5_KINDS.values() for v in kind.get(name, ()))
                                  + " " + " ".join(values) for name, values in ATTRIBUTES.items()})


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
    if any(echoes_instructions(example[key], PROMPT_TEXT) for key in EXAMPLE_KEYS):
        return None, "copies the instructions"
    if normal["positive_document"] == normal["hard_negative_document"]:
        return None, "positive = negative"
    if any(copies_passage(example["user_query"], example[key]) for key in EXAMPLE_KEYS[1:]):
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
    """The passages a saved set (:func:`load_synthetic`) was generated from (:func:`training_passages`), in the
    order its indices use. Raises ``ValueError`` when their count differs from the one the set recorded (the
    passages changed since it was made: regenerate it).
    """
    passages = training_passages()
    expected = settings["counts"]["training_passages"]
    if len(passages) != expected:
        raise ValueError(f"The saved set was made from {expected} passages, these are {len(passages)}: the training "
                         "passages changed since; regenerate it with `make data`.")
    return passages


# ---------------------------------------------------------------------------------------------------------
# Gecko: a task and query for a real passage, then LLM re-ranking of the neighbours


def gecko_prompt(passage: str, task: str) -> str:
    """Gecko's first prompt: a search query for ``task`` that the passage answers.

    No JSON template with ``"..."`` placeholders in it: SmolLM2-135M copies the placeholder as its query.
    """
    return ("Read the passage, then write a search query of at most 12 words, in your own words, that the passage "
            f"answers. Task: {task}\nPassage: {passage}")


# Gecko's prompt is few-shot. One demonstration (a passage written for the course, about no real event) halves
# how often SmolLM2-135M copies a sentence of the passage as its "query" (notebook 08 measures the yield).
GECKO_DEMO_PASSAGE = ("The council voted on Tuesday to close the town's only public pool for the summer, saying "
                      "repairs to its cracked floor would cost more than the budget allows. Residents have started a "
                      "petition to keep it open.")
GECKO_DEMO_QUERIES = (
    "why is the town pool closing this summer",
    "council closes public pool repairs",
    "the pool will stay open all summer",
    "public pool closure and budget",
    "what did the council decide about the pool",
)


def gecko_chat(tokenizer, passage: str, task: str) -> str:
    """The whole Gecko prompt for one passage: the demonstration for ``task``, the request, and the answer
    started with the task (:func:`gecko_prefill`), so the model writes only the query."""
    demo = GECKO_DEMO_QUERIES[GECKO_TASKS.index(task)]
    demonstration = (gecko_prompt(GECKO_DEMO_PASSAGE, task), json.dumps({"task": task, "query": demo}))
    return chat_prompt(tokenizer, gecko_prompt(passage, task), prefill=gecko_prefill(task),
                       demonstration=demonstration)


def gecko_prefill(task: str) -> str:
    """The start of the answer we write for the model: the task is given, the query is the model's."""
    return json.dumps({"task": task, "query": ""})[:-2]


def first_json_string(text: str) -> str | None:
    """The first complete JSON string literal in ``text`` (quotes included), or ``None``."""
    match = re.search(r'"(?:[^"\\\n]|\\.)*"', text)
    return match.group(0) if match else None


# Words of the Gecko prompt itself: a query made of them ("Extract sentences from the passage") is about the
# instructions, not the passage, so they do not count as shared content.
PROMPT_WORDS = frozenset("read passage write retrieval retrieve task search query words answer answers json "
                         "object keys news report question claim topic event extract extracted sentence "
                         "sentences text".split())


def content_words(text: str) -> set[str]:
    """The content words of ``text``: alphabetic words of three letters or more that are neither English stop
    words (scikit-learn's list: "that", "from", "which", ...) nor words of the Gecko prompt."""
    words = set(re.findall(r"[^\W\d_]{3,}", text.lower()))
    return words - ENGLISH_STOP_WORDS - PROMPT_WORDS


def shared_run(query: str, passage: str) -> int:
    """The length, in words, of the longest run of the query's words that appears verbatim in the passage
    (case and punctuation aside): word n-gram overlap, which catches a copied clause that an exact-substring
    test misses when the model changes one word around it."""
    words, source = re.findall(r"\w+", query.lower()), f" {_normalise(passage)} "
    longest = 0
    for start in range(len(words)):
        while start + longest < len(words) and f" {' '.join(words[start : start + longest + 1])} " in source:
            longest += 1
    return longest


MAX_SHARED_RUN = 8  # words: a query sharing this many consecutive words with its passage copies it


def copies_passage(query: str, passage: str, max_fraction: float = 0.8) -> bool:
    """Whether ``query`` copies ``passage``: a shared run (:func:`shared_run`) of :data:`MAX_SHARED_RUN` words
    or more, or one that makes up ``max_fraction`` of a shorter query. A copied sentence teaches the
    inverse-cloze task (find the text that contains this), not search."""
    run = shared_run(query, passage)
    return run >= MAX_SHARED_RUN or run >= max_fraction * len(re.findall(r"\w+", query))


def echoes_instructions(query: str, instructions: str) -> bool:
    """Whether every content word of ``query`` (three letters or more, no stop word) comes from the prompt the
    model was given: a query such as "retrieve news passages that answer the question" repeats its
    instructions instead of asking about the passage."""
    words = set(re.findall(r"[^\W\d_]{3,}", query.lower())) - ENGLISH_STOP_WORDS
    return bool(words) and words <= set(re.findall(r"[^\W\d_]{3,}", instructions.lower()))


def parse_task_and_query(answer: str, passage: str, prefill: str) -> tuple[dict | None, str]:
    """Parse a Gecko answer: ``({"task", "query"}, "ok")`` or ``(None, reason)``.

    The prefill gives the task and opens the query string, so the query is that string up to its closing
    quote; whatever the model writes after it (extra keys, chatter) is ignored. Reasons: ``unfinished query``,
    ``too short``, ``repetitive``, ``query copies a document`` (:func:`copies_passage`), ``echoes the
    instructions`` (:func:`echoes_instructions`) and ``off-topic`` (no :func:`content_words` in common with the
    passage).
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
    if copies_passage(query, passage):
        return None, "query copies a document"
    if echoes_instructions(query, gecko_prompt("", task)):
        return None, "echoes the instructions"
    if not content_words(query) & content_words(passage):
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
    hidden = model.model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).last_hidden_state
    scores = []
    for k, (p, a) in enumerate(zip(prompt_ids, answer_ids, strict=True)):
        # token p + j is predicted by the state at position p + j - 1: only those rows go through the output head
        logits = model.lm_head(hidden[k, len(p) - 1 : len(p) - 1 + len(a)]).float()
        targets = torch.tensor(a, device=logits.device)
        scores.append(torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).mean())
    return torch.stack(scores).cpu()


def query_log_likelihood(tokenizer, model, query: str, passages: list[str]) -> np.ndarray:
    """Gecko's first re-ranker: the mean log-probability the LLM gives the query after reading each passage."""
    prompts = [chat_prompt(tokenizer, f"Passage: {p}\nWrite a search query that this passage answers.")
               for p in passages]
    with torch.no_grad():  # not inference_mode: under a caller's autocast that would re-cast every weight per call
        return _answer_log_probs(tokenizer, model, prompts, [query] * len(passages)).numpy()


def relevance_scores(tokenizer, model, query: str, passages: list[str]) -> np.ndarray:
    """Gecko's second re-ranker: log P(Yes) - log P(No) for "Does the passage answer the query?"."""
    yes, no = (tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in ("Yes", "No"))
    prompts = [chat_prompt(tokenizer, f"Query: {query}\nPassage: {p}\n"
                                      "Does the passage answer the query? Answer Yes or No.") for p in passages]
    with left_padding(tokenizer), torch.no_grad():
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        last = torch.log_softmax(model(**encoded, logits_to_keep=1).logits[:, -1].float(), dim=-1)
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


def llm_order(fused, relevance) -> np.ndarray:
    """Candidate positions from best to worst by fused score, ties broken by the LLM's relevance score.

    With a handful of candidates, reciprocal-rank fusion ties often ((a, b) and (b, a) sum alike); a stable sort
    would hand those decisions back to the first stage's order, so the relevance prompt decides instead.
    """
    return np.lexsort((-np.asarray(relevance, dtype=float), -np.asarray(fused, dtype=float)))


def fused_tie_at_top(fused) -> bool:
    """Whether the best fused score is shared: a decision :func:`llm_order` hands to the relevance score."""
    top = np.sort(np.asarray(fused, dtype=float))[-2:]
    return bool(len(top) == 2 and top[0] == top[1])


def gecko_rerank(tokenizer, model, query: str, candidates: list[int], passages: list[str],
                 negative_rank: int = -1) -> dict:
    """Re-score ``candidates`` (indices into ``passages``, the first-stage neighbours, best first) with both LLM
    scorers, fuse them (:func:`llm_order`), and choose the positive (the first) and the hard negative (the
    candidate at position ``negative_rank``, by default the last). Returns the indices, every score, and whether
    the LLM overrode the first stage (its positive is not the first-stage top candidate)."""
    texts = [passages[c] for c in candidates]
    likelihood = query_log_likelihood(tokenizer, model, query, texts)
    relevance = relevance_scores(tokenizer, model, query, texts)
    fused = reciprocal_rank_fusion(likelihood, relevance)
    order = llm_order(fused, relevance)
    return {"positive": int(candidates[order[0]]), "hard_negative": int(candidates[order[negative_rank]]),
            "likelihood": likelihood.round(4).tolist(), "relevance": relevance.round(4).tolist(),
            "fused": fused.round(6).tolist(), "overrides_first_stage": bool(order[0] != 0)}


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


# ---------------------------------------------------------------------------------------------------------
# How good is the kept data? Hand labels of a random sample


LABELS_FILE = "labels.json"


def label_sample(examples: list[dict], n: int = 60, seed: int = 0) -> list[int]:
    """The indices of ``n`` kept examples drawn at random (seeded) to be labelled by hand."""
    return sorted(np.random.default_rng(seed).choice(len(examples), size=min(n, len(examples)), replace=False).tolist())


def load_labels(examples: list[dict], folder: Path | str = DATA_DIR) -> list[dict]:
    """The hand labels committed with the set: for each labelled example its ``index``, ``query``, ``relevant``
    (the positive answers the query) and ``negative_is_negative`` (the hard negative does not). Raises
    ``ValueError`` when they were made for another set (a query differs): a regenerated set is labelled again."""
    labels = json.loads((Path(folder) / LABELS_FILE).read_text())["labels"]
    for label in labels:
        if label["index"] >= len(examples) or examples[label["index"]]["query"] != label["query"]:
            raise ValueError(f"The hand labels in {LABELS_FILE} were made for another synthetic set (example "
                             f"{label['index']} differs): label a fresh sample (label_sample) of the new set.")
    return labels


def label_precision(labels: list[dict], key: str) -> dict:
    """The share of labelled examples where ``key`` holds, with its 95% (Wilson) interval."""
    from scipy.stats import binomtest

    hits = sum(bool(label[key]) for label in labels)
    interval = binomtest(hits, len(labels)).proportion_ci(confidence_level=0.95, method="wilson")
    return {"share": hits / len(labels), "ci_low": interval.low, "ci_high": interval.high, "labelled": len(labels)}
