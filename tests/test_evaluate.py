import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import v_measure_score

from helpers import data, evaluate
from helpers.embed import Embedder, minilm_embedder
from helpers.models import load_minilm
from helpers.trained_vectors import trained_vectors
from helpers.word_vectors import AveragedWordEmbedder


def test_retrieval_metrics_by_hand():
    queries = np.array([[1, 0, 0], [0.2, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    corpus = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    # Relevant documents 0, 1, 2: query 1 scores doc 0 (0.20) above its doc 1 (0.19), so rank 2.
    scores = evaluate.retrieval_scores(queries, corpus, relevant=[0, 1, 2])
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1) / 3)
    assert scores["mrr@10"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert scores["recall@10"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one corpus index per query"):
        evaluate.retrieval_scores(queries, corpus, relevant=[0, 1])


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


def test_v_measure_equals_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(20):
        labels, clusters = rng.integers(0, 5, 60), rng.integers(0, 4, 60)
        assert evaluate.v_measure(labels, clusters) == pytest.approx(v_measure_score(labels, clusters), abs=1e-12)


@pytest.fixture(scope="module")
def minilm_test():
    return evaluate.mini_mteb(minilm_embedder())


def test_mini_mteb_frame_has_intervals_and_matches_an_independent_computation(minilm_test):
    table = minilm_test
    assert list(table.index) == [*evaluate.TASKS, "average"]
    assert list(table.columns) == ["type", "metric", "score", "ci_low", "ci_high", "metrics", "seconds"]
    assert (table["ci_low"] <= table["score"]).all() and (table["score"] <= table["ci_high"]).all()
    assert table.loc["average", "score"] == pytest.approx(table["score"].iloc[:-1].mean())
    # The power target of the benchmark: the average's interval is at most ±0.02 on MiniLM.
    assert (table.loc["average", "ci_high"] - table.loc["average", "ci_low"]) / 2 <= 0.02

    # The Lee figure straight from sentence-transformers, numpy and scipy: no helpers code involved.
    lee = data.lee_sts("test")
    vectors = load_minilm().encode(lee.documents, normalize_embeddings=True)
    i, j = np.triu_indices(len(lee.documents), k=1)
    cosine = (vectors[i] * vectors[j]).sum(1)
    expected = spearmanr(cosine, lee.similarity[i, j]).statistic
    assert table.loc["LeeDocSTS", "score"] == pytest.approx(expected, abs=1e-5)


def test_dev_and_test_items_are_disjoint():
    dev, test = set(data.task_texts("dev")), set(data.task_texts("test"))
    # Classifier training texts are shared by both splits, and SimLex's items are pairs of words (a word can
    # occur in pairs of both splits); every other scored text is in one split only.
    shared = set(data.news_outlet_classification("test").train_texts) | set(
        data.health_tweet_classification("test").train_texts)
    words = {split: set(data.simlex_sts(split)[["word1", "word2"]].stack()) for split in data.SPLITS}
    assert not (dev & test) - shared - words["dev"] - words["test"]
    pairs = {split: set(map(tuple, data.simlex_sts(split)[["word1", "word2"]].to_numpy())) for split in data.SPLITS}
    assert not pairs["dev"] & pairs["test"]


def _fixed(name: str, vectors: dict[str, np.ndarray]) -> Embedder:
    class Fixed(Embedder):
        dim, cache = 2, False

        def embed_batch(self, texts):
            return np.stack([vectors[t] for t in texts])

        def settings(self):
            return {}

    embedder = Fixed()
    embedder.name = name
    return embedder


def test_compare_interval_equals_a_direct_paired_bootstrap(monkeypatch):
    # Two models on one small classification task: the interval of the difference is the percentile interval
    # of the per-resample accuracy differences, the same test texts drawn for both models.
    texts = [f"t{k}" for k in range(40)]
    labels = ["a", "b"] * 20
    task = data.ClassificationTask(texts[:20], labels[:20], texts[20:], labels[20:])
    monkeypatch.setattr(data, "news_outlet_classification", lambda split: task)
    rng = np.random.default_rng(0)
    signal = {t: np.array([1.0 if y == "a" else -1.0, 0.0]) for t, y in zip(texts, labels, strict=True)}
    good = _fixed("good", {t: v + rng.normal(0, 0.3, 2) for t, v in signal.items()})
    poor = _fixed("poor", {t: v + rng.normal(0, 2.0, 2) for t, v in signal.items()})
    result = evaluate.compare(good, poor, tasks=["NewsOutletClassification"])

    def correct(embedder):
        vectors = embedder.encode(texts)
        return evaluate.classification_predictions(vectors[:20], labels[:20], vectors[20:]) == np.array(labels[20:])

    good_correct, poor_correct = correct(good), correct(poor)
    draws = np.random.default_rng([evaluate.SEED, __import__("zlib").crc32(b"NewsOutletClassification"), 20]).integers(
        0, 20, size=(evaluate.N_BOOTSTRAP, 20))
    differences = good_correct[draws].mean(1) - poor_correct[draws].mean(1)
    observed = good_correct.mean() - poor_correct.mean()
    low, high = np.percentile(differences, [2.5, 97.5]) + observed - differences.mean()
    row = result.loc["NewsOutletClassification"]
    assert row["difference"] == pytest.approx(observed)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert row["verdict"] == ("A beats B" if low > 0 else "no measurable difference")


def test_compare_of_a_model_with_itself_is_exactly_zero(minilm_test):
    result = evaluate.compare(minilm_test, minilm_test)
    assert (result["difference"] == 0).all() and (result["ci_low"] == 0).all() and (result["ci_high"] == 0).all()
    assert (result["verdict"] == "no measurable difference").all()


def test_p_value_agrees_with_the_interval_and_never_reaches_zero():
    rng = np.random.default_rng(0)
    for centre in (0.0, 0.05, 0.1, 0.2, -0.15):
        values = rng.normal(centre, 0.06, evaluate.N_BOOTSTRAP)
        low, high = evaluate.interval(values, centre)
        p = evaluate.p_value(values, centre)
        assert (p < 0.05) == (low > 0 or high < 0) or abs(p - 0.05) < 0.01, (centre, p, low, high)
    assert evaluate.p_value(np.full(1000, 0.3), 0.3) == pytest.approx(1 / 1000)
    assert evaluate.p_value(np.zeros(1000), 0.0) == 1.0


def test_holm_by_hand_and_the_average_keeps_its_own_verdict():
    comparison = pd.DataFrame({"difference": [0.05, -0.04, 0.02, 0.01], "p_value": [0.01, 0.02, 0.03, 0.004],
                               "verdict": ["A beats B", "B beats A", "A beats B", "A beats B"]},
                              index=["t1", "t2", "t3", "average"])
    corrected = evaluate.holm(comparison)
    # sorted task p-values 0.01, 0.02, 0.03 times 3, 2, 1: 0.03, 0.04, 0.04 (each at least the one before)
    assert corrected["p_holm"].tolist() == pytest.approx([0.03, 0.04, 0.04, 0.004])
    assert corrected["verdict_holm"].tolist() == ["A beats B", "B beats A", "A beats B", "A beats B"]
    stricter = evaluate.holm(comparison.assign(p_value=[0.02, 0.02, 0.03, 0.004]))
    assert stricter["p_holm"].tolist() == pytest.approx([0.06, 0.06, 0.06, 0.004])
    assert stricter["verdict_holm"].tolist() == ["no measurable difference"] * 3 + ["A beats B"]
    with pytest.raises(ValueError, match="compare"):
        evaluate.holm(comparison.drop(columns="p_value"))


def test_holm_on_compare_never_adds_a_verdict(minilm_test):
    word2vec = AveragedWordEmbedder(trained_vectors("sgns", progress=False), "averaged Word2vec")
    corrected = evaluate.holm(evaluate.compare(minilm_test, word2vec))
    tasks = corrected.drop(index="average")
    assert (tasks["p_holm"] >= tasks["p_value"]).all()
    moved = tasks["verdict_holm"] != tasks["verdict"]
    assert (tasks.loc[moved, "verdict_holm"] == "no measurable difference").all()


def test_average_interval_reads_a_result_or_a_comparison(minilm_test):
    assert evaluate.average_interval(minilm_test) == {
        column: round(float(minilm_test.loc["average", column]), 4) for column in ("score", "ci_low", "ci_high")}
    assert evaluate.average_interval(evaluate.compare(minilm_test, minilm_test)) == {
        "difference": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_bad_arguments_get_clear_errors(minilm_test):
    with pytest.raises(TypeError, match="needs an Embedder"):
        evaluate.mini_mteb(load_minilm())
    with pytest.raises(ValueError, match="Unknown tasks"):
        evaluate.mini_mteb(minilm_embedder(), tasks=["MSMARCO"])
    with pytest.raises(ValueError, match="tasks is empty"):
        evaluate.mini_mteb(minilm_embedder(), tasks=[])
    with pytest.raises(ValueError, match="'dev'.*'test'"):
        evaluate.mini_mteb(minilm_embedder(), split="train")
    with pytest.raises(ValueError, match="not 'dev'"):
        evaluate.compare(minilm_test, minilm_test, split="dev")
    with pytest.raises(ValueError, match="no bootstrap values"):
        evaluate.compare(pd.DataFrame(), minilm_test)


def test_scoreboard_sorts_models_by_average(minilm_test):
    high = minilm_test.copy()
    high["score"] += 0.1
    board = evaluate.scoreboard({"low": minilm_test, "high": high})
    assert list(board.index) == ["high", "low"]
    assert list(board.columns) == [*evaluate.TASKS, "average", "average_low", "average_high"]


def test_a_missing_optional_package_names_its_pip_command(monkeypatch):
    import importlib
    import sys

    vectors = np.eye(3, dtype=np.float32)
    monkeypatch.setitem(sys.modules, "pytrec_eval", None)  # what Python records for a failed import
    with pytest.raises(ImportError, match="pip install pytrec-eval-terrier"):
        evaluate.retrieval_scores(vectors, vectors, [0, 1, 2])
    monkeypatch.setitem(sys.modules, "mteb.abstasks.classification", None)
    monkeypatch.delitem(sys.modules, "helpers.mteb_tasks", raising=False)
    with pytest.raises(ImportError, match="pip install mteb"):
        importlib.import_module("helpers.mteb_tasks")


def test_resamples_are_scored_at_once_as_one_at_a_time():
    rng = np.random.default_rng(0)
    labels, clusters = rng.integers(0, 4, 60), rng.integers(0, 5, 60)
    draws = rng.integers(0, 60, size=(7, 60))
    expected = [v_measure_score(labels[row], clusters[row]) for row in draws]
    assert evaluate.v_measure_rows(labels, clusters, draws) == pytest.approx(expected, abs=1e-12)
    x, y = rng.normal(size=(7, 30)), rng.normal(size=(7, 30))
    x[:, :3] = y[:, :3] = np.nan  # left out, as a document drawn twice is
    expected = [spearmanr(a[3:], b[3:]).statistic for a, b in zip(x, y, strict=True)]
    assert evaluate.spearman_rows(x, y) == pytest.approx(expected, abs=1e-12)


def test_subset_recomputes_the_average_over_its_tasks(minilm_test):
    from helpers.evaluate import subset, tasks_of_type

    tasks = tasks_of_type("classification")
    assert tasks == ["NewsOutletClassification", "HealthTweetClassification"]
    part = subset(minilm_test, tasks)
    assert list(part.index) == [*tasks, "average"]
    assert part.loc["average", "score"] == pytest.approx(minilm_test.loc[tasks, "score"].mean())
    draws = part.attrs["replicates"]["average"]
    assert np.allclose(draws, np.mean([minilm_test.attrs["replicates"][t] for t in tasks], axis=0))
    low, high = part.loc["average", ["ci_low", "ci_high"]]
    assert low < part.loc["average", "score"] < high and minilm_test.loc["average", "ci_low"] != low
    same = evaluate.compare(part, part)
    assert (same["difference"] == 0).all()  # paired through the same replicates
    stored = minilm_test[["type", "metric", "score", "ci_low", "ci_high"]].copy()  # as a result artifact keeps it
    stored.attrs = minilm_test.attrs
    assert subset(stored, tasks).loc["average", "score"] == part.loc["average", "score"]
    with pytest.raises(ValueError, match="No task is of type"):
        tasks_of_type("ranking")
    with pytest.raises(ValueError, match="no rows for"):
        subset(part, ["SimLexSTS"])


def test_long_article_task_holds_out_whole_articles_and_runs_by_name():
    assert "LongArticleRetrieval" in evaluate.EXTRA_TASKS and "LongArticleRetrieval" not in evaluate.TASKS
    training = [*data.training_news()["text"], *data.training_background()]
    for split, size in data.LONG_ARTICLE_SIZES.items():
        task = data.long_article_retrieval(split)
        assert len(task.queries) == len(task.corpus) == size and task.relevant == list(range(size))
        for query, document in zip(task.queries, task.corpus, strict=True):
            low, high = data.LONG_QUERY_WORDS
            assert low <= len(query.split()) <= high and query not in document
            assert len(document.split()) + len(query.split()) >= data.LONG_ARTICLE_WORDS
        assert not any(query in text for query in task.queries for text in training)
    dev, test = data.long_article_retrieval("dev"), data.long_article_retrieval("test")
    assert not set(dev.corpus) & set(test.corpus)
