"""Embeddings from Scratch: the finished versions of what the notebooks build.

Modules, in the order the course teaches them: ``config`` (the CPU/GPU switch), ``data`` (offline
benchmark data), ``models`` (real pretrained weights from pip packages), ``pooling``, ``embed`` (one
``Embedder`` interface), ``evaluate`` (a mini-MTEB), ``plots`` and ``exercises``.
"""

import warnings

from helpers import config  # noqa: F401  (sets offline mode before any hub library is imported)

# Without ipywidgets, tqdm.auto falls back to text bars; its warning about that only adds noise (and a path).
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
