"""LLM2Vec step by step (BehnamGhader et al. 2024), taught in notebook 07.

1. Bidirectional attention in a transformers decoder: :func:`bidirectional_attention` (a 4-D padding-only
   additive mask *and* ``is_causal = False`` on every attention module; current transformers needs both).
2. Masked next-token prediction (MNTP): :func:`mntp_mask` hides ~20% of the tokens behind ``"_"``, and
   :func:`mntp_loss` predicts token i from the logits at position i - 1. Trained with LoRA
   (:class:`LoRALinear`, written from scratch) on the top layers, the lower ones frozen.
3. Unsupervised SimCSE with mean pooling: :func:`simcse_loss`, using :func:`helpers.losses.info_nce`.

Both stages train on the course's training documents (:func:`lm_documents`), which share no sentence with the
benchmark; the last 50 of them are held-out text for the LM loss.
"""

from __future__ import annotations

import contextlib
import sys

import torch

from helpers import config


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


# Step 2: masked next-token prediction (MNTP), trained with LoRA.

MASK_TOKEN = "_"  # LLM2Vec's choice for Llama tokenizers, which have no mask token
IGNORE = -100


def mntp_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor, mask_token_id: int, probability: float = 0.2,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide ~``probability`` of the real tokens behind ``mask_token_id``: returns (masked ids, targets).

    ``targets`` holds the original id at masked positions and -100 elsewhere. Position 0 is never masked:
    in MNTP token i is predicted from the logits at position i - 1, and nothing precedes position 0.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must be between 0 and 1, got {probability}.")
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < probability
    chosen = draw & attention_mask.bool()
    chosen[:, 0] = False
    masked = input_ids.masked_fill(chosen, mask_token_id)
    targets = input_ids.masked_fill(~chosen, IGNORE)
    return masked, targets


def mntp_loss(model, masked_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor,
              bidirectional: bool = True) -> torch.Tensor:
    """Cross-entropy of predicting each masked token i from the output at position i - 1.

    Only the positions that predict a masked token go through the output head (49,152 logits each), which
    keeps the step cheap.
    """
    hidden = hidden_states(model, masked_ids, attention_mask, bidirectional)
    rows, columns = (targets[:, 1:] != IGNORE).nonzero(as_tuple=True)  # column c predicts token c + 1
    if len(rows) == 0:
        raise ValueError("No token is masked: use longer texts or a higher masking probability.")
    logits = model.lm_head(hidden[rows, columns])
    return torch.nn.functional.cross_entropy(logits, targets[rows, columns + 1])


class LoRALinear(torch.nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: W x + (alpha / r) · B A dropout(x).

    A starts random, B at zero, so training starts from the unchanged model (Hu et al. 2021).
    """

    def __init__(self, base: torch.nn.Linear, rank: int = 16, alpha: float = 32.0, dropout: float = 0.0):
        super().__init__()
        self.base, self.rank, self.scale = base, rank, alpha / rank
        base.weight.requires_grad_(False)
        self.lora_a = torch.nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.dropout(x) @ self.lora_a.T @ self.lora_b.T * self.scale

    def merged(self) -> torch.nn.Linear:
        """A plain ``nn.Linear`` whose weight includes the update (no extra cost at inference)."""
        with torch.no_grad():
            self.base.weight += self.scale * self.lora_b @ self.lora_a
        return self.base


LORA_TARGETS = ("q_proj", "v_proj")


def add_lora(model, top_layers: int, rank: int = 16, alpha: float = 32.0, dropout: float = 0.0,
             targets: tuple[str, ...] = LORA_TARGETS) -> list[torch.nn.Parameter]:
    """Freeze ``model`` and put :class:`LoRALinear` on ``targets`` of its top ``top_layers`` decoder layers.

    Returns the trainable parameters. Lower layers stay frozen, so backpropagation stops at the first
    adapted layer: the cheaper the fewer layers are adapted.
    """
    model.requires_grad_(False)
    layers = getattr(model, "model", model).layers
    if not 1 <= top_layers <= len(layers):
        raise ValueError(f"top_layers must be between 1 and {len(layers)}, got {top_layers}.")
    trainable = []
    for layer in layers[len(layers) - top_layers:]:
        for name in targets:
            lora = LoRALinear(getattr(layer.self_attn, name), rank, alpha, dropout)
            setattr(layer.self_attn, name, lora)
            trainable += [lora.lora_a, lora.lora_b]
    return trainable


def lora_state(model) -> dict[str, torch.Tensor]:
    """The adapters' tensors only (what the artifact stores: about 1 MB per 10 layers at rank 16)."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items() if ".lora_" in name}


def merge_lora(model):
    """Fold every :class:`LoRALinear` back into a plain ``nn.Linear`` (in place); returns the model."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, name, child.merged())
    return model


# Step 3: unsupervised SimCSE.


def set_attention_dropout(model, probability: float) -> None:
    """Dropout on the attention weights in train mode: SimCSE's only augmentation (SmolLM2 ships with 0)."""
    for module in _attention_modules(model):
        module.attention_dropout = probability


def simcse_loss(model, tokenizer, texts: list[str], temperature: float = 0.05, max_length: int = 64) -> torch.Tensor:
    """Unsupervised SimCSE: each text encoded twice (different dropout), mean pooling, bidirectional
    attention; InfoNCE with the other texts of the batch as negatives (:func:`helpers.losses.info_nce`)."""
    from helpers.losses import info_nce
    from helpers.pooling import mean_pool

    if not model.training:
        raise ValueError("SimCSE needs dropout: call model.train() (in eval mode both views are identical).")
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    batch = {key: value.to(model.device) for key, value in batch.items()}
    views = [mean_pool(hidden_states(model, batch["input_ids"], batch["attention_mask"], bidirectional=True),
                       batch["attention_mask"]) for _ in range(2)]
    return info_nce(views[0], views[1], temperature=temperature)


# Training text and the two training loops.

LM_HELD_OUT_DOCUMENTS = 50  # held-out text for the LM loss: the last 50 of the course's training documents


def lm_documents(held_out: bool = False) -> tuple[str, ...]:
    """The course's training documents (:func:`helpers.data.training_background`) split for a language-model loss.

    With ``held_out``, the last :data:`LM_HELD_OUT_DOCUMENTS`: held-out text for the LM loss, on which the MNTP
    loss here and GRIT's next-token loss (:mod:`helpers.grit`) are measured and which nothing trains on;
    otherwise the others, the only text these modules train on. This split is not the benchmark's held-out
    line: both parts already share no sentence with any benchmark text (:func:`helpers.data.evaluation_texts`).
    """
    from helpers.data import training_background

    documents = training_background()
    return documents[-LM_HELD_OUT_DOCUMENTS:] if held_out else documents[:-LM_HELD_OUT_DOCUMENTS]


def token_windows(tokenizer, documents, seq_len: int = 64) -> torch.Tensor:
    """``documents`` as one token stream (each ended by EOS) cut into windows of ``seq_len`` tokens
    (n, seq_len); the incomplete last window is dropped."""
    ids = [token for document in documents for token in tokenizer(document)["input_ids"] + [tokenizer.eos_token_id]]
    usable = len(ids) // seq_len * seq_len
    return torch.tensor(ids[:usable]).view(-1, seq_len)


def lm_windows(tokenizer, seq_len: int = 64, held_out: bool = False) -> torch.Tensor:
    """The documents of :func:`lm_documents` in windows of ``seq_len`` tokens (:func:`token_windows`)."""
    return token_windows(tokenizer, lm_documents(held_out), seq_len)


def simcse_sentences(min_words: int = 6, max_words: int = 40) -> list[str]:
    """The sentences of the training documents (:func:`lm_documents`), for unsupervised SimCSE."""
    from helpers.data import split_sentences

    sentences = [s for document in lm_documents() for s in split_sentences(document)]
    return list(dict.fromkeys(s for s in sentences if min_words <= len(s.split()) <= max_words))


def held_out_mntp_loss(model, tokenizer, bidirectional: bool, chunks: int = 16, seq_len: int = 64,
                       seed: int = 0) -> float:
    """MNTP loss on fixed masked windows of the held-out text for the LM loss (the same masks every call)."""
    ids = lm_windows(tokenizer, seq_len, held_out=True)[:chunks].to(model.device)
    mask = torch.ones_like(ids)
    generator = torch.Generator(device=ids.device).manual_seed(seed)
    masked, targets = mntp_mask(ids, mask, tokenizer.convert_tokens_to_ids(MASK_TOKEN), generator=generator)
    with torch.no_grad():
        return mntp_loss(model, masked, mask, targets, bidirectional).item()


def train_mntp(model, tokenizer, steps: int, batch_size: int = 8, seq_len: int = 64, lr: float = 1e-3,
               seed: int = 42, parameters=None, progress: bool = True) -> list[float]:
    """MNTP with bidirectional attention on the training windows (:func:`lm_windows`); returns every step's loss."""

    chunks = lm_windows(tokenizer, seq_len)
    mask_id = tokenizer.convert_tokens_to_ids(MASK_TOKEN)
    generator = torch.Generator().manual_seed(seed)
    parameters = list(parameters if parameters is not None else (p for p in model.parameters() if p.requires_grad))
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    model.train()
    losses = []
    bar = config.progress_bar(range(steps), desc="MNTP", disable=not progress)
    for _ in bar:
        ids = chunks[torch.randint(len(chunks), (batch_size,), generator=generator)].to(model.device)
        attention_mask = torch.ones_like(ids)
        masked, targets = mntp_mask(ids, attention_mask, mask_id, generator=generator)
        loss = mntp_loss(model, masked, attention_mask, targets, bidirectional=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return losses


def train_simcse(model, tokenizer, steps: int, batch_size: int = 16, lr: float = 1e-4, dropout: float = 0.1,
                 seed: int = 42, parameters=None, progress: bool = True) -> list[float]:
    """Unsupervised SimCSE on news sentences (attention dropout ``dropout``); returns every step's loss."""

    sentences = simcse_sentences()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(sentences), generator=generator).tolist()
    parameters = list(parameters if parameters is not None else (p for p in model.parameters() if p.requires_grad))
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    set_attention_dropout(model, dropout)
    torch.manual_seed(seed)  # dropout masks
    model.train()
    losses = []
    bar = config.progress_bar(range(steps), desc="SimCSE", disable=not progress)
    for step in bar:
        start = step * batch_size % len(order)
        batch = [sentences[k] for k in order[start: start + batch_size]]
        loss = simcse_loss(model, tokenizer, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    set_attention_dropout(model, 0.0)
    return losses


# The trained artifact: scripts/train_llm2vec.py makes it; llm2vec_model() rebuilds it when missing.

RECIPE = {"top_layers": 8, "rank": 16, "alpha": 32.0, "mntp_steps": 15, "mntp_lr": 2e-3, "batch_size": 8,
          "seq_len": 64, "simcse_steps": 6, "simcse_batch_size": 8, "simcse_lr": 2e-4, "seed": 42}


STAGES = ("mntp", "simcse")


def artifact_path():
    """Where the LoRA adapters of both stages and their loss curves are stored."""
    from helpers import config

    return config.cache_dir() / "llm2vec" / "smollm2_llm2vec.safetensors"


def fresh_copy():
    """A trainable deep copy of SmolLM2 (the shared, cached model is never modified)."""
    import copy

    from helpers.models import load_smollm2

    tokenizer, model = load_smollm2()
    return tokenizer, copy.deepcopy(model)


def build_artifact(recipe: dict = RECIPE, progress: bool = True) -> dict:
    """Train MNTP (LoRA on the top layers), merge, then SimCSE (a new LoRA), and save both adapters."""
    from helpers import cache, config

    config.seed_everything(recipe["seed"])
    tokenizer, model = fresh_copy()
    lora = add_lora(model, recipe["top_layers"], recipe["rank"], recipe["alpha"])
    mntp_losses = train_mntp(model, tokenizer, recipe["mntp_steps"], recipe["batch_size"], recipe["seq_len"],
                             recipe["mntp_lr"], recipe["seed"], lora, progress)
    mntp_adapters = lora_state(model)
    merge_lora(model)
    config.seed_everything(recipe["seed"])
    lora = add_lora(model, recipe["top_layers"], recipe["rank"], recipe["alpha"])
    simcse_losses = train_simcse(model, tokenizer, recipe["simcse_steps"], recipe["simcse_batch_size"],
                                 recipe["simcse_lr"], seed=recipe["seed"], parameters=lora, progress=progress)
    losses = {"mntp_losses": mntp_losses, "simcse_losses": simcse_losses}
    artifact = {**artifact_key(recipe), **losses, "mntp": mntp_adapters, "simcse": lora_state(model)}
    # One safetensors file: both stages' adapters, named "<stage>/<tensor>"; the key and losses in its header.
    tensors = {f"{stage}/{name}": tensor for stage in STAGES for name, tensor in artifact[stage].items()}
    cache.save_tensors(artifact_path(), tensors, {**artifact_key(recipe), **losses})
    return artifact


def artifact_key(recipe: dict = RECIPE) -> dict:
    """What decides the adapters: the recipe, the training text, SmolLM2's weights and this module's code."""
    from helpers import cache
    from helpers.embed import weights_fingerprint
    from helpers.models import load_smollm2

    return {"recipe": dict(recipe), "text": cache.texts_fingerprint(lm_documents()),
            "weights": weights_fingerprint(load_smollm2()[1]), "code": cache.source_hash(sys.modules[__name__])}


def load_artifact(recipe: dict = RECIPE) -> dict:
    """The saved adapters and loss curves; trained now (minutes on a CPU) if missing, or made by another recipe,
    from other training text or weights, or by other code."""
    from helpers import cache

    tensors, info = cache.read(artifact_path(), cache.load_tensors) or ({}, {})
    if not cache.matches(info, artifact_key(recipe)):
        return build_artifact(recipe)
    stages = {stage: {name.removeprefix(f"{stage}/"): tensor for name, tensor in tensors.items()
                      if name.startswith(f"{stage}/")} for stage in STAGES}
    return {**info, **stages}


def llm2vec_model(stage: str, recipe: dict = RECIPE):
    """``(tokenizer, model)``: SmolLM2 after LLM2Vec's ``"mntp"`` stage, or after ``"simcse"`` (MNTP then
    SimCSE), adapters merged; use it with ``smollm2_embedder(bidirectional=True, model=model)``."""
    if stage not in ("mntp", "simcse"):
        raise ValueError(f"stage must be 'mntp' or 'simcse', got {stage!r}.")
    artifact = load_artifact(recipe)
    tokenizer, model = fresh_copy()
    for part in ("mntp", "simcse")[: 1 + (stage == "simcse")]:
        add_lora(model, recipe["top_layers"], recipe["rank"], recipe["alpha"])
        unexpected = model.load_state_dict(artifact[part], strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"The artifact does not fit the recipe ({unexpected[:3]}): delete {artifact_path()}.")
        merge_lora(model)
    return tokenizer, model.eval()
