"""A BERT encoder written from scratch in PyTorch (taught in notebook 02; pooled in notebook 03).

The pieces, in the order notebook 02 builds them: :func:`wordpiece` (greedy longest-match-first
subwords), :class:`Embeddings` (token + position + segment, then LayerNorm), :class:`SelfAttention`
(multi-head scaled dot-product attention), :class:`FeedForward` (GELU MLP), :class:`EncoderLayer`
(post-LayerNorm residual blocks) and :class:`Encoder`, the stack. :func:`load_minilm_from_scratch` loads
the real all-MiniLM-L6-v2 weights into it (a test proves it equals transformers' ``BertModel``), and
:class:`ScratchEmbedder` wraps any :class:`Encoder` as a course :class:`~helpers.embed.Embedder`.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers.embed import TransformerEmbedder


@dataclass
class EncoderConfig:
    """The sizes of a BERT encoder; the defaults are all-MiniLM-L6-v2's."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    model_type: str = "bert-from-scratch"

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}.")


def wordpiece(word: str, vocab, unknown: str = "[UNK]", max_chars: int = 100) -> list[str]:
    """Split one lower-cased, punctuation-free word into WordPiece subwords, longest match first.

    Pieces after the first carry the ``##`` prefix. A word with a part no vocabulary entry covers becomes
    ``[UNK]`` as a whole, as in BERT.
    """
    if len(word) > max_chars:
        return [unknown]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return [unknown]
        pieces.append(piece)
        start = end
    return pieces


class Embeddings(nn.Module):
    """Token + learned position + segment (token type) embeddings, then LayerNorm and dropout.

    Positions count real tokens only (0, 1, 2... from the first unmasked token), so a text gets the same
    vectors whether its batch is padded on the right or on the left.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.token = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position = nn.Embedding(config.max_positions, config.hidden_size)
        self.segment = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        positions = (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        summed = self.token(input_ids) + self.position(positions) + self.segment(token_type_ids)
        return self.dropout(self.norm(summed))


class SelfAttention(nn.Module):
    """Multi-head self-attention: softmax(Q Kᵀ / √d_head + mask) V per head, heads concatenated, projected.

    Padding is hidden from every query by an additive mask of a very negative number on padded keys.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, hidden) -> (batch, heads, tokens, head_dim)."""
        batch, tokens, _ = x.shape
        return x.view(batch, tokens, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the attended states (batch, tokens, hidden) and the weights (batch, heads, tokens, tokens)."""
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(x)), self.split_heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        hidden_keys = attention_mask[:, None, None, :] == 0  # broadcast over heads and queries
        scores = scores.masked_fill(hidden_keys, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)
        mixed = self.dropout(weights) @ v  # (batch, heads, tokens, head_dim)
        mixed = mixed.transpose(1, 2).reshape(x.shape)
        return self.output(mixed), weights


class FeedForward(nn.Module):
    """Position-wise MLP: hidden -> intermediate (exact GELU) -> hidden."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class EncoderLayer(nn.Module):
    """One BERT layer, post-LayerNorm: x = LN(x + Attention(x)); x = LN(x + FeedForward(x))."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(x, attention_mask)
        x = self.attention_norm(x + self.dropout(attended))
        x = self.output_norm(x + self.dropout(self.feed_forward(x)))
        return x, weights


class Encoder(nn.Module):
    """The BERT encoder: embeddings, then ``num_layers`` encoder layers; returns the last hidden states."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # BERT's initialisation: normal(0, 0.02) weights, zero biases, LayerNorm at identity.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        return self.embeddings.token.weight.device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, return_attentions: bool = False):
        """Last hidden states (batch, tokens, hidden); with ``return_attentions`` also a list of every
        layer's attention weights (batch, heads, tokens, tokens)."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, tokens), got shape {tuple(input_ids.shape)}.")
        if input_ids.shape[1] > self.config.max_positions:
            raise ValueError(f"{input_ids.shape[1]} tokens exceed max_positions={self.config.max_positions}: "
                             "truncate the input.")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must match input_ids "
                             f"{tuple(input_ids.shape)}.")
        x = self.embeddings(input_ids, attention_mask, token_type_ids)
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, attention_mask)
            attentions.append(weights)
        return (x, attentions) if return_attentions else x


def hf_bert_name(name: str) -> str:
    """The name a transformers ``BertModel`` gives to one of our :class:`Encoder` parameters."""
    renames = [
        ("embeddings.token.", "embeddings.word_embeddings."),
        ("embeddings.position.", "embeddings.position_embeddings."),
        ("embeddings.segment.", "embeddings.token_type_embeddings."),
        ("embeddings.norm.", "embeddings.LayerNorm."),
        ("layers.", "encoder.layer."),
        ("attention.query.", "attention.self.query."),
        ("attention.key.", "attention.self.key."),
        ("attention.value.", "attention.self.value."),
        ("attention.output.", "attention.output.dense."),
        ("attention_norm.", "attention.output.LayerNorm."),
        ("feed_forward.up.", "intermediate.dense."),
        ("feed_forward.down.", "output.dense."),
        ("output_norm.", "output.LayerNorm."),
    ]
    for ours, theirs in renames:
        name = name.replace(ours, theirs)
    return name


def load_bert_weights(model: Encoder, bert_state: dict[str, torch.Tensor]) -> Encoder:
    """Copy a transformers ``BertModel`` state dict into ``model``; every one of our tensors must be found
    with the same shape (the pooler and position-id buffers of BERT are not used)."""
    state = {key.removeprefix("bert."): value for key, value in bert_state.items()}
    missing = [name for name in model.state_dict() if hf_bert_name(name) not in state]
    if missing:
        raise KeyError(f"These weights are not in the checkpoint: {missing[:5]}; is it a BERT checkpoint?")
    model.load_state_dict({name: state[hf_bert_name(name)] for name in model.state_dict()})
    return model


def minilm_config() -> EncoderConfig:
    """all-MiniLM-L6-v2's sizes, read from the ``config.json`` in its package folder."""
    from helpers.models import minilm_path

    hf = json.loads((minilm_path() / "config.json").read_text())
    return EncoderConfig(vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
                         num_layers=hf["num_hidden_layers"], num_heads=hf["num_attention_heads"],
                         intermediate_size=hf["intermediate_size"], max_positions=hf["max_position_embeddings"],
                         type_vocab_size=hf["type_vocab_size"], layer_norm_eps=hf["layer_norm_eps"],
                         dropout=hf["hidden_dropout_prob"])


def load_minilm_from_scratch() -> Encoder:
    """Our :class:`Encoder` with the real all-MiniLM-L6-v2 weights (from the safetensors file), in eval mode."""
    from safetensors.torch import load_file

    from helpers.models import minilm_path

    model = Encoder(minilm_config())
    return load_bert_weights(model, load_file(str(minilm_path() / "model.safetensors"))).eval()


def minilm_tokenizer():
    """all-MiniLM-L6-v2's WordPiece tokenizer (uncased, 30,522 entries), offline from its package."""
    from transformers import AutoTokenizer

    from helpers.models import minilm_path

    return AutoTokenizer.from_pretrained(str(minilm_path()))


class ScratchEmbedder(TransformerEmbedder):
    """A from-scratch :class:`Encoder` plus a pooling (``mean``, ``cls``, ``max``...) as an Embedder."""

    def __init__(self, tokenizer, model: Encoder, pooling: str = "mean", max_length: int = 256,
                 name: str | None = None):
        if not isinstance(model, Encoder):
            raise TypeError(f"ScratchEmbedder wraps a helpers.encoder.Encoder, got {type(model).__name__}.")
        max_length = min(max_length, model.config.max_positions)
        super().__init__(tokenizer, model, pooling=pooling, max_length=max_length,
                         name=name or f"BERT from scratch ({pooling} pooling)")

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)

    def embed_batch(self, texts):
        self.model.eval()  # dropout off: the same text always gives the same vector
        return super().embed_batch(texts)

    def code(self):
        return (*super().code(), sys.modules[__name__])  # the from-scratch encoder

    def settings(self):
        return {**super().settings(), "config": asdict(self.model.config)}
