"""Solutions to the exercises of notebook 06."""

import numpy as np


def span_mean(hidden, span_mask):
    weights = span_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1)


def triple_accuracy(q, p, n):
    return float(np.mean(np.sum(q * p, axis=1) > np.sum(q * n, axis=1)))


def bootstrap_ci(values, n_resamples, seed):
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return values.mean(), low, high
