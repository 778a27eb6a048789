"""Checks for the exercises of notebook 07 (LLM2Vec)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers.exercises import call, not_done, report


def check_mntp_cross_entropy(mntp_cross_entropy) -> bool:
    """``mntp_cross_entropy(logits, targets)``: token i (target != -100) predicted from the logits at i - 1."""
    if not_done(mntp_cross_entropy):
        return False
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    targets = torch.full((2, 6), -100)
    targets[0, 2], targets[0, 5], targets[1, 1] = 3, 7, 9
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 11), targets[:, 1:].reshape(-1), ignore_index=-100)
    unshifted = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), ignore_index=-100)
    got, error = call(mntp_cross_entropy, logits, targets)
    if error:
        return report(False, f"mntp_cross_entropy {error}")
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return report(False, "Return the loss as a one-element tensor (F.cross_entropy gives one).")
    if torch.allclose(got, unshifted, atol=1e-5):
        return report(False, "That is BERT's MLM (logits at i predict token i): shift by one, logits[:, :-1] vs "
                             "targets[:, 1:].")
    if not torch.allclose(got, expected, atol=1e-5):
        return report(False, "Average the cross-entropy over masked tokens only (ignore_index=-100), logits at i - 1.")
    return report(True, "mntp_cross_entropy is right: the decoder keeps predicting the *next* token.")


def check_lora_merge(lora_merge) -> bool:
    """``lora_merge(weight, lora_a, lora_b, scale)``: the plain weight that equals base + LoRA's update."""
    if not_done(lora_merge):
        return False
    torch.manual_seed(1)
    weight, lora_a, lora_b, x = torch.randn(6, 5), torch.randn(2, 5), torch.randn(6, 2), torch.randn(3, 5)
    expected = x @ weight.T + x @ lora_a.T @ lora_b.T * 2.0
    got, error = call(lora_merge, weight.clone(), lora_a, lora_b, 2.0)
    if error:
        return report(False, f"lora_merge {error}")
    if not isinstance(got, torch.Tensor) or got.shape != weight.shape:
        return report(False, f"Return a weight shaped like the base weight {tuple(weight.shape)} (out, in).")
    if not torch.allclose(x @ got.T, expected, atol=1e-5):
        return report(False, "x W^T + scale x A^T B^T = x (W + scale B A)^T: add scale * B @ A to W.")
    return report(True, "lora_merge is right: after merging, a LoRA model costs nothing extra to run.")
