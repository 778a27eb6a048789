"""Checks for the exercises of notebook 05 (decoder LLMs as embedders)."""

from __future__ import annotations

import torch

from helpers.exercises import call, not_done, report


def check_weighted_mean_pool(weighted_mean_pool) -> bool:
    """``weighted_mean_pool(hidden, mask)``: SGPT's mean with weight k on the k-th real token, padding excluded."""
    if not_done(weighted_mean_pool):
        return False
    from helpers.pooling import mean_pool
    from helpers.pooling import weighted_mean_pool as reference

    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 4)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    for name, mask in (("right", right), ("left", right.flip(1))):
        got, error = call(weighted_mean_pool, hidden, mask)
        if error:
            return report(False, f"weighted_mean_pool {error}")
        if not isinstance(got, torch.Tensor) or got.shape != (3, 4):
            return report(False, "Return one vector per text: a tensor (batch, dim).")
        if torch.allclose(got, mean_pool(hidden, mask), atol=1e-6):
            return report(False, "That is the plain mean: give the k-th real token the weight k.")
        if not torch.allclose(got, reference(hidden, mask), atol=1e-6):
            return report(False, f"Wrong vectors with {name} padding: the weights are 1, 2, ... over the real tokens "
                                 "only (mask.cumsum(1) * mask), divided by their sum.")
    return report(True, "weighted_mean_pool is right: later tokens, which have read more, count more.")


def check_padding_only_bias(padding_only_bias) -> bool:
    """``padding_only_bias(attention_mask)``: the additive mask of bidirectional attention (notebook 07's step 1)."""
    if not_done(padding_only_bias):
        return False
    from helpers.decoder import attention_bias

    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    expected = (attention_bias(mask, bidirectional=True) == 0).expand(-1, 1, 4, -1)
    got, error = call(padding_only_bias, mask)
    if error:
        return report(False, f"padding_only_bias {error}")
    if not isinstance(got, torch.Tensor) or got.shape != (2, 1, 4, 4):
        return report(False, "Return a tensor (batch, 1, tokens, tokens): one row of key weights per query.")
    if ((got == 0) == (attention_bias(mask) == 0)).all():
        return report(False, "That is still the causal mask: drop the j <= i condition, keep the padding one.")
    if not ((got == 0) == expected).all():
        return report(False, "Wrong pattern: every query may read every real key, and no query reads a pad key.")
    if not (got[~expected] < -1e4).all():
        return report(False, "Blocked positions need a large negative value (e.g. torch.finfo(dtype).min).")
    return report(True, "padding_only_bias is right: this one change makes the decoder bidirectional.")


def check_last_token_pool(last_token_pool) -> bool:
    """``last_token_pool(hidden, mask)`` must pick the last real token, under right *and* left padding."""
    if not_done(last_token_pool):
        return False
    from helpers.pooling import last_token_pool as reference

    torch.manual_seed(1)
    hidden = torch.randn(3, 5, 4)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    for name, mask in (("right", right), ("left", right.flip(1))):
        got, error = call(last_token_pool, hidden, mask)
        if error:
            return report(False, f"last_token_pool {error}")
        if not isinstance(got, torch.Tensor) or not torch.equal(got, reference(hidden, mask)):
            hint = "hidden[:, -1] reads a pad token under right padding" if name == "right" else \
                "mask.sum(1) - 1 is not the last position under left padding"
            return report(False, f"Wrong vectors with {name} padding: {hint}. Find the last position where mask is 1.")
    return report(True, "last_token_pool is right under both padding sides.")
