import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from helpers import data, evaluate
from helpers.embed import minilm_embedder
from helpers.models import load_minilm


def test_retrieval_metrics_by_hand():
    queries = np.array([[1, 0, 0], [0.2, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    corpus = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    # Relevant documents 0, 1, 2: query 1 scores doc 0 (0.20) above its doc 1 (0.19), so rank 2.
    scores = evaluate.retrieval_scores(queries, corpus, relevant=[0, 1, 2])
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1) / 3)
    assert scores["mrr@10"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert scores["recall@10"] == pytest.approx(1.0)


def test_sts_scores_equal_scipy_on_cosines():
    rng = np.random.default_rng(0)
    a, b, gold = rng.normal(size=(30, 8)), rng.normal(size=(30, 8)), rng.random(30)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    scores = evaluate.sts_scores(a, b, gold)
    assert scores["spearman"] == pytest.approx(spearmanr(cosine, gold).statistic)
    assert scores["pearson"] == pytest.approx(pearsonr(cosine, gold).statistic)
    with pytest.raises(ValueError, match="same shape"):
        evaluate.sts_scores(a, b[:5], gold)


def test_classification_and_clustering_on_separable_data():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 4)) + 1, rng.normal(0, 0.1, (20, 4)) - 1])
    y = np.array([0] * 20 + [1] * 20)
    assert evaluate.classification_accuracy(x[::2], y[::2], x[1::2], y[1::2])["accuracy"] == 1.0
    assert evaluate.clustering_v_measure(x, y)["v_measure"] == pytest.approx(1.0)


def test_mini_mteb_on_minilm_matches_an_independent_computation():
    table = evaluate.mini_mteb(minilm_embedder())
    assert list(table.index) == [*evaluate.TASKS, "average"]
    lee = table.loc["LeeDocSTS", "metrics"]
    assert lee["pearson"] == pytest.approx(0.656, abs=0.005) and lee["spearman"] == pytest.approx(0.508, abs=0.005)
    assert table.loc["average", "score"] == pytest.approx(table["score"].iloc[:-1].mean())

    # The same Lee figure straight from sentence-transformers, numpy and scipy: no helpers code involved.
    corpus = data.load_lee()
    vectors = load_minilm().encode(corpus.documents, normalize_embeddings=True)
    i, j = np.triu_indices(50, k=1)
    cosine = (vectors[i] * vectors[j]).sum(1)
    assert pearsonr(cosine, corpus.similarity[i, j]).statistic == pytest.approx(lee["pearson"], abs=1e-5)
    assert spearmanr(cosine, corpus.similarity[i, j]).statistic == pytest.approx(lee["spearman"], abs=1e-5)


def test_mini_mteb_rejects_bad_arguments():
    with pytest.raises(TypeError, match="needs an Embedder"):
        evaluate.mini_mteb(load_minilm())
    with pytest.raises(ValueError, match="Unknown tasks"):
        evaluate.mini_mteb(minilm_embedder(), tasks=["MSMARCO"])


def test_leaderboard_sorts_models_by_average():
    low = evaluate.mini_mteb(minilm_embedder(), tasks=["LeeDocSTS"])
    high = low.copy()
    high["score"] += 0.1
    board = evaluate.leaderboard({"low": low, "high": high})
    assert list(board.index) == ["high", "low"] and list(board.columns) == ["LeeDocSTS", "average"]
