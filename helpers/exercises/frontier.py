"""Checks for the exercises of notebook 10 (frontier architectures)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.exercises import call, not_done, report


def check_latent_attention(attend) -> bool:
    """``attend(hidden, latents)``: one head, no projections: every token state (batch, tokens, dim) attends to the
    latents (n_latents, dim) as keys and values; softmax of scaled dot products; returns (batch, tokens, dim)."""
    if not_done(attend):
        return False
    torch.manual_seed(0)
    hidden, latents = torch.randn(2, 5, 8), torch.randn(3, 8)
    expected = (hidden @ latents.T / 8**0.5).softmax(-1) @ latents
    got, error = call(attend, hidden, latents)
    if error:
        return report(False, f"attend {error}")
    if not isinstance(got, torch.Tensor) or got.shape != hidden.shape:
        return report(False, f"Return one vector per token: shape {tuple(hidden.shape)}.")
    if torch.allclose(got, (hidden @ latents.T).softmax(-1) @ latents, atol=1e-5):
        return report(False, "Almost: divide the dot products by sqrt(dim) before the softmax.")
    if torch.allclose(got, (hidden @ latents.T / 8**0.5).softmax(-2) @ latents, atol=1e-5):
        return report(False, "The softmax runs over the latents (the last axis), not over the tokens.")
    if not torch.allclose(got, expected, atol=1e-5):
        return report(False, "Scores = hidden @ latents.T / sqrt(dim); weights = softmax over latents; "
                             "output = weights @ latents.")
    return report(True, "attend is right: tokens ask, the latent array answers.")


def check_positive_aware_filter(keep_negatives) -> bool:
    """``keep_negatives(negative_scores, positive_score, max_ratio)`` -> boolean array: True for the candidate
    negatives whose teacher score is at most ``max_ratio`` times the positive's score."""
    if not_done(keep_negatives):
        return False
    scores, positive = np.array([0.91, 0.70, 0.86, 0.95, 0.40]), 0.92
    expected = scores <= 0.95 * positive
    got, error = call(keep_negatives, scores, positive, 0.95)
    if error:
        return report(False, f"keep_negatives {error}")
    got = np.asarray(got)
    if got.shape != scores.shape or got.dtype != bool:
        return report(False, "Return one True/False per candidate (a boolean array of the same length).")
    if np.array_equal(got, ~expected):
        return report(False, "Inverted: keep the candidates scoring *below* the threshold, drop the near-positives.")
    if np.array_equal(got, scores <= positive):
        return report(False, "The threshold is max_ratio x the positive's score, not the positive's score itself.")
    if not np.array_equal(got, expected):
        return report(False, f"Expected {expected.tolist()}: keep a candidate when score <= max_ratio * positive.")
    return report(True, "keep_negatives is right: near-duplicates of the positive are no longer pushed away.")
