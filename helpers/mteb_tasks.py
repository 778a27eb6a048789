"""The mini-MTEB's offline tasks as ``mteb`` task classes (used by notebook 11 and ``tests/test_mteb_protocol.py``):
the ``mteb`` package itself can then score a model on the same local data that :mod:`helpers.evaluate` uses, and
the two must agree.

:func:`mteb_tasks` gives one task object per benchmark task for a split. Each class builds its dataset from
:mod:`helpers.data` in ``load_data``; the ``dataset`` entry of the metadata is required by ``mteb`` but never
used. Run with ``mteb.evaluate(model, tasks, cache=None)`` (the default result cache would key every local
model by one shared name).
"""

from __future__ import annotations

try:
    import datasets
    from mteb.abstasks.classification import AbsTaskClassification
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata
except ImportError:
    raise ImportError("The mteb protocol check needs mteb: run `pip install mteb==2.26.24`.") from None

from helpers import data

N_LEE = 20  # mteb encodes both texts of every pair; 20 Lee documents (190 pairs) keep its STS run fast


def _metadata(name: str, task_type: str, main_score: str, split: str) -> TaskMetadata:
    return TaskMetadata(
        name=f"Course{name}", description=f"Offline course task {name}.", type=task_type, main_score=main_score,
        eval_splits=[split], eval_langs=["eng-Latn"], modalities=["text"], category="t2t",
        dataset={"path": f"local/{name}", "revision": "local"}, reference=None, date=None, domains=None,
        task_subtypes=None, license=None, annotations_creators=None, dialect=None, sample_creation=None,
        bibtex_citation=None,
    )


class _CourseSTS(AbsTaskSTS):
    min_score, max_score = 0, 10

    def __init__(self, split: str, pairs: dict):
        self._split, self._pairs = split, pairs
        super().__init__()

    def load_data(self, **kwargs):
        self.dataset = datasets.DatasetDict({self._split: datasets.Dataset.from_dict(self._pairs)})
        self.data_loaded = True


class _CourseRetrieval(AbsTaskRetrieval):
    def __init__(self, split: str, task: data.RetrievalTask):
        self._split, self._task = split, task
        super().__init__()

    def load_data(self, **kwargs):
        task = self._task
        self.dataset = {"default": {self._split: {
            "corpus": datasets.Dataset.from_dict({"id": [f"d{k}" for k in range(len(task.corpus))],
                                                  "text": task.corpus}),
            "queries": datasets.Dataset.from_dict({"id": [f"q{k}" for k in range(len(task.queries))],
                                                   "text": task.queries}),
            "relevant_docs": {f"q{q}": {f"d{d}": 1} for q, d in enumerate(task.relevant)},
            "top_ranked": None,
        }}}
        self.data_loaded = True


class _CourseClassification(AbsTaskClassification):
    """Trained on the task's whole training set, once (see :mod:`helpers.evaluate`)."""

    samples_per_label = 10_000  # more than the largest class: the whole training split
    n_experiments = 1

    def __init__(self, split: str, task: data.ClassificationTask):
        self._split, self._task = split, task
        super().__init__()

    def load_data(self, **kwargs):
        task = self._task
        self.dataset = datasets.DatasetDict({
            "train": datasets.Dataset.from_dict({"text": task.train_texts, "label": task.train_labels}),
            self._split: datasets.Dataset.from_dict({"text": task.test_texts, "label": task.test_labels}),
        })
        self.data_loaded = True


class _CourseClustering(AbsTaskClusteringLegacy):
    """One k-means run (mteb's seed, 42); :mod:`helpers.evaluate` averages the same run over seeds 0-9."""

    def __init__(self, split: str, task: data.ClusteringTask):
        self._split, self._task = split, task
        super().__init__()

    def load_data(self, **kwargs):
        rows = {"sentences": [self._task.texts], "labels": [self._task.labels]}
        self.dataset = datasets.DatasetDict({self._split: datasets.Dataset.from_dict(rows)})
        self.data_loaded = True


def _task(base: type, name: str, split: str, payload):
    # mteb reads ``metadata`` from the class (unloading a task deletes the instance's copy), so every task
    # gets a class of its own.
    kind = {_CourseSTS: ("STS", "cosine_spearman"), _CourseRetrieval: ("Retrieval", "ndcg_at_10"),
            _CourseClassification: ("Classification", "accuracy"), _CourseClustering: ("Clustering", "v_measure")}
    task_class = type(f"Course{name}", (base,), {"metadata": _metadata(name, *kind[base], split)})
    return task_class(split, payload)


def lee_pairs(split: str, documents: int = N_LEE) -> dict:
    """The first ``documents`` Lee documents of the split as STS pairs (all of their pairs)."""
    lee = data.lee_sts(split)
    i, j, gold = data.LeeCorpus(lee.documents[:documents], lee.similarity[:documents, :documents]).pairs()
    return {"sentence1": [lee.documents[a] for a in i], "sentence2": [lee.documents[b] for b in j],
            "score": gold.tolist()}


def mteb_tasks(split: str = "test") -> dict[str, object]:
    """One ``mteb`` task per benchmark task (name as in :data:`helpers.evaluate.TASKS`), on ``split``."""
    data.check_split(split)
    simlex = data.simlex_sts(split)
    payloads = {
        "LeeDocSTS": (_CourseSTS, lee_pairs(split)),
        "SimLexSTS": (_CourseSTS, {"sentence1": simlex["word1"].tolist(), "sentence2": simlex["word2"].tolist(),
                                   "score": simlex["score"].tolist()}),
        "NewsHeadlineRetrieval": (_CourseRetrieval, data.news_headline_retrieval(split)),
        "NewsInverseCloze": (_CourseRetrieval, data.inverse_cloze_task(split)),
        "DictionaryRetrieval": (_CourseRetrieval, data.dictionary_retrieval(split)),
        "NewsOutletClassification": (_CourseClassification, data.news_outlet_classification(split)),
        "HealthTweetClassification": (_CourseClassification, data.health_tweet_classification(split)),
        "NewsRegionClustering": (_CourseClustering, data.news_region_clustering(split)),
        "HealthTweetClustering": (_CourseClustering, data.health_tweet_clustering(split)),
    }
    return {name: _task(base, name, split, payload) for name, (base, payload) in payloads.items()}
