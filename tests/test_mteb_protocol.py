"""The mteb package itself, run offline on the same local data, gives the scores helpers.evaluate gives."""

import mteb
import numpy as np
import pytest

from helpers import data, evaluate
from helpers.embed import minilm_embedder
from helpers.models import load_minilm
from helpers.mteb_tasks import N_LEE, InverseCloze, LeeSTS, Newsgroups, Sentiment


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
