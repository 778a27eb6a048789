"""The mteb package itself, run offline on the same local data, gives the scores helpers.evaluate gives."""

import datasets
import mteb
import numpy as np
import pytest
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

from helpers import data, evaluate
from helpers.embed import minilm_embedder
from helpers.models import load_minilm

N_LEE = 20  # mteb encodes both texts of every pair; 20 documents (190 pairs) keep the test fast


def _metadata(name, task_type, main_score):
    return TaskMetadata(
        name=name, description=f"Offline course task {name}.", type=task_type, main_score=main_score,
        eval_splits=["test"], eval_langs=["eng-Latn"], modalities=["text"], category="t2t",
        dataset={"path": f"local/{name}", "revision": "local"}, reference=None, date=None, domains=None,
        task_subtypes=None, license=None, annotations_creators=None, dialect=None, sample_creation=None,
        bibtex_citation=None,
    )


class LeeSTS(AbsTaskSTS):
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
    metadata = _metadata("CourseNewsgroups", "Clustering", "v_measure")

    def load_data(self, **kwargs):
        frame = data.load_newsgroups()
        rows = {"sentences": [frame["text"].tolist()], "labels": [frame["label"].tolist()]}
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})
        self.data_loaded = True


class InverseCloze(AbsTaskRetrieval):
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


@pytest.fixture(scope="module")
def mteb_scores():
    results = mteb.evaluate(load_minilm(), [LeeSTS(), Sentiment(), Newsgroups(), InverseCloze()], cache=None)
    return {r.task_name: r.scores["test"][0] for r in results.task_results}


def test_sts_matches_mteb(mteb_scores):
    lee = data.load_lee()
    vectors = minilm_embedder().encode(lee.documents[:N_LEE])
    i, j = np.triu_indices(N_LEE, k=1)
    ours = evaluate.sts_scores(vectors[i], vectors[j], lee.similarity[i, j])
    assert ours["spearman"] == pytest.approx(mteb_scores["CourseLeeSTS"]["cosine_spearman"], abs=1e-4)
    assert ours["pearson"] == pytest.approx(mteb_scores["CourseLeeSTS"]["cosine_pearson"], abs=1e-4)


def test_classification_matches_mteb(mteb_scores):
    ours = evaluate.eval_sentiment(minilm_embedder())
    assert ours["accuracy"] == pytest.approx(mteb_scores["CourseSentiment"]["accuracy"], abs=1e-9)


def test_clustering_matches_mteb(mteb_scores):
    ours = evaluate.eval_newsgroups(minilm_embedder())
    assert ours["v_measure"] == pytest.approx(mteb_scores["CourseNewsgroups"]["v_measure"], abs=1e-6)


def test_retrieval_matches_mteb(mteb_scores):
    ours = evaluate.eval_inverse_cloze(minilm_embedder())
    theirs = mteb_scores["CourseInverseCloze"]
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg_at_10"], abs=1e-4)
    assert ours["mrr@10"] == pytest.approx(theirs["mrr_at_10"], abs=1e-4)
    assert ours["recall@10"] == pytest.approx(theirs["recall_at_10"], abs=1e-4)
