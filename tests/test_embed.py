import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from helpers import config
from helpers.decoder import smollm2_embedder
from helpers.embed import TransformerEmbedder, check_texts, minilm_embedder
from helpers.models import load_minilm

TEXTS = ["A man is playing a guitar.", "The stock market fell sharply today.", "Someone plays music."]


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        ([], ValueError, "empty list"),
        (["fine", "  "], ValueError, "Text 1 is empty"),
        (["fine", 3], TypeError, "Text 1 is a int"),
        ("just one string", TypeError, r"encode\(\[text\]\)"),
        (None, TypeError, "list of strings"),
    ],
)
def test_bad_input_is_a_clear_error(texts, error, message):
    with pytest.raises(error, match=message):
        check_texts(texts)


def test_minilm_embedder_returns_unit_float32_rows():
    vectors = minilm_embedder().encode(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]  # guitar ~ music, not stocks


def test_transformer_embedder_mean_pooling_equals_sentence_transformers():
    model = load_minilm()
    ours = TransformerEmbedder(model.tokenizer, model[0].auto_model, pooling="mean", max_length=256).encode(TEXTS)
    theirs = model.encode(TEXTS, normalize_embeddings=True)
    assert np.abs(ours - theirs).max() < 1e-5


def test_order_and_batching_do_not_change_vectors():
    embedder = minilm_embedder()
    embedder.cache = False
    together = embedder.encode(TEXTS, batch_size=3)
    one_by_one = embedder.encode(TEXTS, batch_size=1)
    assert np.abs(together - one_by_one).max() < 1e-5


def test_cache_hits_and_invalidates_when_weights_change():
    model = load_minilm()
    bert = BertModel(BertConfig(vocab_size=model.tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64))
    embedder = TransformerEmbedder(model.tokenizer, bert.eval(), name="tiny")
    first = embedder.encode(TEXTS)
    assert len(list((config.cache_dir() / "embeddings").glob("tiny-*.npy"))) == 1
    assert np.array_equal(embedder.encode(TEXTS), first)
    with torch.no_grad():
        bert.embeddings.word_embeddings.weight.mul_(2.0)
    assert not np.allclose(embedder.encode(TEXTS), first)  # a new fingerprint, not the stale file
    assert len(list((config.cache_dir() / "embeddings").glob("tiny-*.npy"))) == 2


def test_template_must_hold_the_text():
    model = load_minilm()
    with pytest.raises(ValueError, match="template"):
        TransformerEmbedder(model.tokenizer, model[0].auto_model, template="Query:")
    with pytest.raises(ValueError, match="Unknown pooling"):
        TransformerEmbedder(model.tokenizer, model[0].auto_model, pooling="median")


def test_smollm2_last_token_pooling_reads_the_appended_eos():
    embedder = smollm2_embedder(pooling="last", max_length=8)
    batch = embedder.tokenize(["short", "a much longer text that will be cut at eight tokens for sure"])
    lengths = batch["attention_mask"].sum(1)
    last_ids = batch["input_ids"][torch.arange(2), lengths - 1]
    assert lengths.max() == 8 and (last_ids == embedder.tokenizer.eos_token_id).all()
    assert embedder.encode(["short", "another text"]).shape == (2, 576)


def test_the_cache_key_follows_the_code_that_computes_the_vectors(monkeypatch):
    from helpers import decoder, pooling

    mean = smollm2_embedder()
    assert {pooling, decoder, decoder.normed_layer} <= set(mean.code()), "pooling and the decoder's states"
    before = mean.fingerprint()
    code = type(mean).code
    monkeypatch.setattr(type(mean), "code", lambda self: (*code(self), check_texts))
    assert mean.fingerprint() != before, "other code, another cache entry"


def test_the_interface_depends_on_no_technique():
    import ast
    from pathlib import Path

    import helpers.embed

    tree = ast.parse(Path(helpers.embed.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        f"helpers.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        and node.module == "helpers" for alias in node.names}
    helpers_modules = {name for name in imported if name.startswith("helpers.")}
    assert helpers_modules <= {"helpers.config", "helpers.cache", "helpers.pooling", "helpers.models"}, helpers_modules
