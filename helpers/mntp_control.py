"""A control for LLM2Vec's MNTP step (notebook 07): the same LoRA, training windows, steps, batch, learning rate
and seed, trained with the plain causal next-token loss instead of masked next-token prediction under
bidirectional attention.

MNTP lowers its held-out loss and lifts the bidirectional model's benchmark score. Both could come from tuning on
this text at all rather than from learning to read both ways. The control tunes on the same text and never sees
the bidirectional mask: what MNTP gains over it is what reading both ways buys. ``scripts/train_mntp_control.py``
trains it (in three resumable chunks) and commits its scores as the result artifact ``data/artifacts/mntp_control``;
:func:`control_results` reads it.
"""

from __future__ import annotations

import copy
import sys

import torch

from helpers import artifacts, cache, config, evaluate, llm2vec

ARTIFACT = "mntp_control"
SCRIPT = "python scripts/train_mntp_control.py"
NAME = "SmolLM2-135M next-token control"
CHUNKS = 3  # the run is cached after each third of its steps: a stop loses a third at most
# The parts of llm2vec.RECIPE that MNTP trains with: the control takes every one of them.
TRAINING = ("rank", "alpha", "lora_dropout", "targets", "mntp_steps", "mntp_batch_size", "seq_len", "mntp_lr", "seed")


def next_token_loss(model, ids: torch.Tensor) -> torch.Tensor:
    """Causal language modelling: the cross-entropy of every token from the logits at the position before it."""
    logits = model(input_ids=ids).logits[:, :-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def training_key(recipe: dict = llm2vec.RECIPE) -> dict:
    """What decides the trained control (and each of its shards): MNTP's training settings, the text, SmolLM2's
    weights and the training code (LLM2Vec's pieces it reuses and this module's loop)."""
    base = llm2vec.artifact_key(recipe)
    return {"recipe": {name: recipe[name] for name in TRAINING}, "text": base["text"], "base": base["base"],
            "code": base["code"] + cache.source_hash(next_token_loss, train_control, _save_state, _load_state)}


def control_key(recipe: dict = llm2vec.RECIPE) -> dict:
    """What decides the control's scores: :func:`training_key`, this module's code, the scoring code and the
    inference precision."""
    key = training_key(recipe)
    return {**key, "recipe": {**key["recipe"], "split": "test", "inference_dtype": config.inference_dtype()},
            "code": key["code"] + cache.source_hash(sys.modules[__name__], evaluate)}


def train_control(recipe: dict = llm2vec.RECIPE, progress: bool = True) -> dict:
    """Train the control and score it as LLM2Vec scores its MNTP stage (adapters stored as the artifact stores
    them, merged, bidirectional attention, mean pooling; test split). Returns ``{"results": {NAME: frame},
    "history": {"loss": every step's loss, "held_out": [[step, held-out MNTP loss], ...]}}``; the held-out loss is
    :func:`helpers.llm2vec.held_out_mntp_loss`, at the steps where ``train_llm2vec`` measures MNTP's."""
    from helpers.decoder import smollm2_embedder

    config.seed_everything(recipe["seed"])
    tokenizer, model = llm2vec.fresh_copy()
    lora = llm2vec.add_lora(model, recipe["rank"], recipe["alpha"], recipe["lora_dropout"], tuple(recipe["targets"]))
    windows = llm2vec.lm_windows(tokenizer, recipe["seq_len"])
    steps = recipe["mntp_steps"]
    optimizer, schedule = llm2vec._optimizer(lora, recipe["mntp_lr"], steps)
    generator = torch.Generator().manual_seed(recipe["seed"])
    every = max(1, steps // 8)

    def held_out() -> float:
        return round(llm2vec.held_out_mntp_loss(model, tokenizer, bidirectional=True), 4)

    history = {"loss": [], "held_out": [[0, held_out()]]}

    def run(first: int, last: int) -> dict:
        # train_mntp's loop with the next-token loss on unmasked windows: same draws of windows, same updates.
        model.train()
        for step in config.progress_bar(range(first, last), desc=f"next-token control, steps {first + 1}-{last}",
                                        disable=not progress):
            ids = windows[torch.randint(len(windows), (recipe["mntp_batch_size"],), generator=generator)]
            loss = next_token_loss(model, ids.to(model.device))
            loss.backward()
            llm2vec._update(optimizer, schedule, lora)
            history["loss"].append(round(loss.item(), 4))
            if (step + 1) % every == 0 or step + 1 == steps:
                history["held_out"].append([step + 1, held_out()])
        return {"lora": llm2vec.lora_state(model), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(), "history": copy.deepcopy(history)}

    key = training_key(recipe)  # the shards: a change of the scoring code re-scores, it does not retrain
    bounds = [round(steps * part / CHUNKS) for part in range(CHUNKS + 1)]
    for part in range(CHUNKS):
        state = artifacts.shard(f"{ARTIFACT}-{part + 1}-of-{CHUNKS}", {**key, "part": part},
                                lambda part=part: run(bounds[part], bounds[part + 1]), _save_state, _load_state)
        model.load_state_dict(state["lora"], strict=False)  # a no-op when this chunk just ran
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = state["history"]

    adapters = llm2vec._as_stored(llm2vec.lora_state(model))
    tokenizer, tuned = llm2vec.fresh_copy()
    llm2vec._load_adapters(tuned, adapters, recipe)
    embedder = smollm2_embedder("mean", bidirectional=True, model=tuned.eval(), name=NAME)
    return {"results": {NAME: evaluate.mini_mteb(embedder)}, "history": history}


def _save_state(target, state: dict) -> None:
    torch.save(state, target / "state.pt")


def _load_state(target) -> dict:
    return torch.load(target / "state.pt", weights_only=True)  # tensors, numbers and lists: no code runs


def save_files(target, value: dict) -> None:
    artifacts.save_results(target, value["results"])
    cache.save_json(target / "history.json", value["history"])


def load_files(target) -> dict:
    return {"results": artifacts.load_results(target), "history": cache.load_json(target / "history.json")}


def control_results(progress: bool = True) -> dict:
    """The control's scores and curves (:func:`train_control`): the committed ``data/artifacts/mntp_control`` when
    it was made under today's :func:`control_key`, else trained here (about 25 minutes on 2 CPU cores)."""
    return artifacts.load_or_train(ARTIFACT, control_key(), lambda: train_control(progress=progress), save_files,
                                   load_files)
