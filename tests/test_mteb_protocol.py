"""The mteb package itself, run offline on the same local data, gives the scores helpers.evaluate gives, for every
task of the benchmark (test split)."""

import mteb
import numpy as np
import pytest

from helpers import data, evaluate
from helpers.embed import minilm_embedder
from helpers.models import load_minilm
from helpers.mteb_tasks import N_LEE, lee_pairs, mteb_tasks

SPLIT = "test"


@pytest.fixture(scope="module")
def mteb_scores():
    tasks = mteb_tasks(SPLIT)
    results = mteb.evaluate(load_minilm(), list(tasks.values()), cache=None)
    by_name = {result.task_name: result.scores[SPLIT][0] for result in results.task_results}
    return {name: by_name[task.metadata.name] for name, task in tasks.items()}


def test_every_task_is_checked(mteb_scores):
    assert set(mteb_scores) == set(evaluate.TASKS)


def test_sts_matches_mteb(mteb_scores):
    embedder = minilm_embedder()
    pairs = lee_pairs(SPLIT)
    lee = data.lee_sts(SPLIT)
    vectors = embedder.encode(lee.documents[:N_LEE])
    i, j = np.triu_indices(N_LEE, k=1)
    ours = evaluate.sts_scores(vectors[i], vectors[j], pairs["score"])
    assert ours["spearman"] == pytest.approx(mteb_scores["LeeDocSTS"]["cosine_spearman"], abs=1e-4)
    assert ours["pearson"] == pytest.approx(mteb_scores["LeeDocSTS"]["cosine_pearson"], abs=1e-4)
    simlex = evaluate.eval_simlex(embedder, SPLIT).metrics
    assert simlex["spearman"] == pytest.approx(mteb_scores["SimLexSTS"]["cosine_spearman"], abs=1e-4)


@pytest.mark.parametrize("task", ["NewsHeadlineRetrieval", "NewsInverseCloze", "DictionaryRetrieval"])
def test_retrieval_matches_mteb(mteb_scores, task):
    ours = evaluate.TASKS[task][2](minilm_embedder(), SPLIT).metrics
    theirs = mteb_scores[task]
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg_at_10"], abs=1e-4)
    assert ours["mrr@10"] == pytest.approx(theirs["mrr_at_10"], abs=1e-4)
    assert ours["recall@10"] == pytest.approx(theirs["recall_at_10"], abs=1e-4)


@pytest.mark.parametrize("task", ["NewsOutletClassification", "HealthTweetClassification"])
def test_classification_matches_mteb(mteb_scores, task):
    ours = evaluate.TASKS[task][2](minilm_embedder(), SPLIT).metrics
    assert ours["accuracy"] == pytest.approx(mteb_scores[task]["accuracy"], abs=1e-9)


@pytest.mark.parametrize("task, build", [("NewsRegionClustering", data.news_region_clustering),
                                         ("HealthTweetClustering", data.health_tweet_clustering)])
def test_clustering_matches_mteb(mteb_scores, task, build):
    # mteb's legacy clustering is one k-means run with seed 42; ours averages that same run over seeds 0-9.
    clusters = build(SPLIT)
    vectors = minilm_embedder().encode(clusters.texts)
    one_run = evaluate.clustering_v_measure(vectors, clusters.labels, seed=42)
    assert one_run["v_measure"] == pytest.approx(mteb_scores[task]["v_measure"], abs=1e-6)
    runs = [evaluate.clustering_v_measure(vectors, clusters.labels, seed=seed)["v_measure"]
            for seed in range(evaluate.KMEANS_RESTARTS)]
    assert evaluate.clustering_task_score(vectors, clusters.labels).metrics["v_measure"] == pytest.approx(np.mean(runs))
