"""Real benchmark data, offline first (taught in notebook 00).

Everything offline comes from files that the ``gensim`` package ships in ``gensim/test/test_data``:
word-similarity sets, the Google analogies, the Lee news corpus with human document-similarity ratings,
a labelled movie-review sentiment sample and a two-newsgroup sample. Nothing here is copied into the
repository. The ``load_online_*`` functions fetch real MTEB data from the hub (Colab, ``COURSE_ONLINE=1``).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import pickle
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config


def gensim_test_data() -> Path:
    """The folder of real test data inside the installed gensim package."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The offline data ships with gensim: run `pip install gensim`.")
    return Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data"


def _word_pairs(filename: str) -> pd.DataFrame:
    frame = pd.read_csv(
        gensim_test_data() / filename, sep="\t", comment="#", header=None, names=["word1", "word2", "score"]
    )
    frame[["word1", "word2"]] = frame[["word1", "word2"]].apply(lambda column: column.str.lower())
    return frame


def load_wordsim353() -> pd.DataFrame:
    """WordSim-353: 353 word pairs with human relatedness scores (0-10)."""
    return _word_pairs("wordsim353.tsv")


def load_simlex999() -> pd.DataFrame:
    """SimLex-999: 999 word pairs scored for similarity, not relatedness (0-10)."""
    return _word_pairs("simlex999.txt")


def load_google_analogies() -> pd.DataFrame:
    """The Google analogy questions (a : b :: c : d), 19,544 of them in 14 sections, lower-cased."""
    rows, section = [], None
    for line in (gensim_test_data() / "questions-words.txt").read_text().splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            rows.append([section, *line.lower().split()])
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])


@dataclass(frozen=True)
class LeeCorpus:
    """The Lee et al. (2005) corpus: 50 news documents and their 50 x 50 mean human similarity."""

    documents: list[str]
    similarity: np.ndarray

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices ``(i, j)`` of the 1,225 document pairs ``i < j`` and their human scores."""
        i, j = np.triu_indices(len(self.documents), k=1)
        return i, j, self.similarity[i, j]


@functools.lru_cache(maxsize=1)
def load_lee() -> LeeCorpus:
    """The 50 Lee documents and their human similarity matrix (upper triangle stored; made symmetric)."""
    folder = gensim_test_data()
    documents = [line.strip() for line in (folder / "lee.cor").read_text(encoding="latin-1").splitlines()]
    upper = np.loadtxt(folder / "similarities0-1.txt")
    similarity = np.triu(upper) + np.triu(upper, k=1).T
    if len(documents) != 50 or similarity.shape != (50, 50):
        raise ValueError(f"The Lee files look damaged: {len(documents)} documents, matrix {similarity.shape}.")
    return LeeCorpus(documents, similarity)


@functools.lru_cache(maxsize=1)
def load_lee_background() -> tuple[str, ...]:
    """The 300 background news documents of the Lee corpus (about 60k words), one string each."""
    text = (gensim_test_data() / "lee_background.cor").read_text(encoding="latin-1")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def load_sentiment() -> pd.DataFrame:
    """200 movie-review sentences (Pang & Lee), ``label`` 1 = positive, 0 = negative, 100 of each."""
    rows = []
    for line in (gensim_test_data() / "pang_lee_polarity.cor").read_text(encoding="cp1252").splitlines():
        tag, _, text = line.partition(" ")
        rows.append((text.strip(), int(tag == "__label__pos")))
    return pd.DataFrame(rows, columns=["text", "label"])


class _BunchAsDict(pickle.Unpickler):
    # The file is a pickled scikit-learn Bunch from an old module path; a dict holds the same fields.
    def find_class(self, module, name):
        if (module, name) == ("sklearn.datasets.base", "Bunch"):
            return dict
        if module.split(".")[0] not in ("numpy", "builtins", "__builtin__", "copy_reg", "copyreg"):
            raise pickle.UnpicklingError(f"Refusing to load {module}.{name} from the newsgroup file.")
        return super().find_class(module, name)


_HEADER_LINE = re.compile(r"^\s*(To|From|Newsgroups|Message-ID|Organization|Date|Path|Lines|Sender|References):")


def _newsgroup_text(post: str, max_words: int) -> str:
    head, _, body = post.partition("\n\n")
    # The headers name the newsgroup (the label itself), so only the subject line is kept.
    subject = next((line[len("Subject:"):].strip() for line in head.splitlines() if line.startswith("Subject:")), "")
    subject = re.sub(r"^(re:\s*)+", "", subject, flags=re.IGNORECASE)
    body = body.split("\n-- \n")[0].split("\n--\n")[0]  # drop the signature
    lines = [
        line
        for line in body.splitlines()
        if not line.lstrip().startswith((">", "|", "In article"))
        and not re.search(r"(writes|wrote):\s*$", line)
        and not _HEADER_LINE.match(line)  # forwarded posts repeat their headers in the body
    ]
    words = " ".join(lines).split()[:max_words]
    return f"{subject}. {' '.join(words)}".strip(". ")


@functools.lru_cache(maxsize=4)
def load_newsgroups(max_words: int = 48) -> pd.DataFrame:
    """200 real Usenet posts from two newsgroups (alt.atheism, sci.space), 100 each, for clustering.

    Headers are removed (they name the group); quoted replies are dropped; the subject and the first
    ``max_words`` words of the body remain. ``label`` is the newsgroup name.
    """
    raw = zlib.decompress((gensim_test_data() / "mini_newsgroup").read_bytes())
    bunch = _BunchAsDict(io.BytesIO(raw), encoding="latin1").load()
    names = bunch["target_names"]
    texts = [_newsgroup_text(post, max_words) for post in bunch["data"]]
    return pd.DataFrame({"text": texts, "label": [names[t] for t in bunch["target"]]})


_SENTENCE_END = re.compile(r'(?:(?<=[.!?])|(?<=[.!?]["\']))\s+(?=["\'A-Z0-9])')


def split_sentences(text: str) -> list[str]:
    """A plain rule-based sentence splitter, good enough for edited news text."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@dataclass(frozen=True)
class RetrievalTask:
    """Queries, a corpus, and for each query the index of its one relevant corpus document."""

    queries: list[str]
    corpus: list[str]
    relevant: list[int]


@functools.lru_cache(maxsize=4)
def inverse_cloze_task(n_queries: int = 120, passage_sentences: int = 5, seed: int = 42) -> RetrievalTask:
    """An offline retrieval task from real news text by the inverse-cloze construction (Lee et al. 2019).

    Each passage is the first ``passage_sentences`` sentences of a Lee background document. One sentence
    (not always the first) is taken out and becomes the query; the rest of its passage is the one relevant
    document. The corpus holds one document per passage, so every other passage is a distractor.
    """
    rng = np.random.default_rng(seed)
    queries, corpus = [], []
    for index in rng.permutation(len(load_lee_background())):
        sentences = split_sentences(load_lee_background()[index])[:passage_sentences]
        if len(sentences) < 3:
            continue
        candidates = [k for k, s in enumerate(sentences) if len(s.split()) >= 6]
        if not candidates:
            continue
        taken = int(rng.choice(candidates))
        queries.append(sentences[taken])
        corpus.append(" ".join(s for k, s in enumerate(sentences) if k != taken))
        if len(queries) == n_queries:
            break
    if len(queries) < n_queries:
        raise ValueError(f"Only {len(queries)} passages qualify; ask for at most that many queries.")
    return RetrievalTask(queries, corpus, list(range(n_queries)))


# Online (hub) data: real MTEB tasks, for Colab. CI never calls these.


def _load_hub_dataset(*args, **kwargs):
    if not config.online():
        raise config_offline_error()
    from datasets import load_dataset

    return load_dataset(*args, **kwargs)


def config_offline_error() -> RuntimeError:
    from helpers.models import OfflineError

    return OfflineError("This dataset comes from the hub: set COURSE_ONLINE=1 (e.g. in Colab) to download it.")


def load_online_stsb(split: str = "test") -> pd.DataFrame:
    """STS Benchmark (MTEB ``STSBenchmark``): ``sentence1``, ``sentence2``, ``score`` (0-5)."""
    return _load_hub_dataset("mteb/stsbenchmark-sts", split=split).to_pandas()


def load_online_beir(name: str = "scifact") -> RetrievalTask:
    """A BEIR retrieval set in MTEB's format (default SciFact, test queries), as a :class:`RetrievalTask`."""
    corpus = _load_hub_dataset(f"mteb/{name}", "corpus", split="corpus").to_pandas()
    queries = _load_hub_dataset(f"mteb/{name}", "queries", split="queries").to_pandas()
    qrels = _load_hub_dataset(f"mteb/{name}", "default", split="test").to_pandas()
    qrels = qrels[qrels["score"] > 0].drop_duplicates("query-id")  # one relevant document per query
    position = {doc_id: k for k, doc_id in enumerate(corpus["_id"])}
    text = dict(zip(queries["_id"], queries["text"], strict=True))
    documents = (corpus["title"].fillna("") + " " + corpus["text"]).str.strip().tolist()
    return RetrievalTask(
        [text[q] for q in qrels["query-id"]], documents, [position[d] for d in qrels["corpus-id"]]
    )


def load_online_classification(name: str = "mteb/banking77", split: str = "test") -> pd.DataFrame:
    """An MTEB classification set (default Banking77) with ``text`` and ``label`` columns."""
    return _load_hub_dataset(name, split=split).to_pandas()[["text", "label"]]
