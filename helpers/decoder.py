"""A Llama decoder written out from scratch, loaded with SmolLM2's weights (taught in notebook 05).

The pieces, each a few lines: :class:`RMSNorm`, rotary position embeddings (:func:`rotary_cos_sin`,
:func:`apply_rotary`), grouped-query attention (:class:`GroupedQueryAttention`), the SwiGLU feed-forward
(:class:`SwiGLU`) and the causal mask (:func:`attention_bias`). :func:`load_smollm2_from_scratch` copies the
weights of :func:`helpers.models.load_smollm2`'s model into :class:`Llama`; a test checks that the two give the
same hidden states (within 1e-3) and the same greedy generation.

``Llama.forward(input_ids, attention_mask, bidirectional=False)`` returns the last hidden states;
``bidirectional=True`` swaps the causal mask for a padding-only one (LLM2Vec's first step, notebook 07).
:class:`ScratchDecoderEmbedder` wraps the model as an :class:`~helpers.embed.Embedder`.

Reading a text inside a template (PromptEOL's prompt, :data:`PROMPT_EOL`; echo's copies, notebook 06; an
instruction, notebook 09) is :func:`tokenize_with_span`: only the text is truncated, and ``span_mask`` marks its
tokens, which every pooling but last-token reads (:meth:`DecoderEmbedder.pooled_mask`). Two readings build on
it: echo's template (:data:`ECHO_TEMPLATES`, :class:`EchoEmbedder`, notebook 06) and, with
:func:`bidirectional_attention` and :func:`hidden_states`, a transformers decoder read without its causal mask
(LLM2Vec's first step; :mod:`helpers.llm2vec` trains the rest).

Every decoder embedder reads texts on the fast inference path (:func:`helpers.config.inference_precision`).
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from helpers import config
from helpers.embed import Embedder, TransformerEmbedder, check_texts, weights_fingerprint
from helpers.pooling import pool


@dataclass(frozen=True)
class LlamaSizes:
    """The numbers that define a Llama; :meth:`from_hf` reads them from a transformers config."""

    vocab_size: int = 49152
    hidden_size: int = 576
    intermediate_size: int = 1536
    num_layers: int = 30
    num_heads: int = 9
    num_kv_heads: int = 3
    rope_theta: float = 100000.0
    rms_norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf(cls, config) -> LlamaSizes:
        rope = getattr(config, "rope_parameters", None) or {"rope_theta": config.rope_theta}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"Only plain RoPE is written here, not {rope['rope_type']!r} scaling.")
        return cls(config.vocab_size, config.hidden_size, config.intermediate_size, config.num_hidden_layers,
                   config.num_attention_heads, config.num_key_value_heads, rope["rope_theta"], config.rms_norm_eps)


class RMSNorm(nn.Module):
    """Scale each vector to unit root-mean-square, then by a learned gain (no mean subtraction, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rotary_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE tables for integer ``positions`` (batch, tokens): each (batch, tokens, head_dim).

    Pair ``k`` of a head's dimensions (k and k + head_dim/2) turns by the angle position * theta^(-2k/head_dim).
    """
    inverse_frequency = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device)
                                  / head_dim)
    angles = positions.float().unsqueeze(-1) * inverse_frequency  # (batch, tokens, head_dim / 2)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys (batch, heads, tokens, head_dim) by their positions' angles."""
    half = x.shape[-1] // 2
    rotated_half = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.unsqueeze(1) + rotated_half * sin.unsqueeze(1)


def attention_bias(attention_mask: torch.Tensor, bidirectional: bool = False,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Additive mask (batch, 1, tokens, tokens): 0 where query i may read key j, a large negative elsewhere.

    Keys must be real tokens (``attention_mask`` 1); with the causal mask (the default) also j <= i.
    """
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, tokens) of 0/1, got shape {tuple(attention_mask.shape)}.")
    allowed = attention_mask.bool()[:, None, None, :]  # (batch, 1, 1, keys)
    if not bidirectional:
        tokens = attention_mask.shape[1]
        causal = torch.ones(tokens, tokens, dtype=torch.bool, device=attention_mask.device).tril()
        allowed = allowed & causal
    zero = torch.zeros((), dtype=dtype, device=attention_mask.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


class GroupedQueryAttention(nn.Module):
    """Multi-head attention where groups of query heads share one key/value head (9 query, 3 KV heads)."""

    def __init__(self, sizes: LlamaSizes):
        super().__init__()
        self.sizes = sizes
        d, h = sizes.head_dim, sizes.hidden_size
        self.q_proj = nn.Linear(h, sizes.num_heads * d, bias=False)
        self.k_proj = nn.Linear(h, sizes.num_kv_heads * d, bias=False)
        self.v_proj = nn.Linear(h, sizes.num_kv_heads * d, bias=False)
        self.o_proj = nn.Linear(sizes.num_heads * d, h, bias=False)

    def forward(self, x, cos, sin, bias):
        batch, tokens, _ = x.shape
        s = self.sizes

        def heads(projection, count):
            return projection(x).view(batch, tokens, count, s.head_dim).transpose(1, 2)

        q = apply_rotary(heads(self.q_proj, s.num_heads), cos, sin)
        k = apply_rotary(heads(self.k_proj, s.num_kv_heads), cos, sin)
        v = heads(self.v_proj, s.num_kv_heads)
        group = s.num_heads // s.num_kv_heads  # each KV head serves this many query heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = q @ k.transpose(-1, -2) / s.head_dim**0.5 + bias
        out = scores.softmax(dim=-1) @ v  # (batch, heads, tokens, head_dim)
        return self.o_proj(out.transpose(1, 2).reshape(batch, tokens, -1))


class SwiGLU(nn.Module):
    """The feed-forward block: down(silu(gate(x)) * up(x))."""

    def __init__(self, sizes: LlamaSizes):
        super().__init__()
        self.gate_proj = nn.Linear(sizes.hidden_size, sizes.intermediate_size, bias=False)
        self.up_proj = nn.Linear(sizes.hidden_size, sizes.intermediate_size, bias=False)
        self.down_proj = nn.Linear(sizes.intermediate_size, sizes.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then + SwiGLU(norm(.))."""

    def __init__(self, sizes: LlamaSizes):
        super().__init__()
        self.input_layernorm = RMSNorm(sizes.hidden_size, sizes.rms_norm_eps)
        self.self_attn = GroupedQueryAttention(sizes)
        self.post_attention_layernorm = RMSNorm(sizes.hidden_size, sizes.rms_norm_eps)
        self.mlp = SwiGLU(sizes)

    def forward(self, x, cos, sin, bias):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, bias)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Token embedding, a stack of :class:`DecoderLayer`, a final :class:`RMSNorm`; the output head shares the
    embedding matrix (tied weights, as in SmolLM2)."""

    def __init__(self, sizes: LlamaSizes, hf_config=None):
        super().__init__()
        self.sizes = sizes
        self.config = hf_config  # kept so that helpers.embed can read hidden_size and model_type
        self.embed_tokens = nn.Embedding(sizes.vocab_size, sizes.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(sizes) for _ in range(sizes.num_layers))
        self.norm = RMSNorm(sizes.hidden_size, sizes.rms_norm_eps)

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                bidirectional: bool = False, all_layers: bool = False):
        """Last hidden states (batch, tokens, hidden), or with ``all_layers`` the list of the embedding output
        and every layer's output (the last one after the final norm, as transformers' ``hidden_states``).

        Positions count real tokens only, so left- and right-padded batches give the same states.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must match input_ids "
                             f"{tuple(input_ids.shape)}.")
        positions = (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)
        cos, sin = rotary_cos_sin(positions, self.sizes.head_dim, self.sizes.rope_theta)
        x = self.embed_tokens(input_ids)
        bias = attention_bias(attention_mask, bidirectional, x.dtype)
        states = [x]
        for layer in self.layers:
            x = layer(x, cos, sin, bias)
            states.append(x)
        states[-1] = self.norm(x)
        return states if all_layers else states[-1]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token scores from hidden states, through the tied embedding matrix."""
        return hidden @ self.embed_tokens.weight.T

    @torch.inference_mode()
    def generate_greedy(self, input_ids: torch.Tensor, max_new_tokens: int = 20, eos_token_id: int | None = None):
        """Greedy decoding for one unpadded prompt (1, tokens): append the arg-max token, repeat.

        No key/value cache: each step re-reads the whole sequence, which is simple and fast enough here.
        """
        if input_ids.dim() != 2 or input_ids.shape[0] != 1:
            raise ValueError("generate_greedy takes one prompt of shape (1, tokens); loop over a batch yourself.")
        ids = input_ids
        for _ in range(max_new_tokens):
            next_id = self.logits(self(ids)[:, -1]).argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=1)
            if eos_token_id is not None and next_id.item() == eos_token_id:
                break
        return ids


def run_layers(model: Llama, x: torch.Tensor, attention_mask: torch.Tensor, layers, bidirectional: bool,
               final_norm: bool) -> torch.Tensor:
    """Apply ``layers`` (a slice of ``model.layers``, or trained copies) to states ``x``, with the positions
    and mask :class:`helpers.decoder.Llama` uses; ``final_norm`` applies ``model.norm`` at the end."""
    positions = (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)
    cos, sin = rotary_cos_sin(positions, model.sizes.head_dim, model.sizes.rope_theta)
    bias = attention_bias(attention_mask, bidirectional, x.dtype)
    for layer in layers:
        x = layer(x, cos, sin, bias)
    return model.norm(x) if final_norm else x


def copy_weights_from_hf(model: Llama, hf_model) -> Llama:
    """Copy a transformers ``LlamaForCausalLM``'s weights into ``model`` (the parameter names match ours once
    the ``model.`` prefix is dropped; the output head is tied to the embedding)."""
    theirs = {name.removeprefix("model."): tensor for name, tensor in hf_model.state_dict().items()}
    if not torch.equal(theirs.get("lm_head.weight", theirs["embed_tokens.weight"]), theirs["embed_tokens.weight"]):
        raise ValueError("This model's output head is not tied to its embedding; Llama here assumes tied weights.")
    theirs.pop("lm_head.weight", None)
    missing, unexpected = model.load_state_dict(theirs, strict=False)
    if missing or unexpected:
        raise ValueError(f"Weights do not line up: missing {missing[:5]}, unexpected {unexpected[:5]}.")
    return model


def load_smollm2_from_scratch() -> Llama:
    """The from-scratch :class:`Llama` holding SmolLM2-135M-Instruct's weights (from
    :func:`helpers.models.load_smollm2`), in eval mode, float32, on the same device."""
    from helpers.models import load_smollm2

    _, hf_model = load_smollm2()
    model = Llama(LlamaSizes.from_hf(hf_model.config), hf_model.config)
    return copy_weights_from_hf(model, hf_model).to(hf_model.device).eval()


class ScratchDecoderEmbedder(Embedder):
    """The from-scratch :class:`Llama` as an :class:`~helpers.embed.Embedder` (any pooling of
    :mod:`helpers.pooling`; ``"last"`` appends EOS, as E5-mistral does)."""

    def __init__(self, tokenizer, model: Llama, pooling: str = "mean", max_length: int = 256,
                 bidirectional: bool = False, name: str | None = None):
        pool(torch.zeros(1, 1, 1), torch.ones(1, 1), pooling)  # fail now on an unknown pooling name
        self.tokenizer, self.model, self.pooling = tokenizer, model, pooling
        self.max_length, self.bidirectional = max_length, bidirectional
        self.dim = model.sizes.hidden_size
        self.name = name or f"scratch Llama ({pooling} pooling)"

    def embed_batch(self, texts):
        batch = tokenize_with_span(self.tokenizer, texts, TEXT, self.max_length, append_eos=self.pooling == "last")
        mask = batch["attention_mask"].to(self.model.device)
        hidden = self.model(batch["input_ids"].to(self.model.device), mask, bidirectional=self.bidirectional)
        return pool(hidden, mask, self.pooling)

    def code(self):
        return (sys.modules[__name__], sys.modules[pool.__module__])  # the from-scratch Llama, the pooling

    def settings(self):
        return {"weights": weights_fingerprint(self.model), "pooling": self.pooling,
                "max_length": self.max_length, "bidirectional": self.bidirectional,
                "padding_side": self.tokenizer.padding_side}


TEXT = "{text}"  # where a template puts the text
# PromptEOL (Jiang et al. 2023): ask for a one-word summary and read the state that would predict it.
PROMPT_EOL = 'This sentence : "{text}" means in one word:"'


def template_pieces(template: str) -> list[str]:
    """Split a template into literal pieces and ``{text}`` slots, in order."""
    if TEXT not in template:
        raise ValueError(f"A template needs at least one '{TEXT}', where the text goes; got {template!r}.")
    pieces = []
    for k, literal in enumerate(template.split(TEXT)):
        if k:
            pieces.append(TEXT)
        if literal:
            pieces.append(literal)
    return pieces


def tokenize_with_span(tokenizer, texts: list[str], template: str | list[str], max_length: int = 256,
                       append_eos: bool = False) -> dict[str, torch.Tensor]:
    """Token ids, attention mask and ``span_mask`` (1 on the tokens of the last copy of the text).

    Each piece is tokenised on its own and the ids concatenated, so the span is known exactly; a space that
    ends a literal piece is moved to the front of the following text (as the tokenizer would have it). Only
    the text is truncated, never the template's own words: each copy of the text gets the same number of
    tokens so that the whole, EOS included when ``append_eos``, fits ``max_length``. ``template`` may also be a
    list, one template per text (notebook 09: each query keeps as many in-context examples as fit).
    """
    templates = [template] * len(texts) if isinstance(template, str) else list(template)
    if len(templates) != len(texts):
        raise ValueError(f"Got {len(templates)} templates for {len(texts)} texts: pass one template, or one per text.")
    literal_ids: dict[str, list[int]] = {}
    rows, spans = [], []
    for text, row_template in zip(texts, templates, strict=True):
        pieces = template_pieces(row_template)
        for piece in pieces:
            if piece != TEXT and piece not in literal_ids:
                literal_ids[piece] = tokenizer(piece.rstrip(" "), add_special_tokens=False)["input_ids"]
        overhead = sum(len(literal_ids[p]) for p in pieces if p != TEXT) + int(append_eos)
        room = (max_length - overhead) // pieces.count(TEXT)
        if room < 1:
            raise ValueError(f"max_length={max_length} leaves no room for the text in template {row_template!r}.")
        ids, span, previous = [], [], ""
        for piece in pieces:
            if piece == TEXT:
                spaced = " " + text if previous.endswith(" ") else text
                piece_ids = tokenizer(spaced, add_special_tokens=False, truncation=True, max_length=room)["input_ids"]
                span = [len(ids), len(ids) + len(piece_ids)]
            else:
                piece_ids = literal_ids[piece]
            ids += piece_ids
            previous = piece
        if append_eos:
            ids.append(tokenizer.eos_token_id)
        rows.append(ids)
        spans.append(span)
    batch = tokenizer.pad({"input_ids": rows}, return_tensors="pt")
    span_mask = torch.zeros_like(batch["attention_mask"])
    offset = batch["attention_mask"].argmax(dim=1)  # first real position: 0 under right padding
    for row, (start, end) in enumerate(spans):
        span_mask[row, offset[row] + start: offset[row] + end] = 1
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "span_mask": span_mask}


# Bidirectional attention in a transformers decoder (LLM2Vec's step 1, notebook 07).

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


class DecoderEmbedder(TransformerEmbedder):
    """A transformers decoder as an Embedder, with the course's decoder switches (notebooks 05 and 07).

    ``template`` wraps each text (PromptEOL's :data:`PROMPT_EOL`, echo's templates): the text is truncated, never
    the template; last-token pooling reads the final token, every other pooling the text's tokens only.

    ``bidirectional=True`` reads the text with a padding-only mask (LLM2Vec, :mod:`helpers.llm2vec`);
    ``layer`` pools the states after that layer (0 = the embedding output, ``None`` = the last layer, normed).
    Intermediate layers get the model's final RMSNorm before pooling, so every layer is compared on the same
    scale (without it a few huge outlier dimensions decide every cosine).
    """

    def __init__(self, tokenizer, model, pooling: str = "mean", max_length: int = 256, name: str | None = None,
                 append_eos: bool = False, template: str = "{text}", bidirectional: bool = False,
                 layer: int | None = None):
        super().__init__(tokenizer, model, pooling=pooling, max_length=max_length, name=name,
                         append_eos=append_eos, template=template)
        layers = model.config.num_hidden_layers
        if layer is not None and not 0 <= layer <= layers:
            raise ValueError(f"layer must be between 0 (embeddings) and {layers} (the last layer), or None.")
        self.bidirectional, self.layer = bidirectional, layer

    def code(self):
        return (*super().code(), sys.modules[__name__], normed_layer, tokenize_with_span,
                template_pieces)

    def text_template(self, text: str) -> str:
        """The template ``text`` is read through (the same for every text here; an instructed query's depends on
        how many in-context examples fit, :class:`helpers.instruct.InstructEmbedder`)."""
        return self.template

    def tokenize(self, texts):
        # Through the template piece by piece: only the text is truncated, and span_mask marks its tokens.
        batch = tokenize_with_span(self.tokenizer, texts, [self.text_template(t) for t in texts], self.max_length,
                                   self.append_eos)
        return {key: value.to(self.model.device) for key, value in batch.items()}

    def pooled_mask(self, batch: dict) -> torch.Tensor:
        """The tokens pooled: for last-token pooling all of them (it reads the final one: EOS when appended, a
        prompt's last word), for every other pooling the text's own (never the template's: echo's first copy,
        an instruction)."""
        return batch["attention_mask"] if self.pooling == "last" else batch["span_mask"]

    def embed_batch(self, texts):
        batch = self.tokenize(texts)
        hidden = self.hidden_states(batch["input_ids"], batch["attention_mask"])
        return pool(hidden, self.pooled_mask(batch), self.pooling)

    def forward_context(self):
        return config.inference_precision(self.model.device.type)

    def hidden_states(self, input_ids, attention_mask):
        if self.layer is None:
            return hidden_states(self.model, input_ids, attention_mask, self.bidirectional)
        states = hidden_states(self.model, input_ids, attention_mask, self.bidirectional, all_layers=True)
        return normed_layer(self.model, states, self.layer)

    def settings(self):
        return {"weights": weights_fingerprint(self.model), "pooling": self.pooling,
                "max_length": self.max_length, "append_eos": self.append_eos, "template": self.template,
                "padding_side": self.tokenizer.padding_side, "bidirectional": self.bidirectional, "layer": self.layer,
                "precision": config.inference_dtype(self.model.device.type)}


def normed_layer(model, states, layer: int) -> torch.Tensor:
    """Layer ``layer`` of transformers' ``hidden_states`` tuple on the last layer's scale: the final RMSNorm
    is applied unless it is the last entry (which transformers returns normed already)."""
    if layer == len(states) - 1:
        return states[layer]
    return getattr(model, "model", model).norm(states[layer])


# Echo embeddings (Springer et al. 2024, notebook 06): the text twice, only the last copy pooled.

# name: template; the *last* {text} is the copy that is pooled.
ECHO_TEMPLATES = {
    "classical": "{text}",
    "echo": "Rewrite the sentence: {text}, rewritten sentence: {text}",
    "repeat": "{text} {text}",  # ablation: the text twice, no instruction
    "prompt_only": "Rewrite the sentence: {text}",  # ablation: the instruction, the text once
}


class EchoEmbedder(DecoderEmbedder):
    """A decoder reading each text through an echo template, pooling only the last copy of the text.

    ``echo`` names a template of :data:`ECHO_TEMPLATES` (default the paper's); ``"last"`` pooling appends EOS
    and reads it. ``model`` may be a transformers decoder or the from-scratch :class:`helpers.decoder.Llama`.
    """

    def __init__(self, tokenizer, model, pooling: str = "mean", max_length: int = 512, echo: str = "echo",
                 name: str | None = None, bidirectional: bool = False):
        if echo not in ECHO_TEMPLATES:
            raise ValueError(f"Unknown echo template {echo!r}; choose one of {sorted(ECHO_TEMPLATES)}.")
        self.echo = echo
        self.scratch = isinstance(model, Llama)  # the from-scratch model has its own forward
        super().__init__(tokenizer, model, pooling=pooling, max_length=max_length, append_eos=pooling == "last",
                         template=ECHO_TEMPLATES[echo], bidirectional=bidirectional,
                         name=name or f"SmolLM2-135M {echo} {pooling}")

    def hidden_states(self, input_ids, attention_mask):
        if self.scratch:
            return self.model(input_ids, attention_mask, bidirectional=self.bidirectional)
        return super().hidden_states(input_ids, attention_mask)

    def settings(self):
        return {**super().settings(), "echo": self.echo, "scratch": self.scratch}


def smollm2_embedder(pooling: str = "mean", max_length: int = 256, template: str = "{text}", echo: bool | str = False,
                     bidirectional: bool = False, layer: int | None = None, model=None,
                     name: str | None = None, append_eos: bool | None = None) -> DecoderEmbedder:
    """SmolLM2-135M-Instruct (transformers, offline from its GGUF package) as an Embedder (notebooks 05-07).

    * ``pooling``: ``"mean"``, ``"last"`` (appends the EOS token and reads its state, as E5-mistral does),
      ``"weighted_mean"`` (SGPT's position weights), or any other of :mod:`helpers.pooling`.
    * ``echo``: ``True`` reads the text twice with the echo template and pools only the second copy
      (Springer et al.; :class:`EchoEmbedder`); a template name of :data:`ECHO_TEMPLATES` picks an
      ablation. Each copy gets ``max_length`` tokens.
    * ``bidirectional``: a padding-only attention mask instead of the causal one (LLM2Vec, :mod:`helpers.llm2vec`).
    * ``layer``: pool the states after this layer (0 = embeddings, ``None`` = the last layer).
    * ``model``: another ``LlamaForCausalLM`` with SmolLM2's tokenizer (e.g. an LLM2Vec-trained copy).
    * ``template``: a prompt around the text, e.g. :data:`PROMPT_EOL` with ``pooling="last", append_eos=False``
      (PromptEOL reads the prompt's final token, not an EOS); ``append_eos`` defaults to ``pooling == "last"``.
    """
    from helpers.models import load_smollm2

    tokenizer, loaded = load_smollm2()
    model = loaded if model is None else model
    suffix = (" bidirectional" if bidirectional else "") + ("" if layer is None else f" layer {layer}")
    if echo:
        if template != "{text}" or layer is not None or append_eos is not None:
            raise ValueError("echo=... builds its own template, reads the last layer and appends EOS for last-token "
                             "pooling: leave template, layer and append_eos.")
        variant = "echo" if echo is True else echo
        return EchoEmbedder(tokenizer, model, pooling=pooling, max_length=2 * max_length, echo=variant,
                            bidirectional=bidirectional, name=name or f"SmolLM2-135M {variant} {pooling}{suffix}")
    append_eos = pooling == "last" if append_eos is None else append_eos
    return DecoderEmbedder(tokenizer, model, pooling=pooling, max_length=max_length, append_eos=append_eos,
                           template=template, bidirectional=bidirectional, layer=layer,
                           name=name or f"SmolLM2-135M {pooling}{suffix}")


def prompteol_embedder() -> DecoderEmbedder:
    """SmolLM2 reading each text inside PromptEOL's prompt (:data:`PROMPT_EOL`), pooled at the prompt's final
    token, the state that would predict the one-word summary (notebook 05)."""
    return smollm2_embedder("last", template=PROMPT_EOL, append_eos=False, name="SmolLM2-135M PromptEOL")


class LayerPoolingSweep:
    """One forward pass per batch, every layer and every pooling at once (notebook 05's sweeps).

    EOS is appended to every text; under the causal mask the tokens before it do not see it, so mean and
    weighted-mean pooling skip it and equal pooling without EOS, while last-token pooling reads it.
    ``sweep.view(pooling, layer)`` is an :class:`Embedder`; whichever view encodes a text first computes
    (and keeps in memory) that text's vectors for all views. ``layers`` limits which layers are kept (all by
    default): choose layers on the dev split with a full sweep, then score the test split with a sweep that
    keeps only the chosen layers. :meth:`layer_scores` scores every (pooling, layer) of a split;
    :meth:`mini_mteb` scores one view with confidence intervals.
    """

    poolings = ("mean", "weighted_mean", "last")

    def __init__(self, tokenizer, model, max_length: int = 256, name: str = "SmolLM2-135M",
                 layers: list[int] | None = None, batch_size: int = 32):
        self.tokenizer, self.model, self.max_length, self.name = tokenizer, model, max_length, name
        self.num_layers = model.config.num_hidden_layers
        self.layers = tuple(range(self.num_layers + 1)) if layers is None else tuple(sorted(set(layers)))
        if not self.layers or not all(0 <= layer <= self.num_layers for layer in self.layers):
            raise ValueError(f"layers must be between 0 (embeddings) and {self.num_layers}, got {layers}.")
        self.batch_size = batch_size
        self.vectors: dict[str, dict[tuple[str, int], torch.Tensor]] = {}
        self.dtype = config.inference_dtype(model.device.type)  # of the products behind self.vectors
        self.embedder = DecoderEmbedder(tokenizer, model, "last", max_length, append_eos=True)

    def compute(self, texts: list[str], progress: bool = False) -> None:
        """Forward the texts not seen yet (in batches of similar length) and keep every (pooling, layer)
        vector."""
        dtype = config.inference_dtype(self.model.device.type)
        if dtype != self.dtype:  # vectors kept from the other precision are not this one's
            self.vectors, self.dtype = {}, dtype
        todo = sorted((t for t in dict.fromkeys(texts) if t not in self.vectors), key=len)
        batches = [todo[start: start + self.batch_size] for start in range(0, len(todo), self.batch_size)]
        bar = config.progress_bar(batches, desc=f"Forward pass of {self.name}, all layers",
                                  disable=not progress, leave=False)
        with torch.inference_mode(), config.inference_precision(self.model.device.type):
            for batch_texts in bar:
                self._compute_batch(batch_texts)

    def _compute_batch(self, todo: list[str]) -> None:
        batch = self.embedder.tokenize(todo)
        mask = batch["attention_mask"]
        eos_position = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)
        without_eos = mask.clone()
        without_eos[torch.arange(len(todo)), eos_position] = 0
        states = hidden_states(self.model, batch["input_ids"], mask, all_layers=True)
        for layer in self.layers:
            hidden = normed_layer(self.model, states, layer)
            for method in self.poolings:
                pooled = pool(hidden, mask if method == "last" else without_eos, method).float().cpu()
                for text, vector in zip(todo, pooled, strict=True):
                    self.vectors.setdefault(text, {})[(method, layer)] = vector

    def view(self, pooling: str, layer: int | None = None) -> Embedder:
        """The Embedder that returns this sweep's ``pooling`` vectors of ``layer`` (``None`` = last)."""
        if pooling not in self.poolings:
            raise ValueError(f"pooling must be one of {self.poolings}, got {pooling!r}.")
        return _SweepView(self, pooling, self.num_layers if layer is None else layer)

    def layer_scores(self, split: str = "dev", poolings: tuple[str, ...] | None = None,
                     tasks: list[str] | None = None) -> pd.DataFrame:
        """The mini-MTEB average (point estimates, no bootstrap: for choosing) of every kept layer and
        pooling on ``split``: one row per layer, one column per pooling. The per-task scores are in
        ``frame.attrs["per_task"]`` (rows (pooling, layer), one column per task)."""
        from helpers import data, evaluate

        poolings = self.poolings if poolings is None else tuple(poolings)
        names = list(evaluate.TASKS) if tasks is None else list(tasks)
        self.compute(data.task_texts(split), progress=True)
        rows = {}
        for pooling in poolings:
            for layer in self.layers:
                view = self.view(pooling, layer)
                rows[(pooling, layer)] = {
                    name: evaluate.TASKS[name][2](view, split).metrics[evaluate.TASKS[name][1]] for name in names}
        per_task = pd.DataFrame.from_dict(rows, orient="index")
        per_task.index.names = ["pooling", "layer"]
        table = per_task.mean(axis=1, skipna=False).unstack("pooling")[list(poolings)]  # NaN: a score undefined
        table.columns.name = None
        table.attrs["per_task"] = per_task
        return table

    def mini_mteb(self, pooling: str, layer: int | None = None, split: str = "test") -> pd.DataFrame:
        """:func:`helpers.evaluate.mini_mteb` of one view, with the split's forward pass done first."""
        from helpers import data, evaluate

        self.compute(data.task_texts(split), progress=True)
        return evaluate.mini_mteb(self.view(pooling, layer), split=split)


class _SweepView(Embedder):
    def __init__(self, sweep: LayerPoolingSweep, pooling: str, layer: int):
        if not 0 <= layer <= sweep.num_layers:
            raise ValueError(f"layer must be between 0 and {sweep.num_layers}, got {layer}.")
        if layer not in sweep.layers:
            raise ValueError(f"This sweep keeps layers {list(sweep.layers)}, not {layer}.")
        self.sweep, self.pooling, self.layer = sweep, pooling, layer
        self.dim = sweep.model.config.hidden_size
        self.name = f"{sweep.name} {pooling} (layer {layer})"
        self.cache = layer == sweep.num_layers  # on disk only the last layer (leaderboard rows); the rest in memory

    def encode(self, texts, batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        texts = check_texts(texts)
        if progress is None and all(text in self.sweep.vectors for text in texts):
            progress = False  # the vectors are already in memory: nothing to wait for
        return super().encode(texts, batch_size, progress)

    def code(self):
        return (sys.modules[__name__], sys.modules[pool.__module__])

    def embed_batch(self, texts):
        self.sweep.compute(texts)
        return torch.stack([self.sweep.vectors[t][(self.pooling, self.layer)] for t in texts])

    def settings(self):
        return {"weights": weights_fingerprint(self.sweep.model), "pooling": self.pooling, "layer": self.layer,
                "max_length": self.sweep.max_length, "padding_side": self.sweep.tokenizer.padding_side,
                "precision": config.inference_dtype(self.sweep.model.device.type)}
