import math

import numpy as np
import pytest
import torch

from helpers import data
from helpers.corpus import tokenize
from helpers.glove import (
    cooccurrence_matrix,
    glove_adagrad_step,
    glove_gradients,
    glove_loss,
    glove_weight,
    train_glove,
)


def test_weighting_function():
    x = np.array([1.0, 50.0, 100.0, 400.0])
    expected = [0.01**0.75, 0.5**0.75, 1.0, 1.0]
    assert glove_weight(x, x_max=100) == pytest.approx(expected)
    assert torch.allclose(glove_weight(torch.tensor(x), x_max=100), torch.tensor(expected, dtype=torch.float64))
    assert glove_weight(np.array([1.0, 5.0, 10.0, 20.0])) == pytest.approx([0.1**0.75, 0.5**0.75, 1.0, 1.0])  # x_max=10
    assert glove_weight(np.array([10.0]), x_max=10, alpha=0.5) == pytest.approx([1.0])


def test_cooccurrence_by_hand():
    # "a b c a" (ids 0 1 2 0), window 2: a-b at distance 1 and 2 (1 + 1/2), a-c at 2 and 1 (1/2 + 1), b-c at 1;
    # the two a's are 3 apart, outside the window. A second document "c c" adds c-c at distance 1, both ways.
    matrix = cooccurrence_matrix(np.array([0, 1, 2, 0, 2, 2]), np.array([0, 0, 0, 0, 1, 1]), 3, window=2).toarray()
    assert np.allclose(matrix, [[0, 1.5, 1.5], [1.5, 0, 1], [1.5, 1, 2]])


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
    # f(20) (1·0.5 + 2·(-1) + 0.25 - 0.5 - log 20)², with x_max = 100 and with the default x_max = 10 (f = 1)
    error = 0.5 - 2 + 0.25 - 0.5 - math.log(20)
    by_hand = (20 / 100) ** 0.75 * error**2
    assert glove_loss(w, w_context, b, b_context, count, x_max=100).item() == pytest.approx(by_hand, rel=1e-6)
    assert glove_loss(w, w_context, b, b_context, count).item() == pytest.approx(error**2, rel=1e-6)


def test_hand_gradients_equal_autograd_of_half_the_loss():
    torch.manual_seed(0)
    w, w_context = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4, requires_grad=True)
    b, b_context = torch.randn(6, requires_grad=True), torch.randn(6, requires_grad=True)
    counts = torch.tensor([0.2, 1.0, 3.0, 9.0, 10.0, 50.0])
    (0.5 * glove_loss(w, w_context, b, b_context, counts)).sum().backward()
    losses, grad_w, grad_context, grad_b = glove_gradients(w.detach(), w_context.detach(), b.detach(),
                                                           b_context.detach(), counts)
    assert torch.allclose(losses, glove_loss(w, w_context, b, b_context, counts).detach(), atol=1e-6)
    for ours, theirs in [(grad_w, w.grad), (grad_context, w_context.grad), (grad_b, b.grad), (grad_b, b_context.grad)]:
        assert torch.allclose(ours, theirs, atol=1e-5)


def glove_c_update(params, squares, i, j, x, eta=0.05, x_max=10.0, alpha=0.75):
    """glove.c's inner loop (glove.c, train_thread, version 1.2), one entry, transliterated to numpy."""
    W, C, b, c = params
    GW, GC, Gb, Gc = squares
    diff = W[i] @ C[j] + b[i] + c[j] - math.log(x)
    fdiff = diff if x > x_max else (x / x_max) ** alpha * diff
    cost = 0.5 * fdiff * diff
    fdiff *= eta
    temp1, temp2 = fdiff * C[j], fdiff * W[i]
    update1, update2 = temp1 / np.sqrt(GW[i]), temp2 / np.sqrt(GC[j])
    GW[i] += temp1 * temp1
    GC[j] += temp2 * temp2
    W[i] -= update1
    C[j] -= update2
    b[i] -= fdiff / math.sqrt(Gb[i])
    c[j] -= fdiff / math.sqrt(Gc[j])
    Gb[i] += fdiff * fdiff
    Gc[j] += fdiff * fdiff
    return cost


def test_adagrad_step_equals_glove_c():
    rng = np.random.default_rng(0)
    size, dim = 5, 3
    params = [rng.uniform(-0.5, 0.5, (size, dim)), rng.uniform(-0.5, 0.5, (size, dim)),
              rng.uniform(-0.5, 0.5, size), rng.uniform(-0.5, 0.5, size)]
    squares = [np.ones_like(p) for p in params]
    tables = [torch.tensor(p) for p in params]  # float64 copies
    accumulators = [torch.ones_like(t) for t in tables]
    entries = [(0, 1, 3.0), (1, 0, 3.0), (2, 2, 0.5), (0, 3, 25.0), (0, 1, 3.0), (4, 0, 0.25)]  # repeats: G grows
    for i, j, x in entries:  # batches of one entry are glove.c's sequential updates
        cost = glove_c_update(params, squares, i, j, x)
        losses = glove_adagrad_step(tables, accumulators, torch.tensor([i]), torch.tensor([j]),
                                    torch.tensor([x], dtype=torch.float64))
        assert losses.item() == pytest.approx(2 * cost, rel=1e-12)  # our loss is the paper's J, glove.c prints J/2
    for ours, theirs in zip(tables + accumulators, params + squares, strict=True):
        assert np.allclose(ours.numpy(), theirs, rtol=1e-12, atol=1e-15)
    # entries that share no row give the same result in one batch as one by one
    batch = [(0, 1, 2.0), (1, 2, 7.0), (3, 4, 0.5)]
    before = [t.clone() for t in tables], [a.clone() for a in accumulators]
    for i, j, x in batch:
        glove_adagrad_step(tables, accumulators, torch.tensor([i]), torch.tensor([j]),
                           torch.tensor([x], dtype=torch.float64))
    rows, columns, counts = (torch.tensor(column) for column in zip(*batch, strict=True))
    glove_adagrad_step(*before, rows, columns, counts.double())
    for ours, theirs in zip(before[0] + before[1], tables + accumulators, strict=True):
        assert torch.allclose(ours, theirs, rtol=1e-12)


def test_training_lowers_the_loss_and_returns_word_vectors():
    documents = [tokenize(text) for text in data.load_lee_background()]
    vectors, log = train_glove(documents, dim=32, min_count=5, epochs=4, progress=False)
    assert vectors.vectors.shape[1] == 32 and np.isfinite(vectors.vectors).all()
    assert log.losses[-1] < 0.7 * log.losses[0]
    assert vectors.words[0] == "the"


def test_notebook_01s_glove_loss_equals_helpers(notebook_definitions):
    notebook = notebook_definitions("01_word2vec")
    torch.manual_seed(0)
    w, w_context, b, b_context = torch.randn(4, 5), torch.randn(4, 5), torch.randn(4), torch.randn(4)
    counts = torch.tensor([0.5, 3.0, 12.0, 150.0])
    for x_max in (10.0, 100.0):
        assert torch.allclose(notebook.glove_weight(counts, x_max), glove_weight(counts, x_max))
        assert torch.allclose(notebook.glove_loss(w, w_context, b, b_context, counts, x_max),
                              glove_loss(w, w_context, b, b_context, counts, x_max))
