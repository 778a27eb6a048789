"""The mini-MTEB's four offline tasks as ``mteb`` task classes (used by notebook 11 and
``tests/test_mteb_protocol.py``): the ``mteb`` package itself can then score a model on the same local data
that :mod:`helpers.evaluate` uses, and the two must agree.

Each class overrides ``load_data`` to build its dataset from :mod:`helpers.data`; the ``dataset`` entry of the
metadata is required by ``mteb`` but never used. Run with ``mteb.evaluate(model, tasks, cache=None)``.
"""

from __future__ import annotations

import datasets
import numpy as np
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

from helpers import data, evaluate

N_LEE = 20  # mteb encodes both texts of every pair; 20 documents (190 pairs) keep the STS task fast


def _metadata(name, task_type, main_score):
    return TaskMetadata(
        name=name, description=f"Offline course task {name}.", type=task_type, main_score=main_score,
        eval_splits=["test"], eval_langs=["eng-Latn"], modalities=["text"], category="t2t",
        dataset={"path": f"local/{name}", "revision": "local"}, reference=None, date=None, domains=None,
        task_subtypes=None, license=None, annotations_creators=None, dialect=None, sample_creation=None,
        bibtex_citation=None,
    )


class LeeSTS(AbsTaskSTS):
    """STS on the first :data:`N_LEE` Lee documents (all their pairs), cosine Spearman."""

    metadata = _metadata("CourseLeeSTS", "STS", "cosine_spearman")
    min_score, max_score = 0, 1

    def load_data(self, **kwargs):
        lee = data.load_lee()
        i, j = np.triu_indices(N_LEE, k=1)
        rows = {"sentence1": [lee.documents[a] for a in i], "sentence2": [lee.documents[b] for b in j],
                "score": lee.similarity[i, j].tolist()}
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})
        self.data_loaded = True


class Sentiment(AbsTaskClassification):
    """The movie-review sentiment split of :func:`helpers.evaluate.sentiment_split`, trained on the whole train half."""

    metadata = _metadata("CourseSentiment", "Classification", "accuracy")
    samples_per_label = 1000  # more than the largest class: train on the whole training split
    n_experiments = 1

    def load_data(self, **kwargs):
        train_x, test_x, train_y, test_y = evaluate.sentiment_split()
        self.dataset = datasets.DatasetDict({
            "train": datasets.Dataset.from_dict({"text": train_x, "label": train_y.tolist()}),
            "test": datasets.Dataset.from_dict({"text": test_x, "label": test_y.tolist()}),
        })
        self.data_loaded = True


class Newsgroups(AbsTaskClusteringLegacy):
    """Clustering of the 200 newsgroup posts, V-measure."""

    metadata = _metadata("CourseNewsgroups", "Clustering", "v_measure")

    def load_data(self, **kwargs):
        frame = data.load_newsgroups()
        rows = {"sentences": [frame["text"].tolist()], "labels": [frame["label"].tolist()]}
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})
        self.data_loaded = True


class InverseCloze(AbsTaskRetrieval):
    """The inverse-cloze retrieval task of :func:`helpers.data.inverse_cloze_task`, nDCG@10."""

    metadata = _metadata("CourseInverseCloze", "Retrieval", "ndcg_at_10")

    def load_data(self, **kwargs):
        task = data.inverse_cloze_task()
        self.dataset = {"default": {"test": {
            "corpus": datasets.Dataset.from_dict({"id": [f"d{k}" for k in range(len(task.corpus))],
                                                  "text": task.corpus}),
            "queries": datasets.Dataset.from_dict({"id": [f"q{k}" for k in range(len(task.queries))],
                                                   "text": task.queries}),
            "relevant_docs": {f"q{q}": {f"d{d}": 1} for q, d in enumerate(task.relevant)},
            "top_ranked": None,
        }}}
        self.data_loaded = True
