import contextlib
import os
import random

import numpy as np
import pytest
import torch

from helpers import config


def test_scale_defaults_to_cpu_and_pick_follows_it(monkeypatch):
    monkeypatch.delenv("COURSE_SCALE", raising=False)
    assert config.scale() == "cpu"
    assert config.pick(cpu=1, gpu=2) == 1
    monkeypatch.setenv("COURSE_SCALE", "gpu")
    assert config.pick(cpu=1, gpu=2) == 2


def test_unknown_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "tpu")
    with pytest.raises(ValueError, match="COURSE_SCALE must be one of"):
        config.scale()


def test_offline_by_default(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    assert not config.online()
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_offline_whatever_the_import_order():
    import subprocess
    import sys

    program = ("import huggingface_hub, datasets\n"
               "import helpers\n"
               "assert huggingface_hub.constants.is_offline_mode(), 'hub online'\n"
               "assert datasets.config.HF_HUB_OFFLINE, 'datasets online'\n")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_ONLINE")}
    result = subprocess.run([sys.executable, "-c", program], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    config.seed_everything(7)
    first = draw()
    config.seed_everything(7)
    assert draw() == first


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cpu_threads_limits_torch_and_blas_and_restores_them():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads(), [pool["num_threads"] for pool in threadpool_info()]
    with config.cpu_threads(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert (torch.get_num_threads(), [pool["num_threads"] for pool in threadpool_info()]) == before
    with config.cpu_threads(None):
        assert torch.get_num_threads() == before[0]


def test_precision_defaults_to_fast_and_refuses_unknown_values(monkeypatch):
    monkeypatch.delenv("COURSE_PRECISION", raising=False)
    assert config.precision() == "fast"
    monkeypatch.setenv("COURSE_PRECISION", "int4")
    with pytest.raises(ValueError, match="COURSE_PRECISION must be one of"):
        config.precision()


def test_fast_path_is_bfloat16_only_where_the_hardware_has_it(monkeypatch):
    monkeypatch.setenv("COURSE_PRECISION", "fp32")
    assert config.inference_dtype() == "float32"
    assert isinstance(config.inference_precision(), type(contextlib.nullcontext()))
    monkeypatch.setenv("COURSE_PRECISION", "fast")
    expected = "bfloat16" if config.native_bf16("cpu") else "float32"
    assert config.inference_dtype() == expected
    assert config.inference_dtype("mps") == "float32"  # no claim of native bfloat16 for other devices
    with config.inference_precision():
        product = torch.ones(2, 3) @ torch.ones(3, 2)
    assert product.dtype == getattr(torch, expected)
