"""Everything the course keeps on disk, written and read one safe way: embedding caches, frozen states,
trained artifacts, the de-quantised SmolLM2.

A class can share one ``COURSE_CACHE`` (see the teacher's guide), so every file here is

* written atomically: into a temporary file in the same folder, then renamed over the target
  (``os.replace``). A reader sees the old file or the new one, never half of one, and two processes that
  build the same entry at once both leave a whole file;
* read without pickle: arrays as ``.npy`` (no ``allow_pickle``), tensors as safetensors, everything else as
  JSON. A file written by someone else's session is data, never code;
* rebuilt when it does not load: a truncated or corrupt file gives a warning, is removed, and the caller
  computes it again (:func:`cached`).

Cache keys hold what decides the result: the settings, the weights' fingerprint, the training text's
(:func:`texts_fingerprint`), and :func:`source_hash` of the code that computes it, so a change invalidates
exactly the entries it affects.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import marshal
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: the light modules that import this one (models, corpus) stay light
    import torch

_UMASK = os.umask(0)  # the umask can only be read by setting it: read it once, put it back at once
os.umask(_UMASK)


def atomic_write(path: Path | str, write: Callable) -> Path:
    """Call ``write(file)`` on a temporary binary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
        os.chmod(handle.name, 0o666 & ~_UMASK)  # temporary files are private; a shared cache must be readable
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def save_folder(path: Path | str, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(folder)`` on a temporary folder next to ``path``, then rename it to ``path``.

    When two processes build the same folder at once, the first rename wins and the other copy is dropped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        fill(temporary)
        os.chmod(temporary, 0o777 & ~_UMASK)
        try:
            os.rename(temporary, path)
        except OSError:
            if not path.is_dir():
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return path


def read(path: Path | str, load: Callable[[Path], object]):
    """``load(path)``, or ``None`` when the file (or folder) is missing or does not load; one that does not load
    is removed, with a warning, so that the caller builds it again. ``load`` never returns ``None`` itself."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load(path)
    except FileNotFoundError:  # removed by another process since we looked
        return None
    except Exception as error:  # whatever the parser raised, the file is unusable
        warnings.warn(f"Cache entry {path} could not be read ({type(error).__name__}: {error}); "
                      "removing it and computing it again.", stacklevel=2)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return None


def cached(path: Path | str, build: Callable[[], object], save: Callable, load: Callable[[Path], object]):
    """The value stored at ``path`` (read by ``load``), or ``build()`` saved there with ``save(path, value)``."""
    value = read(path, load)
    if value is None:
        value = build()
        save(path, value)
    return value


# ---------------------------------------------------------------------------------------------------------
# Formats


def save_array(path: Path | str, array: np.ndarray) -> Path:
    return atomic_write(path, lambda file: np.save(file, np.asarray(array), allow_pickle=False))


def load_array(path: Path | str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save_json(path: Path | str, value) -> Path:
    return atomic_write(path, lambda file: file.write((json.dumps(value, indent=1) + "\n").encode()))


def load_json(path: Path | str):
    return json.loads(Path(path).read_text())


def save_tensors(path: Path | str, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Tensors as safetensors; ``metadata`` (JSON-able values) goes into the file's header, one JSON string a key.

    The header also says ``"format": "pt"``, as transformers writes and expects it of a model's weights.
    """
    from safetensors.torch import save

    header = {"format": "pt", **{key: json.dumps(value) for key, value in (metadata or {}).items()}}
    payload = save(_unshared(tensors), metadata=header)
    return atomic_write(path, lambda file: file.write(payload))


def load_tensors(path: Path | str) -> tuple[dict[str, torch.Tensor], dict]:
    """``(tensors, metadata)`` as given to :func:`save_tensors`; tensors on the CPU."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        header = file.metadata() or {}
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    return tensors, {key: json.loads(value) for key, value in header.items() if key != "format"}


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses tensors that share memory (tied weights): later ones get a copy of their own.
    seen, out = set(), {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        out[name] = tensor.clone() if storage in seen else tensor
        seen.add(storage)
    return out


# ---------------------------------------------------------------------------------------------------------
# Keys


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes (≈ 0.1 s for SmolLM2's 98 MB GGUF file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_digest(key: dict) -> str:
    """A short, stable name for a key (settings, fingerprints, code hashes; JSON values): one file or folder per
    key, so an artifact made another way is never found under this key's name."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def matches(stored: dict, key: dict) -> bool:
    """Whether an artifact's stored header was made under ``key`` (its recipe, training text, base weights and
    code, as JSON values): anything else is stale and is trained again."""
    return all(stored.get(name) == json.loads(json.dumps(value)) for name, value in key.items())


def texts_fingerprint(texts) -> str:
    """sha256 of a sequence of texts, in order: a cache key part that changes with a model's training text (for
    example when :func:`helpers.data.training_background` leaves out another document)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def source_hash(*objects) -> str:
    """sha256 of the source code of functions, classes or modules: a cache key part that changes with the code."""
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(_source_digest(obj).encode())
    return digest.hexdigest()


@functools.cache
def _source_digest(obj) -> str:
    # Kept per object: the code that runs is the code that was loaded, even if its file changed since.
    return hashlib.sha256(_source(obj)).hexdigest()


def _source(obj) -> bytes:
    try:
        return inspect.getsource(obj).encode()
    except (OSError, TypeError):
        # A class defined in a notebook cell has no file, but its methods have (IPython keeps each cell's source).
        if inspect.isclass(obj):
            methods = [value for value in vars(obj).values() if inspect.isfunction(value)]
            return obj.__qualname__.encode() + b"".join(_source(method) for method in methods)
        if inspect.isfunction(obj):  # no source at all (exec of a string): its compiled code stands in
            return marshal.dumps(obj.__code__)
        raise
