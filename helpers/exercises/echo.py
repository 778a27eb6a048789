"""Checks for the exercises of notebook 06 (echo embeddings)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.exercises import call, convert, not_done, report


def check_span_mean(span_mean) -> bool:
    """``span_mean(hidden, span_mask)``: the mean of the token states where ``span_mask`` is 1, per text."""
    if not_done(span_mean):
        return False
    torch.manual_seed(0)
    hidden = torch.randn(2, 6, 4)
    span = torch.tensor([[0, 0, 0, 1, 1, 0], [0, 1, 1, 1, 0, 0]])
    expected = torch.stack([hidden[0, 3:5].mean(0), hidden[1, 1:4].mean(0)])
    got, error = call(span_mean, hidden, span)
    if error:
        return report(False, f"span_mean {error}")
    if not isinstance(got, torch.Tensor) or got.shape != (2, 4):
        return report(False, "Return one vector per text: a tensor (batch, dim).")
    if torch.allclose(got, hidden.mean(1), atol=1e-6):
        return report(False, "That averages every token: weight each token by the span mask.")
    if not torch.allclose(got, expected, atol=1e-6):
        return report(False, "Sum hidden * span_mask[..., None] over tokens, divide by span_mask.sum(1, keepdim=True).")
    return report(True, "span_mean is right: only the second copy is pooled.")


def check_triple_accuracy(triple_accuracy) -> bool:
    """``triple_accuracy(q, p, n)`` on unit-length rows: the share of triples where cos(q, p) > cos(q, n)."""
    if not_done(triple_accuracy):
        return False
    rng = np.random.default_rng(0)
    q, p, n = (rng.normal(size=(40, 8)) for _ in range(3))
    p = q + 0.9 * p
    q, p, n = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (q, p, n))
    expected = float(np.mean(np.sum(q * p, 1) > np.sum(q * n, 1)))
    got, error = call(triple_accuracy, q, p, n)
    if error:
        return report(False, f"triple_accuracy {error}")
    if got is not None:
        got, problem = convert(got, float, "a number (the share of triples)")
        if problem:
            return report(False, problem)
    if got is None or abs(float(got) - expected) > 1e-9:
        if got is not None and abs(float(got) - (1 - expected)) < 1e-9:
            return report(False, "Inverted: a triple is right when the query is closer to the *positive*.")
        return report(False, f"Got {got}, expected {expected:.3f}: compare row-wise dot products q·p and q·n.")
    return report(True, f"triple_accuracy is right ({expected:.3f} here).")


def check_bootstrap_ci(bootstrap_ci) -> bool:
    """``bootstrap_ci(values, n_resamples, seed)`` -> (mean, low, high): a 95% percentile bootstrap interval."""
    if not_done(bootstrap_ci):
        return False
    from helpers.echo import bootstrap_ci as reference

    values = (np.random.default_rng(3).random(60) < 0.7).astype(float)
    got, error = call(bootstrap_ci, values, 4000, 0)
    if error:
        return report(False, f"bootstrap_ci {error}")
    try:  # not the learner's code but the shape of their answer, which gets its own hint
        mean, low, high = (float(v) for v in got)
    except (TypeError, ValueError):
        return report(False, "Return three numbers: (mean, low, high).")
    _, ref_low, ref_high = reference(values, 4000, seed=0)
    if abs(mean - values.mean()) > 1e-9:
        return report(False, "The first number is the plain mean of the values.")
    if not low <= mean <= high:
        return report(False, "The interval must contain the mean: low <= mean <= high.")
    if abs(low - ref_low) > 0.04 or abs(high - ref_high) > 0.04:
        return report(False, f"Interval [{low:.3f}, {high:.3f}], expected about [{ref_low:.3f}, {ref_high:.3f}]: "
                             "resample with replacement, take the 2.5th and 97.5th percentiles of the means.")
    return report(True, "bootstrap_ci is right: the interval comes from resampling the triples themselves.")
