"""Notebook 01's committed word vectors (helpers.trained_vectors): 8-bit storage, the scores their cards record,
gensim's stored answers."""

import numpy as np
import pytest

from helpers import artifacts, trained_vectors


def test_8_bit_rows_keep_the_cosines():
    rng = np.random.default_rng(0)
    vectors = (rng.normal(size=(200, 100)) * rng.uniform(0.1, 3, size=(200, 1))).astype(np.float32)
    codes, scales = trained_vectors.quantize_rows(vectors)
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127
    back = trained_vectors.dequantize_rows(codes, scales)
    assert (np.abs(back - vectors) <= scales[:, None] / 2 + 1e-6).all(), "at most half a step per value"

    def cosines(matrix):
        unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        return unit @ unit.T

    assert np.abs(cosines(back) - cosines(vectors)).max() < 0.01


@pytest.mark.parametrize("kind", ["sgns", "glove"])
def test_committed_vectors_score_what_their_card_says(kind):
    vectors = trained_vectors.trained_vectors(kind, progress=False)
    card = artifacts.read_card(trained_vectors.KINDS[kind])
    assert len(vectors.words) == card["scores"]["vocabulary"]
    scores = trained_vectors.scores_from_answers(trained_vectors.benchmark_answers(vectors))
    for name, score in scores.items():
        assert score == pytest.approx(card["scores"][f"stored_{name}"], abs=1e-9), name
        assert score == pytest.approx(card["scores"][name], abs=0.005), f"8-bit storage changed {name}"


def test_gensims_answers_score_what_its_card_says():
    card = artifacts.read_card("word2vec_gensim")
    scores = trained_vectors.scores_from_answers(trained_vectors.gensim_answers(progress=False))
    assert scores == pytest.approx({name: card["scores"][name] for name in scores}, abs=1e-9)


def test_unknown_kinds_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="gensim_answers"):
        trained_vectors.trained_vectors("gensim")
    with pytest.raises(ValueError, match="choose from"):
        trained_vectors.artifact_key("fasttext")
