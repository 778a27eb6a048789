"""GRIT (Muennighoff et al. 2024) at CPU scale: one model, an embedding loss and a next-token loss (notebook 10).

:func:`grit_losses` computes the contrastive loss with bidirectional attention and mean pooling and the
next-token loss with causal attention, on the same top layers (:class:`TopLayers`). :func:`train_grit` tunes them
with the contrastive loss alone, with both (GRIT), or with the next-token loss alone (the control that tells
"GRIT protects the language model" from plain language-model tuning, :data:`VARIANTS`). CPU-scale compromise:
only the tuned top layers switch to bidirectional attention; the frozen lower :data:`~helpers.frontier.SPLIT_LAYER`
layers keep the causal mask, so one cached pass per text (:class:`helpers.frontier.StateStore`) serves both
losses.
"""

from __future__ import annotations

import copy
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cache, config
from helpers.decoder import Llama, run_layers
from helpers.frontier import (
    SPLIT_LAYER,
    StatesEmbedder,
    StateStore,
    artifact_key,
    artifact_path,
    frozen_smollm2,
    seed_suffix,
    smollm2_states,
    training_pairs,
    training_seed,
)
from helpers.llm2vec import lm_windows, token_windows
from helpers.losses import info_nce
from helpers.pooling import mean_pool


class TopLayers(nn.Module):
    """Trainable copies of the top layers and final norm of a :class:`~helpers.decoder.Llama`, run on the
    cached outputs of its frozen lower layers; the output head is the model's (frozen) tied embedding."""

    def __init__(self, model: Llama, first_layer: int = SPLIT_LAYER):
        super().__init__()
        self.first_layer = first_layer
        self.layers = copy.deepcopy(model.layers[first_layer:])
        self.norm = copy.deepcopy(model.norm)
        self.requires_grad_(True)  # the copies of a frozen model's layers are trainable
        self.model = [model]  # a list, so that the frozen model's weights are not this module's parameters

    def forward(self, states: torch.Tensor, mask: torch.Tensor, bidirectional: bool) -> torch.Tensor:
        return self.norm(run_layers(self.model[0], states, mask, self.layers, bidirectional, final_norm=False))

    def next_token_losses(self, states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Causal language-model loss of each unpadded window (n,): token i + 1 predicted from position i."""
        device = self.norm.weight.device  # stored states and ids come from the CPU
        states, ids = states.to(device), ids.to(device)
        hidden = self(states, torch.ones_like(ids), bidirectional=False)
        logits = hidden[:, :-1] @ self.model[0].embed_tokens.weight.T
        per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
        return per_token.view(len(ids), -1).mean(dim=1)

    def next_token_loss(self, states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Causal language-model loss on unpadded windows of equal length, averaged over all their tokens."""
        return self.next_token_losses(states, ids).mean()


class MeanPooledTop(nn.Module):
    """``head(states, mask)`` for :class:`StatesEmbedder`: :class:`TopLayers` with bidirectional attention, then
    mean pooling (GRIT's embedding mode)."""

    def __init__(self, top: TopLayers):
        super().__init__()
        self.top = top

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.top(states, mask, bidirectional=True), mask)


@torch.inference_mode()
def window_states(model: Llama, windows: torch.Tensor, layer: int = SPLIT_LAYER, batch_size: int = 16) -> torch.Tensor:
    """Causal states after ``layer`` layers of unpadded token windows (n, seq_len, dim)."""
    out = []
    for start in range(0, len(windows), batch_size):
        ids = windows[start : start + batch_size].to(model.device)
        out.append(run_layers(model, model.embed_tokens(ids), torch.ones_like(ids), model.layers[:layer], False,
                              False))
    return torch.cat(out)


def grit_losses(top: TopLayers, store: StateStore, queries: list[str], passages: list[str],
                lm_states: torch.Tensor, lm_ids: torch.Tensor, temperature: float = 0.02) -> dict[str, torch.Tensor]:
    """GRIT's two losses on one batch: ``"contrastive"`` (bidirectional attention, mean pooling, InfoNCE with
    in-batch negatives at ``temperature``) and ``"next_token"`` (causal attention, next-token cross-entropy)."""
    pooled, layer = MeanPooledTop(top), top.first_layer
    contrastive = info_nce(pooled(*store.batch(queries, layer)), pooled(*store.batch(passages, layer)),
                           temperature=temperature)
    return {"contrastive": contrastive, "next_token": top.next_token_loss(lm_states, lm_ids)}


def held_out_next_token_losses(top: TopLayers, states: torch.Tensor, ids: torch.Tensor,
                                batch_size: int = 16) -> np.ndarray:
    """The next-token loss of each held-out window (their frozen lower-layer states precomputed): per-window
    values, so that two models can be compared window by window (a paired bootstrap over windows)."""
    with torch.no_grad():
        return torch.cat([top.next_token_losses(states[k : k + batch_size].float(), ids[k : k + batch_size])
                          for k in range(0, len(ids), batch_size)]).cpu().numpy()


# What each variant trains on: the contrastive loss, GRIT's sum, or the next-token loss alone (the control).
VARIANTS = ("embedding_only", "joint", "lm_only")


def train_grit(model: Llama, store: StateStore, queries: list[str], passages: list[str], positive,
               lm_states: torch.Tensor, lm_ids: torch.Tensor, variant: str, steps: int = 30, batch_size: int = 16,
               lm_batch_size: int = 8, lr: float = 1e-4, lm_weight: float = 1.0, temperature: float = 0.02,
               seed: int = 42, progress: bool = True) -> tuple[TopLayers, dict[str, list[float]]]:
    """Tune the top layers with the contrastive loss alone (``"embedding_only"``), GRIT's sum contrastive +
    ``lm_weight`` x next-token (``"joint"``), or the next-token loss alone (``"lm_only"``). All see the same
    batches; both losses are recorded either way. Returns ``(top, {"contrastive": [...], "next_token": [...]})``."""
    from helpers.contrastive import no_duplicate_batches

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
    config.seed_everything(seed)
    top = TopLayers(model, store.layers[0])
    store.ensure(queries + passages, progress=progress)
    optimizer = torch.optim.AdamW(top.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    batches, history = [], {"contrastive": [], "next_token": []}
    top.train()
    for _ in config.progress_bar(range(steps), desc=f"GRIT {variant.replace('_', ' ')}", disable=not progress):
        if not batches:
            batches = [b for b in no_duplicate_batches(positive, batch_size, rng) if len(b) == batch_size]
        batch = batches.pop()
        windows = rng.choice(len(lm_ids), lm_batch_size, replace=False)
        losses = grit_losses(top, store, [queries[q] for q in batch], [passages[positive[q]] for q in batch],
                             lm_states[windows], lm_ids[windows], temperature)
        loss = {"embedding_only": losses["contrastive"], "lm_only": losses["next_token"],
                "joint": losses["contrastive"] + lm_weight * losses["next_token"]}[variant]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for name, value in losses.items():
            history[name].append(value.item())
    return top.eval(), history


GRIT_RECIPE = {"n_pairs": 160, "steps": 20, "batch_size": 8, "lm_batch_size": 4, "seq_len": 64, "train_windows": 32,
               "held_out_windows": 64, "lr": 3e-4, "lm_weight": 1.0, "temperature": 0.02, "seed": 42}


def other_source_documents() -> list[str]:
    """Held-out text from another source than the LM training windows (Lee background news): the last State of
    the Union address (speech, not news), which nothing in the course trains SmolLM2 on."""
    from helpers.corpus import sotu_texts

    return sotu_texts()[-1:]


def lm_data(seq_len: int = 64, train_windows: int = 32, held_out_windows: int = 64) -> dict[str, torch.Tensor]:
    """The first ``train_windows`` training windows and ``held_out_windows`` windows of held-out text for the LM
    loss (:func:`helpers.llm2vec.lm_windows`), ``held_out_windows`` windows of another source
    (:func:`other_source_documents`, as ``other_ids``), and their frozen states after :data:`SPLIT_LAYER`
    layers."""
    path = artifact_path(f"lm-windows-{seq_len}-{train_windows}-{held_out_windows}.safetensors")
    tokenizer, model = frozen_smollm2()
    key = artifact_key(sys.modules[__name__])
    tensors, info = cache.read(path, cache.load_tensors) or ({}, {})
    if cache.matches(info, key):
        return tensors
    tensors = {}
    windows = {"train": lm_windows(tokenizer, seq_len)[:train_windows],
               "held_out": lm_windows(tokenizer, seq_len, held_out=True)[:held_out_windows],
               "other": token_windows(tokenizer, other_source_documents(), seq_len)[:held_out_windows]}
    for part, ids in windows.items():
        tensors[f"{part}_ids"], tensors[f"{part}_states"] = ids, window_states(model, ids).to(torch.float16)
    cache.save_tensors(path, tensors, key)
    return tensors


def grit_model(variant: str, recipe: dict = GRIT_RECIPE, progress: bool = True,
               seed: int | None = None) -> tuple[TopLayers, dict]:
    """The tuned top layers of a :data:`VARIANTS` entry (``"joint"`` is GRIT) and their loss curves, from the cache
    or trained now (and saved). ``seed`` (default: the recipe's) sets the batch order and the next-token windows
    drawn; the training pairs are always those of the recipe's seed."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
    seed = training_seed(recipe, seed)
    _, model = frozen_smollm2()
    path = artifact_path(f"grit-{variant}-seed{seed}.safetensors")
    top = TopLayers(model)
    key = artifact_key(sys.modules[__name__], recipe, seed)
    state, info = cache.read(path, cache.load_tensors) or ({}, {})
    if cache.matches(info, key):
        top.load_state_dict(state)
        return top.eval(), info["history"]
    lm = lm_data(recipe["seq_len"], recipe["train_windows"], recipe["held_out_windows"])
    pairs = training_pairs(recipe["n_pairs"], recipe["seed"])
    start = time.perf_counter()
    top, history = train_grit(model, smollm2_states(), pairs.queries, pairs.passages, pairs.positive,
                              lm["train_states"].float(), lm["train_ids"], variant, recipe["steps"],
                              recipe["batch_size"], recipe["lm_batch_size"], recipe["lr"], recipe["lm_weight"],
                              recipe["temperature"], seed, progress)
    history["seconds"] = time.perf_counter() - start
    cache.save_tensors(path, top.state_dict(), {**key, "history": history})
    return top, history


def grit_embedder(variant: str = "joint", seed: int | None = None) -> StatesEmbedder:
    """SmolLM2 with GRIT-tuned top layers (``"joint"`` or ``"embedding_only"``), bidirectional mean pooling
    (notebook 11's GRIT row: the recipe's seed)."""
    top, _ = grit_model(variant, seed=seed)
    return StatesEmbedder(smollm2_states(), MeanPooledTop(top),
                          f"SmolLM2-135M GRIT {variant.replace('_', ' ')}{seed_suffix(GRIT_RECIPE, seed)}",
                          layer=SPLIT_LAYER)
