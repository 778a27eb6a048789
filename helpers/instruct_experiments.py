"""Notebook 09's measurements as a result artifact: each tuned variant and its untuned start on the whole mini-MTEB
(test, instructed), the instruction's wording on the inverse-cloze task (dev to choose, test to report) and
BGE-EN-ICL's in-context examples, k = 0..3 (test).

Together these are some ten SmolLM2 passes and a training run, more than notebook 09's four minutes on 2 CPU cores.
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
WORDING_VARIANT = ICL_VARIANT = "gte_bidirectional"
ICL_MAX_LENGTH = 384  # room for three examples before the query (notebook 09, section 5)


def icl_shots(k: int = 3) -> list[tuple[str, str]]:
    """BGE-EN-ICL's examples: the first ``k`` Gecko queries of the synthetic training set, each with the first 24
    words of its positive passage as the response (never text of the evaluation task)."""
    from helpers.synthetic import load_synthetic

    examples, _ = load_synthetic()
    return [(e["query"], " ".join(e["positive"].split()[:24])) for e in examples if e["source"] == "gecko"][:k]


def icl_embedder(tuned: instruct.InstructEmbedder) -> instruct.InstructEmbedder:
    """``tuned`` with the longer window the in-context examples need."""
    return instruct.InstructEmbedder(tuned.tokenizer, tuned.model, pooling=tuned.pooling,
                                     bidirectional=tuned.bidirectional, max_length=ICL_MAX_LENGTH, name=tuned.name)


def results_key() -> dict:
    """What decides the scores: every variant's training key (recipe, synthetic set, SmolLM2's weights, instruct's
    code), the wordings and examples, the inference precision, the scoring code and the texts scored."""
    return {"recipe": {"variants": list(instruct.VARIANTS), "wordings": WORDINGS, "shots": icl_shots(),
                       "icl_max_length": ICL_MAX_LENGTH, "inference_dtype": config.inference_dtype()},
            "tuned": {variant: cache.key_digest(instruct.tuned_key(variant)) for variant in instruct.VARIANTS},
            "text": cache.texts_fingerprint(data.task_texts("test") + data.task_texts("dev")),
            "code": cache.source_hash(sys.modules[__name__], evaluate)}


def run_experiments(progress: bool = True) -> dict:
    """Train (or read from the cache) every variant and score everything notebook 09 reports:

    * ``results``: instructed mini-MTEB (test) of each variant's untuned and tuned model, by model name;
      ``names``: variant -> (untuned name, tuned name); ``losses``: variant -> training losses;
    * ``wording_dev`` / ``wording_test``: the tuned bidirectional model on the inverse-cloze task with each of
      :data:`WORDINGS` (dev), then on test with no instruction, the task's, another task's (notebook 11 reads
      those three) and dev's best and worst wordings of the same task (``chosen``, ``worst``);
    * ``icl``: the same model with k = 0..3 in-context examples (test), by k.
    """
    config.seed_everything(instruct.RECIPE["seed"])
    results, names, losses = {}, {}, {}
    for variant in config.progress_bar(list(instruct.VARIANTS), desc="variants", disable=not progress):
        untuned, model = instruct.untuned_embedder(variant), instruct.tuned_embedder(variant)
        names[variant] = [untuned.name, model.name]
        results[untuned.name] = instruct.instructed_mini_mteb(untuned)
        results[model.name] = instruct.instructed_mini_mteb(model)
        losses[variant] = instruct.load_settings(variant)["losses"]
        if variant == WORDING_VARIANT:
            tuned = model  # a tuned model is a copy of SmolLM2: keep this one for the wordings and examples

    def wording(name: str, split: str):
        return instruct.instructed_mini_mteb(tuned, {instruct.RETRIEVAL_TASK: WORDINGS[name]}, split=split,
                                             tasks=RETRIEVAL)

    dev = {name: wording(name, "dev") for name in WORDINGS}
    chosen = max(SAME_TASK, key=lambda name: dev[name].loc[instruct.RETRIEVAL_TASK, "score"])  # ties: the first
    worst = min(SAME_TASK, key=lambda name: dev[name].loc[instruct.RETRIEVAL_TASK, "score"])
    test = {name: wording(name, "test")
            for name in dict.fromkeys(["no instruction", "task instruction", "another task's instruction", chosen,
                                       worst])}
    reader, shots = icl_embedder(tuned), icl_shots()  # ICL_VARIANT is WORDING_VARIANT
    task = instruct.TASK_INSTRUCTIONS[instruct.RETRIEVAL_TASK]
    icl = {k: instruct.instructed_mini_mteb(reader, {instruct.RETRIEVAL_TASK: task}, tasks=RETRIEVAL,
                                            examples=shots[:k]) for k in range(len(shots) + 1)}
    return {"results": results, "names": names, "losses": losses, "wording_dev": dev, "wording_test": test,
            "chosen": chosen, "worst": worst, "icl": icl}


def save_files(target, value: dict) -> None:
    artifacts.save_results(target / "results", value["results"])
    artifacts.save_results(target / "wording_dev", value["wording_dev"])
    artifacts.save_results(target / "wording_test", value["wording_test"])
    artifacts.save_results(target / "icl", {str(k): frame for k, frame in value["icl"].items()})
    cache.save_json(target / "settings.json", {name: value[name] for name in ("names", "losses", "chosen", "worst")})


def load_files(target) -> dict:
    settings = cache.load_json(target / "settings.json")
    return {**settings, "names": {variant: tuple(pair) for variant, pair in settings["names"].items()},
            "results": artifacts.load_results(target / "results"),
            "wording_dev": artifacts.load_results(target / "wording_dev"),
            "wording_test": artifacts.load_results(target / "wording_test"),
            "icl": {int(k): frame for k, frame in artifacts.load_results(target / "icl").items()}}


def experiment_results(progress: bool = True) -> dict:
    """:func:`run_experiments`'s results: the committed ``data/artifacts/instruct_results`` when it was made under
    today's :func:`results_key`, else run here (about 15 minutes on 2 CPU cores, the trainings included) and
    cached."""
    return artifacts.load_or_train(ARTIFACT, results_key(), lambda: run_experiments(progress), save_files,
                                   load_files)
