"""Frontier embedding architectures at CPU scale (taught in notebook 10).

* **NV-Embed's latent-attention pooling** (Lee et al. 2024), from scratch: :class:`LatentAttentionPooling` lets
  every token state (the queries) attend to a small learned latent array (keys and values), adds the result
  back, applies a feed-forward block, then mean-pools. :class:`MeanMLPPooling` is the baseline with the same
  feed-forward block and no attention. Both are trained by :func:`train_pooling_head` on **frozen** SmolLM2
  token states that :class:`StateStore` computes once and keeps on disk.
* **Positive-aware hard-negative filtering** (NV-Retriever, used by NV-Embed-v2): :func:`positive_aware_negatives`
  drops candidate negatives that a teacher scores above a fraction of the positive's score.
* **GRIT** (Muennighoff et al. 2024): one model, two losses; :func:`grit_losses` computes the contrastive loss
  with bidirectional attention and mean pooling and the next-token loss with causal attention, on the same
  top layers (:class:`TopLayers`). :func:`train_grit` tunes them with the contrastive loss alone or with both.
  CPU-scale compromise: only the tuned top layers switch to bidirectional attention; the frozen lower
  :data:`SPLIT_LAYER` layers keep the causal mask, so one cached pass per text serves both losses.

Everything runs on the from-scratch Llama of :mod:`helpers.decoder` (SmolLM2's weights; its ``bidirectional``
switch is LLM2Vec's padding-only mask, as :mod:`helpers.llm2vec` applies to transformers). The lower
:data:`SPLIT_LAYER` layers stay frozen, so their outputs are computed once per text and cached (:class:`StateStore`).
``scripts/train_frontier.py`` builds every cache and artifact; the functions here rebuild them when missing.

Training text: inverse-cloze pairs and next-token windows from the course's training documents, which share no
sentence with the benchmark, less the held-out text for the LM loss (:func:`helpers.llm2vec.lm_documents`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cache, config, data
from helpers.decoder import Llama, attention_bias, rotary_cos_sin
from helpers.embed import Embedder, check_texts, weights_fingerprint
from helpers.llm2vec import lm_documents, lm_windows
from helpers.losses import info_nce
from helpers.pooling import mean_pool

SPLIT_LAYER = 26  # GRIT tunes the top 30 - 26 = 4 layers; the states after layer 26 are cached
MAX_LENGTH = 256  # tokens per text, as smollm2_embedder
TRAIN_MAX_LENGTH = 96  # training texts are cut shorter: cheaper steps


# ---------------------------------------------------------------------------------------------------------
# Running a slice of the decoder's layers


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


def tokenize(tokenizer, texts: list[str], max_length: int = MAX_LENGTH) -> list[list[int]]:
    """Token ids of each text (no special tokens added; SmolLM2's tokenizer adds none), truncated."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad per-text states (tokens, dim) into (batch, tokens, dim) float32 plus a 0/1 mask."""
    longest = max(len(row) for row in rows)
    states = torch.zeros(len(rows), longest, rows[0].shape[-1])
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for k, row in enumerate(rows):
        states[k, : len(row)] = row.float()
        mask[k, : len(row)] = 1
    return states, mask


class StateStore:
    """Token states of SmolLM2 (the from-scratch :class:`~helpers.decoder.Llama`, frozen) after each of ``layers``
    (counted from the bottom), one tensor (tokens, dim) per text and layer, computed in one pass and kept on disk
    in float16. The last layer's states are normed, as the model's output (what a pooling head reads).
    """

    def __init__(self, model: Llama, tokenizer, layers: tuple[int, ...] = (SPLIT_LAYER, 30),
                 bidirectional: bool = False, max_length: int = MAX_LENGTH, persist: bool = True):
        layers = tuple(sorted(set(layers)))
        if not layers or not 1 <= layers[0] <= layers[-1] <= model.sizes.num_layers:
            raise ValueError(f"layers must lie between 1 and {model.sizes.num_layers}, got {layers}.")
        self.model, self.tokenizer, self.layers = model, tokenizer, layers
        self.bidirectional, self.max_length, self.persist = bidirectional, max_length, persist
        self.states: dict[str, torch.Tensor] | None = None if persist else {}

    def empty_copy(self) -> StateStore:
        """The same settings, nothing stored, never written to disk, and (read through a :class:`StatesEmbedder`)
        emptied after every call: to time the full computation."""
        return StateStore(self.model, self.tokenizer, self.layers, self.bidirectional, self.max_length, persist=False)

    def settings(self) -> dict:
        # The from-scratch model's code and run_layers compute the states: edit them and the stored states go.
        return {"weights": weights_fingerprint(self.model), "layers": self.layers,
                "bidirectional": self.bidirectional, "max_length": self.max_length,
                "code": cache.source_hash(sys.modules[Llama.__module__], run_layers, tokenize)}

    def path(self):
        key = hashlib.sha256(repr(sorted(self.settings().items())).encode()).hexdigest()[:16]
        mode = "bidirectional" if self.bidirectional else "causal"
        return config.cache_dir() / "frontier" / f"states-{mode}-{key}.safetensors"

    def _load(self) -> dict[str, torch.Tensor]:
        if self.states is None:
            self.states = self._on_disk()
        return self.states

    def _on_disk(self) -> dict[str, torch.Tensor]:
        states, _ = cache.read(self.path(), cache.load_tensors) or ({}, {})  # keyed by text
        return states

    @torch.inference_mode()
    def ensure(self, texts, batch_size: int = 16, progress: bool = True) -> None:
        """Compute (and save) the states of the texts not stored yet."""
        states = self._load()
        todo = sorted(set(check_texts(texts)) - states.keys(), key=len)
        if not todo:
            return
        batches = [todo[k : k + batch_size] for k in range(0, len(todo), batch_size)]
        for batch in config.progress_bar(batches, desc=f"SmolLM2 states of {len(todo)} texts", disable=not progress):
            ids = tokenize(self.tokenizer, batch, self.max_length)
            padded = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(self.model.device)
            mask = padded["attention_mask"]
            x, done, kept = self.model.embed_tokens(padded["input_ids"]), 0, []
            for layer in self.layers:
                last = layer == self.model.sizes.num_layers
                x = run_layers(self.model, x, mask, self.model.layers[done:layer], self.bidirectional, False)
                kept.append(self.model.norm(x) if last else x)
                done = layer
            stacked = torch.stack(kept, dim=1)  # (batch, layers, tokens, dim)
            for text, row, length in zip(batch, stacked, mask.sum(1).tolist(), strict=True):
                states[text] = row[:, :length].to("cpu", torch.float16).clone()  # kept, and saved, on the CPU
        if self.persist:
            # Keep what other processes stored since we read the file: merge with it right before replacing it.
            states.update({text: row for text, row in self._on_disk().items() if text not in states})
            cache.save_tensors(self.path(), states)

    def batch(self, texts: list[str], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded float32 states (batch, tokens, dim) after ``layer`` and their mask (call :meth:`ensure` first)."""
        if layer not in self.layers:
            raise ValueError(f"This store keeps layers {self.layers}, not {layer}.")
        states = self._load()
        missing = [t for t in texts if t not in states]
        if missing:
            raise KeyError(f"{len(missing)} texts have no stored states: call store.ensure(texts) first.")
        index = self.layers.index(layer)
        states, mask = pad([states[t][index] for t in texts])
        return states.to(self.model.device), mask.to(self.model.device)


# ---------------------------------------------------------------------------------------------------------
# Latent-attention pooling (NV-Embed) and the mean-pooling baseline


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


def training_pairs(n_pairs: int = 256, seed: int = 42):
    """``n_pairs`` inverse-cloze training pairs (a :class:`helpers.contrastive.PairSet`, passages renumbered),
    drawn with ``seed`` from :func:`helpers.contrastive.ict_training_pairs` of the training part of
    :func:`helpers.llm2vec.lm_documents`: the course's training documents (no sentence of the benchmark) less the
    held-out text for the next-token loss, so that GRIT's held-out LM loss is measured on text it never saw."""
    from helpers.contrastive import PairSet, ict_training_pairs

    pairs = ict_training_pairs(documents=lm_documents())
    if n_pairs > len(pairs.queries):
        raise ValueError(f"Only {len(pairs.queries)} training pairs exist; ask for at most that many.")
    chosen = np.sort(np.random.default_rng(seed).choice(len(pairs.queries), n_pairs, replace=False))
    used = sorted({int(pairs.positive[q]) for q in chosen})
    renumber = {old: new for new, old in enumerate(used)}
    return PairSet([pairs.queries[q] for q in chosen], [pairs.passages[p] for p in used],
                   np.array([renumber[int(pairs.positive[q])] for q in chosen]), pairs.article[used])


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


class StatesEmbedder(Embedder):
    """An :class:`~helpers.embed.Embedder` that reads a :class:`StateStore`'s states after ``layer`` (default: its
    top layer) and applies ``head`` (any module ``head(states, mask) -> vectors``); missing states are computed
    first, for the whole list at once."""

    def __init__(self, store: StateStore, head: nn.Module, name: str, layer: int | None = None):
        self.store, self.head, self.name = store, head.eval(), name
        self.layer = store.layers[-1] if layer is None else layer
        self.dim = store.model.sizes.hidden_size

    def encode(self, texts, batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        texts = check_texts(texts)
        if not (self.cache and self._cache_path(texts).exists()):
            self.store.ensure(texts, progress=bool(progress) or len(texts) > 64)
        vectors = super().encode(texts, batch_size, progress)
        if not self.store.persist:
            self.store.states.clear()  # a memory-only store keeps nothing: every call pays SmolLM2's forward pass
        return vectors

    def embed_batch(self, texts):
        return self.head(*self.store.batch(texts, self.layer))

    def uncached(self) -> StatesEmbedder:
        """This embedder on an empty, memory-only store with no vector cache: every call runs SmolLM2 again."""
        twin = StatesEmbedder(self.store.empty_copy(), self.head, self.name, self.layer)
        twin.cache = False
        return twin

    def code(self):
        return (sys.modules[__name__],)  # the heads and the tuned top layers

    def settings(self):
        return {"store": self.store.settings(), "layer": self.layer, "head": weights_fingerprint(self.head)}


# ---------------------------------------------------------------------------------------------------------
# Positive-aware hard-negative filtering (NV-Retriever / NV-Embed-v2)


def positive_aware_negatives(query_vectors: np.ndarray, passage_vectors: np.ndarray, positive, k: int = 1,
                             max_ratio: float | None = 0.95) -> np.ndarray:
    """The ``k`` best-scored passages per query other than its positive, by a teacher's cosine (unit rows).

    With ``max_ratio`` (NV-Retriever's "TopK-PercPos"), a candidate scoring above ``max_ratio`` x the positive's
    score is skipped as a probable false negative; ``None`` keeps plain top-k mining. Returns (queries, k).
    """
    positive = np.asarray(positive)
    if max_ratio is not None and not 0 < max_ratio <= 1:
        raise ValueError(f"max_ratio must lie in (0, 1], or be None; got {max_ratio}.")
    scores = query_vectors @ passage_vectors.T
    positive_scores = scores[np.arange(len(positive)), positive]
    mined = np.empty((len(positive), k), dtype=int)
    for q, row in enumerate(scores):
        ranking = np.argsort(-row, kind="stable")
        ranking = ranking[ranking != positive[q]]
        if max_ratio is not None:
            ranking = ranking[row[ranking] <= max_ratio * positive_scores[q]]
        if len(ranking) < k:
            raise ValueError(f"Query {q} keeps fewer than {k} negatives: lower k or raise max_ratio.")
        mined[q] = ranking[:k]
    return mined


# ---------------------------------------------------------------------------------------------------------
# GRIT: one model, a contrastive loss (bidirectional) and a next-token loss (causal)


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
        model = self.model[0]
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        cos, sin = rotary_cos_sin(positions, model.sizes.head_dim, model.sizes.rope_theta)
        bias = attention_bias(mask, bidirectional, states.dtype)
        for layer in self.layers:
            states = layer(states, cos, sin, bias)
        return self.norm(states)

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


def train_grit(model: Llama, store: StateStore, queries: list[str], passages: list[str], positive,
               lm_states: torch.Tensor, lm_ids: torch.Tensor, joint: bool, steps: int = 30, batch_size: int = 16,
               lm_batch_size: int = 8, lr: float = 1e-4, lm_weight: float = 1.0, temperature: float = 0.02,
               seed: int = 42, progress: bool = True) -> tuple[TopLayers, dict[str, list[float]]]:
    """Tune the top layers with the contrastive loss alone (``joint=False``) or GRIT's sum contrastive +
    ``lm_weight`` x next-token (``joint=True``). Both see the same batches; the next-token loss is recorded
    either way. Returns ``(top, {"contrastive": [...], "next_token": [...]})``."""
    from helpers.contrastive import no_duplicate_batches

    config.seed_everything(seed)
    top = TopLayers(model, store.layers[0])
    store.ensure(queries + passages, progress=progress)
    optimizer = torch.optim.AdamW(top.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    batches, history = [], {"contrastive": [], "next_token": []}
    top.train()
    for _ in config.progress_bar(range(steps), desc="GRIT joint" if joint else "Embedding only", disable=not progress):
        if not batches:
            batches = [b for b in no_duplicate_batches(positive, batch_size, rng) if len(b) == batch_size]
        batch = batches.pop()
        windows = rng.choice(len(lm_ids), lm_batch_size, replace=False)
        losses = grit_losses(top, store, [queries[q] for q in batch], [passages[positive[q]] for q in batch],
                             lm_states[windows], lm_ids[windows], temperature)
        loss = losses["contrastive"] + lm_weight * losses["next_token"] if joint else losses["contrastive"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for name, value in losses.items():
            history[name].append(value.item())
    return top.eval(), history


# ---------------------------------------------------------------------------------------------------------
# The artifacts notebooks 10 and 11 use (built by scripts/train_frontier.py, rebuilt here when missing)

HEAD_RECIPE = {"n_pairs": 160, "num_latents": 32, "heads": 4, "mult": 1, "steps": 60, "batch_size": 16, "lr": 1e-3,
               "temperature": 0.05, "seed": 42}
GRIT_RECIPE = {"n_pairs": 160, "steps": 20, "batch_size": 8, "lm_batch_size": 4, "seq_len": 64, "train_windows": 32,
               "held_out_windows": 64, "lr": 3e-4, "lm_weight": 1.0, "temperature": 0.02, "seed": 42}
SEEDS = (42, 43, 44, 45, 46)  # training seeds of notebook 10's comparisons (a recipe's "seed" also draws its pairs)
RETRIEVAL_TASKS = ["NewsHeadlineRetrieval", "NewsInverseCloze", "DictionaryRetrieval"]  # notebook 10 scores these


def retrieval_texts(split: str = "test") -> list[str]:
    """Every query and document of :data:`RETRIEVAL_TASKS` in ``split``: the texts whose states notebook 10 reads."""
    tasks = (data.news_headline_retrieval(split), data.inverse_cloze_task(split), data.dictionary_retrieval(split))
    return list(dict.fromkeys(text for task in tasks for text in task.queries + task.corpus))


@functools.lru_cache(maxsize=1)
def frozen_smollm2():
    """``(tokenizer, model)``: the from-scratch SmolLM2 (:func:`helpers.decoder.load_smollm2_from_scratch`), frozen."""
    from helpers.decoder import load_smollm2_from_scratch
    from helpers.models import load_smollm2

    model = load_smollm2_from_scratch().requires_grad_(False)
    return load_smollm2()[0], model


@functools.lru_cache(maxsize=1)
def smollm2_states() -> StateStore:
    """SmolLM2's causal token states after layer :data:`SPLIT_LAYER` (GRIT's tuned top layers read them) and after
    the last layer, normed (the pooling heads read them), from one forward pass per text."""
    tokenizer, model = frozen_smollm2()
    return StateStore(model, tokenizer, (SPLIT_LAYER, model.sizes.num_layers))


def make_head(kind: str, recipe: dict = HEAD_RECIPE, seed: int | None = None) -> nn.Module:
    """An untrained ``"latent"`` (:class:`LatentAttentionPooling`) or ``"mean"`` (:class:`MeanMLPPooling`) head,
    initialised with ``seed`` (default: the recipe's)."""
    config.seed_everything(_training_seed(recipe, seed))
    if kind == "latent":
        head = LatentAttentionPooling(576, recipe["num_latents"], recipe["heads"], recipe["mult"])
    elif kind == "mean":
        head = MeanMLPPooling(576, recipe["mult"])
    else:
        raise ValueError(f"kind must be 'latent' or 'mean', got {kind!r}.")
    return head.to(config.device())  # where SmolLM2 and its states are


def _artifact(name: str):
    return config.cache_dir() / "frontier" / name


def _artifact_key(recipe: dict | None = None, seed: int | None = None) -> dict:
    """What decides a trained artifact here: its recipe and seed, the training documents (another held-out policy,
    another artifact), SmolLM2's weights, and the source of the code that computes states and trains."""
    from helpers import decoder, llm2vec, losses, pooling
    from helpers.models import load_smollm2

    key = {"text": cache.texts_fingerprint(data.training_background()),
           "weights": weights_fingerprint(load_smollm2()[1]),
           "code": cache.source_hash(sys.modules[__name__], decoder, llm2vec, losses, pooling)}
    return key if recipe is None else {"recipe": dict(recipe), "seed": seed, **key}


def _training_seed(recipe: dict, seed: int | None) -> int:
    return recipe["seed"] if seed is None else seed


def _seed_suffix(recipe: dict, seed: int | None) -> str:
    """What an embedder's name adds for a seed other than the recipe's (whose model is the leaderboard's row)."""
    return "" if _training_seed(recipe, seed) == recipe["seed"] else f", seed {seed}"


def pooling_head(kind: str, recipe: dict = HEAD_RECIPE, progress: bool = True,
                 seed: int | None = None) -> tuple[nn.Module, list[float]]:
    """A trained pooling head and its loss curve: loaded from the cache, or trained now (and saved).

    ``seed`` (default: the recipe's) sets the head's initialisation and batch order; the training pairs are
    always those of the recipe's seed, so runs with different seeds differ only in training randomness."""
    seed = _training_seed(recipe, seed)
    path = _artifact(f"head-{kind}-seed{seed}.safetensors")
    head = make_head(kind, recipe, seed)
    key = _artifact_key(recipe, seed)
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
    return StatesEmbedder(smollm2_states(), head, f"SmolLM2-135M + {label} head{_seed_suffix(HEAD_RECIPE, seed)}")


def lm_data(seq_len: int = 64, train_windows: int = 32, held_out_windows: int = 64) -> dict[str, torch.Tensor]:
    """The first ``train_windows`` training windows and ``held_out_windows`` windows of held-out text for the LM
    loss (:func:`helpers.llm2vec.lm_windows`), and their frozen states after :data:`SPLIT_LAYER` layers."""
    path = _artifact(f"lm-windows-{seq_len}-{train_windows}-{held_out_windows}.safetensors")
    tokenizer, model = frozen_smollm2()
    key = _artifact_key()
    tensors, info = cache.read(path, cache.load_tensors) or ({}, {})
    if cache.matches(info, key):
        return tensors
    tensors = {}
    for part, held_out, count in (("train", False, train_windows), ("held_out", True, held_out_windows)):
        ids = lm_windows(tokenizer, seq_len, held_out)[:count]
        tensors[f"{part}_ids"], tensors[f"{part}_states"] = ids, window_states(model, ids).to(torch.float16)
    cache.save_tensors(path, tensors, key)
    return tensors


def grit_model(variant: str, recipe: dict = GRIT_RECIPE, progress: bool = True,
               seed: int | None = None) -> tuple[TopLayers, dict]:
    """The ``"joint"`` (GRIT) or ``"embedding_only"`` tuned top layers and their loss curves, from the cache or
    trained now (and saved). ``seed`` (default: the recipe's) sets the batch order and the next-token windows
    drawn; the training pairs are always those of the recipe's seed."""
    if variant not in ("joint", "embedding_only"):
        raise ValueError(f"variant must be 'joint' or 'embedding_only', got {variant!r}.")
    seed = _training_seed(recipe, seed)
    _, model = frozen_smollm2()
    path = _artifact(f"grit-{variant}-seed{seed}.safetensors")
    top = TopLayers(model)
    key = _artifact_key(recipe, seed)
    state, info = cache.read(path, cache.load_tensors) or ({}, {})
    if cache.matches(info, key):
        top.load_state_dict(state)
        return top.eval(), info["history"]
    lm = lm_data(recipe["seq_len"], recipe["train_windows"], recipe["held_out_windows"])
    pairs = training_pairs(recipe["n_pairs"], recipe["seed"])
    start = time.perf_counter()
    top, history = train_grit(model, smollm2_states(), pairs.queries, pairs.passages, pairs.positive,
                              lm["train_states"].float(), lm["train_ids"], variant == "joint", recipe["steps"],
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
                          f"SmolLM2-135M GRIT {variant.replace('_', ' ')}{_seed_suffix(GRIT_RECIPE, seed)}",
                          layer=SPLIT_LAYER)
