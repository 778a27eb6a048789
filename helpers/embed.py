"""One interface for every model in the course (taught in notebook 00).

An :class:`Embedder` has a ``name``, a ``dim`` and ``encode(texts, batch_size=32)``, which returns a
float32 array (n, dim) with L2-normalised rows. Every model in every notebook is wrapped as one, so one
evaluator (:mod:`helpers.evaluate`) compares them all the same way.

``encode`` sorts texts by length so that batches carry little padding, shows a progress bar on long
inputs, and caches results on disk under a fingerprint of the model's weights and settings: a repeated
evaluation in a later notebook costs nothing, and a model whose weights changed is never served stale
vectors.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import re
import sys
import weakref

import numpy as np
import torch

from helpers import config
from helpers.cache import load_array, read, save_array, source_hash
from helpers.pooling import pool

CACHE_VERSION = 1  # bump when the way vectors are computed changes


def check_texts(texts) -> list[str]:
    """Validate the input of ``encode``: a non-empty list of non-empty strings."""
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings; for one text write encode([text]).")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"encode() takes a list of strings, got {type(texts).__name__}.") from None
    if not texts:
        raise ValueError("encode() got an empty list: pass at least one text.")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"Text {position} is a {type(text).__name__}, not a string: convert it with str() first.")
        if not text.strip():
            raise ValueError(f"Text {position} is empty or only whitespace: there is nothing to embed; drop it.")
    return texts


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A cheap hash of a model's weights: names, shapes, sums and a strided sample of every tensor.

    Hashing 135M weights takes seconds and ``encode`` asks for it on every call, so the hash is kept until a
    tensor changes: PyTorch counts in-place writes to each tensor (``_version``: optimiser steps,
    ``load_state_dict``), and a replaced tensor has another storage address.
    """
    state = module.state_dict()
    versions = tuple((name, tensor.data_ptr(), tensor._version) for name, tensor in state.items())
    known = _FINGERPRINTS.get(module)
    if known is not None and known[0] == versions:
        return known[1]
    digest = hashlib.sha256()
    for name, tensor in state.items():
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 256)].float().cpu().numpy()
        digest.update(f"{name}{tuple(tensor.shape)}{flat.double().sum().item():.10e}".encode())
        digest.update(sample.tobytes())
    _FINGERPRINTS[module] = (versions, digest.hexdigest())
    return digest.hexdigest()


class Embedder(abc.ABC):
    """Base class: subclasses set ``name`` and ``dim`` and implement ``embed_batch`` and ``settings``."""

    name: str
    dim: int
    cache: bool = True
    progress_threshold: int = 4  # batches; shorter jobs get no progress bar

    @abc.abstractmethod
    def embed_batch(self, texts: list[str]) -> torch.Tensor | np.ndarray:
        """Raw (not yet normalised) vectors for one batch of texts."""

    @abc.abstractmethod
    def settings(self) -> dict:
        """Everything besides the texts that decides the vectors (used in the cache key)."""

    def code(self) -> tuple:
        """Functions, classes or modules besides this class's own methods whose source decides the vectors (the
        model's forward, the pooling): part of the cache key, so editing them re-embeds the texts."""
        return ()

    def forward_context(self):
        """The context ``encode`` runs ``embed_batch`` in: nothing by default; decoders take the fast inference
        path here (:func:`helpers.config.inference_precision`). Entered once for all batches, so the weights are
        cast to bfloat16 once per call, not once per batch."""
        return contextlib.nullcontext()

    def fingerprint(self) -> str:
        # The source of every Embedder class this one inherits from and of the code it names: editing either
        # re-embeds its texts.
        classes = [cls for cls in type(self).__mro__ if issubclass(cls, Embedder)]
        payload = json.dumps({"version": CACHE_VERSION, "class": type(self).__name__,
                              "source": source_hash(*classes, *self.code()), **self.settings()}, sort_keys=True,
                             default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def encode(self, texts, batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        """Embed ``texts``: float32 array (len(texts), dim), each row of unit length."""
        texts = check_texts(texts)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        cached = self._cache_path(texts) if self.cache else None
        stored = read(cached, load_array) if cached is not None else None
        if stored is not None:
            return stored

        order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        show = progress if progress is not None else len(batches) >= self.progress_threshold
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode(), self.forward_context():
            bar = config.progress_bar(batches, desc=f"Embedding with {self.name}", disable=not show, leave=False)
            for batch in bar:
                out = self.embed_batch([texts[k] for k in batch])
                vectors[batch] = out.float().cpu().numpy() if isinstance(out, torch.Tensor) else out
        if not np.isfinite(vectors).all():
            raise FloatingPointError(f"{self.name} produced NaN or infinite values; check the model's dtype.")
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if cached is not None:
            save_array(cached, vectors)
        return vectors

    def _cache_path(self, texts: list[str]):
        digest = hashlib.sha256(self.fingerprint().encode())
        for text in texts:
            digest.update(text.encode() + b"\x00")
        folder = config.cache_dir() / "embeddings"
        folder.mkdir(exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)[:60]
        return folder / f"{slug}-{digest.hexdigest()[:20]}.npy"

    def for_task(self, task: str, side: str) -> Embedder:
        """The embedder to use for one benchmark task's texts; ``side`` is ``"query"``, ``"document"`` or
        ``"text"`` (symmetric tasks). Plain models use themselves; instructed ones add the task's instruction
        on the query and text sides (:mod:`helpers.instruct`)."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


class SentenceTransformerEmbedder(Embedder):
    """Any ``sentence_transformers.SentenceTransformer`` (it pools and normalises by itself)."""

    def __init__(self, model, name: str | None = None):
        self.model = model
        self.name = name or type(model).__name__
        self.dim = model.get_embedding_dimension()

    def embed_batch(self, texts):
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)

    def settings(self):
        # The module list and each module's settings (pooling mode, normalisation) decide the vectors too.
        modules = [{"type": type(module).__name__, **getattr(module, "get_config_dict", dict)()}
                   for module in self.model]
        return {"weights": weights_fingerprint(self.model), "max_seq_length": self.model.max_seq_length,
                "modules": modules}


class TransformerEmbedder(Embedder):
    """A Hugging Face encoder or decoder plus a pooling (see :mod:`helpers.pooling`).

    ``template`` wraps each text before tokenising (``"Instruct: ...\\nQuery: {text}"``); ``append_eos``
    adds the end-of-sequence token after truncation, as last-token pooling of a decoder needs (E5-mistral).
    """

    def __init__(self, tokenizer, model, pooling: str = "mean", max_length: int = 256, name: str | None = None,
                 append_eos: bool = False, template: str = "{text}"):
        if "{text}" not in template:
            raise ValueError("template must contain '{text}', where the text goes.")
        self.tokenizer, self.model = tokenizer, model
        self.pooling, self.max_length = pooling, max_length
        self.append_eos, self.template = append_eos, template
        self.dim = model.config.hidden_size
        self.name = name or f"{model.config.model_type} ({pooling} pooling)"
        pool(torch.zeros(1, 1, 1), torch.ones(1, 1), pooling)  # fail now on an unknown pooling name

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask, truncated to ``max_length`` (EOS included when appended)."""
        room = self.max_length - int(self.append_eos)
        ids = self.tokenizer([self.template.format(text=t) for t in texts], truncation=True, max_length=room,
                             add_special_tokens=True)["input_ids"]
        if self.append_eos:
            ids = [row + [self.tokenizer.eos_token_id] for row in ids]
        batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
        return {key: value.to(self.model.device) for key, value in batch.items()}

    def code(self):
        return (sys.modules[pool.__module__],)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer token states (batch, tokens, dim); a causal LM's base model gives them."""
        base = getattr(self.model, "model", self.model)
        return base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def embed_batch(self, texts):
        batch = self.tokenize(texts)
        hidden = self.hidden_states(batch["input_ids"], batch["attention_mask"])
        return pool(hidden, batch["attention_mask"], self.pooling)

    def settings(self):
        return {"weights": weights_fingerprint(self.model), "pooling": self.pooling, "max_length": self.max_length,
                "append_eos": self.append_eos, "template": self.template,
                "padding_side": self.tokenizer.padding_side}


def minilm_embedder() -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (offline, from its pip package) as an :class:`Embedder`."""
    from helpers.models import load_minilm

    return SentenceTransformerEmbedder(load_minilm(), name="all-MiniLM-L6-v2")
