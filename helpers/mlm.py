"""Masked language modelling: BERT's pre-training objective, from scratch (taught in notebook 02; its
encoder is the starting point of notebook 03's Sentence-BERT training).

* :func:`mask_tokens`: BERT's rule — choose 15% of the real tokens; of those, 80% become ``[MASK]``, 10% a
  random token, 10% stay as they are; the model must predict the original token at every chosen position.
* Dynamic masking (RoBERTa): :func:`pretrain_mlm` draws a fresh mask every time a sequence is seen, instead
  of fixing one mask per sequence when the data is prepared (BERT).
* :class:`MaskedLM`: a small :class:`~helpers.encoder.Encoder` plus BERT's prediction head, whose output
  matrix is tied to the token embeddings.
* :func:`pretrained_mlm`: the course's small pre-trained encoder, loaded from ``config.cache_dir()`` when it is
  there and trained (about a CPU minute) when it is not, so that notebook 03 runs on its own.

The pre-training text is real and offline (:func:`pretraining_texts`): State of the Union speeches since 1945
(:mod:`helpers.corpus`) and the course's training documents, Lee background news that shares no sentence with the
mini-MTEB (:func:`helpers.data.training_background`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cache, config, data
from helpers.encoder import Encoder, EncoderConfig, minilm_tokenizer

IGNORE = -100  # label of positions that carry no prediction (PyTorch's cross-entropy ignore_index)

# The small encoder notebook 02 pre-trains: 2 layers, hidden 128, MiniLM's WordPiece vocabulary. Dropout is
# off: a few hundred steps on a million tokens are far from overfitting.
SMALL_CONFIG = EncoderConfig(hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, max_positions=128,
                             dropout=0.0)
PRETRAINING = {"steps": config.pick(cpu=200, gpu=5000), "batch_size": 16, "sequence_length": 128,
               "learning_rate": 2e-3, "warmup_steps": 20, "eval_every": 40, "seed": 42, "speeches": 94}


def mask_tokens(input_ids: torch.Tensor, special_mask: torch.Tensor, mask_token_id: int, vocab_size: int,
                probability: float = 0.15, generator: torch.Generator | None = None):
    """BERT's masking rule. Returns ``(corrupted_ids, labels)``.

    ``special_mask`` is True on tokens that must never be chosen ([CLS], [SEP], padding). Each other token is
    chosen with ``probability``; a chosen token becomes ``[MASK]`` (80%), a random token (10%) or stays (10%).
    ``labels`` holds the original id at chosen positions and :data:`IGNORE` elsewhere.
    """
    if input_ids.shape != special_mask.shape:
        raise ValueError(f"special_mask {tuple(special_mask.shape)} must match input_ids {tuple(input_ids.shape)}.")
    if not 0 < probability < 1:
        raise ValueError(f"probability must be between 0 and 1, got {probability}.")
    draw = lambda: torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    chosen = (draw() < probability) & ~special_mask
    labels = input_ids.masked_fill(~chosen, IGNORE)
    roll = draw()
    to_mask = chosen & (roll < 0.8)
    to_random = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    corrupted = input_ids.masked_fill(to_mask, mask_token_id)
    corrupted = torch.where(to_random, random_ids, corrupted)
    return corrupted, labels


class MaskedLMHead(nn.Module):
    """BERT's prediction head: dense + GELU + LayerNorm, then scores over the vocabulary with the token
    embedding matrix (tied weights) plus a bias."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        size = encoder.config.hidden_size
        self.transform = nn.Linear(size, size)
        self.norm = nn.LayerNorm(size, eps=encoder.config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(encoder.config.vocab_size))
        self.embeddings = encoder.embeddings.token  # shared, not copied

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.transform(hidden))) @ self.embeddings.weight.T + self.bias


class MaskedLM(nn.Module):
    """An :class:`~helpers.encoder.Encoder` with an MLM head; ``forward`` scores only the labelled positions."""

    def __init__(self, encoder_config: EncoderConfig):
        super().__init__()
        self.encoder = Encoder(encoder_config)
        self.head = MaskedLMHead(self.encoder)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor):
        """``(loss, logits, targets)``: mean cross-entropy over labelled positions, their logits and ids."""
        hidden = self.encoder(input_ids, attention_mask)
        chosen = labels != IGNORE
        logits = self.head(hidden[chosen])
        targets = labels[chosen]
        return F.cross_entropy(logits, targets), logits, targets


def recent_speeches(count: int = 94) -> list[str]:
    """The last ``count`` State of the Union speeches (the default 94 are those from 1945 on)."""
    from helpers.corpus import sotu_texts

    return sotu_texts()[-count:]


def pretraining_texts(speeches: int = 94) -> list[str]:
    """The pre-training text: the last ``speeches`` State of the Union speeches and the course's training
    documents (:func:`helpers.data.training_background`, Lee background news that shares no sentence with the
    benchmark)."""
    return recent_speeches(speeches) + list(data.training_background())


def chunk_texts(tokenizer, texts: list[str], length: int) -> torch.Tensor:
    """Token-id rows of exactly ``length``: ``[CLS]`` + ``length - 2`` tokens of running text + ``[SEP]``;
    documents are concatenated, separated by ``[SEP]``; the incomplete last row is dropped."""
    stream = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"] + [tokenizer.sep_token_id])
    body = length - 2
    rows = torch.tensor(stream[: len(stream) // body * body]).view(-1, body)
    cls = torch.full((len(rows), 1), tokenizer.cls_token_id)
    sep = torch.full((len(rows), 1), tokenizer.sep_token_id)
    return torch.cat([cls, rows, sep], dim=1)


def pretraining_chunks(tokenizer, sequence_length: int = 128, speeches: int = 94, seed: int = 42,
                       held_out_rows: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, held_out)`` rows of token ids from :func:`pretraining_texts`; the ``held_out_rows`` rows, drawn
    at random (seeded), measure the masked-LM loss on text never trained on (not the benchmark's held-out text)."""
    rows = chunk_texts(tokenizer, pretraining_texts(speeches), sequence_length)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))
    if len(rows) < 2 * held_out_rows:
        raise ValueError(f"Only {len(rows)} rows of text; ask for fewer than half as held-out rows.")
    return rows[order[held_out_rows:]], rows[order[:held_out_rows]]


def special_tokens_mask(tokenizer, input_ids: torch.Tensor) -> torch.Tensor:
    """True where a token is [CLS], [SEP], [PAD] (or any other special token): never masked."""
    return torch.isin(input_ids, torch.tensor(tokenizer.all_special_ids))


@torch.no_grad()
def masked_accuracy(model: MaskedLM, tokenizer, rows: torch.Tensor, seed: int = 0, batch_size: int = 64) -> dict:
    """Loss and accuracy of the top prediction at masked positions of ``rows``; the masks are drawn from
    ``seed``, so every call on the same rows scores the same positions."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct = total = 0
    loss_sum = 0.0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        corrupted, labels = mask_tokens(batch, special_tokens_mask(tokenizer, batch), tokenizer.mask_token_id,
                                        model.encoder.config.vocab_size, generator=generator)
        loss, logits, targets = model(corrupted, torch.ones_like(batch), labels)
        correct += (logits.argmax(-1) == targets).sum().item()
        total += len(targets)
        loss_sum += loss.item() * len(targets)
    model.train(was_training)
    return {"accuracy": correct / total, "loss": loss_sum / total, "masked_tokens": total}


def pretrain_mlm(steps: int = 200, batch_size: int = 16, sequence_length: int = 128, learning_rate: float = 2e-3,
                 warmup_steps: int = 20, eval_every: int = 40, seed: int = 42, speeches: int = 94,
                 encoder_config: EncoderConfig = SMALL_CONFIG, progress: bool = True):
    """Pre-train a :class:`MaskedLM` from random weights with dynamic masking and AdamW (linear warm-up,
    then linear decay).

    Returns ``(model, history)``; ``history`` has one row per evaluation: step, the mean training loss since
    the last one, held-out masked loss and accuracy."""
    if encoder_config.max_positions < sequence_length:
        raise ValueError(f"sequence_length {sequence_length} exceeds max_positions {encoder_config.max_positions}.")
    if not 1 <= warmup_steps < steps:
        raise ValueError(f"warmup_steps must be at least 1 and below steps ({steps}), got {warmup_steps}.")
    config.seed_everything(seed)
    tokenizer = minilm_tokenizer()
    train, held_out = pretraining_chunks(tokenizer, sequence_length, speeches, seed)
    model = MaskedLM(encoder_config).to(config.device())
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = lambda step: min((step + 1) / warmup_steps, max(0.0, (steps - step) / (steps - warmup_steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(seed)
    history = [{"step": 0, "train_loss": float("nan"), **_held_out_row(model, tokenizer, held_out)}]
    losses, start = [], time.perf_counter()
    model.train()
    for step in config.progress_bar(range(1, steps + 1), desc="MLM pre-training", disable=not progress):
        batch = train[torch.randint(len(train), (batch_size,), generator=generator)]
        # Dynamic masking: a new mask every time a row is drawn.
        corrupted, labels = mask_tokens(batch, special_tokens_mask(tokenizer, batch), tokenizer.mask_token_id,
                                        encoder_config.vocab_size, generator=generator)
        loss, _, _ = model(corrupted.to(model.encoder.device), torch.ones_like(corrupted).to(model.encoder.device),
                           labels.to(model.encoder.device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            history.append({"step": step, "train_loss": float(np.mean(losses)),
                            **_held_out_row(model, tokenizer, held_out)})
            losses = []
    model.eval()
    frame = pd.DataFrame(history)
    frame.attrs.update(seconds=time.perf_counter() - start, train_rows=len(train), held_out_rows=len(held_out))
    return model.cpu(), frame


def _held_out_row(model: MaskedLM, tokenizer, held_out: torch.Tensor) -> dict:
    scores = masked_accuracy(model, tokenizer, held_out.to(model.encoder.device))
    return {"heldout_loss": scores["loss"], "heldout_accuracy": scores["accuracy"]}


def _artifact_path() -> Path:
    from helpers import encoder

    # The code that trains it (this module and the encoder it trains) is part of the key: edit it, train again.
    settings = {**PRETRAINING, "encoder": asdict(SMALL_CONFIG),
                "text": cache.texts_fingerprint(pretraining_texts(PRETRAINING["speeches"])),
                "code": cache.source_hash(sys.modules[__name__], encoder)}
    key = cache.key_digest(settings)
    return config.cache_dir() / f"mlm_encoder-{key}.safetensors"


def pretrained_mlm(progress: bool = True) -> tuple[MaskedLM, pd.DataFrame]:
    """The course's small MLM-pre-trained model and its training history.

    Loaded from ``config.cache_dir()`` when present; otherwise pre-trained with :data:`PRETRAINING` (about a
    minute on 2 idle CPU cores) and saved there. The encoder alone is ``model.encoder``.
    """
    path = _artifact_path()
    state, extra = cache.read(path, cache.load_tensors) or ({}, {})
    if state:
        model = MaskedLM(EncoderConfig(**extra["encoder_config"]))
        model.load_state_dict(state)
        history = pd.DataFrame(extra["history"])
        history.attrs.update(extra["attrs"])
        return model.eval(), history
    model, history = pretrain_mlm(**PRETRAINING, progress=progress)
    cache.save_tensors(path, model.state_dict(), {"encoder_config": asdict(SMALL_CONFIG),
                                                  "history": history.to_dict("list"), "attrs": history.attrs})
    return model, history
