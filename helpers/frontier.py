"""Frozen SmolLM2 states for training on top of them (notebook 10), and what its two experiments share.

The lower :data:`SPLIT_LAYER` layers of the from-scratch Llama (:mod:`helpers.decoder`, SmolLM2's weights) stay
frozen, so their outputs are computed once per text and kept on disk: :class:`StateStore`. A trained module that
reads them (a pooling head of :mod:`helpers.latent_attention`, the tuned top layers of :mod:`helpers.grit`)
becomes an :class:`~helpers.embed.Embedder` through :class:`StatesEmbedder`.

Training text for both: inverse-cloze pairs (:func:`training_pairs`) and next-token windows from the course's
training documents, which share no sentence with the benchmark, less the held-out text for the LM loss
(:func:`helpers.llm2vec.lm_documents`). Every trained artifact is keyed by :func:`artifact_key`;
``scripts/train_frontier.py`` builds them all, and the functions of the two modules rebuild them when missing.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import torch
from torch import nn

from helpers import cache, config, data
from helpers.decoder import Llama, run_layers
from helpers.embed import Embedder, check_texts, weights_fingerprint
from helpers.llm2vec import lm_documents

SPLIT_LAYER = 26  # GRIT tunes the top 30 - 26 = 4 layers; the states after layer 26 are cached
MAX_LENGTH = 256  # tokens per text, as smollm2_embedder


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
        key = cache.key_digest(self.settings())
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
        # The head's module: helpers.latent_attention's pooling heads, helpers.grit's tuned top layers (a head
        # defined in a notebook cell has no module file: its class's source stands in).
        module = sys.modules[type(self.head).__module__]
        return (sys.modules[__name__], module if getattr(module, "__file__", None) else type(self.head))

    def settings(self):
        return {"store": self.store.settings(), "layer": self.layer, "head": weights_fingerprint(self.head)}


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


def artifact_path(name: str):
    """Where notebook 10's artifacts are kept (``scripts/train_frontier.py`` builds them all)."""
    return config.cache_dir() / "frontier" / name


def artifact_key(trainer, recipe: dict | None = None, seed: int | None = None) -> dict:
    """What decides an artifact of notebook 10: its recipe and seed, the training documents (another held-out
    policy, another artifact), SmolLM2's weights, and the source of the code that computes the states and of the
    ``trainer`` module (:mod:`helpers.latent_attention` or :mod:`helpers.grit`)."""
    from helpers import decoder, llm2vec, losses, pooling
    from helpers.models import load_smollm2

    key = {"text": cache.texts_fingerprint(data.training_background()),
           "weights": weights_fingerprint(load_smollm2()[1]),
           # From llm2vec only what notebook 10 uses (its text and the attention switch), not LLM2Vec's trainers.
           "code": cache.source_hash(sys.modules[__name__], trainer, decoder, losses, pooling, llm2vec.lm_documents,
                                     llm2vec.token_windows, llm2vec.lm_windows, llm2vec.hidden_states,
                                     llm2vec.padding_only_mask, llm2vec.bidirectional_attention)}
    return key if recipe is None else {"recipe": dict(recipe), "seed": seed, **key}


def training_seed(recipe: dict, seed: int | None) -> int:
    return recipe["seed"] if seed is None else seed


def seed_suffix(recipe: dict, seed: int | None) -> str:
    """What an embedder's name adds for a seed other than the recipe's (whose model is the leaderboard's row)."""
    return "" if training_seed(recipe, seed) == recipe["seed"] else f", seed {seed}"
