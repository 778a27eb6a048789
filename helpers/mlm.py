"""Masked language modelling: BERT's pre-training objective, from scratch (taught in notebook 02; its
encoder is the starting point of notebook 03's Sentence-BERT training).

* :func:`train_wordpiece`: a WordPiece vocabulary of 8,192 pieces learnt from the pre-training text with the
  ``tokenizers`` library (notebook 02 builds the greedy longest-match tokenizer that applies it by hand).
* :func:`mask_tokens`: BERT's rule — choose 15% of the real tokens; of those, 80% become ``[MASK]``, 10% a
  random token, 10% stay as they are; the model must predict the original token at every chosen position.
* Dynamic masking (RoBERTa): :func:`pretrain_mlm` draws a fresh mask every time a sequence is seen, instead
  of fixing one mask per sequence when the data is prepared (BERT).
* :class:`MaskedLM`: a small :class:`~helpers.encoder.Encoder` plus BERT's prediction head, whose output
  matrix is tied to the token embeddings.
* :func:`pretrained_mlm`: the course's pre-trained small BERT, a committed artifact (``data/artifacts/
  mlm_encoder``, made by ``scripts/pretrain_mlm.py`` in about 30 CPU minutes; :mod:`helpers.artifacts`).

The pre-training text is real, offline and disjoint from the benchmark (:func:`pretraining_texts`, ≈ 7M
WordPiece tokens): speeches, a dictionary and news.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from helpers import artifacts, cache, config, data
from helpers.encoder import Encoder, EncoderConfig

IGNORE = -100  # label of positions that carry no prediction (PyTorch's cross-entropy ignore_index)

TIED = "head.embeddings.weight"  # MaskedLM's output matrix: the token embedding itself, stored once
SPECIAL_TOKENS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                  "mask_token": "[MASK]"}

# The small BERT notebook 02 pre-trains (5.4M parameters): 4 layers, hidden 256, its own 8,192-piece WordPiece
# vocabulary (the vocabulary size is the tokenizer's). Dropout is off: ≈ 1.7 passes over the text are far from
# overfitting. The recipe fits scripts/pretrain_mlm.py in ≈ 30 min on 2 CPU cores (BERT: 1M steps of 256 × 512
# tokens; here 3,000 steps of 32 × 128).
SMALL_CONFIG = EncoderConfig(vocab_size=8192, hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024,
                             max_positions=128, dropout=0.0)
PRETRAINING = {"vocab_size": 8192, "held_out_share": 0.02, "steps": config.pick(cpu=3000, gpu=20000),
               "batch_size": 32, "sequence_length": 128, "learning_rate": 1e-3, "warmup_steps": 300,
               "eval_every": 500, "seed": 42}


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


def pretraining_texts() -> list[str]:
    """The pre-training text, ≈ 7M WordPiece tokens of real English, none of it in the benchmark: every State of
    the Union address, the GCIDE dictionary's entries, the news articles no task uses (:mod:`helpers.corpus`,
    with the benchmark's texts held out) and the Lee background documents (:func:`helpers.data.training_background`)."""
    from helpers import corpus

    return corpus.sotu_texts() + corpus.gcide_texts() + corpus.news_texts() + list(data.training_background())


def train_wordpiece(texts: list[str], vocab_size: int = 8192):
    """A WordPiece vocabulary learnt from ``texts`` with Hugging Face's ``tokenizers`` library (BERT's
    normaliser: lower case, accents stripped; BERT's five special tokens), as a fast BERT tokenizer."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    trainer = BertWordPieceTokenizer(lowercase=True, strip_accents=True)
    trainer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, limit_alphabet=500,
                                special_tokens=list(SPECIAL_TOKENS.values()), show_progress=False)
    return BertTokenizerFast(tokenizer_object=trainer._tokenizer, **SPECIAL_TOKENS)


def pretraining_split(texts: list[str], held_out_share: float = 0.02, seed: int = 42) -> tuple[list[str], list[str]]:
    """``(train, held_out)`` documents: a seeded ``held_out_share`` of the documents is never trained on and
    measures the masked-token accuracy (text the model has not seen; not the benchmark's held-out text)."""
    if not 0 < held_out_share < 0.5:
        raise ValueError(f"held_out_share must be between 0 and 0.5, got {held_out_share}.")
    held = set(np.random.default_rng(seed).permutation(len(texts))[: max(1, round(held_out_share * len(texts)))])
    return [t for k, t in enumerate(texts) if k not in held], [t for k, t in enumerate(texts) if k in held]


def chunk_texts(tokenizer, texts: list[str], length: int) -> torch.Tensor:
    """Token-id rows of exactly ``length``: ``[CLS]`` + ``length - 2`` tokens of running text + ``[SEP]``;
    documents are concatenated, separated by ``[SEP]``; the incomplete last row is dropped."""
    stream = []
    for ids in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
        stream.extend(ids + [tokenizer.sep_token_id])
    body = length - 2
    rows = torch.tensor(stream[: len(stream) // body * body]).view(-1, body)
    cls = torch.full((len(rows), 1), tokenizer.cls_token_id)
    sep = torch.full((len(rows), 1), tokenizer.sep_token_id)
    return torch.cat([cls, rows, sep], dim=1)


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
    device = model.encoder.device
    correct = total = 0
    loss_sum = 0.0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size].cpu()  # masks drawn on the CPU: the same positions on any device
        corrupted, labels = mask_tokens(batch, special_tokens_mask(tokenizer, batch), tokenizer.mask_token_id,
                                        model.encoder.config.vocab_size, generator=generator)
        corrupted, labels = corrupted.to(device), labels.to(device)
        loss, logits, targets = model(corrupted, torch.ones_like(corrupted), labels)
        correct += (logits.argmax(-1) == targets).sum().item()
        total += len(targets)
        loss_sum += loss.item() * len(targets)
    model.train(was_training)
    return {"accuracy": correct / total, "loss": loss_sum / total, "masked_tokens": total}


def pretrain_mlm(tokenizer, train_rows: torch.Tensor, held_out_rows: torch.Tensor, steps: int = 3000,
                 batch_size: int = 32, learning_rate: float = 1e-3, warmup_steps: int = 300, eval_every: int = 500,
                 seed: int = 42, encoder_config: EncoderConfig | None = None, stop_after: int | None = None,
                 progress: bool = True):
    """Pre-train a :class:`MaskedLM` from random weights on ``train_rows`` (from :func:`chunk_texts`) with
    dynamic masking and AdamW (linear warm-up, then linear decay to 0). ``encoder_config`` defaults to
    :data:`SMALL_CONFIG` with the tokenizer's vocabulary size.

    Returns ``(model, history)``; ``history`` has one row per evaluation: step, the mean training loss since the
    last one, held-out masked loss and accuracy; ``history.attrs`` holds the seconds, the row counts, every
    step's training loss and the most-frequent-token baseline on the same held-out masks
    (:func:`unigram_baseline`). ``stop_after`` runs only the first steps of that schedule (notebook 02's live
    demonstration: the same losses as the first steps of the full run)."""
    encoder_config = encoder_config or EncoderConfig(**{**asdict(SMALL_CONFIG), "vocab_size": len(tokenizer)})
    if encoder_config.max_positions < train_rows.shape[1]:
        raise ValueError(f"Rows of {train_rows.shape[1]} tokens exceed max_positions {encoder_config.max_positions}.")
    if not 1 <= warmup_steps < steps:
        raise ValueError(f"warmup_steps must be at least 1 and below steps ({steps}), got {warmup_steps}.")
    config.seed_everything(seed)
    model = MaskedLM(encoder_config).to(config.device())
    device = model.encoder.device
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = lambda step: min((step + 1) / warmup_steps, max(0.0, (steps - step) / (steps - warmup_steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(seed)
    history = [{"step": 0, "train_loss": float("nan"), **_held_out_row(model, tokenizer, held_out_rows)}]
    losses, every_loss, start = [], [], time.perf_counter()
    model.train()
    last = steps if stop_after is None else min(stop_after, steps)
    for step in config.progress_bar(range(1, last + 1), desc="MLM pre-training", disable=not progress):
        batch = train_rows[torch.randint(len(train_rows), (batch_size,), generator=generator)]
        # Dynamic masking: a new mask every time a row is drawn.
        corrupted, labels = mask_tokens(batch, special_tokens_mask(tokenizer, batch), tokenizer.mask_token_id,
                                        encoder_config.vocab_size, generator=generator)
        loss, _, _ = model(corrupted.to(device), torch.ones_like(corrupted).to(device), labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        every_loss.append(round(loss.item(), 4))
        if step % eval_every == 0 or step == last:
            history.append({"step": step, "train_loss": float(np.mean(losses)),
                            **_held_out_row(model, tokenizer, held_out_rows)})
            losses = []
    model.eval()
    frame = pd.DataFrame(history)
    frame.attrs.update(seconds=round(time.perf_counter() - start, 1), train_rows=len(train_rows),
                       held_out_rows=len(held_out_rows), train_losses=every_loss,
                       unigram_baseline=unigram_baseline(tokenizer, train_rows, held_out_rows))
    return model.cpu(), frame


def _held_out_row(model: MaskedLM, tokenizer, held_out: torch.Tensor) -> dict:
    scores = masked_accuracy(model, tokenizer, held_out)
    return {"heldout_loss": scores["loss"], "heldout_accuracy": scores["accuracy"]}


def unigram_baseline(tokenizer, train_rows: torch.Tensor, held_out_rows: torch.Tensor, seed: int = 0) -> float:
    """Accuracy of always answering the most frequent training token, at the masked positions that
    :func:`masked_accuracy` scores (same rows, same ``seed``): what a model that ignores the context reaches."""
    most_frequent = torch.bincount(train_rows[~special_tokens_mask(tokenizer, train_rows)]).argmax()
    generator = torch.Generator().manual_seed(seed)
    correct = total = 0
    for start in range(0, len(held_out_rows), 64):  # masked_accuracy's batches draw the masks in this order
        rows = held_out_rows[start : start + 64]
        _, labels = mask_tokens(rows, special_tokens_mask(tokenizer, rows), tokenizer.mask_token_id, len(tokenizer),
                                generator=generator)
        targets = labels[labels != IGNORE]
        correct += (targets == most_frequent).sum().item()
        total += len(targets)
    return correct / total


def artifact_key() -> dict:
    """What decides the pre-trained weights: the recipe, the text, and the code that trains them."""
    from helpers import encoder

    return {"recipe": {**PRETRAINING, "encoder": asdict(SMALL_CONFIG)},
            "text": cache.texts_fingerprint(pretraining_texts()),
            "code": cache.source_hash(train_wordpiece, pretraining_split, chunk_texts, mask_tokens,
                                      special_tokens_mask, MaskedLMHead, MaskedLM, pretrain_mlm, encoder.Embeddings,
                                      encoder.SelfAttention, encoder.FeedForward, encoder.EncoderLayer,
                                      encoder.Encoder)}


def train_pretrained(progress: bool = True) -> dict:
    """Notebook 02's encoder made from nothing with :data:`PRETRAINING` (what ``scripts/pretrain_mlm.py`` runs):
    the WordPiece vocabulary, then the MLM. Returns the artifact's parts, the weights rounded to fp16 as stored."""
    recipe = PRETRAINING
    train_texts, held_out_texts = pretraining_split(pretraining_texts(), recipe["held_out_share"], recipe["seed"])
    tokenizer = train_wordpiece(train_texts, recipe["vocab_size"])
    train_rows = chunk_texts(tokenizer, train_texts, recipe["sequence_length"])
    held_out_rows = chunk_texts(tokenizer, held_out_texts, recipe["sequence_length"])
    loop = {name: recipe[name] for name in ("steps", "batch_size", "learning_rate", "warmup_steps", "eval_every",
                                            "seed")}
    model, history = pretrain_mlm(tokenizer, train_rows, held_out_rows, progress=progress, **loop)
    return {"tokenizer": tokenizer, "state": {k: v.half().float() for k, v in model.state_dict().items()},
            "encoder_config": asdict(model.encoder.config), "history": history}


def save_files(target: Path, value: dict) -> None:
    """Write :func:`train_pretrained`'s parts to a folder: ``tokenizer.json``, and ``model.safetensors`` (fp16:
    the held-out accuracy is the same to 3 decimals) with the configuration and history in its header."""
    value["tokenizer"].backend_tokenizer.save(str(target / "tokenizer.json"))
    history = value["history"]
    state = {k: v.half() for k, v in value["state"].items() if k != TIED}  # the output layer is the embedding
    cache.save_tensors(target / "model.safetensors", state,
                       {"encoder_config": value["encoder_config"], "history": history.to_dict("list"),
                        "attrs": history.attrs})


def _load_files(target: Path) -> dict:
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast(tokenizer_file=str(target / "tokenizer.json"), **SPECIAL_TOKENS)
    state, extra = cache.load_tensors(target / "model.safetensors")
    history = pd.DataFrame(extra["history"])
    history.attrs.update(extra["attrs"])
    state = {k: v.float() for k, v in state.items()}
    state[TIED] = state["encoder.embeddings.token.weight"]
    return {"tokenizer": tokenizer, "state": state, "encoder_config": extra["encoder_config"], "history": history}


@functools.cache
def _pretrained(progress: bool) -> dict:
    return artifacts.load_or_train("mlm_encoder", artifact_key(), lambda: train_pretrained(progress), save_files,
                                   _load_files)


def pretrained_mlm(progress: bool = True) -> tuple[MaskedLM, pd.DataFrame]:
    """The course's pre-trained small BERT (a fresh copy each call) and its training history.

    Loaded from the committed artifact ``data/artifacts/mlm_encoder`` (made by ``scripts/pretrain_mlm.py``); when
    it is missing, trained here with the same recipe, :data:`PRETRAINING` (about 30 minutes on 2 CPU cores), and
    cached. The encoder alone is ``model.encoder``; its tokenizer is :func:`mlm_tokenizer`.
    ``history.attrs["unigram_baseline"]`` is the accuracy of always answering the most frequent token.
    """
    parts = _pretrained(progress)
    model = MaskedLM(EncoderConfig(**parts["encoder_config"]))
    model.load_state_dict(parts["state"])
    history = parts["history"].copy()
    history.attrs.update(parts["history"].attrs)
    return model.eval(), history


def mlm_tokenizer():
    """The WordPiece tokenizer learnt for the pre-trained MLM (:func:`train_wordpiece`, 8,192 pieces)."""
    return _pretrained(True)["tokenizer"]  # pretrained_mlm()'s default: the notebooks load the artifact once
