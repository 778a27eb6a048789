"""Sentence-BERT: train an encoder into a sentence embedder with a siamese contrastive objective (taught in
notebook 03). The original paper (Reimers & Gurevych 2019) trained a softmax classifier on ``(u, v, |u - v|)``
over NLI labels, then regression on STS-B; InfoNCE with in-batch negatives (sentence-transformers'
``MultipleNegativesRankingLoss``) is current practice, and what this module trains with.

A bi-encoder embeds each text on its own (one shared encoder, mean pooling), so a corpus is encoded once and
searched by cosine; a cross-encoder would read every (query, document) pair together. The training pairs
come from real text without labels:

* :func:`inverse_cloze_pairs` — a sentence and the rest of its passage (Lee et al. 2019);
* :func:`adjacent_sentence_pairs` — a sentence and the one after it.

Both (or a mix) are built by :func:`training_pairs` from the course's training documents
(:func:`helpers.data.training_background`): Lee background news that shares no sentence with any text the
mini-MTEB scores. :func:`train_bi_encoder` runs the siamese loop with :func:`helpers.losses.info_nce` (in-batch
negatives).
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch

from helpers import config, data
from helpers.encoder import Encoder
from helpers.losses import info_nce
from helpers.pooling import pool


def inverse_cloze_pairs(documents, passage_sentences: int = 5, min_words: int = 6, seed: int = 42):
    """``(sentence, rest of its passage)`` pairs: each document is cut into passages of ``passage_sentences``
    sentences; one sentence of at least ``min_words`` words is taken out of each passage as the query."""
    rng = np.random.default_rng(seed)
    pairs = []
    for document in documents:
        sentences = data.split_sentences(document)
        for start in range(0, len(sentences), passage_sentences):
            passage = sentences[start : start + passage_sentences]
            candidates = [k for k, sentence in enumerate(passage) if len(sentence.split()) >= min_words]
            if len(passage) < 3 or not candidates:
                continue
            taken = int(rng.choice(candidates))
            pairs.append((passage[taken], " ".join(s for k, s in enumerate(passage) if k != taken)))
    return pairs


def adjacent_sentence_pairs(documents, min_words: int = 6):
    """``(sentence, next sentence)`` pairs from each document, both of at least ``min_words`` words."""
    pairs = []
    for document in documents:
        sentences = [s for s in data.split_sentences(document) if len(s.split()) >= min_words]
        pairs.extend(zip(sentences, sentences[1:], strict=False))
    return pairs


def training_pairs(kind: str = "mixed", seed: int = 42) -> list[tuple[str, str]]:
    """Training pairs from the course's training documents (:func:`helpers.data.training_background`), shuffled
    with ``seed``.

    ``kind`` is ``"inverse_cloze"``, ``"adjacent"`` or ``"mixed"`` (both; a query that occurs twice keeps
    its first pair, so no batch holds two pairs with the same query).
    """
    documents = data.training_background()
    builders = {"inverse_cloze": lambda: inverse_cloze_pairs(documents, seed=seed),
                "adjacent": lambda: adjacent_sentence_pairs(documents),
                "mixed": lambda: inverse_cloze_pairs(documents, seed=seed) + adjacent_sentence_pairs(documents)}
    if kind not in builders:
        raise ValueError(f"Unknown kind {kind!r}; choose one of {sorted(builders)}.")
    pairs = {}
    for query, document in builders[kind]():
        pairs.setdefault(query, document)
    pairs = list(pairs.items())
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[k] for k in order]


def embed_for_training(encoder: Encoder, tokenizer, texts: list[str], max_length: int, pooling: str) -> torch.Tensor:
    """Pooled (not normalised) vectors with gradients: the forward pass of one side of the siamese network."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    batch = {key: value.to(encoder.device) for key, value in batch.items()}
    return pool(encoder(batch["input_ids"], batch["attention_mask"]), batch["attention_mask"], pooling)


def train_bi_encoder(encoder: Encoder, tokenizer, pairs: list[tuple[str, str]], steps: int = 120,
                     batch_size: int = 32, learning_rate: float = 2e-4, temperature: float = 0.05,
                     max_length: int = 128, pooling: str = "mean", seed: int = 42, progress: bool = True):
    """Siamese training: the same encoder embeds both sides of each pair; InfoNCE with in-batch negatives.

    Works on a copy, so the encoder passed in is unchanged. Returns ``(trained_encoder, history)``, the
    history holding the loss of every step (AdamW, linear warm-up over the first 10% of steps).
    """
    if len(pairs) < batch_size:
        raise ValueError(f"Need at least batch_size={batch_size} pairs, got {len(pairs)}.")
    if len({query for query, _ in pairs}) < len(pairs):
        raise ValueError("Two pairs share a query: inside one batch it would be a false negative; deduplicate.")
    config.seed_everything(seed)
    model = copy.deepcopy(encoder).to(config.device()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    rng = np.random.default_rng(seed)
    order, cursor, losses = rng.permutation(len(pairs)), 0, []
    start = time.perf_counter()
    for _ in config.progress_bar(range(steps), desc="Siamese training", disable=not progress):
        if cursor + batch_size > len(order):  # a new epoch: reshuffle
            order, cursor = rng.permutation(len(pairs)), 0
        batch = [pairs[k] for k in order[cursor : cursor + batch_size]]
        cursor += batch_size
        queries = embed_for_training(model, tokenizer, [q for q, _ in batch], max_length, pooling)
        documents = embed_for_training(model, tokenizer, [d for _, d in batch], max_length, pooling)
        loss = info_nce(queries, documents, temperature=temperature)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    history = pd.DataFrame({"step": np.arange(1, steps + 1), "loss": losses})
    history.attrs["seconds"] = time.perf_counter() - start
    return model.eval().cpu(), history
