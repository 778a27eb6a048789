"""Words per second of the from-scratch skip-gram trainer (notebook 01) against gensim, same corpus and settings.

Target: at least 0.3x gensim's words/s with two threads each, on 2 idle cores. The ratio moves with the machine's
load, so the notebook only prints it; this script is where the speed is checked.

    python scripts/benchmark_word2vec.py        (or: make bench)
"""

from __future__ import annotations

import time

from gensim.models import Word2Vec

from helpers import corpus, word2vec

SETTINGS = dict(dim=100, window=5, min_count=5, negative=5, sample=1e-3, epochs=5)
TARGET_RATIO = 0.3


def main(tokens: int = 600_000) -> int:
    documents = corpus.offline_corpus(max_tokens=tokens, sources=["gcide", "news"])
    n_tokens = corpus.count_tokens(documents)
    _, log = word2vec.train_sgns(documents, **SETTINGS, batch_size=2048, seed=42, threads=2, progress=False)
    start = time.perf_counter()
    Word2Vec(documents, vector_size=SETTINGS["dim"], window=SETTINGS["window"], min_count=SETTINGS["min_count"],
             negative=SETTINGS["negative"], sample=SETTINGS["sample"], epochs=SETTINGS["epochs"], sg=1, workers=2,
             seed=42)
    gensim_seconds = time.perf_counter() - start
    ours, theirs = n_tokens * SETTINGS["epochs"] / log.seconds, n_tokens * SETTINGS["epochs"] / gensim_seconds
    ratio = ours / theirs
    print(f"{n_tokens} tokens x {SETTINGS['epochs']} epochs: from scratch {ours:,.0f} words/s, gensim {theirs:,.0f} "
          f"words/s, ratio {ratio:.2f} (target {TARGET_RATIO})")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
