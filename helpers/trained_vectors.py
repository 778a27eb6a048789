"""Notebook 01's word vectors trained on the whole offline corpus, committed as artifacts (see
:mod:`helpers.artifacts`): our skip-gram (:mod:`helpers.word2vec`), GloVe (:mod:`helpers.glove`), and gensim's
``Word2Vec`` with the same settings as the reference.

``scripts/train_word_vectors.py`` trains them (≈ 5.8M tokens: more than a notebook's 4 minutes);
:func:`trained_vectors` loads ours and GloVe's, :func:`gensim_answers` what gensim's vectors answered on each
benchmark item. Two choices keep the repository small (all committed weights ≤ 60 MB):

* our tables are stored as 8-bit integers with one scale per row (:func:`quantize_rows`), 3.6 MB each instead
  of 7.2 MB in fp16; the script scores both and the card keeps the two (they agree to three decimals);
* gensim's table is not stored at all, only its answers: the cosine of every WordSim-353 and SimLex-999 pair
  and the word it picks for every analogy question, which is all a paired comparison with ours needs.
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from pathlib import Path

import numpy as np
import torch

from helpers import artifacts, cache, corpus, data, glove, word2vec, word_vectors
from helpers.artifacts import dequantize_rows, quantize_rows  # 8-bit storage, shared with other artifacts

RECIPE = {"corpus": {"sources": list(corpus.SOURCES), "max_tokens": None}, "dim": 100, "min_count": 5, "seed": 42,
          "sgns": {"window": 5, "negative": 5, "sample": 1e-3, "epochs": 5, "batch_size": 2048},
          "glove": {"window": 10, "x_max": 10.0, "epochs": 15}}
KINDS = {"sgns": "word2vec_sgns", "glove": "glove", "gensim": "word2vec_gensim"}
SCRIPT = "python scripts/train_word_vectors.py"


def training_documents() -> list[list[str]]:
    """The recipe's corpus: every offline source, the benchmark's texts held out (see
    :func:`helpers.corpus.offline_corpus`)."""
    return corpus.offline_corpus(**RECIPE["corpus"])


def artifact_key(kind: str, documents: list[list[str]] | None = None) -> dict:
    """What decides the vectors of ``kind``: the recipe, the corpus, and the code (or gensim's version) that trains."""
    _check_kind(kind)
    text = _corpus_fingerprint() if documents is None else cache.texts_fingerprint(" ".join(d) for d in documents)
    if kind == "gensim":
        import gensim

        code = f"gensim {gensim.__version__}: " + cache.source_hash(train_gensim, word_vectors.build_vocabulary)
    else:
        trainer = [word2vec.train_sgns, word2vec._train_sgns, word2vec.sgns_update, word2vec.sgns_buffers,
                   word2vec.skipgram_pairs, word2vec.keep_probability, word2vec.unigram_table,
                   word2vec.noise_distribution, word2vec._subsample] if kind == "sgns" else \
                  [glove.train_glove, glove._train_glove, glove.cooccurrence_matrix, glove.glove_weight,
                   glove.glove_gradients, glove.glove_adagrad_step]
        code = cache.source_hash(*trainer, word_vectors.build_vocabulary, word_vectors.corpus_ids, quantize_rows)
    recipe = {key: value for key, value in RECIPE.items() if key not in KINDS or key == _recipe_part(kind)}
    return {"recipe": {**recipe, "kind": kind}, "text": text, "code": code}


@functools.cache
def _corpus_fingerprint() -> str:
    # once per process: reading the corpus takes seconds, and its 5.8M tokens need not stay in memory
    return cache.texts_fingerprint(" ".join(d) for d in training_documents())


def train_gensim(documents: list[list[str]]):
    """gensim's skip-gram with :data:`RECIPE`'s settings, one worker and a fixed hash function, so it is
    reproducible (gensim seeds each word's start vector with Python's ``hash``, which changes per process)."""
    from gensim.models import Word2Vec

    settings = RECIPE["sgns"]
    model = Word2Vec(documents, vector_size=RECIPE["dim"], window=settings["window"], min_count=RECIPE["min_count"],
                     negative=settings["negative"], sample=settings["sample"], epochs=settings["epochs"], sg=1,
                     workers=1, seed=RECIPE["seed"], hashfxn=lambda text: zlib.crc32(text.encode()))
    return word_vectors.WordVectors.from_gensim(model.wv)


def train(kind: str, documents: list[list[str]], progress: bool = True, threads: int | None = 1):
    """Train ``kind`` on ``documents`` with :data:`RECIPE`; returns :class:`~helpers.word_vectors.WordVectors` and
    the training log (``None`` for gensim)."""
    _check_kind(kind)
    common = {"dim": RECIPE["dim"], "min_count": RECIPE["min_count"], "seed": RECIPE["seed"], "progress": progress,
              "threads": threads}
    if kind == "sgns":
        return word2vec.train_sgns(documents, **RECIPE["sgns"], **common)
    if kind == "glove":
        return glove.train_glove(documents, **RECIPE["glove"], **common)
    return train_gensim(documents), None


def benchmark_answers(vectors: word_vectors.WordVectors) -> dict:
    """What a set of vectors answers on each benchmark item: the cosine of each WordSim-353 and SimLex-999 pair
    (NaN where a word has no vector) and the 3CosAdd answer to each Google analogy (``None`` where not covered)."""
    return {"wordsim": word_vectors.pair_cosines(vectors, data.load_wordsim353()).tolist(),
            "simlex": word_vectors.pair_cosines(vectors, data.load_simlex999()).tolist(),
            "analogy": word_vectors.analogy_answers(vectors, data.load_google_analogies())}


def save_files(target: Path, value: dict) -> None:
    """Write a trained value: int8 codes and row scales for a vector table with its words, or gensim's answers
    (the text files gzipped: they would otherwise take a fifth of the space)."""
    if "answers" in value:
        _write_gzip(target / "answers.json.gz", json.dumps(value["answers"]))
        return
    codes, scales = quantize_rows(value["vectors"])
    cache.save_tensors(target / "vectors.safetensors", {"codes": torch.from_numpy(codes),
                                                         "scales": torch.from_numpy(scales)},
                       {"losses": value["losses"]})
    _write_gzip(target / "words.txt.gz", "\n".join(value["words"]))


def load_files(target: Path) -> dict:
    if (target / "answers.json.gz").is_file():
        return {"answers": json.loads(gzip.decompress((target / "answers.json.gz").read_bytes()))}
    tensors, extra = cache.load_tensors(target / "vectors.safetensors")
    words = gzip.decompress((target / "words.txt.gz").read_bytes()).decode().split("\n")
    return {"words": words, "vectors": dequantize_rows(tensors["codes"].numpy(), tensors["scales"].numpy()), **extra}


def _write_gzip(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode(), mtime=0))  # mtime 0: the same text gives the same bytes


def _trained_value(kind: str, progress: bool = True) -> dict:
    """The artifact of ``kind`` as stored (see :func:`save_files`), trained here if it is not committed."""
    def make() -> dict:
        vectors, log = train(kind, training_documents(), progress=progress)
        if kind == "gensim":
            return {"answers": benchmark_answers(vectors)}
        return {"words": vectors.words, "vectors": vectors.vectors, "losses": log.losses}

    return artifacts.load_or_train(KINDS[kind], artifact_key(kind), make, save_files, load_files)


def trained_vectors(kind: str = "sgns", progress: bool = True) -> word_vectors.WordVectors:
    """Notebook 01's vectors trained on the whole offline corpus: ``"sgns"`` (our skip-gram) or ``"glove"``.
    Loaded from ``data/artifacts/`` (made by ``scripts/train_word_vectors.py``); trained here (a few minutes to
    half an hour on 2 cores) when missing. ``.losses`` holds the training curve."""
    if kind not in ("sgns", "glove"):
        raise ValueError(f"trained_vectors(kind) takes 'sgns' or 'glove', not {kind!r}; gensim's run is stored as "
                         "its answers only: use gensim_answers().")
    value = _trained_value(kind, progress)
    vectors = word_vectors.WordVectors(value["words"], value["vectors"])
    vectors.losses = value["losses"]
    return vectors


def gensim_answers(progress: bool = True) -> dict:
    """gensim's answers on the benchmarks (see :func:`benchmark_answers`), with :data:`RECIPE`'s settings."""
    return _trained_value("gensim", progress)["answers"]


def scores_from_answers(answers: dict) -> dict:
    """WordSim-353 and SimLex-999 Spearman, analogy accuracy and coverages from :func:`benchmark_answers`."""
    questions = data.load_google_analogies()
    out = {}
    for name, pairs in [("wordsim", data.load_wordsim353()), ("simlex", data.load_simlex999())]:
        out |= {f"{name}_{key}": value for key, value in
                word_vectors.spearman_of_cosines(np.array(answers[name], dtype=float), pairs).items()}
    out |= {f"analogy_{key}": value for key, value in
            word_vectors.accuracy_of_answers(answers["analogy"], questions).items()}
    return out


def _recipe_part(kind: str) -> str:
    return "glove" if kind == "glove" else "sgns"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: choose from {sorted(KINDS)}.")

