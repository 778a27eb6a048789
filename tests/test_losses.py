import math

import numpy as np
import pytest
import torch
from sentence_transformers.sentence_transformer import losses as st_losses

from helpers.losses import (
    alignment,
    deduplicated_info_nce,
    info_nce,
    matryoshka_loss,
    symmetric_info_nce,
    uniformity,
)


class _Identity(torch.nn.Module):
    """Stands in for a SentenceTransformer so that the reference losses see our embeddings unchanged."""

    def forward(self, features):
        return {"sentence_embedding": features["x"]}

    def get_embedding_dimension(self):
        return 16


def _reference(loss, *columns):
    return loss([{"x": c} for c in columns], labels=None)


def _batch(k, seed=0):
    torch.manual_seed(seed)
    q, d = torch.randn(8, 16), torch.randn(8, 16)
    negatives = [torch.randn(8, 16) for _ in range(k)]
    hard = None if k == 0 else (negatives[0] if k == 1 else torch.stack(negatives, dim=1))
    return q, d, negatives, hard


@pytest.mark.parametrize("k", [0, 1, 3])
def test_info_nce_equals_multiple_negatives_ranking_loss(k):
    q, d, negatives, hard = _batch(k)
    ours = info_nce(q, d, temperature=0.05, hard_negatives=hard)
    theirs = _reference(st_losses.MultipleNegativesRankingLoss(_Identity(), scale=20.0), q, d, *negatives)
    assert torch.allclose(ours, theirs, atol=1e-6), (ours.item(), theirs.item())


@pytest.mark.parametrize("k", [0, 1, 2])
def test_symmetric_info_nce_equals_symmetric_ranking_loss(k):
    q, d, negatives, hard = _batch(k, seed=1)
    ours = symmetric_info_nce(q, d, temperature=0.05, hard_negatives=hard)
    symmetric = st_losses.MultipleNegativesRankingLoss(_Identity(), scale=20.0, partition_mode="per_direction",
                                                       directions=("query_to_doc", "doc_to_query"))
    theirs = _reference(symmetric, q, d, *negatives)
    assert torch.allclose(ours, theirs, atol=1e-6), (ours.item(), theirs.item())


def test_matryoshka_loss_equals_sentence_transformers():
    q, d, negatives, hard = _batch(1, seed=2)
    dims = [4, 8, 16]
    model = _Identity()
    reference = st_losses.MatryoshkaLoss(model, st_losses.MultipleNegativesRankingLoss(model), dims, [1, 0.5, 2])
    ours = matryoshka_loss(q, d, dims, weights=[1, 0.5, 2], hard_negatives=hard)
    assert torch.allclose(ours, _reference(reference, q, d, *negatives), atol=1e-5)
    with pytest.raises(ValueError, match="dimension"):
        matryoshka_loss(q, d, [32])


def test_deduplicated_info_nce_masks_copies_of_the_positive():
    q, d, _, hard = _batch(2, seed=3)
    distinct = torch.arange(8)
    hard_ids = torch.arange(8, 24).reshape(8, 2)
    assert torch.allclose(deduplicated_info_nce(q, d, distinct), info_nce(q, d), atol=1e-6)
    assert torch.allclose(deduplicated_info_nce(q, d, distinct, hard_negatives=hard, hard_negative_ids=hard_ids),
                          info_nce(q, d, hard_negatives=hard), atol=1e-6)
    # Query 1 shares its document with query 0: with identical copies, the plain loss of rows 0 and 1 cannot go
    # below log 2; the masked loss drops the copy and equals the loss of a batch without it.
    d[1] = d[0]
    ids = torch.tensor([0, 0, 2, 3, 4, 5, 6, 7])
    logits = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T / 0.05
    plain_rows = torch.nn.functional.cross_entropy(logits, torch.arange(8), reduction="none")
    assert plain_rows[:2].min() >= math.log(2) - 1e-5
    masked = deduplicated_info_nce(q, d, ids)
    manual = logits.clone()
    manual[0, 1] = manual[1, 0] = float("-inf")
    assert torch.allclose(masked, torch.nn.functional.cross_entropy(manual, torch.arange(8)), atol=1e-6)
    assert masked < info_nce(q, d)
    # A mined negative that is another query's positive is masked too.
    hard_ids[2, 0] = 0
    with_hard = deduplicated_info_nce(q, d, ids, hard_negatives=hard, hard_negative_ids=hard_ids)
    assert with_hard < deduplicated_info_nce(q, d, ids, hard_negatives=hard, hard_negative_ids=hard_ids + 100)
    with pytest.raises(ValueError, match="together"):
        deduplicated_info_nce(q, d, ids, hard_negatives=hard)


def test_alignment_and_uniformity_match_wang_and_isola():
    torch.manual_seed(4)
    x, y = torch.randn(20, 8), torch.randn(20, 8)
    xn, yn = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (x.double().numpy(), y.double().numpy()))
    expected_alignment = np.mean(np.sum((xn - yn) ** 2, axis=1))
    i, j = np.triu_indices(20, k=1)
    expected_uniformity = np.log(np.mean(np.exp(-2 * np.sum((xn[i] - xn[j]) ** 2, axis=1))))
    assert abs(alignment(x, y).item() - expected_alignment) < 1e-5
    assert abs(uniformity(x).item() - expected_uniformity) < 1e-5
    assert alignment(x, x).item() < 1e-6
    with pytest.raises(ValueError, match="n >= 2"):
        uniformity(x[:1])


def test_info_nce_rejects_bad_shapes():
    with pytest.raises(ValueError, match="batch, dim"):
        info_nce(torch.randn(4, 8), torch.randn(5, 8))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(4, 8), torch.randn(4, 8), temperature=0)
