"""Train notebook 01's word vectors on the whole offline corpus and commit them (seeded; ≈ 11 min on 2 cores).

    python scripts/train_word_vectors.py                 # all three: sgns, gensim, glove
    python scripts/train_word_vectors.py sgns glove      # some of them

The recipe is ``helpers.trained_vectors.RECIPE``: ≈ 5.8M tokens of speeches, dictionary and news (the benchmark's
texts held out), gensim's skip-gram defaults for our trainer and for gensim's, GloVe with glove.c's AdaGrad.
Each artifact's card records the key, the seconds, the loss curve and the scores: WordSim-353, SimLex-999 and
Google-analogy accuracy, for our tables both before and after 8-bit storage.
"""

from __future__ import annotations

import argparse
import time

from helpers import artifacts, trained_vectors, word_vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="*", help=f"some of {list(trained_vectors.KINDS)} (default: all)")
    kinds = parser.parse_args().kinds or list(trained_vectors.KINDS)
    if unknown := set(kinds) - set(trained_vectors.KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}: choose from {list(trained_vectors.KINDS)}")
    documents = trained_vectors.training_documents()
    print(f"{len(documents):,} documents, {sum(map(len, documents)):,} tokens")
    # every key now, from the code that runs: a file edited while an earlier kind trains must not change a later key
    keys = {kind: trained_vectors.artifact_key(kind, documents) for kind in kinds}
    for kind in kinds:
        key = keys[kind]
        start = time.perf_counter()
        vectors, log = trained_vectors.train(kind, documents)
        seconds = time.perf_counter() - start
        answers = trained_vectors.benchmark_answers(vectors)
        scores = {"vocabulary": len(vectors.words), **trained_vectors.scores_from_answers(answers)}
        if kind == "gensim":
            value, history = {"answers": answers}, {}
        else:
            value, history = {"words": vectors.words, "vectors": vectors.vectors, "losses": log.losses}, \
                             {"steps": log.steps, "losses": log.losses}
            stored = word_vectors.WordVectors(vectors.words, trained_vectors.dequantize_rows(
                *trained_vectors.quantize_rows(vectors.vectors)))
            scores |= {f"stored_{name}": score for name, score in
                       trained_vectors.scores_from_answers(trained_vectors.benchmark_answers(stored)).items()}
        path = artifacts.save(trained_vectors.KINDS[kind], key, value, trained_vectors.save_files,
                              trained_vectors.SCRIPT + f" {kind}", seconds, history=history, scores=scores)
        print(f"{path}: {kind} in {seconds / 60:.1f} min: "
              + ", ".join(f"{name} {score:.3f}" for name, score in scores.items()))


if __name__ == "__main__":
    main()
