"""Trained artifacts committed with the course: weights a notebook loads because it cannot train them in its
4-minute budget (the convention is explained in docs/authoring.md).

A script in ``scripts/`` trains each one (seeded, with a progress bar) and :func:`save` writes it to
``data/artifacts/<name>/``: the files the trainer writes (safetensors weights, a vocabulary) and ``card.json``,
which says how it was made:

* ``key``: what decides the weights: the recipe, a fingerprint of the training text, the base weights'
  fingerprint, and :func:`helpers.cache.source_hash` of the code that trains it;
* ``script``: the command that makes it again;
* ``seconds``, ``history`` (the loss curve) and ``scores`` (what it reached).

:func:`load_or_train` is the one way ``helpers`` reads an artifact. A committed artifact made under the
caller's key is used; one made with the same recipe by other code, text or base weights is *stale* and refused
with a :class:`StaleArtifactError` that names the script to run; without one (or with another recipe, say
``COURSE_SCALE=gpu``'s) the caller's ``train`` runs with the script's recipe and its result is cached, so a
notebook works either way. ``tests/test_artifacts.py`` checks that every committed card is current.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers import cache, config

CARD = "card.json"


class StaleArtifactError(RuntimeError):
    """A committed artifact was made by other code, text or base weights than the caller's."""


def folder(name: str) -> Path:
    """Where the committed artifact ``name`` lives: ``data/artifacts/<name>``."""
    return config.data_dir() / "artifacts" / name


def read_card(name: str) -> dict | None:
    """The committed card of ``name``, or ``None`` when there is no such artifact."""
    path = folder(name) / CARD
    return json.loads(path.read_text()) if path.is_file() else None


def committed_names() -> list[str]:
    """Every committed artifact (a folder of ``data/artifacts`` with a card)."""
    root = config.data_dir() / "artifacts"
    return sorted(path.parent.name for path in root.glob(f"*/{CARD}"))


def _json(value):
    return json.loads(json.dumps(value))


def differences(card: dict, key: dict) -> list[str]:
    """The parts of ``key`` (recipe, text, base, code) that ``card`` was not made under."""
    made = card.get("key", {})
    return [part for part, value in _json(key).items() if made.get(part) != value]


def committed(name: str, key: dict) -> Path | None:
    """The folder of the committed artifact ``name`` if it was made under ``key``; ``None`` if there is none or it
    was made with another recipe. Raises :class:`StaleArtifactError` if the recipe is the same but anything else
    differs: the weights would not be what today's code trains."""
    card = read_card(name)
    if card is None:
        return None
    changed = differences(card, key)
    if not changed:
        return folder(name)
    if "recipe" in changed:
        return None
    raise StaleArtifactError(
        f"The committed artifact data/artifacts/{name} was made with other {' and '.join(changed)} than today's "
        f"helpers use. Run `{card['script']}` to make it again (it took {card['seconds'] / 60:.0f} min), "
        f"or delete data/artifacts/{name} to train it here with the same recipe.")


def load_or_train(name: str, key: dict, train: Callable[[], object], save_files: Callable[[Path, object], None],
                  load_files: Callable[[Path], object]):
    """The artifact ``name`` made under ``key``: the committed one (see :func:`committed`), else ``train()``'s
    result, cached under ``<cache>/artifacts/<name>-<digest of key>`` so that it is trained once per key.

    ``save_files(folder, value)`` writes a value's files into a folder; ``load_files(folder)`` reads them back.
    """
    found = committed(name, key)
    if found is not None:
        return load_files(found)
    return _cached_folder(config.cache_dir() / "artifacts" / f"{name}-{cache.key_digest(key)}", train, save_files,
                          load_files)


def _cached_folder(path: Path, make: Callable[[], object], save_files: Callable[[Path, object], None],
                   load_files: Callable[[Path], object]):
    """The value kept in the folder ``path``, or ``make()``'s, saved there as a folder first."""
    return cache.cached(path, make, lambda target, value: cache.save_folder(target, lambda f: save_files(f, value)),
                        load_files)


def shard(name: str, key: dict, run: Callable[[], object], save_files: Callable[[Path, object], None],
          load_files: Callable[[Path], object]):
    """One unit of a long script's work (one seed, one learning rate), kept in the cache as soon as it is done:
    ``run()``'s result under ``<cache>/shards/<name>-<digest of key>``. A script that is stopped and run again
    reads the shards it finished (and says so) and goes on with the rest, so a stop loses one shard at most."""
    path = config.cache_dir() / "shards" / f"{name}-{cache.key_digest(key)}"
    if path.exists():
        print(f"{name}: finished before, read from {path}", flush=True)
    return _cached_folder(path, run, save_files, load_files)


def save(name: str, key: dict, value, save_files: Callable[[Path, object], None], script: str, seconds: float,
         history: dict | None = None, scores: dict | None = None) -> Path:
    """Commit-ready: write ``value``'s files and its card to ``data/artifacts/<name>`` (replacing what was there)."""
    card = {"name": name, "script": script, "key": _json(key), "seconds": round(seconds, 1),
            "made": time.strftime("%Y-%m-%d"), "history": _json(history or {}), "scores": _json(scores or {})}

    def fill(target: Path) -> None:
        save_files(target, value)
        (target / CARD).write_text(json.dumps(card, indent=1) + "\n")

    target = folder(name)
    if target.exists():
        shutil.rmtree(target)
    return cache.save_folder(target, fill)


def save_scored_results(name: str, key: dict, score: Callable[[], dict], script: str) -> Path:
    """Run ``score`` (mini-MTEB result frames by name), time it, and save the frames as the result artifact ``name``
    under ``key`` (computed by the caller before scoring, from the code that runs), each frame's average and
    interval on the card; prints where it went. The whole of a script that scores rows and trains nothing
    (``scripts/score_leaderboard_rows.py``, ``scripts/score_long_articles.py``)."""
    from helpers.evaluate import average_interval

    start = time.perf_counter()
    results = score()
    seconds = time.perf_counter() - start
    scores = {row: average_interval(frame) for row, frame in results.items()}
    path = save(name, key, results, save_results, script, seconds, scores=scores)
    print(f"{path} in {seconds / 60:.1f} min: {scores}")
    return path


def save_results(target: Path, results: dict) -> None:
    """Write mini-MTEB result frames (:func:`helpers.evaluate.mini_mteb`, by name) into the folder ``target``:
    each frame's per-task rows as JSON and its bootstrap replicates as an array, so that a loaded frame compares,
    paired, exactly as the scored one did. A *result artifact*: what several training runs scored, for a
    notebook that cannot run them all in its budget (docs/authoring.md)."""
    index = {}
    for number, (name, frame) in enumerate(results.items()):
        draws = frame.attrs["replicates"]
        cache.save_array(target / f"replicates-{number}.npy", np.stack([draws[task] for task in frame.index]))
        index[name] = {"model": frame.attrs["model"], "split": frame.attrs.get("split", "test"),
                       "file": f"replicates-{number}.npy",
                       "rows": frame[["type", "metric", "score", "ci_low", "ci_high"]].to_dict(orient="index")}
    cache.save_json(target / "results.json", index)


def load_results(target: Path) -> dict:
    """The frames :func:`save_results` wrote into ``target``, by name, each with its replicates for
    :func:`helpers.evaluate.compare`."""
    import pandas as pd

    results = {}
    for name, stored in cache.load_json(target / "results.json").items():
        frame = pd.DataFrame.from_dict(stored["rows"], orient="index")
        frame.index.name = "task"
        draws = cache.load_array(target / stored["file"])
        frame.attrs.update(model=stored["model"], split=stored.get("split", "test"),
                           replicates=dict(zip(frame.index, draws, strict=True)))
        results[name] = frame
    return results


def size_mb() -> float:
    """Megabytes of every committed artifact together (the course keeps them under 60 MB)."""
    root = config.data_dir() / "artifacts"
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 1e6


def quantize_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-bit storage: each row becomes integers in [-127, 127] times one float scale (its largest |value| / 127).
    The error per value is at most half a step, scale / 2, well below what moves a cosine in the third decimal."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(1) / 127
    codes = np.round(vectors / np.maximum(scales, 1e-30)[:, None]).astype(np.int8)
    return codes, scales.astype(np.float32)


def dequantize_rows(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The vectors :func:`quantize_rows` stored."""
    return codes.astype(np.float32) * scales[:, None]


def store_8bit(state: dict) -> dict:
    """A state dict for 8-bit storage: each matrix as int8 codes with one scale per row (:func:`quantize_rows`;
    ``<name>.scales``), every other tensor in fp16. A quarter of fp32's size, half of fp16's."""
    import torch

    stored = {}
    for name, tensor in state.items():
        if tensor.dim() == 2:
            codes, scales = quantize_rows(tensor.detach().float().cpu().numpy())
            stored[name], stored[f"{name}.scales"] = torch.from_numpy(codes), torch.from_numpy(scales)
        else:
            stored[name] = tensor.detach().cpu().half()
    return stored


def read_8bit(stored: dict) -> dict:
    """The fp32 state dict that :func:`store_8bit` stored."""
    import torch

    state = {}
    for name, tensor in stored.items():
        if name.endswith(".scales"):
            continue
        if f"{name}.scales" in stored:
            state[name] = torch.from_numpy(dequantize_rows(tensor.numpy(), stored[f"{name}.scales"].numpy()))
        else:
            state[name] = tensor.float()
    return state
