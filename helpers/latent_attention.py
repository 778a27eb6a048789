"""NV-Embed's latent-attention pooling (Lee et al. 2024) from scratch, at CPU scale (taught in notebook 10).

:class:`LatentAttentionPooling` lets every token state (the queries) attend to a small learned latent array (keys
and values), adds the result back, applies a feed-forward block, then mean-pools. :class:`MeanMLPPooling` is the
baseline with the same feed-forward block and no attention. Both are trained by :func:`train_pooling_head` on
**frozen** SmolLM2 token states (:class:`helpers.frontier.StateStore`); :func:`pooling_head` keeps the trained
heads of :data:`HEAD_RECIPE`.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cache, config
from helpers.frontier import (
    StatesEmbedder,
    StateStore,
    artifact_key,
    artifact_path,
    seed_suffix,
    smollm2_states,
    training_pairs,
    training_seed,
)
from helpers.losses import info_nce
from helpers.pooling import mean_pool


class CrossAttention(nn.Module):
    """Multi-head attention of queries ``x`` (batch, tokens, dim) over ``context`` (batch, keys, dim), no bias."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}.")
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(dim, dim, bias=False) for _ in range(4))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        def split(t):  # (batch, n, dim) -> (batch, heads, n, head_dim)
            return t.view(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(context)), split(self.v_proj(context))
        weights = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(dim=-1)
        return self.o_proj((weights @ v).transpose(1, 2).reshape(x.shape))


class FeedForward(nn.Module):
    """GEGLU feed-forward: down(a * gelu(gate)), with (a, gate) = up(x)."""

    def __init__(self, dim: int, mult: int = 1):
        super().__init__()
        self.up = nn.Linear(dim, 2 * mult * dim)
        self.down = nn.Linear(mult * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.up(x).chunk(2, dim=-1)
        return self.down(a * F.gelu(gate))


class MeanMLPPooling(nn.Module):
    """The baseline head: each token state plus a pre-norm feed-forward block, then mean pooling.

    The block's output layer starts at zero, so the untrained head is plain mean pooling.
    """

    def __init__(self, dim: int, mult: int = 1):
        super().__init__()
        self.norm_ff = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mult)
        nn.init.zeros_(self.mlp.down.weight)
        nn.init.zeros_(self.mlp.down.bias)

    def token_states(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.mlp(self.norm_ff(hidden))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.token_states(hidden), mask)


class LatentAttentionPooling(MeanMLPPooling):
    """NV-Embed's pooling: token states (queries) attend to ``num_latents`` learned latents (keys and values),
    the result is added back, then the same feed-forward block as :class:`MeanMLPPooling`, then mean pooling.

    NV-Embed uses 512 latents and 8 heads on a 4096-dim Mistral; here a few latents on SmolLM2's 576 dims. The
    attention's output projection also starts at zero, so the untrained head is plain mean pooling too.
    """

    def __init__(self, dim: int, num_latents: int = 32, heads: int = 4, mult: int = 1):
        super().__init__(dim, mult)
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        self.norm_x, self.norm_latents = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = CrossAttention(dim, heads)
        nn.init.zeros_(self.attention.o_proj.weight)

    def token_states(self, hidden: torch.Tensor) -> torch.Tensor:
        latents = self.norm_latents(self.latents).expand(hidden.shape[0], -1, -1)
        hidden = hidden + self.attention(self.norm_x(hidden), latents)
        return super().token_states(hidden)


def train_pooling_head(head: nn.Module, store: StateStore, queries: list[str], passages: list[str], positive,
                       steps: int = 80, batch_size: int = 32, lr: float = 1e-3, temperature: float = 0.05,
                       seed: int = 42, progress: bool = True) -> list[float]:
    """Train ``head`` on the store's top-layer states with InfoNCE (in-batch negatives; no passage twice in a
    batch)."""
    from helpers.contrastive import no_duplicate_batches

    store.ensure(queries + passages, progress=progress)
    config.seed_everything(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr)
    batches, losses = [], []
    head.train()
    for _ in config.progress_bar(range(steps), desc=f"Training {type(head).__name__}", disable=not progress):
        if not batches:
            batches = [b for b in no_duplicate_batches(positive, batch_size, rng) if len(b) == batch_size]
        batch = batches.pop()
        query_vectors = head(*store.batch([queries[q] for q in batch], store.layers[-1]))
        passage_vectors = head(*store.batch([passages[positive[q]] for q in batch], store.layers[-1]))
        loss = info_nce(query_vectors, passage_vectors, temperature=temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


HEAD_RECIPE = {"n_pairs": 160, "num_latents": 32, "heads": 4, "mult": 1, "steps": 60, "batch_size": 16, "lr": 1e-3,
               "temperature": 0.05, "seed": 42}


def make_head(kind: str, recipe: dict = HEAD_RECIPE, seed: int | None = None) -> nn.Module:
    """An untrained ``"latent"`` (:class:`LatentAttentionPooling`) or ``"mean"`` (:class:`MeanMLPPooling`) head,
    initialised with ``seed`` (default: the recipe's)."""
    config.seed_everything(training_seed(recipe, seed))
    if kind == "latent":
        head = LatentAttentionPooling(576, recipe["num_latents"], recipe["heads"], recipe["mult"])
    elif kind == "mean":
        head = MeanMLPPooling(576, recipe["mult"])
    else:
        raise ValueError(f"kind must be 'latent' or 'mean', got {kind!r}.")
    return head.to(config.device())  # where SmolLM2 and its states are


def pooling_head(kind: str, recipe: dict = HEAD_RECIPE, progress: bool = True,
                 seed: int | None = None) -> tuple[nn.Module, list[float]]:
    """A trained pooling head and its loss curve: loaded from the cache, or trained now (and saved).

    ``seed`` (default: the recipe's) sets the head's initialisation and batch order; the training pairs are
    always those of the recipe's seed, so runs with different seeds differ only in training randomness."""
    seed = training_seed(recipe, seed)
    path = artifact_path(f"head-{kind}-seed{seed}.safetensors")
    head = make_head(kind, recipe, seed)
    key = artifact_key(sys.modules[__name__], recipe, seed)
    state, info = cache.read(path, cache.load_tensors) or ({}, {})
    if cache.matches(info, key):
        head.load_state_dict(state)
        return head.eval(), info["losses"]
    pairs = training_pairs(recipe["n_pairs"], recipe["seed"])
    start = time.perf_counter()
    losses = train_pooling_head(head, smollm2_states(), pairs.queries, pairs.passages, pairs.positive, recipe["steps"],
                                recipe["batch_size"], recipe["lr"], recipe["temperature"], seed, progress)
    cache.save_tensors(path, head.state_dict(), {**key, "losses": losses, "seconds": time.perf_counter() - start})
    return head.eval(), losses


def pooling_head_embedder(kind: str = "latent", seed: int | None = None) -> StatesEmbedder:
    """SmolLM2 (frozen, causal) + a trained pooling head, as an Embedder (notebook 11's latent-attention row:
    the recipe's seed)."""
    head, _ = pooling_head(kind, seed=seed)
    label = "latent attention" if kind == "latent" else "mean + MLP"
    return StatesEmbedder(smollm2_states(), head, f"SmolLM2-135M + {label} head{seed_suffix(HEAD_RECIPE, seed)}")
