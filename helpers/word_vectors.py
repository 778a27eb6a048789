"""What Word2vec and GloVe share (taught in notebook 01): the vocabulary, the corpus as word ids, the table of
word vectors with its evaluations, the training log, and the averaged-vector sentence embedder.

* :func:`build_vocabulary` (words with at least ``min_count`` occurrences, most frequent first) and
  :func:`corpus_ids` (the corpus as word ids, out-of-vocabulary words dropped, as gensim does);
* :class:`WordVectors`, a table of word vectors (nearest words, 3CosAdd analogies), evaluated with
  :func:`word_pair_spearman` (WordSim-353, SimLex-999) and :func:`analogy_accuracy` (the Google analogies);
* :class:`AveragedWordEmbedder`, the mean of a text's word vectors as an :class:`~helpers.embed.Embedder`.

The trainers are in :mod:`helpers.word2vec` (SGNS) and :mod:`helpers.glove`.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from helpers.corpus import tokenize
from helpers.embed import Embedder


@dataclass(frozen=True)
class Vocabulary:
    """Words kept for training, most frequent first, with their corpus counts."""

    words: list[str]
    counts: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "index", {word: k for k, word in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)


def build_vocabulary(documents: list[list[str]], min_count: int = 5) -> Vocabulary:
    """Words seen at least ``min_count`` times, sorted by count (ties: first seen first, as gensim)."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}.")
    counts = Counter(token for document in documents for token in document)
    kept = sorted(((word, n) for word, n in counts.items() if n >= min_count), key=lambda item: -item[1])
    if not kept:
        raise ValueError(f"No word occurs {min_count} times: use a larger corpus or a smaller min_count.")
    return Vocabulary([word for word, _ in kept], np.array([n for _, n in kept], dtype=np.int64))


def corpus_ids(documents: list[list[str]], vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """The corpus as one array of word ids and a parallel array of document numbers; unknown words dropped."""
    index = vocabulary.index
    ids, docs = [], []
    for number, document in enumerate(documents):
        known = [index[token] for token in document if token in index]
        ids.extend(known)
        docs.extend([number] * len(known))
    return np.array(ids, dtype=np.int64), np.array(docs, dtype=np.int64)

@dataclass
class WordVectors:
    """A word-vector table: ``words[k]`` has the vector ``vectors[k]`` (float32)."""

    words: list[str]
    vectors: np.ndarray
    index: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.shape[0] != len(self.words):
            raise ValueError(f"{len(self.words)} words but {self.vectors.shape[0]} vectors.")
        self.index = {word: k for k, word in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    @classmethod
    def from_gensim(cls, keyed_vectors) -> WordVectors:
        """Wrap gensim ``KeyedVectors`` (``model.wv``)."""
        return cls(list(keyed_vectors.index_to_key), keyed_vectors.vectors)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def id(self, word: str) -> int:
        """The row of ``word``; a clear KeyError when it has no vector."""
        if word not in self.index:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self.words):,} words): check its spelling "
                           "or lower-case it; rare words (below min_count) have no vector.")
        return self.index[word]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.id(word)]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.id(a)] @ self.unit[self.id(b)])

    def nearest(self, query, topn: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``topn`` words closest by cosine to a word or a vector, ``exclude`` (and the word) left out."""
        if isinstance(query, str):
            exclude = {query, *exclude}
            query = self[query]
        query = np.asarray(query, dtype=np.float32)
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        for word in exclude:
            if word in self.index:
                scores[self.index[word]] = -np.inf
        best = np.argsort(-scores, kind="stable")[:topn]
        return [(self.words[k], float(scores[k])) for k in best]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """3CosAdd: the words closest to b - a + c (unit vectors), the three question words excluded."""
        query = self.unit[self.id(b)] - self.unit[self.id(a)] + self.unit[self.id(c)]
        return self.nearest(query, topn=topn, exclude={a, b, c})


def pair_cosines(vectors: WordVectors, pairs: pd.DataFrame) -> np.ndarray:
    """The cosine of each word pair (columns word1, word2), NaN where a word has no vector."""
    cosine = np.full(len(pairs), np.nan)
    known = (pairs["word1"].isin(set(vectors.index)) & pairs["word2"].isin(set(vectors.index))).to_numpy()
    first = vectors.unit[[vectors.index[w] for w in pairs["word1"][known]]]
    second = vectors.unit[[vectors.index[w] for w in pairs["word2"][known]]]
    cosine[known] = (first * second).sum(1)
    return cosine


def spearman_of_cosines(cosine: np.ndarray, pairs: pd.DataFrame) -> dict[str, float]:
    """Spearman correlation of :func:`pair_cosines` with the human scores (column score) on the covered pairs,
    and the coverage (fraction of pairs used)."""
    known = ~np.isnan(cosine)
    if known.sum() < 3:
        raise ValueError(f"Only {known.sum()} of {len(pairs)} pairs are in the vocabulary: train on a larger corpus.")
    return {"spearman": float(spearmanr(cosine[known], pairs["score"].to_numpy()[known]).statistic),
            "coverage": float(known.mean())}


def word_pair_spearman(vectors: WordVectors, pairs: pd.DataFrame) -> dict[str, float]:
    """Spearman correlation of cosine with human scores on the pairs whose two words are in the vocabulary,
    and the coverage (fraction of pairs used). ``pairs`` has columns word1, word2, score."""
    return spearman_of_cosines(pair_cosines(vectors, pairs), pairs)


def analogy_answers(vectors: WordVectors, questions: pd.DataFrame, chunk: int = 2048) -> list[str | None]:
    """The 3CosAdd answer to each analogy question (a : b :: c : ?): the word closest to b - a + c, a, b and c
    excluded (gensim's rule); ``None`` for a question with a word out of the vocabulary."""
    columns = ["a", "b", "c", "d"]
    known = questions[columns].isin(set(vectors.index)).all(axis=1).to_numpy()
    ids = np.array([[vectors.index[w] for w in questions[column][known]] for column in columns[:3]]).T
    answers = []
    for start in range(0, len(ids), chunk):
        a, b, c = ids[start : start + chunk].T
        scores = (vectors.unit[b] - vectors.unit[a] + vectors.unit[c]) @ vectors.unit.T
        rows = np.arange(len(a))
        scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
        answers += [vectors.words[k] for k in scores.argmax(1)]
    out: list[str | None] = [None] * len(questions)
    for row, answer in zip(np.flatnonzero(known), answers, strict=True):
        out[row] = answer
    return out


def accuracy_of_answers(answers: list[str | None], questions: pd.DataFrame) -> dict[str, float]:
    """Accuracy of :func:`analogy_answers` on the covered questions, and the coverage."""
    covered = [(answer, gold) for answer, gold in zip(answers, questions["d"], strict=True) if answer is not None]
    if not covered:
        return {"accuracy": 0.0, "coverage": 0.0}
    return {"accuracy": sum(answer == gold for answer, gold in covered) / len(covered),
            "coverage": len(covered) / len(questions)}


def analogy_accuracy(vectors: WordVectors, questions: pd.DataFrame) -> dict[str, float]:
    """3CosAdd accuracy on the analogy questions (a : b :: c : d) whose four words are in the vocabulary,
    and the coverage (see :func:`analogy_answers`)."""
    return accuracy_of_answers(analogy_answers(vectors, questions), questions)


@dataclass
class TrainingLog:
    """What a trainer (:func:`helpers.word2vec.train_sgns`, :func:`helpers.glove.train_glove`) measured: mean
    loss per logged step, the words processed and the seconds."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    words: int = 0
    seconds: float = 0.0

    @property
    def words_per_second(self) -> float:
        """Corpus words (before subsampling, as gensim counts them) trained per second."""
        return self.words / self.seconds

class AveragedWordEmbedder(Embedder):
    """A text's embedding is the mean of the unit vectors of its known words (``helpers.corpus.tokenize``).

    Unknown words are skipped. A text with no known word at all gets the mean of every unit word vector
    in the vocabulary (the corpus centroid, a "generic text" vector), never a zero vector, which could not
    be normalised; :meth:`known_words` tells how many words of a text were used.
    """

    def __init__(self, vectors: WordVectors, name: str):
        self.vectors, self.name, self.dim = vectors, name, vectors.vectors.shape[1]
        self.fallback = vectors.unit.mean(0)

    def known_words(self, text: str) -> int:
        """How many of the text's tokens have a vector."""
        return sum(token in self.vectors.index for token in tokenize(text))

    def embed_batch(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [self.vectors.index[t] for t in tokenize(text) if t in self.vectors.index]
            out[row] = self.vectors.unit[ids].mean(0) if ids else self.fallback
        return out

    def code(self):
        return (sys.modules[__name__], tokenize)

    def settings(self):
        digest = hashlib.sha256(self.vectors.vectors.tobytes())
        digest.update("\n".join(self.vectors.words).encode())
        return {"vectors": digest.hexdigest(), "tokenizer": "helpers.corpus.tokenize"}
