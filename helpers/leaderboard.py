"""The course leaderboard: every embedder the course builds, on one offline mini-MTEB (taught in notebook 11).

:data:`REGISTRY` lists each model as an :class:`Entry`: its row name, the notebook that builds it, its family,
the training it got, and a factory built on the public ``helpers`` functions of that notebook. :func:`score`
builds each model in turn, runs :func:`helpers.evaluate.mini_mteb` (notebook 09's instruction-tuned models:
:func:`helpers.instruct.instructed_mini_mteb`), counts its parameters (:func:`parameter_count`) and times it
(:func:`ms_per_text`, with every cache off). ``Embedder.encode`` caches vectors on disk by the weights'
fingerprint, so a model that an earlier notebook scored in the same checkout is re-scored for free; on a fresh
checkout everything is recomputed. :func:`pareto_front` and :func:`cost_quality_plot` read the result.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from helpers import config, data
from helpers.decoder import prompteol_embedder, smollm2_embedder
from helpers.embed import Embedder, SentenceTransformerEmbedder, TransformerEmbedder, minilm_embedder
from helpers.evaluate import mini_mteb
from helpers.grit import GRIT_RECIPE
from helpers.instruct import RECIPE as INSTRUCT_RECIPE
from helpers.latent_attention import HEAD_RECIPE
from helpers.llm2vec import RECIPE as LLM2VEC_RECIPE
from helpers.mlm import PRETRAINING
from helpers.sbert import RECIPE as SBERT_RECIPE
from helpers.sbert import sentence_bert

MLM_STEPS, SBERT_STEPS = PRETRAINING["steps"], SBERT_RECIPE["steps"]
MEAN_LAYER_CHOSEN_ON_DEV = 24  # notebook 05's layer sweep picks it on the dev split (asserted there)
TIMING_TEXTS = 16  # the first 16 test tweets of the classification task: short, real, fixed
TIMING_REPEATS = 5


@dataclass(frozen=True)
class Entry:
    """One leaderboard row: ``build()`` returns the :class:`~helpers.embed.Embedder`."""

    name: str
    notebook: str
    family: str  # "static word vectors", "encoder" or "decoder LLM"
    training: str  # what the course did to it, in a few words
    build: Callable[[], Embedder]
    instructed: bool = False  # scored with instructions (notebook 09's protocol)
    # The embedder to time: when ``build``'s answers from memory, or a trained row's untrained twin (TRAINED_ROWS).
    timed: Callable[[], Embedder] | None = None


def _mlm_encoder():
    from helpers import encoder, mlm

    return encoder.ScratchEmbedder(mlm.mlm_tokenizer(), mlm.pretrained_mlm(progress=False)[0].encoder, "mean",
                                   name="MLM encoder (mean)")


def _word_vectors(kind: str):
    from helpers import trained_vectors, word_vectors

    name = "averaged Word2vec" if kind == "sgns" else "averaged GloVe"
    return word_vectors.AveragedWordEmbedder(trained_vectors.trained_vectors(kind, progress=False), name)


# Notebook 04's contrastive head on frozen MiniLM, seed 0, with the settings 04 uses for it (8 epochs, batch 64,
# lr 1e-4) and the temperature its dev sweep picks for it, 1.0 (a nearly flat curve: a hundredth over 0.01-1).
HEAD_ON_MINILM = {"seed": 0, "lr": 1e-4, "temperature": 1.0}


def _sbert(start: str):
    return lambda: sentence_bert(start, progress=False)


def _contrastive_head(cached_features: bool = True):
    from helpers import contrastive

    pairs = contrastive.ict_training_pairs()
    minilm = minilm_embedder()
    minilm.cache = cached_features  # off when timed: the head's cost is MiniLM's plus one matrix product
    features = contrastive.EncoderFeatures(minilm)
    torch.manual_seed(HEAD_ON_MINILM["seed"])
    head = contrastive.ProjectionHead(384)
    contrastive.train(head, features(pairs.queries), features(pairs.passages), pairs.positive, **HEAD_ON_MINILM)
    return contrastive.HeadEmbedder(features, head.eval(), "MiniLM + head")


@functools.lru_cache(maxsize=1)
def _sweep():
    from helpers.decoder import LayerPoolingSweep
    from helpers.models import load_smollm2

    return LayerPoolingSweep(*load_smollm2())


def _pooling(pooling: str) -> dict:
    """Notebook 05's rows: views of one sweep (one forward pass serves the three poolings, and their cached
    vectors are notebook 05's); timed as ``smollm2_embedder(pooling)``, which computes its vectors afresh."""
    return {"build": lambda: _sweep().view(pooling), "timed": lambda: smollm2_embedder(pooling)}


def _llm2vec(stage: str):
    def build():
        from helpers.llm2vec import llm2vec_embedder

        return llm2vec_embedder(stage)
    return build


# Rows whose models notebooks 09 and 10 train (minutes each on a CPU): their scores come from the result artifact
# STORED_ROWS_ARTIFACT (see stored_row_results); each is timed and counted on an untrained twin, a model of the
# same architecture and size, which costs the same per text as the trained one.


def _instruct(variant: str) -> dict:
    def build():
        from helpers.instruct import tuned_embedder

        return tuned_embedder(variant)

    def twin():
        from helpers.instruct import untuned_embedder

        return untuned_embedder(variant)
    return {"build": build, "timed": twin, "instructed": True}


def _frontier(kind: str) -> dict:
    def build():
        from helpers import grit, latent_attention

        return grit.grit_embedder("joint") if kind == "grit" else latent_attention.pooling_head_embedder("latent")

    def twin():
        from helpers import frontier, grit, latent_attention

        store = frontier.smollm2_states()
        if kind == "grit":
            return frontier.StatesEmbedder(store, grit.MeanPooledTop(grit.TopLayers(store.model)), "GRIT twin",
                                           layer=frontier.SPLIT_LAYER)
        return frontier.StatesEmbedder(store, latent_attention.make_head("latent"), "latent-attention twin")
    return {"build": build, "timed": twin}


REGISTRY: tuple[Entry, ...] = (
    Entry("all-MiniLM-L6-v2", "00", "encoder", "pre-trained + contrastive on 1B pairs (loaded)", minilm_embedder),
    Entry("averaged Word2vec", "01", "static word vectors", "skip-gram with negative sampling, 5.8M tokens",
          lambda: _word_vectors("sgns")),
    Entry("averaged GloVe", "01", "static word vectors", "GloVe on the same 5.8M tokens",
          lambda: _word_vectors("glove")),
    Entry("MLM encoder (mean)", "02", "encoder", f"4-layer BERT, MLM pre-training, {MLM_STEPS:,} steps",
          _mlm_encoder),
    Entry("SBERT from random init", "03", "encoder",
          f"4-layer BERT, siamese InfoNCE from random weights, {SBERT_STEPS} steps", _sbert("random")),
    Entry("SBERT from the MLM encoder", "03", "encoder",
          f"4-layer BERT, MLM pre-training + siamese InfoNCE, {SBERT_STEPS} steps", _sbert("mlm")),
    Entry("MiniLM + contrastive head", "04", "encoder", "frozen MiniLM + linear head, ICT pairs, InfoNCE",
          _contrastive_head, timed=lambda: _contrastive_head(cached_features=False)),
    Entry("SmolLM2 mean", "05", "decoder LLM", "none (next-token pre-training only)", **_pooling("mean")),
    Entry("SmolLM2 last token", "05", "decoder LLM", "none", **_pooling("last")),
    Entry("SmolLM2 weighted mean", "05", "decoder LLM", "none", **_pooling("weighted_mean")),
    Entry(f"SmolLM2 mean, layer {MEAN_LAYER_CHOSEN_ON_DEV}", "05", "decoder LLM",
          "none (mean of the layer chosen on the dev split)",
          lambda: smollm2_embedder("mean", layer=MEAN_LAYER_CHOSEN_ON_DEV)),
    Entry("SmolLM2 PromptEOL", "05", "decoder LLM", "none (a prompt asks for the text in one word)",
          prompteol_embedder),
    Entry("SmolLM2 echo mean", "06", "decoder LLM", "none (text read twice)",
          lambda: smollm2_embedder("mean", echo=True)),
    Entry("SmolLM2 bidirectional", "07", "decoder LLM", "none (mask removed)", _llm2vec("bidirectional")),
    Entry("LLM2Vec +MNTP", "07", "decoder LLM",
          f"LoRA on every layer, masked next-token, {LLM2VEC_RECIPE['mntp_steps']} steps", _llm2vec("mntp")),
    Entry("LLM2Vec +MNTP +SimCSE", "07", "decoder LLM",
          f"+ unsupervised SimCSE, {LLM2VEC_RECIPE['simcse_steps']} steps of {LLM2VEC_RECIPE['simcse_batch_size']}",
          _llm2vec("simcse")),
    Entry("instruct E5 (last token + EOS)", "09", "decoder LLM",
          f"top {INSTRUCT_RECIPE['train_layers']} layers, real + synthetic pairs, {INSTRUCT_RECIPE['steps']} steps",
          **_instruct("e5_last")),
    Entry("instruct GTE (bidirectional mean)", "09", "decoder LLM",
          f"LLM2Vec, then top {INSTRUCT_RECIPE['train_layers']} layers, real + synthetic pairs, "
          f"{INSTRUCT_RECIPE['steps']} steps", **_instruct("gte_bidirectional")),
    Entry("SmolLM2 + latent attention", "10", "decoder LLM",
          f"frozen LLM + trained pooling head, {HEAD_RECIPE['steps']} steps", **_frontier("latent")),
    Entry("SmolLM2 GRIT joint", "10", "decoder LLM",
          f"top 4 layers, contrastive + next-token, {GRIT_RECIPE['steps']} steps", **_frontier("grit")),
)


def parameter_count(embedder: Embedder) -> int:
    """Parameters used to embed a text: the network's weights (a shared output head counted once) plus any
    pooling head; for averaged word vectors, the vector table."""
    from helpers import contrastive, frontier, grit
    from helpers.decoder import LayerPoolingSweep

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    if isinstance(embedder, SentenceTransformerEmbedder | TransformerEmbedder):
        return count(embedder.model)
    if isinstance(embedder, contrastive.HeadEmbedder):
        return parameter_count(embedder.features.embedder) + count(embedder.head)
    if isinstance(getattr(embedder, "sweep", None), LayerPoolingSweep):
        return count(embedder.sweep.model)
    if isinstance(embedder, frontier.StatesEmbedder):
        extra = 0 if isinstance(embedder.head, grit.MeanPooledTop) else count(embedder.head)  # replaces layers
        return count(embedder.store.model) + extra
    vectors = getattr(getattr(embedder, "vectors", None), "vectors", None)
    if vectors is not None:  # helpers.word_vectors.AveragedWordEmbedder
        return int(vectors.size)
    raise TypeError(f"parameter_count does not know {type(embedder).__name__}: add a case for it.")


def timing_texts() -> list[str]:
    """The fixed sample every model is timed on."""
    return data.health_tweet_classification("test").test_texts[:TIMING_TEXTS]


def ms_per_text(embedder: Embedder, texts: list[str] | None = None, repeats: int = TIMING_REPEATS) -> float:
    """Milliseconds per text to embed ``texts`` (default :func:`timing_texts`) in one batch, every cache off:
    the median of ``repeats`` timed runs, since one run on a shared machine can be off by a factor of two."""
    texts = timing_texts() if texts is None else texts
    timed = embedder.uncached() if hasattr(embedder, "uncached") else embedder
    before = timed.cache
    timed.cache = False
    try:
        timed.encode(texts[:2], batch_size=2, progress=False)  # warm-up: the first call pays one-off set-up costs
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            timed.encode(texts, batch_size=len(texts), progress=False)
            seconds.append(time.perf_counter() - start)
        return 1000 * float(np.median(seconds)) / len(texts)
    finally:
        timed.cache = before


# Rows scored once by scripts/score_leaderboard_rows.py and read back from its result artifact, so that no notebook
# spends minutes on a SmolLM2 pass another notebook already paid for: the training-free readings that need a pass of
# their own (notebooks 05-07 score them live on two tasks and check them against the artifact), LLM2Vec's trained
# stages (07) and the models notebooks 09 and 10 train (timed and counted on their untrained twins).
STORED_READINGS = (f"SmolLM2 mean, layer {MEAN_LAYER_CHOSEN_ON_DEV}", "SmolLM2 PromptEOL", "SmolLM2 echo mean",
                   "SmolLM2 bidirectional")
STORED_LLM2VEC = ("LLM2Vec +MNTP", "LLM2Vec +MNTP +SimCSE")
TRAINED_ROWS = ("instruct E5 (last token + EOS)", "instruct GTE (bidirectional mean)", "SmolLM2 + latent attention",
                "SmolLM2 GRIT joint")
STORED_ROWS = STORED_READINGS + STORED_LLM2VEC + TRAINED_ROWS
STORED_ROWS_ARTIFACT = "leaderboard_rows"
LIVE_CHECK_TASKS = ("SimLexSTS", "DictionaryRetrieval")  # the two cheapest tasks (words and one-line definitions)
LIVE_CHECK_TOLERANCE = 0.01  # stored vs live task score: equal on the machine that stored them, near on another CPU


def stored_rows_key() -> dict:
    """What decides the scores of :data:`STORED_ROWS`: each reading's embedder fingerprint in float32 (weights,
    settings, code), LLM2Vec's and each trained model's training key (recipe, data, SmolLM2's weights, the code that
    trains and embeds it), the inference precision (another one is another recipe: the rows are scored there, not
    read), the scoring code and the test split's texts."""
    import sys

    from helpers import cache, frontier, grit, instruct, latent_attention, llm2vec

    with config.using_precision("fp32"):
        readings = {name: entry(name).build().fingerprint() for name in STORED_READINGS}
    training = {"LLM2Vec": llm2vec.artifact_key(),
                "instruct E5 (last token + EOS)": instruct.tuned_key("e5_last"),
                "instruct GTE (bidirectional mean)": instruct.tuned_key("gte_bidirectional"),
                "SmolLM2 + latent attention": frontier.artifact_key(latent_attention, HEAD_RECIPE, HEAD_RECIPE["seed"]),
                "SmolLM2 GRIT joint": frontier.artifact_key(grit, GRIT_RECIPE, GRIT_RECIPE["seed"])}
    return {"recipe": {"rows": list(STORED_ROWS), "split": "test", "inference_dtype": config.inference_dtype()},
            "readings": readings, "training": {name: cache.key_digest(key) for name, key in training.items()},
            "llm2vec_reading": cache.source_hash(llm2vec.llm2vec_model, llm2vec.llm2vec_embedder),
            "code": cache.source_hash(sys.modules[mini_mteb.__module__], instruct.instructed_mini_mteb),
            "text": cache.texts_fingerprint(data.task_texts("test"))}


def score_entry(entry: Entry, embedder: Embedder, tasks=None) -> pd.DataFrame:
    """:func:`helpers.evaluate.mini_mteb` (test) of ``embedder`` on ``tasks`` (all by default), with notebook 09's
    per-task instructions when the entry is instructed."""
    from helpers.instruct import instructed_mini_mteb

    return (instructed_mini_mteb if entry.instructed else mini_mteb)(embedder, tasks=tasks)


def stored_row_results(progress: bool = True) -> dict[str, pd.DataFrame]:
    """The mini-MTEB results (test) of :data:`STORED_ROWS`: the committed ``data/artifacts/leaderboard_rows``
    (``scripts/score_leaderboard_rows.py``) when it was made under today's :func:`stored_rows_key`, else scored
    (and trained where needed) here, about 30 minutes on 2 CPU cores, and cached."""
    from helpers import artifacts

    return artifacts.load_or_train(STORED_ROWS_ARTIFACT, stored_rows_key(),
                                   lambda: score_rows(STORED_ROWS, config.precision(), progress),
                                   artifacts.save_results, artifacts.load_results)


def live_check(name: str, embedder: Embedder, stored: dict[str, pd.DataFrame],
               tasks=LIVE_CHECK_TASKS) -> pd.DataFrame:
    """Score ``embedder`` live on ``tasks`` (test) beside the stored row ``name``: one row per task with both
    scores, their difference and whether it is within :data:`LIVE_CHECK_TOLERANCE`. Notebooks 05-07 use it to show
    that the artifact holds what their code computes."""
    if name not in stored:
        raise ValueError(f"{name!r} is not a stored row; the stored rows are {list(stored)}.")
    live = score_entry(entry(name), embedder, list(tasks))
    frame = pd.DataFrame({"live": live.loc[list(tasks), "score"], "stored": stored[name].loc[list(tasks), "score"]})
    frame["difference"] = frame["live"] - frame["stored"]
    frame["agrees"] = frame["difference"].abs() <= LIVE_CHECK_TOLERANCE
    return frame


def score(entries=REGISTRY, progress: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Score and time every entry. Returns the table (task scores, average, parameters, ms per text, notebook,
    family, training, seconds to score) and the raw mini-MTEB frames by name. :data:`STORED_ROWS` are read from
    :func:`stored_row_results`; the trained ones are timed and counted on their untrained twins (``entry.timed``)."""
    stored = stored_row_results(progress) if any(e.name in STORED_ROWS for e in entries) else {}
    rows, frames = [], {}
    for entry in config.progress_bar(entries, desc="Leaderboard", disable=not progress):
        start = time.perf_counter()
        if entry.name in stored:  # scored by the result artifact; counted and timed here (a trained row: its twin)
            embedder = timed = (entry.timed or entry.build)()
            frames[entry.name] = stored[entry.name]
        else:
            embedder = entry.build()
            frames[entry.name] = score_entry(entry, embedder)
            timed = entry.timed() if entry.timed else embedder
        scored = time.perf_counter() - start
        frame = frames[entry.name]
        rows.append({**frame["score"].to_dict(), "average_low": frame.loc["average", "ci_low"],
                     "average_high": frame.loc["average", "ci_high"], "parameters": parameter_count(embedder),
                     "ms_per_text": ms_per_text(timed), "notebook": entry.notebook, "family": entry.family,
                     "training": entry.training, "seconds": scored, "name": entry.name})
        del embedder, timed
        gc.collect()  # trained SmolLM2 copies are 0.5 GB each: free one before building the next
    table = pd.DataFrame(rows).set_index("name").sort_values("average", ascending=False)
    return table, frames


def pareto_front(table: pd.DataFrame, cost: str = "ms_per_text", quality: str = "average") -> list[str]:
    """The rows no other row beats on both cost (lower) and quality (higher), cheapest first."""
    front, best = [], -np.inf
    for name, row in table.sort_values([cost, quality], ascending=[True, False]).iterrows():
        if row[quality] > best:
            front.append(name)
            best = row[quality]
    return front


def cost_quality_plot(table: pd.DataFrame, axes=None):
    """Average score against milliseconds per text and against parameters (log scales), Pareto fronts drawn."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 5))
    colors = {"static word vectors": "tab:green", "encoder": "tab:blue", "decoder LLM": "tab:red"}
    for ax, cost, label in zip(axes, ("ms_per_text", "parameters"), ("milliseconds per text (CPU, 2 cores)",
                                                                    "parameters"), strict=True):
        for family, group in table.groupby("family"):
            ax.scatter(group[cost], group["average"], color=colors.get(family, "gray"), label=family, zorder=3)
        for name, row in table.iterrows():
            ax.annotate(name, (row[cost], row["average"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
        front = table.loc[pareto_front(table, cost)]
        ax.step(front[cost], front["average"], where="post", color="black", alpha=0.4, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("mini-MTEB average")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].figure.suptitle("What each embedder costs and buys")
    axes[0].figure.tight_layout()
    return axes


# The fast inference path against float32 (notebook 11): the rows it changes most, scored both ways on test.
# Scoring the four in float32 takes longer than a notebook may, so scripts/compare_precision.py commits their
# float32 results (data/artifacts/precision); the notebook scores the fast path live and compares, paired.

PRECISION_ROWS = ("SmolLM2 mean", "SmolLM2 PromptEOL", "SmolLM2 echo mean", "LLM2Vec +MNTP +SimCSE")
PRECISION_ARTIFACT = "precision"
PRECISION_MARGIN = 0.005  # the largest change of the average the fast path may cost (issue: equal within ±0.005)


def entry(name: str) -> Entry:
    """The :data:`REGISTRY` entry called ``name``."""
    for candidate in REGISTRY:
        if candidate.name == name:
            return candidate
    raise ValueError(f"No leaderboard row is called {name!r}; the rows are {[e.name for e in REGISTRY]}.")


def precision_key(rows=PRECISION_ROWS) -> dict:
    """What decides the float32 results: each row's embedder fingerprint in float32 (its weights, settings and
    code), the scoring code and the test split's texts."""
    import sys

    from helpers import cache

    with config.using_precision("fp32"):
        fingerprints = {name: entry(name).build().fingerprint() for name in rows}
    return {"recipe": {"rows": list(rows), "split": "test"}, "embedders": fingerprints,
            "code": cache.source_hash(sys.modules[mini_mteb.__module__]),
            "text": cache.texts_fingerprint(data.task_texts("test"))}


def score_rows(rows, precision: str, progress: bool = True) -> dict[str, pd.DataFrame]:
    """:func:`score_entry` of each named row (built, trained first where needed), embedded under ``precision``."""
    results = {}
    with config.using_precision(precision):
        for name in config.progress_bar(rows, desc=f"Scoring in {precision}", disable=not progress):
            row = entry(name)
            results[name] = score_entry(row, row.build())
            gc.collect()
    return results


def fp32_results(rows=PRECISION_ROWS, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The float32 mini-MTEB results (test) of ``rows``: the committed ``data/artifacts/precision`` when it was
    made under today's :func:`precision_key`, else scored here (about 15 minutes on 2 CPU cores) and cached."""
    from helpers import artifacts

    return artifacts.load_or_train(PRECISION_ARTIFACT, precision_key(rows),
                                   lambda: score_rows(rows, "fp32", progress), artifacts.save_results,
                                   artifacts.load_results)


def precision_table(fast: dict[str, pd.DataFrame], fp32: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Fast minus float32 for each row: the average's difference with its paired interval, whether the interval
    lies within ±:data:`PRECISION_MARGIN`, the largest per-task change, and the per-task differences."""
    from helpers.evaluate import compare

    rows = []
    for name in fast:
        diff = compare(fast[name], fp32[name])
        tasks = diff.drop(index="average")
        rows.append({"row": name, "fp32": diff.loc["average", "score_b"], "fast": diff.loc["average", "score_a"],
                     "difference": diff.loc["average", "difference"], "ci_low": diff.loc["average", "ci_low"],
                     "ci_high": diff.loc["average", "ci_high"],
                     "within_margin": bool(-PRECISION_MARGIN <= diff.loc["average", "ci_low"]
                                           and diff.loc["average", "ci_high"] <= PRECISION_MARGIN),
                     "largest_task_change": float(tasks["difference"].abs().max()),
                     **{f"Δ {task}": value for task, value in tasks["difference"].items()}})
    return pd.DataFrame(rows).set_index("row")


# The seed's claims, tested (notebook 11). Long texts: the long-article task (helpers.evaluate.EXTRA_TASKS, outside
# the average), with SmolLM2 reading up to LONG_MAX_LENGTH tokens and MiniLM its 256; scored by
# scripts/score_long_articles.py into a result artifact (one whole-article pass of SmolLM2 takes about two minutes).

LONG_TASK = "LongArticleRetrieval"
LONG_MAX_LENGTH = 1024
LONG_ROWS = ("all-MiniLM-L6-v2 (256 tokens)", "SmolLM2 mean (256 tokens)", "SmolLM2 mean (1,024 tokens)",
             f"SmolLM2 mean, layer {MEAN_LAYER_CHOSEN_ON_DEV} (1,024 tokens)", "LLM2Vec +MNTP +SimCSE (1,024 tokens)")
LONG_ARTIFACT = "long_articles"


def long_embedder(name: str) -> Embedder:
    """The embedder of the long-article row ``name`` (:data:`LONG_ROWS`)."""
    from helpers.llm2vec import llm2vec_model

    builds = {LONG_ROWS[0]: minilm_embedder,
              LONG_ROWS[1]: lambda: smollm2_embedder("mean"),
              LONG_ROWS[2]: lambda: smollm2_embedder("mean", max_length=LONG_MAX_LENGTH),
              LONG_ROWS[3]: lambda: smollm2_embedder("mean", layer=MEAN_LAYER_CHOSEN_ON_DEV,
                                                     max_length=LONG_MAX_LENGTH),
              LONG_ROWS[4]: lambda: smollm2_embedder("mean", bidirectional=True, model=llm2vec_model("simcse")[1],
                                                     max_length=LONG_MAX_LENGTH, name="SmolLM2-135M LLM2Vec simcse")}
    if name not in builds:
        raise ValueError(f"No long-article row is called {name!r}; the rows are {list(LONG_ROWS)}.")
    return builds[name]()


def long_articles_key() -> dict:
    """What decides the long-article scores: the training-free rows' embedder fingerprints in float32, LLM2Vec's
    training key and reading code, the inference precision, the scoring code and the task's texts."""
    import sys

    from helpers import cache, llm2vec

    with config.using_precision("fp32"):
        readings = {name: long_embedder(name).fingerprint() for name in LONG_ROWS[:4]}
    task = data.long_article_retrieval("test")
    return {"recipe": {"rows": list(LONG_ROWS), "task": LONG_TASK, "split": "test",
                       "inference_dtype": config.inference_dtype()},
            "readings": readings, "llm2vec": cache.key_digest(llm2vec.artifact_key()),
            "llm2vec_reading": cache.source_hash(llm2vec.llm2vec_model, long_embedder),
            "code": cache.source_hash(sys.modules[mini_mteb.__module__]),
            "text": cache.texts_fingerprint(task.queries + task.corpus)}


def score_long_articles(progress: bool = True) -> dict[str, pd.DataFrame]:
    """Each of :data:`LONG_ROWS` on the long-article task (test)."""
    results = {}
    for name in config.progress_bar(LONG_ROWS, desc="Long articles", disable=not progress):
        results[name] = mini_mteb(long_embedder(name), split="test", tasks=[LONG_TASK])
        gc.collect()
    return results


def long_article_results(progress: bool = True) -> dict[str, pd.DataFrame]:
    """The committed ``data/artifacts/long_articles`` (``scripts/score_long_articles.py``) when it was made under
    today's :func:`long_articles_key`, else scored here (about 8 minutes on 2 CPU cores) and cached."""
    from helpers import artifacts

    return artifacts.load_or_train(LONG_ARTIFACT, long_articles_key(), lambda: score_long_articles(progress),
                                   artifacts.save_results, artifacts.load_results)


def type_claims(frames: dict[str, pd.DataFrame], pairs, task_types=("classification", "clustering")) -> pd.DataFrame:
    """Paired comparisons of the average over each task type's tasks (:func:`helpers.evaluate.subset`), one row
    per (A, B, type) of ``pairs`` x ``task_types``, with Holm's correction over the whole family."""
    from helpers.evaluate import compare, holm, subset, tasks_of_type

    rows = {}
    for a, b in pairs:
        for task_type in task_types:
            tasks = tasks_of_type(task_type)
            row = compare(subset(frames[a], tasks), subset(frames[b], tasks)).loc["average"]
            rows[(a, b, task_type)] = row[["score_a", "score_b", "difference", "ci_low", "ci_high", "verdict",
                                           "p_value"]]
    table = pd.DataFrame(rows).T
    table.index.names = ["A", "B", "task type"]
    return holm(table.astype({"difference": float, "p_value": float})).sort_index()
