"""A mini-MTEB that runs offline on 2 CPU cores (taught in notebook 00).

Four task types, scored the way the ``mteb`` package scores them (a test runs ``mteb`` itself on the
same data and checks the numbers agree):

* STS: cosine similarity of the two texts, Spearman correlation with the human scores;
* retrieval: rank the corpus by cosine; nDCG@10 (main), MRR@10 and Recall@10 from ``pytrec_eval``;
* classification: logistic regression on frozen embeddings, accuracy on held-out texts;
* clustering: mini-batch k-means with k = number of labels, V-measure.

:func:`mini_mteb` runs the offline suite; :func:`leaderboard` puts several models side by side.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.cluster import MiniBatchKMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, v_measure_score
from sklearn.metrics.pairwise import paired_cosine_distances
from sklearn.model_selection import train_test_split

from helpers import data
from helpers.embed import Embedder

SEED = 42


def _check_pairs(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"Expected two (n, dim) arrays of the same shape, got {a.shape} and {b.shape}.")


def sts_scores(embeddings_a: np.ndarray, embeddings_b: np.ndarray, gold) -> dict[str, float]:
    """Spearman (MTEB's main score) and Pearson correlation of pair cosines with human scores."""
    _check_pairs(embeddings_a, embeddings_b)
    cosine = 1 - paired_cosine_distances(embeddings_a, embeddings_b)
    return {"spearman": float(spearmanr(cosine, gold).statistic), "pearson": float(pearsonr(cosine, gold).statistic)}


def retrieval_scores(query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, relevant, k: int = 10) -> dict:
    """nDCG@k, MRR@k and Recall@k with ``pytrec_eval``, ranking the corpus by cosine similarity."""
    import pytrec_eval

    if query_embeddings.shape[1] != corpus_embeddings.shape[1]:
        raise ValueError(f"Query and corpus dimensions differ: {query_embeddings.shape} vs {corpus_embeddings.shape}.")
    scores = query_embeddings @ corpus_embeddings.T
    qrels = {f"q{q}": {f"d{d}": 1} for q, d in enumerate(relevant)}
    run, run_top_k = {}, {}
    for q, row in enumerate(scores):
        ranking = np.argsort(-row, kind="stable")
        run[f"q{q}"] = {f"d{d}": float(row[d]) for d in ranking}
        run_top_k[f"q{q}"] = {f"d{d}": float(row[d]) for d in ranking[:k]}
    full = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{k}", f"recall.{k}"}).evaluate(run)
    top = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run_top_k)
    return {
        f"ndcg@{k}": float(np.mean([v[f"ndcg_cut_{k}"] for v in full.values()])),
        f"mrr@{k}": float(np.mean([v["recip_rank"] for v in top.values()])),
        f"recall@{k}": float(np.mean([v[f"recall_{k}"] for v in full.values()])),
    }


def classification_accuracy(train_x: np.ndarray, train_y, test_x: np.ndarray, test_y) -> dict[str, float]:
    """Accuracy of MTEB's classifier, ``LogisticRegression(max_iter=100, random_state=42)``, on embeddings."""
    classifier = LogisticRegression(max_iter=100, random_state=SEED).fit(train_x, train_y)
    return {"accuracy": float(accuracy_score(test_y, classifier.predict(test_x)))}


def clustering_v_measure(embeddings: np.ndarray, labels) -> dict[str, float]:
    """V-measure of mini-batch k-means (k = number of labels), configured as MTEB's clustering evaluator."""
    kmeans = MiniBatchKMeans(n_clusters=len(set(labels)), batch_size=500, n_init="auto", random_state=SEED)
    return {"v_measure": float(v_measure_score(labels, kmeans.fit_predict(embeddings)))}


# The offline suite. Each task encodes every distinct text once.


def eval_lee(embedder: Embedder, batch_size: int = 16) -> dict[str, float]:
    """STS on the 50 Lee news documents: 1,225 pairs against mean human similarity."""
    lee = data.load_lee()
    vectors = embedder.encode(lee.documents, batch_size=batch_size)
    i, j, gold = lee.pairs()
    return sts_scores(vectors[i], vectors[j], gold)


def eval_inverse_cloze(embedder: Embedder, batch_size: int = 16) -> dict[str, float]:
    """Retrieval: find the Lee background passage a sentence was taken from, among 120 passages."""
    task = data.inverse_cloze_task()
    return retrieval_scores(embedder.encode(task.queries, batch_size=batch_size),
                            embedder.encode(task.corpus, batch_size=batch_size), task.relevant)


def sentiment_split(seed: int = SEED):
    """The fixed, stratified half/half train/test split of the 200 labelled movie-review sentences."""
    frame = data.load_sentiment()
    return train_test_split(frame["text"].tolist(), frame["label"].to_numpy(), test_size=0.5,
                            stratify=frame["label"], random_state=seed)


def eval_sentiment(embedder: Embedder, batch_size: int = 32) -> dict[str, float]:
    """Classification: positive vs negative movie-review sentences (100 train, 100 test)."""
    train_texts, test_texts, train_y, test_y = sentiment_split()
    vectors = embedder.encode(train_texts + test_texts, batch_size=batch_size)
    return classification_accuracy(vectors[: len(train_texts)], train_y, vectors[len(train_texts):], test_y)


def eval_newsgroups(embedder: Embedder, batch_size: int = 32) -> dict[str, float]:
    """Clustering: 200 Usenet posts from alt.atheism and sci.space, headers removed."""
    frame = data.load_newsgroups()
    return clustering_v_measure(embedder.encode(frame["text"].tolist(), batch_size=batch_size), frame["label"].tolist())


# name: (task type, main metric, function)
TASKS = {
    "LeeDocSTS": ("STS", "spearman", eval_lee),
    "LeeInverseCloze": ("retrieval", "ndcg@10", eval_inverse_cloze),
    "MovieSentiment": ("classification", "accuracy", eval_sentiment),
    "NewsgroupClustering": ("clustering", "v_measure", eval_newsgroups),
}


def mini_mteb(embedder: Embedder, tasks: list[str] | None = None) -> pd.DataFrame:
    """Run the offline suite; one row per task (type, main metric, score, all metrics, seconds) plus
    an ``average`` row of the main scores."""
    if not isinstance(embedder, Embedder):
        raise TypeError(f"mini_mteb needs an Embedder (see helpers.embed), got {type(embedder).__name__}.")
    names = list(TASKS) if tasks is None else tasks
    unknown = sorted(set(names) - set(TASKS))
    if unknown:
        raise ValueError(f"Unknown tasks {unknown}; choose from {list(TASKS)}.")
    rows = []
    for name in names:
        task_type, main, run = TASKS[name]
        start = time.perf_counter()
        metrics = run(embedder)
        rows.append({"task": name, "type": task_type, "metric": main, "score": metrics[main],
                     "metrics": metrics, "seconds": time.perf_counter() - start})
    frame = pd.DataFrame(rows).set_index("task")
    frame.loc["average"] = {"type": "", "metric": "mean of main scores", "score": frame["score"].mean(),
                            "metrics": {}, "seconds": frame["seconds"].sum()}
    frame.attrs["model"] = embedder.name
    return frame


def leaderboard(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Side-by-side main scores: one row per model, one column per task, plus the average, best first."""
    table = pd.DataFrame({model: frame["score"] for model, frame in results.items()}).T
    return table.sort_values("average", ascending=False).round(4)
