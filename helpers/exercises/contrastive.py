"""Checks for the exercises of notebook 04 (contrastive learning).

Solutions: ``solutions/04_contrastive_learning.py``.

Each check feeds the learner's function real inputs (static MiniLM features of real training pairs from
:func:`helpers.contrastive.ict_training_pairs`) and compares it with the finished version in
:mod:`helpers.losses`.
"""

from __future__ import annotations

import functools

import torch

from helpers import contrastive, losses
from helpers.exercises import call, not_done, report


@functools.lru_cache(maxsize=1)
def _real_batch(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = contrastive.ict_training_pairs()
    features = contrastive.minilm_static_features()
    return features(pairs.queries[:size]), features([pairs.passages[p] for p in pairs.positive[:size]])


def check_info_nce(my_info_nce) -> bool:
    """``my_info_nce(queries, docs, temperature)`` must equal :func:`helpers.losses.info_nce` (to 1e-5)."""
    if not_done(my_info_nce):
        return False
    queries, docs = _real_batch()
    for temperature in (0.05, 0.5):
        value, error = call(my_info_nce, queries, docs, temperature)
        if error:
            return report(False, f"Your function {error}.")
        if not_done(value):
            return False
        expected = losses.info_nce(queries, docs, temperature)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            return report(False, "Return the loss as a one-element tensor (the mean over the batch).")
        if abs(value.item() - expected.item()) > 1e-5:
            return report(False, f"At temperature {temperature} you got {value.item():.5f}, expected "
                                 f"{expected.item():.5f}. Normalise the rows, divide the cosines by the temperature, "
                                 "and use the diagonal as the targets of the cross-entropy.")
    return report(True, "Your InfoNCE equals helpers.losses.info_nce (and so sentence-transformers' MNRL).")


def check_uniformity(my_uniformity) -> bool:
    """``my_uniformity(x, t)`` must equal :func:`helpers.losses.uniformity` (to 1e-5)."""
    if not_done(my_uniformity):
        return False
    _, docs = _real_batch()
    for t in (2.0, 1.0):
        value, error = call(my_uniformity, docs, t)
        if error:
            return report(False, f"Your function {error}.")
        if not_done(value):
            return False
        expected = losses.uniformity(docs, t)
        if not isinstance(value, torch.Tensor) or abs(value.item() - expected.item()) > 1e-5:
            got = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
            return report(False, f"With t = {t} you got {got}, expected {expected.item():.5f}. Normalise the rows, "
                                 "take squared distances of distinct pairs only (i < j), then log of the mean of "
                                 "exp(-t * distance²).")
    return report(True, "Your uniformity equals helpers.losses.uniformity (Wang & Isola's definition).")


def check_false_negative_mask(my_mask) -> bool:
    """``my_mask(doc_ids)`` must mark (i, j), j != i, where query i's positive document is also column j's."""
    if not_done(my_mask):
        return False
    doc_ids = torch.as_tensor(contrastive.ict_training_pairs().positive[:24])
    value, error = call(my_mask, doc_ids)
    if error:
        return report(False, f"Your function {error}.")
    if not_done(value):
        return False
    expected = doc_ids[None, :] == doc_ids[:, None]
    expected.fill_diagonal_(False)
    if not isinstance(value, torch.Tensor) or value.shape != expected.shape:
        return report(False, f"Return a boolean tensor of shape {tuple(expected.shape)}.")
    if not torch.equal(value.bool(), expected):
        return report(False, "Mark exactly the off-diagonal cells whose two doc ids are equal; leave the diagonal "
                             "(the true positive) unmarked.")
    found = int(expected.sum())
    return report(True, f"Right: {found} cells of this real batch hold a copy of a query's own passage among its "
                        "negatives: each one weakens the pull towards that passage (it never reverses it).")
