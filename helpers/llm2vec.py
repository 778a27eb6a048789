"""LLM2Vec step by step (BehnamGhader et al. 2024), taught in notebook 07.

1. Bidirectional attention in a transformers decoder: :func:`helpers.decoder.bidirectional_attention` (a 4-D
   padding-only additive mask *and* ``is_causal = False`` on every attention module; current transformers needs
   both), a switch of every decoder embedder (``bidirectional=True``), so it lives with them in
   :mod:`helpers.decoder`; this module imports it for its training code.
2. Masked next-token prediction (MNTP): :func:`mntp_mask` chooses ~20% of the tokens (80% shown as ``"_"``,
   10% as a random token, 10% unchanged) and :func:`mntp_loss` predicts token i from the logits at position
   i - 1. Trained with LoRA (:class:`LoRALinear`, written from scratch) on all seven projections of every layer.
3. Unsupervised SimCSE with mean pooling: :func:`simcse_loss`, using :func:`helpers.losses.info_nce`; batches of
   64 through GradCache (:func:`simcse_grad_cache`), new adapters on the merged MNTP model.

Both stages train on the course's training documents (:func:`lm_documents`), which share no sentence with the
benchmark; the last 50 of them are held-out text for the LM loss. ``scripts/train_llm2vec.py`` commits the
adapters (:func:`load_artifact`); :func:`llm2vec_embedder` reads SmolLM2 after each stage. SimCSE's learning
rate is checked on the dev split by :func:`simcse_lr_sweep` (``scripts/sweep_llm2vec_lr.py``, :func:`load_lr_sweep`).
"""

from __future__ import annotations

import torch

from helpers import config
from helpers.decoder import _attention_modules, bidirectional_attention, hidden_states, padding_only_mask

# Step 2: masked next-token prediction (MNTP), trained with LoRA.

MASK_TOKEN = "_"  # LLM2Vec's choice for Llama tokenizers, which have no mask token
IGNORE = -100


def mntp_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor, mask_token_id: int, probability: float = 0.2,
              generator: torch.Generator | None = None,
              vocab_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ~``probability`` of the real tokens to predict: returns (input ids, targets).

    ``targets`` holds the original id at chosen positions and -100 elsewhere. With ``vocab_size`` the chosen
    tokens are replaced BERT's way, as LLM2Vec's collator does: 80% by ``mask_token_id``, 10% by a random token
    of the vocabulary, 10% left as they are; without it every chosen token becomes ``mask_token_id``. Position 0
    is never chosen: in MNTP token i is predicted from the logits at position i - 1, and nothing precedes position 0.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must be between 0 and 1, got {probability}.")
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < probability
    chosen = draw & attention_mask.bool()
    chosen[:, 0] = False
    targets = input_ids.masked_fill(~chosen, IGNORE)
    if vocab_size is None:
        return input_ids.masked_fill(chosen, mask_token_id), targets
    kind = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    masked = torch.where(chosen & (kind < 0.8), mask_token_id, input_ids)
    masked = torch.where(chosen & (kind >= 0.8) & (kind < 0.9), random_ids, masked)
    return masked, targets


def mntp_loss(model, masked_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor,
              bidirectional: bool = True) -> torch.Tensor:
    """Cross-entropy of predicting each chosen token i from the output at position i - 1.

    Only the positions that predict a chosen token go through the output head (49,152 logits each), which
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


# LLM2Vec adapts all seven projections of every layer: attention's four and the MLP's three.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def add_lora(model, rank: int = 16, alpha: float = 32.0, dropout: float = 0.0,
             targets: tuple[str, ...] = LORA_TARGETS, top_layers: int | None = None) -> list[torch.nn.Parameter]:
    """Freeze ``model`` and wrap the ``targets`` projections (attention and MLP) of its decoder layers in
    :class:`LoRALinear`: every layer, or only the top ``top_layers`` (cheaper: back-propagation stops at the
    first adapted layer). Returns the trainable parameters."""
    model.requires_grad_(False)
    layers = getattr(model, "model", model).layers
    top_layers = len(layers) if top_layers is None else top_layers
    if not 1 <= top_layers <= len(layers):
        raise ValueError(f"top_layers must be between 1 and {len(layers)}, got {top_layers}.")
    trainable = []
    for layer in layers[len(layers) - top_layers:]:
        for block in (layer.self_attn, layer.mlp):
            for name in targets:
                if isinstance(getattr(block, name, None), torch.nn.Linear):
                    lora = LoRALinear(getattr(block, name), rank, alpha, dropout)
                    setattr(block, name, lora)
                    trainable += [lora.lora_a, lora.lora_b]
    if not trainable:
        raise ValueError(f"No projection named {targets} in {type(model).__name__}'s layers.")
    return trainable


def lora_state(model) -> dict[str, torch.Tensor]:
    """The adapters' tensors only (what the artifact stores)."""
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


def _mean_states(model, input_ids, attention_mask):
    from helpers.pooling import mean_pool

    return mean_pool(hidden_states(model, input_ids, attention_mask, bidirectional=True), attention_mask)


def simcse_loss(model, tokenizer, texts: list[str], temperature: float = 0.05, max_length: int = 64) -> torch.Tensor:
    """Unsupervised SimCSE: each text encoded twice (different dropout), mean pooling, bidirectional
    attention; InfoNCE with the other texts of the batch as negatives (:func:`helpers.losses.info_nce`)."""
    from helpers.losses import info_nce

    if not model.training:
        raise ValueError("SimCSE needs dropout: call model.train() (in eval mode both views are identical).")
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    batch = {key: value.to(model.device) for key, value in batch.items()}
    views = [_mean_states(model, batch["input_ids"], batch["attention_mask"]) for _ in range(2)]
    return info_nce(views[0], views[1], temperature=temperature)


def simcse_grad_cache(model, tokenizer, texts: list[str], chunk_size: int, temperature: float = 0.05,
                      max_length: int = 64) -> torch.Tensor:
    """:func:`simcse_loss` for a batch too large to back-propagate at once: the gradient of the whole batch's
    loss (every text a negative for every other), computed ``chunk_size`` texts at a time with
    :func:`helpers.contrastive.grad_cache_step` (notebook 04). Leaves the gradients in the model; returns the loss."""
    from helpers.contrastive import grad_cache_step
    from helpers.losses import info_nce

    if not model.training:
        raise ValueError("SimCSE needs dropout: call model.train() (in eval mode both views are identical).")
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    ids, mask = batch["input_ids"].to(model.device), batch["attention_mask"].to(model.device)

    def encode(rows: torch.Tensor) -> torch.Tensor:
        used = mask[rows].sum(0) > 0  # drop the columns that are padding for every text of the chunk
        return _mean_states(model, ids[rows][:, used], mask[rows][:, used])

    rows = torch.arange(len(texts), device=model.device)  # both views: the same texts, other dropout masks
    return grad_cache_step(encode, rows, rows, lambda a, b: info_nce(a, b, temperature=temperature), chunk_size)


def mean_pairwise_cosine(model, tokenizer, texts: list[str], max_length: int = 64) -> float:
    """Average cosine between the bidirectional mean-pooled vectors of different texts (a collapse diagnostic:
    near 1 every text looks alike)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        vectors = torch.nn.functional.normalize(
            _mean_states(model, batch["input_ids"].to(model.device), batch["attention_mask"].to(model.device)), dim=-1)
    model.train(was_training)
    cosines = vectors @ vectors.T
    n = len(texts)
    return ((cosines.sum() - cosines.diagonal().sum()) / (n * (n - 1))).item()


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


def simcse_sentences(min_words: int = 6, max_words: int = 40, held_out: bool = False) -> list[str]:
    """The sentences of the training documents (:func:`lm_documents`), for unsupervised SimCSE; with
    ``held_out``, those of the held-out documents (for diagnostics only)."""
    from helpers.data import split_sentences

    sentences = [s for document in lm_documents(held_out) for s in split_sentences(document)]
    return list(dict.fromkeys(s for s in sentences if min_words <= len(s.split()) <= max_words))


def held_out_mntp_loss(model, tokenizer, bidirectional: bool, chunks: int = 16, seq_len: int = 64,
                       seed: int = 0) -> float:
    """MNTP loss on fixed masked windows of the held-out text for the LM loss (the same masks every call; every
    chosen token shown as ``"_"``, so the number reads the same before and after training)."""
    ids = lm_windows(tokenizer, seq_len, held_out=True)[:chunks].to(model.device)
    mask = torch.ones_like(ids)
    generator = torch.Generator(device=ids.device).manual_seed(seed)
    masked, targets = mntp_mask(ids, mask, tokenizer.convert_tokens_to_ids(MASK_TOKEN), generator=generator)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        loss = mntp_loss(model, masked, mask, targets, bidirectional).item()
    model.train(was_training)
    return loss


def _optimizer(parameters, lr: float, steps: int):
    """AdamW with a linear decay to 0 over ``steps``: the Hugging Face Trainer's defaults, which LLM2Vec uses."""
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)


def _update(optimizer, schedule, parameters, max_grad_norm: float = 1.0) -> None:
    torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)  # the Trainer's default clipping
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()


def train_mntp(model, tokenizer, steps: int, batch_size: int = 8, seq_len: int = 128, lr: float = 1e-4,
               seed: int = 42, parameters=None, probability: float = 0.2, mask_token: str = MASK_TOKEN,
               held_out_every: int = 0, progress: bool = True) -> dict:
    """MNTP with bidirectional attention on random training windows (:func:`lm_windows`), BERT's 80/10/10
    replacement (:func:`mntp_mask`). Returns ``{"loss": every step's loss, "held_out": [[step, loss], ...]}``,
    the held-out loss (:func:`held_out_mntp_loss`) before training and every ``held_out_every`` steps."""
    chunks = lm_windows(tokenizer, seq_len)
    mask_id = tokenizer.convert_tokens_to_ids(mask_token)
    generator = torch.Generator().manual_seed(seed)
    parameters = list(parameters if parameters is not None else (p for p in model.parameters() if p.requires_grad))
    optimizer, schedule = _optimizer(parameters, lr, steps)
    history = {"loss": [], "held_out": []}

    def held_out(step: int) -> None:
        if held_out_every and (step % held_out_every == 0 or step == steps):
            history["held_out"].append([step, round(held_out_mntp_loss(model, tokenizer, bidirectional=True), 4)])

    model.train()
    held_out(0)
    bar = config.progress_bar(range(steps), desc="MNTP", disable=not progress)
    for step in bar:
        ids = chunks[torch.randint(len(chunks), (batch_size,), generator=generator)]
        attention_mask = torch.ones_like(ids)
        masked, targets = mntp_mask(ids, attention_mask, mask_id, probability, generator, len(tokenizer))
        loss = mntp_loss(model, masked.to(model.device), attention_mask.to(model.device), targets.to(model.device))
        loss.backward()
        _update(optimizer, schedule, parameters)
        history["loss"].append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{loss.item():.3f}")
        held_out(step + 1)
    model.eval()
    return history


def train_simcse(model, tokenizer, steps: int, batch_size: int = 64, lr: float = 1e-4, dropout: float = 0.3,
                 seed: int = 42, parameters=None, chunk_size: int = 16, temperature: float = 0.05,
                 max_length: int = 64, probe_every: int = 0, progress: bool = True) -> dict:
    """Unsupervised SimCSE on the training sentences (:func:`simcse_sentences`, shuffled, one pass after another),
    attention dropout ``dropout``, each batch's gradient by GradCache (:func:`simcse_grad_cache`). Returns
    ``{"loss": every step's loss, "held_out_cosine": [[step, value], ...]}``: the mean pairwise cosine of 128
    held-out sentences (:func:`mean_pairwise_cosine`) before training and every ``probe_every`` steps."""
    sentences = simcse_sentences()
    probe = simcse_sentences(held_out=True)[:128]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(sentences), generator=generator).tolist()
    parameters = list(parameters if parameters is not None else (p for p in model.parameters() if p.requires_grad))
    optimizer, schedule = _optimizer(parameters, lr, steps)
    history = {"loss": [], "held_out_cosine": []}

    def diagnose(step: int) -> None:
        if probe_every and (step % probe_every == 0 or step == steps):
            history["held_out_cosine"].append([step, round(mean_pairwise_cosine(model, tokenizer, probe), 4)])

    diagnose(0)
    set_attention_dropout(model, dropout)
    torch.manual_seed(seed)  # dropout masks
    model.train()
    bar = config.progress_bar(range(steps), desc="SimCSE", disable=not progress)
    for step in bar:
        start = step * batch_size % len(order)
        batch = [sentences[k] for k in (order + order)[start: start + batch_size]]
        loss = simcse_grad_cache(model, tokenizer, batch, chunk_size, temperature, max_length)
        _update(optimizer, schedule, parameters)
        history["loss"].append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{loss.item():.3f}")
        diagnose(step + 1)
    model.eval()
    set_attention_dropout(model, 0.0)
    return history


# The trained artifact: scripts/train_llm2vec.py commits it to data/artifacts/llm2vec.

# The paper's recipe (technique-facts: MNTP 1,000 steps of 32 x 512 tokens at 5e-5; SimCSE 1,000 steps of 128
# sentences at 3e-5, dropout 0.3) scaled to 42 minutes of 2 CPU cores: 1/50 of its MNTP tokens and one and a
# half passes over our 2,064 sentences, so a few times its learning rates (the card's held-out curves show them;
# simcse_lr_sweep checks SimCSE's on the dev split: 3e-5 is measurably worse, 4e-4 no measurable gain).
RECIPE = {"mask_token": MASK_TOKEN, "mask_probability": 0.2, "rank": 16, "alpha": 32.0, "lora_dropout": 0.05,
          "targets": list(LORA_TARGETS), "mntp_steps": 300, "mntp_batch_size": 8, "seq_len": 128, "mntp_lr": 1e-4,
          "simcse_steps": 48, "simcse_batch_size": 64, "simcse_chunk_size": 16, "simcse_dropout": 0.3,
          "temperature": 0.05, "max_length": 64, "simcse_lr": 2e-4, "seed": 42}

STAGES = ("bidirectional", "mntp", "simcse")
ARTIFACT = "llm2vec"


def _as_stored(adapters: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapters as the artifact stores them (:func:`store_adapters`, then read back)."""
    return read_adapters(store_adapters(adapters))


def store_adapters(adapters: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """8-bit storage (:func:`helpers.artifacts.store_8bit`) with one scale per rank direction: the rows of A and
    the columns of B (stored transposed). 4.9 MB a stage instead of 19.5 in fp32."""
    from helpers.artifacts import store_8bit

    return store_8bit({name: tensor if "lora_a" in name else tensor.T for name, tensor in adapters.items()})


def read_adapters(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapters :func:`store_adapters` wrote."""
    from helpers.artifacts import read_8bit

    return {name: tensor if "lora_a" in name else tensor.T.contiguous() for name, tensor in read_8bit(stored).items()}


def _load_adapters(model, adapters: dict[str, torch.Tensor], recipe: dict) -> None:
    add_lora(model, recipe["rank"], recipe["alpha"], targets=tuple(recipe["targets"]))
    result = model.load_state_dict(adapters, strict=False)
    missing = [name for name in result.missing_keys if ".lora_" in name]
    if result.unexpected_keys or missing:
        raise ValueError(f"The adapters do not fit the recipe ({(result.unexpected_keys or missing)[:3]}).")
    merge_lora(model)


def train_llm2vec(recipe: dict = RECIPE, progress: bool = True) -> dict:
    """MNTP (LoRA on every layer), merge, then SimCSE (a new LoRA on the merged model). Returns the artifact's
    parts: both stages' adapters as stored (SimCSE trains on the MNTP model the artifact rebuilds), the
    curves and the seconds."""
    import time

    start = time.perf_counter()
    config.seed_everything(recipe["seed"])
    tokenizer, model = fresh_copy()
    lora = add_lora(model, recipe["rank"], recipe["alpha"], recipe["lora_dropout"], tuple(recipe["targets"]))
    mntp = train_mntp(model, tokenizer, recipe["mntp_steps"], recipe["mntp_batch_size"], recipe["seq_len"],
                      recipe["mntp_lr"], recipe["seed"], lora, recipe["mask_probability"], recipe["mask_token"],
                      held_out_every=max(1, recipe["mntp_steps"] // 8), progress=progress)
    mntp_adapters = _as_stored(lora_state(model))
    tokenizer, model = fresh_copy()
    _load_adapters(model, mntp_adapters, recipe)
    config.seed_everything(recipe["seed"])
    lora = add_lora(model, recipe["rank"], recipe["alpha"], recipe["lora_dropout"], tuple(recipe["targets"]))
    simcse = train_simcse(model, tokenizer, recipe["simcse_steps"], recipe["simcse_batch_size"], recipe["simcse_lr"],
                          recipe["simcse_dropout"], recipe["seed"], lora, recipe["simcse_chunk_size"],
                          recipe["temperature"], recipe["max_length"],
                          probe_every=max(1, recipe["simcse_steps"] // 8), progress=progress)
    return {"mntp": mntp_adapters, "simcse": _as_stored(lora_state(model)),
            "history": {"mntp": mntp, "simcse": simcse}, "seconds": time.perf_counter() - start}


def save_files(target, value: dict) -> None:
    """Write :func:`train_llm2vec`'s parts: ``adapters.safetensors`` (both stages, 8-bit, named
    ``<stage>/<tensor>``) with the curves and seconds in its header."""
    from helpers import cache

    tensors = {f"{stage}/{name}": tensor for stage in ("mntp", "simcse")
               for name, tensor in store_adapters(value[stage]).items()}
    cache.save_tensors(target / "adapters.safetensors", tensors,
                       {"history": value["history"], "seconds": value["seconds"]})


def _load_files(target) -> dict:
    from helpers import cache

    tensors, extra = cache.load_tensors(target / "adapters.safetensors")
    stages = {stage: read_adapters({name.removeprefix(f"{stage}/"): tensor for name, tensor in tensors.items()
                                    if name.startswith(f"{stage}/")}) for stage in ("mntp", "simcse")}
    return {**stages, **extra}


def artifact_key(recipe: dict = RECIPE) -> dict:
    """What decides the adapters: the recipe, the training text, SmolLM2's weights and the code that trains and
    stores them (named one by one, so that an edit elsewhere in this module does not stale the artifact)."""
    from helpers import artifacts, cache, contrastive, losses, pooling
    from helpers.embed import weights_fingerprint
    from helpers.models import load_smollm2

    code = cache.source_hash(
        train_llm2vec, train_mntp, train_simcse, _optimizer, _update, mntp_mask, mntp_loss, held_out_mntp_loss,
        simcse_grad_cache, _mean_states, mean_pairwise_cosine, set_attention_dropout, hidden_states,
        padding_only_mask, bidirectional_attention, _attention_modules, LoRALinear, add_lora, lora_state, merge_lora,
        _load_adapters, _as_stored, store_adapters, read_adapters, fresh_copy, lm_documents, token_windows,
        lm_windows, simcse_sentences, artifacts.store_8bit, artifacts.read_8bit, artifacts.quantize_rows,
        artifacts.dequantize_rows, contrastive.grad_cache_step, contrastive._RandomState, losses.info_nce,
        pooling.mean_pool)
    return {"recipe": dict(recipe), "text": cache.texts_fingerprint(lm_documents()),
            "base": weights_fingerprint(load_smollm2()[1]), "code": code}


def load_artifact(recipe: dict = RECIPE, progress: bool = True) -> dict:
    """Both stages' adapters and the training curves: the committed ``data/artifacts/llm2vec`` (made by
    ``scripts/train_llm2vec.py``) when it was made under today's key, else trained here (about 42 minutes on
    2 CPU cores with :data:`RECIPE`) and cached."""
    from helpers import artifacts

    return artifacts.load_or_train(ARTIFACT, artifact_key(recipe), lambda: train_llm2vec(recipe, progress),
                                   save_files, _load_files)


def fresh_copy():
    """A trainable deep copy of SmolLM2 (the shared, cached model is never modified)."""
    import copy

    from helpers.models import load_smollm2

    tokenizer, model = load_smollm2()
    return tokenizer, copy.deepcopy(model)


def llm2vec_model(stage: str, recipe: dict = RECIPE):
    """``(tokenizer, model)``: SmolLM2 after LLM2Vec's ``"mntp"`` stage, or after ``"simcse"`` (MNTP then
    SimCSE), adapters merged; read it with bidirectional attention (:func:`llm2vec_embedder` does)."""
    if stage not in STAGES[1:]:
        raise ValueError(f"stage must be 'mntp' or 'simcse', got {stage!r}.")
    artifact = load_artifact(recipe)
    tokenizer, model = fresh_copy()
    for part in ("mntp", "simcse")[: 1 + (stage == "simcse")]:
        _load_adapters(model, artifact[part], recipe)
    return tokenizer, model.eval()


def llm2vec_embedder(stage: str = "simcse", recipe: dict = RECIPE):
    """SmolLM2 as an LLM2Vec embedder after ``stage``: ``"bidirectional"`` (step 1, untrained), ``"mntp"``
    (step 2) or ``"simcse"`` (step 3); bidirectional attention and mean pooling, as the paper reads it."""
    from helpers.decoder import smollm2_embedder

    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}.")
    if stage == "bidirectional":
        return smollm2_embedder("mean", bidirectional=True)
    _, model = llm2vec_model(stage, recipe)
    return smollm2_embedder("mean", bidirectional=True, model=model, name=f"SmolLM2-135M LLM2Vec {stage}")


# The SimCSE learning rate, chosen on the dev split: scripts/sweep_llm2vec_lr.py commits data/artifacts/llm2vec_lr.

SIMCSE_LRS = (3e-5, 2e-4, 4e-4)  # the paper's rate, RECIPE's and twice it
LR_SWEEP = "llm2vec_lr"


def simcse_lr_sweep(lrs=SIMCSE_LRS, recipe: dict = RECIPE, progress: bool = True) -> dict:
    """Step 3 again at each learning rate in ``lrs``, from the committed MNTP adapters with everything else as
    ``recipe``, each run scored on mini-MTEB's dev split. ``recipe``'s own rate is the committed SimCSE stage
    (the same seeded run). Returns ``{"runs": [{"lr", "dev", "minus_recipe", "loss", "held_out_cosine"}, ...],
    "seconds"}``: the dev average with its interval and the paired difference from ``recipe``'s rate."""
    import time

    from helpers.decoder import smollm2_embedder
    from helpers.evaluate import average_interval, compare, mini_mteb

    start = time.perf_counter()
    artifact = load_artifact(recipe, progress)
    results, runs = {}, []
    for lr in lrs:
        tokenizer, model = fresh_copy()
        _load_adapters(model, artifact["mntp"], recipe)
        if lr == recipe["simcse_lr"]:
            adapters, history = artifact["simcse"], artifact["history"]["simcse"]
        else:
            config.seed_everything(recipe["seed"])
            lora = add_lora(model, recipe["rank"], recipe["alpha"], recipe["lora_dropout"], tuple(recipe["targets"]))
            history = train_simcse(model, tokenizer, recipe["simcse_steps"], recipe["simcse_batch_size"], lr,
                                   recipe["simcse_dropout"], recipe["seed"], lora, recipe["simcse_chunk_size"],
                                   recipe["temperature"], recipe["max_length"],
                                   probe_every=max(1, recipe["simcse_steps"] // 8), progress=progress)
            adapters = _as_stored(lora_state(model))  # scored as the artifact would store it
            tokenizer, model = fresh_copy()
            _load_adapters(model, artifact["mntp"], recipe)
        _load_adapters(model, adapters, recipe)
        embedder = smollm2_embedder("mean", bidirectional=True, model=model.eval(),
                                    name=f"SmolLM2-135M LLM2Vec simcse lr {lr:g}")
        results[lr] = mini_mteb(embedder, split="dev")
        runs.append({"lr": lr, "dev": average_interval(results[lr]), "loss": history["loss"],
                     "held_out_cosine": history["held_out_cosine"]})
    for run in runs:
        run["minus_recipe"] = average_interval(compare(results[run["lr"]], results[recipe["simcse_lr"]], split="dev"))
    return {"runs": runs, "seconds": time.perf_counter() - start}


def lr_sweep_key(lrs=SIMCSE_LRS, recipe: dict = RECIPE) -> dict:
    """What decides the sweep: the rates, the LLM2Vec artifact it starts from and the code that runs it."""
    from helpers import cache

    return {"lrs": list(lrs), "llm2vec": artifact_key(recipe), "code": cache.source_hash(simcse_lr_sweep)}


def _save_sweep(target, value: dict) -> None:
    from helpers import cache

    cache.save_json(target / "sweep.json", value)


def _load_sweep(target) -> dict:
    from helpers import cache

    return cache.load_json(target / "sweep.json")


def load_lr_sweep(lrs=SIMCSE_LRS, recipe: dict = RECIPE, progress: bool = True) -> dict:
    """:func:`simcse_lr_sweep`'s result: the committed ``data/artifacts/llm2vec_lr`` (made by
    ``scripts/sweep_llm2vec_lr.py``) when it was made under today's key, else run here (about 90 minutes on 2
    CPU cores: two SimCSE runs) and cached."""
    from helpers import artifacts

    return artifacts.load_or_train(LR_SWEEP, lr_sweep_key(lrs, recipe), lambda: simcse_lr_sweep(lrs, recipe, progress),
                                   _save_sweep, _load_sweep)
