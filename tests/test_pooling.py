import pytest
import torch

from helpers.pooling import POOLINGS, pool


def _padded(hidden, side, pad=3):
    """The same sequence padded with `pad` junk positions on the left or right."""
    junk = torch.full((1, pad, hidden.shape[-1]), 99.0)
    mask = torch.ones(1, hidden.shape[1] + pad, dtype=torch.long)
    if side == "left":
        mask[:, :pad] = 0
        return torch.cat([junk, hidden], 1), mask
    mask[:, -pad:] = 0
    return torch.cat([hidden, junk], 1), mask


@pytest.mark.parametrize("method", sorted(POOLINGS))
def test_padding_side_does_not_change_the_vector(method):
    torch.manual_seed(0)
    hidden = torch.randn(1, 5, 8)
    unpadded = pool(hidden, torch.ones(1, 5), method)
    for side in ("left", "right"):
        assert torch.allclose(pool(*_padded(hidden, side), method), unpadded, atol=1e-6)


def test_pooling_values_by_hand():
    hidden = torch.tensor([[[1.0], [2.0], [6.0], [0.0]]])
    mask = torch.tensor([[1, 1, 1, 0]])
    assert pool(hidden, mask, "mean").item() == pytest.approx(3.0)
    assert pool(hidden, mask, "max").item() == 6.0
    assert pool(hidden, mask, "cls").item() == 1.0
    assert pool(hidden, mask, "last").item() == 6.0
    assert pool(hidden, mask, "weighted_mean").item() == pytest.approx((1 * 1 + 2 * 2 + 3 * 6) / 6)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown pooling"):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2), "median")
    with pytest.raises(ValueError, match="batch, tokens, dim"):
        pool(torch.zeros(2, 3), torch.ones(2, 3), "mean")
    with pytest.raises(ValueError, match="no real token"):
        pool(torch.zeros(1, 2, 3), torch.zeros(1, 2), "mean")
