import pytest
import torch
from sentence_transformers import losses as st_losses

from helpers.losses import info_nce


class _Identity(torch.nn.Module):
    """Stands in for a SentenceTransformer so that MNRL sees our embeddings unchanged."""

    def forward(self, features):
        return {"sentence_embedding": features["x"]}


def _mnrl(*columns):
    loss = st_losses.MultipleNegativesRankingLoss(_Identity(), scale=20.0)
    return loss([{"x": c} for c in columns], labels=None)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_info_nce_equals_multiple_negatives_ranking_loss(k):
    torch.manual_seed(0)
    q, d = torch.randn(8, 16), torch.randn(8, 16)
    negatives = [torch.randn(8, 16) for _ in range(k)]
    hard = None if k == 0 else (negatives[0] if k == 1 else torch.stack(negatives, dim=1))
    ours = info_nce(q, d, temperature=0.05, hard_negatives=hard)
    theirs = _mnrl(q, d, *negatives)
    assert torch.allclose(ours, theirs, atol=1e-6), (ours.item(), theirs.item())


def test_info_nce_rejects_bad_shapes():
    with pytest.raises(ValueError, match="batch, dim"):
        info_nce(torch.randn(4, 8), torch.randn(5, 8))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(4, 8), torch.randn(4, 8), temperature=0)
