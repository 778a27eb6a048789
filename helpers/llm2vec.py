"""LLM2Vec step by step (BehnamGhader et al. 2024), taught in notebook 07.

1. Bidirectional attention in a transformers decoder: :func:`bidirectional_attention` (a 4-D padding-only
   additive mask *and* ``is_causal = False`` on every attention module; current transformers needs both).
2. Masked next-token prediction (MNTP): :func:`mntp_mask` hides ~20% of the tokens behind ``"_"``, and
   :func:`mntp_loss` predicts token i from the logits at position i - 1. Trained with LoRA
   (:class:`LoRALinear`, written from scratch) on the top layers, the lower ones frozen.
3. Unsupervised SimCSE with mean pooling: :func:`simcse_loss`, using :func:`helpers.losses.info_nce`.
"""

from __future__ import annotations

import contextlib

import torch


def padding_only_mask(attention_mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """4-D additive mask (batch, 1, tokens, tokens): every query reads every real key, none reads padding.

    transformers passes a 4-D mask through unchanged, so this replaces the causal mask it would build.
    """
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, tokens) of 0/1, got shape {tuple(attention_mask.shape)}.")
    keys = attention_mask.bool()[:, None, None, :].expand(-1, 1, attention_mask.shape[1], -1)
    zero = torch.zeros((), dtype=dtype, device=attention_mask.device)
    return torch.where(keys, zero, torch.finfo(dtype).min)


def _attention_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    modules = [module for module in model.modules() if hasattr(module, "is_causal")]
    if not modules:
        raise ValueError(f"{type(model).__name__} has no attention module with an `is_causal` flag to switch off.")
    return modules


@contextlib.contextmanager
def bidirectional_attention(model: torch.nn.Module):
    """Inside the block the model's attention modules have ``is_causal = False``; restored on exit.

    The flag alone is not enough: without a mask transformers builds a causal one, so also pass
    :func:`padding_only_mask` (:func:`hidden_states` does both).
    """
    modules = _attention_modules(model)
    before = [module.is_causal for module in modules]
    try:
        for module in modules:
            module.is_causal = False
        yield model
    finally:
        for module, flag in zip(modules, before, strict=True):
            module.is_causal = flag


def hidden_states(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, bidirectional: bool = False,
                  all_layers: bool = False):
    """Token states of a transformers decoder (a ``...ForCausalLM`` or its base model): the last layer's
    (batch, tokens, hidden), or with ``all_layers`` the tuple of the embedding output and every layer's."""
    base = getattr(model, "model", model)
    if not bidirectional:
        out = base(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=all_layers)
    else:
        with bidirectional_attention(base):
            mask = padding_only_mask(attention_mask, base.embed_tokens.weight.dtype)
            out = base(input_ids=input_ids, attention_mask=mask, output_hidden_states=all_layers)
    return out.hidden_states if all_layers else out.last_hidden_state
