"""Notebook 09's measurements as a result artifact: each tuned variant and its untuned start on the whole mini-MTEB
(test, instructed); what each ingredient buys (one change to the recipe at a time, equal steps: real pairs only,
no hard negatives); the instruction itself on the untuned models (none, a neutral prefix of the
same length, the task's); the instruction's wording on the inverse-cloze task (dev to choose, test to report);
BGE-EN-ICL's in-context examples, k = 0..3 (test); and the course's best SmolLM2-based embedder, chosen on dev.

Together these are some twenty SmolLM2 passes and four training runs, far more than notebook 09's four minutes on
2 CPU cores.
``scripts/score_instruct_experiments.py`` runs them (:func:`run_experiments`) and commits the scores with their
bootstrap replicates as ``data/artifacts/instruct_results``; the notebook runs the training loop live for a few
steps, checks the mechanisms on a handful of texts, and reads the rest (:func:`experiment_results`), so every
comparison it draws is as paired as if it had scored the models itself.
"""

from __future__ import annotations

import sys

from helpers import artifacts, cache, config, data, evaluate, instruct

ARTIFACT = "instruct_results"
SCRIPT = "python scripts/score_instruct_experiments.py"
RETRIEVAL = [instruct.RETRIEVAL_TASK]
# The wordings notebook 09 compares on the inverse-cloze task: none, the task's, three paraphrases, another task's.
WORDINGS = {
    "no instruction": None,
    "task instruction": instruct.TASK_INSTRUCTIONS[instruct.RETRIEVAL_TASK],
    "paraphrase 1": "Given a sentence taken from a news story, find the passage that contains it",
    "paraphrase 2": "Retrieve the news passage this sentence comes from",
    "paraphrase 3": "Find the rest of the article for this sentence",
    "another task's instruction": instruct.TASK_INSTRUCTIONS["HealthTweetClassification"],
}
SAME_TASK = ("task instruction", "paraphrase 1", "paraphrase 2", "paraphrase 3")
WORDING_VARIANT = ICL_VARIANT = ABLATION_VARIANT = "gte_bidirectional"
# One ingredient of instruct.RECIPE changed at a time, on the GTE variant, with the same steps and seed.
ABLATIONS = {
    "real pairs only": {"sources": ["real"]},
    "no hard negatives": {"negative": None},
}
# Words that say nothing about any task, each one token for SmolLM2: a neutral prefix repeats them to the length,
# in tokens, of the instruction it stands in for.
NEUTRAL_WORDS = "Here is some text for the model to read and then represent as one vector".split()
ICL_MAX_LENGTH = 384  # room for three examples before the query (notebook 09, section 5)


def icl_shots(k: int = 3) -> list[tuple[str, str]]:
    """BGE-EN-ICL's examples: ``k`` inverse-cloze pairs from the task's training side (:func:`helpers.instruct.
    real_examples`: training news, never a text the benchmark scores), each response cut to its first 24 words."""
    examples = [e for e in instruct.real_examples() if e["kind"] == "inverse_cloze"]
    return [(e["query"], " ".join(e["positive"].split()[:24])) for e in examples[:k]]


def neutral_instructions(tokenizer) -> dict[str, str]:
    """For every task of :data:`helpers.instruct.TASK_INSTRUCTIONS`, a prefix of :data:`NEUTRAL_WORDS` with as many
    tokens as the task's instruction: the same length, none of its meaning."""
    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    neutral = {}
    for task, instruction in instruct.TASK_INSTRUCTIONS.items():
        words = [NEUTRAL_WORDS[k % len(NEUTRAL_WORDS)] for k in range(tokens(instruction))]
        neutral[task] = " ".join(words)
        if tokens(neutral[task]) != tokens(instruction):
            raise AssertionError(f"The neutral prefix for {task} does not match its instruction's length.")
    return neutral


def icl_embedder(tuned: instruct.InstructEmbedder) -> instruct.InstructEmbedder:
    """``tuned`` with the longer window the in-context examples need."""
    return instruct.InstructEmbedder(tuned.tokenizer, tuned.model, pooling=tuned.pooling,
                                     bidirectional=tuned.bidirectional, max_length=ICL_MAX_LENGTH, name=tuned.name)


def results_key() -> dict:
    """What decides the scores: every variant's and ablation's training key (recipe, synthetic set, weights,
    instruct's code), the wordings and examples, the inference precision, the scoring code and the texts scored."""
    tuned = {variant: cache.key_digest(instruct.tuned_key(variant)) for variant in instruct.VARIANTS}
    tuned |= {name: cache.key_digest(instruct.tuned_key(ABLATION_VARIANT, recipe))
              for name, recipe in ABLATIONS.items()}
    return {"recipe": {"variants": list(instruct.VARIANTS), "ablations": ABLATIONS, "wordings": WORDINGS,
                       "neutral": NEUTRAL_WORDS, "shots": icl_shots(), "icl_max_length": ICL_MAX_LENGTH,
                       "inference_dtype": config.inference_dtype()},
            "tuned": tuned,
            "text": cache.texts_fingerprint(data.task_texts("test") + data.task_texts("dev")),
            "code": cache.source_hash(sys.modules[__name__], evaluate)}


def run_experiments(progress: bool = True) -> dict:
    """Train (or read from the cache) every variant and ablation, and score everything notebook 09 reports:

    * ``results``: mini-MTEB (test) by model name: each variant's untuned start read three ways (no instruction,
      a neutral prefix, the task's instruction) and its tuned model (instructed), and each ablation's tuned
      model (instructed); ``names``: variant -> {reading: model name}, ``ablation_names``: ablation -> name;
      ``losses`` and ``held_out``: training losses and held-out loss before/after, by variant or ablation;
    * ``best``: the variant whose tuned model has the best instructed dev average (``dev``: those dev results);
    * ``wording_dev`` / ``wording_test``: the tuned GTE model on the inverse-cloze task with each of
      :data:`WORDINGS` (dev), then on test with no instruction, the task's, another task's (notebook 11 reads
      those three) and dev's best and worst wordings of the same task (``chosen``, ``worst``);
    * ``icl``: the same model with k = 0..3 in-context examples of the task's training side (test), by k.
    """
    config.seed_everything(instruct.RECIPE["seed"])
    results, names, losses, held_out, dev = {}, {}, {}, {}, {}
    for variant in config.progress_bar(list(instruct.VARIANTS), desc="variants", disable=not progress):
        untuned, model = instruct.untuned_embedder(variant), instruct.tuned_embedder(variant)
        readings = {"none": untuned.name + ", no instruction", "neutral": untuned.name + ", neutral prefix",
                    "instruction": untuned.name, "tuned": model.name}
        names[variant] = readings
        results[readings["none"]] = instruct.instructed_mini_mteb(untuned, {})
        results[readings["neutral"]] = instruct.instructed_mini_mteb(untuned, neutral_instructions(untuned.tokenizer))
        results[readings["instruction"]] = instruct.instructed_mini_mteb(untuned)
        results[readings["tuned"]] = instruct.instructed_mini_mteb(model)
        dev[variant] = instruct.instructed_mini_mteb(model, split="dev")
        settings = instruct.load_settings(variant)
        losses[variant], held_out[variant] = settings["losses"], settings["held_out_loss"]
        if variant == WORDING_VARIANT:
            tuned = model  # a tuned model is a copy of SmolLM2: keep this one for the wordings and examples
    ablation_names = {}
    for name, recipe in ABLATIONS.items():
        model = instruct.tuned_embedder(ABLATION_VARIANT, recipe)
        ablation_names[name] = f"{model.name}, {name}"
        results[ablation_names[name]] = instruct.instructed_mini_mteb(model)
        settings = instruct.load_settings(ABLATION_VARIANT, recipe)
        losses[name], held_out[name] = settings["losses"], settings["held_out_loss"]
    best = max(dev, key=lambda variant: dev[variant].loc["average", "score"])

    def wording(name: str, split: str):
        return instruct.instructed_mini_mteb(tuned, {instruct.RETRIEVAL_TASK: WORDINGS[name]}, split=split,
                                             tasks=RETRIEVAL)

    wording_dev = {name: wording(name, "dev") for name in WORDINGS}
    chosen = max(SAME_TASK, key=lambda name: wording_dev[name].loc[instruct.RETRIEVAL_TASK, "score"])  # ties: first
    worst = min(SAME_TASK, key=lambda name: wording_dev[name].loc[instruct.RETRIEVAL_TASK, "score"])
    wording_test = {name: wording(name, "test")
                    for name in dict.fromkeys(["no instruction", "task instruction", "another task's instruction",
                                               chosen, worst])}
    reader, shots = icl_embedder(tuned), icl_shots()  # ICL_VARIANT is WORDING_VARIANT
    task = instruct.TASK_INSTRUCTIONS[instruct.RETRIEVAL_TASK]
    icl = {k: instruct.instructed_mini_mteb(reader, {instruct.RETRIEVAL_TASK: task}, tasks=RETRIEVAL,
                                            examples=shots[:k]) for k in range(len(shots) + 1)}
    return {"results": results, "names": names, "ablation_names": ablation_names, "losses": losses,
            "held_out": held_out, "best": best, "dev": dev, "wording_dev": wording_dev, "wording_test": wording_test,
            "chosen": chosen, "worst": worst, "icl": icl}


def best_embedder() -> instruct.InstructEmbedder:
    """The course's best SmolLM2-based embedder: the tuned variant with the best instructed mini-MTEB average on
    dev (:func:`experiment_results`), given the task instructions. Score it with :func:`helpers.evaluate.mini_mteb`
    (its ``for_task`` instructs queries and symmetric texts)."""
    model = instruct.tuned_embedder(experiment_results(progress=False)["best"])
    return model.with_task_instructions(instruct.TASK_INSTRUCTIONS)


def save_files(target, value: dict) -> None:
    artifacts.save_results(target / "results", value["results"])
    artifacts.save_results(target / "dev", value["dev"])
    artifacts.save_results(target / "wording_dev", value["wording_dev"])
    artifacts.save_results(target / "wording_test", value["wording_test"])
    artifacts.save_results(target / "icl", {str(k): frame for k, frame in value["icl"].items()})
    cache.save_json(target / "settings.json", {name: value[name] for name in ("names", "ablation_names", "losses",
                                                                              "held_out", "best", "chosen", "worst")})


def load_files(target) -> dict:
    settings = cache.load_json(target / "settings.json")
    return {**settings, "results": artifacts.load_results(target / "results"),
            "dev": artifacts.load_results(target / "dev"),
            "wording_dev": artifacts.load_results(target / "wording_dev"),
            "wording_test": artifacts.load_results(target / "wording_test"),
            "icl": {int(k): frame for k, frame in artifacts.load_results(target / "icl").items()}}


def experiment_results(progress: bool = True) -> dict:
    """:func:`run_experiments`'s results: the committed ``data/artifacts/instruct_results`` when it was made under
    today's :func:`results_key`, else run here (about 45 minutes on 2 CPU cores, the four trainings included) and
    cached."""
    return artifacts.load_or_train(ARTIFACT, results_key(), lambda: run_experiments(progress), save_files,
                                   load_files)
