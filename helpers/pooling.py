"""Pooling: from one vector per token to one vector per text (taught in notebooks 03 and 05).

Every function takes ``hidden`` (batch, tokens, dim) and ``mask`` (batch, tokens) with 1 on real tokens
and 0 on padding, and works the same whether the batch was padded on the left or on the right.
"""

from __future__ import annotations

import torch


def _check(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if hidden.dim() != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"Pooling needs hidden states (batch, tokens, dim) and a mask (batch, tokens); "
            f"got {tuple(hidden.shape)} and {tuple(mask.shape)}."
        )
    if (mask.sum(dim=1) == 0).any():
        raise ValueError("A row of the mask has no real token: every text needs at least one token.")
    return mask.to(hidden.dtype)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens' states (padding excluded)."""
    weights = _check(hidden, mask)
    return (hidden * weights.unsqueeze(-1)).sum(1) / weights.sum(1, keepdim=True)


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over the real tokens."""
    weights = _check(hidden, mask)
    return hidden.masked_fill(weights.unsqueeze(-1) == 0, torch.finfo(hidden.dtype).min).amax(1)


def first_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The first real token's state: BERT's [CLS] (found even under left padding)."""
    weights = _check(hidden, mask)
    first = weights.argmax(dim=1)  # argmax returns the first maximal position
    return hidden[torch.arange(hidden.shape[0]), first]


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The last real token's state: the one token a causal decoder lets see the whole text (E5-mistral)."""
    weights = _check(hidden, mask)
    positions = torch.arange(hidden.shape[1], device=hidden.device)
    last = (weights * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), last]


def weighted_mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SGPT's position-weighted mean: the k-th real token gets weight k, so later tokens (which have seen
    more of the text under a causal mask) count more."""
    weights = _check(hidden, mask)
    ranks = weights.cumsum(dim=1) * weights  # 1, 2, ... on real tokens, 0 on padding, either side
    return (hidden * ranks.unsqueeze(-1)).sum(1) / ranks.sum(1, keepdim=True)


POOLINGS = {
    "mean": mean_pool,
    "max": max_pool,
    "cls": first_token_pool,
    "last": last_token_pool,
    "weighted_mean": weighted_mean_pool,
}


def pool(hidden: torch.Tensor, mask: torch.Tensor, method: str) -> torch.Tensor:
    """Pool with a method named in :data:`POOLINGS`."""
    if method not in POOLINGS:
        raise ValueError(f"Unknown pooling {method!r}; choose one of {sorted(POOLINGS)}.")
    return POOLINGS[method](hidden, mask)
