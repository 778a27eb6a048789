"""Checks for the exercises of notebook 02 (BERT from scratch); solutions in ``solutions/02_bert_from_scratch.py``."""

from __future__ import annotations

import torch

from helpers.exercises import call, convert, not_done, report


def check_attention(attention) -> bool:
    """``attention(q, k, v, mask)`` must equal the encoder's masked scaled dot-product attention."""
    if not_done(attention):
        return False
    q, k, v, mask = _attention_inputs()
    answer, error = call(attention, q, k, v, mask)
    if error:
        return report(False, f"attention {error}")
    if not_done(answer):
        return False
    answer, problem = convert(answer, torch.as_tensor, "a tensor")
    if problem:
        return report(False, problem)
    raw_scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    expected = raw_scores.masked_fill(mask[:, None, None, :] == 0, float("-inf")).softmax(-1) @ v
    if answer.shape != expected.shape:
        return report(False, f"Expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}.")
    if torch.allclose(answer, expected, atol=1e-5):
        return report(True, "Your attention matches, padding included.")
    if torch.allclose(answer, raw_scores.softmax(-1) @ v, atol=1e-5):
        return report(False, "Right without padding: set the scores of padded keys to -inf before the softmax.")
    return report(False, "Not equal. Scores are q @ kᵀ / sqrt(head_dim); softmax over the last axis (the keys).")


def _attention_inputs():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=generator) for _ in range(3))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    return q, k, v, mask


def check_parameter_count(parameter_count) -> bool:
    """``parameter_count(config)`` must equal the real number of parameters of two encoders."""
    if not_done(parameter_count):
        return False
    from helpers.encoder import Encoder, minilm_config
    from helpers.mlm import SMALL_CONFIG

    configs = {"MiniLM": minilm_config(), "small MLM encoder": SMALL_CONFIG}
    answers, error = call(lambda: {name: parameter_count(encoder_config) for name, encoder_config in configs.items()})
    if error:
        return report(False, f"parameter_count {error}")
    first = answers["MiniLM"]
    if not_done(first):
        return False
    for name, encoder_config in configs.items():
        expected = sum(p.numel() for p in Encoder(encoder_config).parameters())
        answer, problem = convert(answers[name], int, "a whole number")
        if problem:
            return report(False, problem)
        if answer != expected:
            return report(False, f"{name}: you count {answer:,}, the model has {expected:,}. Remember the biases "
                                 "and the two LayerNorm vectors (scale and shift) of each norm.")
    return report(True, f"Right: {first:,} parameters for MiniLM; most of the small encoder's are its embeddings.")


def check_choose_positions(choose_positions) -> bool:
    """``choose_positions(special_mask, generator)`` must choose about 15% of the non-special tokens."""
    if not_done(choose_positions):
        return False
    from helpers.corpus import sotu_texts
    from helpers.encoder import minilm_tokenizer
    from helpers.mlm import special_tokens_mask

    tokenizer = minilm_tokenizer()
    rows = tokenizer(sotu_texts()[-2:], truncation=True, max_length=512, padding=True, return_tensors="pt")
    special = special_tokens_mask(tokenizer, rows["input_ids"])
    chosen, error = call(choose_positions, special, torch.Generator().manual_seed(0))
    if error:
        return report(False, f"choose_positions {error}")
    if not_done(chosen):
        return False
    chosen, problem = convert(chosen, torch.as_tensor, "a boolean tensor")
    if problem:
        return report(False, problem)
    if chosen.shape != special.shape or chosen.dtype != torch.bool:
        return report(False, f"Return a boolean tensor of shape {tuple(special.shape)}.")
    if chosen[special].any():
        return report(False, "You chose special tokens ([CLS], [SEP] or padding): exclude them with ~special_mask.")
    rate = chosen.sum().item() / (~special).sum().item()
    if abs(rate - 0.15) > 0.02:
        return report(False, f"You chose {rate:.1%} of the real tokens; BERT chooses 15%.")
    return report(True, f"You chose {rate:.1%} of the real tokens, none of them special.")
