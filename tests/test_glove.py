import math

import numpy as np
import pytest
import torch

from helpers import data
from helpers.corpus import tokenize
from helpers.glove import cooccurrence_matrix, glove_loss, glove_weight, train_glove


def test_weighting_function():
    x = np.array([1.0, 50.0, 100.0, 400.0])
    expected = [0.01**0.75, 0.5**0.75, 1.0, 1.0]
    assert glove_weight(x) == pytest.approx(expected)
    assert torch.allclose(glove_weight(torch.tensor(x)), torch.tensor(expected, dtype=torch.float64))
    assert glove_weight(np.array([10.0]), x_max=10, alpha=0.5) == pytest.approx([1.0])


def test_cooccurrence_equals_a_plain_loop():
    rng = np.random.default_rng(0)
    ids, docs = rng.integers(0, 7, size=300), np.repeat([0, 1, 2], 100)
    window = 4
    expected = np.zeros((7, 7))
    for i in range(len(ids)):
        for j in range(i + 1, min(len(ids), i + window + 1)):
            if docs[i] == docs[j]:
                expected[ids[i], ids[j]] += 1 / (j - i)
                expected[ids[j], ids[i]] += 1 / (j - i)
    assert np.allclose(cooccurrence_matrix(ids, docs, 7, window).toarray(), expected)


def test_glove_loss_against_a_hand_computation():
    w, w_context = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]])
    b, b_context, count = torch.tensor([0.25]), torch.tensor([-0.5]), torch.tensor([20.0])
    # f(20) (1·0.5 + 2·(-1) + 0.25 - 0.5 - log 20)²
    by_hand = (20 / 100) ** 0.75 * (0.5 - 2 + 0.25 - 0.5 - math.log(20)) ** 2
    assert glove_loss(w, w_context, b, b_context, count).item() == pytest.approx(by_hand, rel=1e-6)


def test_training_lowers_the_loss_and_returns_word_vectors():
    documents = [tokenize(text) for text in data.load_lee_background()]
    vectors, log = train_glove(documents, dim=32, min_count=5, epochs=4, progress=False)
    assert vectors.vectors.shape[1] == 32 and np.isfinite(vectors.vectors).all()
    assert log.losses[-1] < 0.7 * log.losses[0]
    assert vectors.words[0] == "the"
