"""One switch for the whole course: ``COURSE_SCALE=cpu|gpu`` (default ``cpu``).

The CPU scale is what CI and a laptop run: small data, few steps, 2 cores, offline. The GPU scale is for
Colab: bigger data and more steps, read from the same notebook cells through :func:`pick`.

``COURSE_PRECISION=fast|fp32`` (default ``fast``) chooses how SmolLM2 embeds texts (:func:`inference_precision`,
taught in notebook 11): bfloat16 matrix products where the hardware has them natively, float32 everywhere else and
for training; every equality test against a reference implementation runs ``fp32``.

``COURSE_ONLINE=1`` allows loading models and data from the Hugging Face hub (Colab sets both switches by
default: online, and ``gpu`` when a GPU is attached). Without it the course never touches the network:
the hub libraries are put in offline mode as soon as ``helpers`` is imported.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import sys
from pathlib import Path

import numpy as np

SCALES = ("cpu", "gpu")
PRECISIONS = ("fast", "fp32")


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys

    return "google.colab" in sys.modules


def _colab_gpu() -> bool:
    if not in_colab():
        return False
    import torch

    return torch.cuda.is_available()


def scale() -> str:
    """The current scale, from ``COURSE_SCALE``; the default is ``gpu`` on a Colab GPU, else ``cpu``."""
    value = os.environ.get("COURSE_SCALE", "gpu" if _colab_gpu() else "cpu").strip().lower()
    if value not in SCALES:
        raise ValueError(f"COURSE_SCALE must be one of {SCALES}, got {value!r}. Unset it to use 'cpu'.")
    return value


def pick(cpu, gpu):
    """Return ``cpu`` or ``gpu`` by the current scale: ``steps = pick(cpu=50, gpu=2000)``."""
    return gpu if scale() == "gpu" else cpu


def online() -> bool:
    """True when ``COURSE_ONLINE=1`` (the default in Colab): hub models and datasets may be downloaded."""
    return os.environ.get("COURSE_ONLINE", "1" if in_colab() else "0").strip().lower() in ("1", "true", "yes")


def device() -> str:
    """``"cuda"`` at GPU scale when a GPU is present, else ``"cpu"``."""
    if scale() == "gpu":
        import torch

        if torch.cuda.is_available():
            return "cuda"
    return "cpu"


def precision() -> str:
    """``"fast"`` or ``"fp32"``, from ``COURSE_PRECISION`` (default ``fast``)."""
    value = os.environ.get("COURSE_PRECISION", "fast").strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"COURSE_PRECISION must be one of {PRECISIONS}, got {value!r}. Unset it to use 'fast'.")
    return value


@contextlib.contextmanager
def using_precision(value: str):
    """Run a block under ``COURSE_PRECISION=value`` (``"fast"`` or ``"fp32"``), then restore the setting: how
    notebook 11 scores the same model both ways. Embedders read the setting when they encode, so one embedder
    serves both (each precision has its own cache entries)."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {value!r}.")
    before = os.environ.get("COURSE_PRECISION")
    os.environ["COURSE_PRECISION"] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COURSE_PRECISION", None)
        else:
            os.environ["COURSE_PRECISION"] = before


@functools.cache
def native_bf16(device_type: str = "cpu") -> bool:
    """Whether ``device_type`` multiplies bfloat16 matrices in hardware. On a CPU that needs the avx512_bf16 or
    amx_bf16 instructions (x86) or the bf16 extension (Arm): without them PyTorch emulates bfloat16, which is
    slower than float32, so the fast path is never taken there."""
    import torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags to read, so no claim of native support
        return False
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def inference_dtype(device_type: str = "cpu") -> str:
    """The dtype of the matrix products on the fast path: ``"bfloat16"`` under ``COURSE_PRECISION=fast`` where
    :func:`native_bf16`, else ``"float32"``. Part of every SmolLM2 embedding's cache key."""
    return "bfloat16" if precision() == "fast" and native_bf16(device_type) else "float32"


def inference_precision(device_type: str = "cpu"):
    """The context to run an inference forward pass in: ``torch.autocast`` to bfloat16 when
    :func:`inference_dtype` says so (linear layers and attention in bfloat16; softmax, norms and the pooled
    vectors in float32), else a context that changes nothing. Weights stay float32, so training, which never
    runs in it, is unaffected."""
    import torch

    if inference_dtype(device_type) == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and PyTorch so that a notebook gives the same numbers every run."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def cpu_threads(count: int | None):
    """Run a block with ``count`` CPU threads (``None``: as they are) for PyTorch and for the BLAS and OpenMP
    libraries under numpy, scipy and scikit-learn; then restore them. Small jobs (a training step of a 64 x 384
    head, k-means or a logistic regression on a few hundred vectors) run faster on one thread: on 2 cores the
    threads waiting for each other cost more than the arithmetic."""
    if count is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        torch.set_num_threads(previous)


def show_progress() -> bool:
    """False when ``COURSE_PROGRESS=0``: headless runs whose outputs are committed or compared (``make test``,
    ``scripts/run_course.py``) turn progress bars off, so no bar fragments end up in a notebook's outputs."""
    return os.environ.get("COURSE_PROGRESS", "1").strip() != "0"


def progress_bar(iterable=None, **kwargs):
    """A ``tqdm.auto`` progress bar, shown only when :func:`show_progress` allows it."""
    from tqdm.auto import tqdm

    kwargs["disable"] = kwargs.get("disable", False) or not show_progress()
    return tqdm(iterable, **kwargs)


def _checkout() -> Path | None:
    """The repository this package runs from, or ``None`` after a pip install (pyproject.toml tells a checkout
    from site-packages, where a stray top-level data/ may also exist)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Where embeddings and trained artifacts are cached: ``COURSE_CACHE``, by default ``<repo>/.cache`` in a
    checkout and ``~/.cache/embeddings-from-scratch`` after a pip install (never inside site-packages)."""
    checkout = _checkout()
    default = checkout / ".cache" if checkout else Path.home() / ".cache" / "embeddings-from-scratch"
    path = Path(os.environ.get("COURSE_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The course's committed data: ``<repo>/data`` in a checkout (where ``scripts/make_synthetic_data.py``
    writes), else the copy that a pip install puts in ``helpers/course_data`` (see ``pyproject.toml``)."""
    checkout = _checkout()
    return checkout / "data" if checkout else Path(__file__).resolve().parent / "course_data"


def _stay_offline() -> None:
    if not online():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        # The Hugging Face libraries read these variables once, when imported: one imported before helpers
        # (a reordered notebook cell) is switched to offline mode here too.
        for module in ("huggingface_hub.constants", "datasets.config"):
            if module in sys.modules and os.environ["HF_HUB_OFFLINE"] == "1":
                sys.modules[module].HF_HUB_OFFLINE = True
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_stay_offline()
