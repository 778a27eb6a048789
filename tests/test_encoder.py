"""The from-scratch BERT encoder (helpers.encoder) against transformers' BertModel, and padding-proof pooling."""

import pytest
import torch

from helpers.encoder import Encoder, EncoderConfig, ScratchEmbedder, load_minilm_from_scratch, wordpiece
from helpers.models import load_minilm
from helpers.pooling import pool

TEXTS = [
    "The bank raised its interest rates again on Tuesday.",
    "She sat on the river bank and watched the water flow past for hours.",
    "Unaffable tokenization!",
    "Hi",
]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    model = load_minilm()
    return model.tokenizer, model[0].auto_model.eval()


@pytest.fixture(scope="module")
def ours():
    return load_minilm_from_scratch()


def test_last_hidden_states_equal_transformers_on_a_padded_batch(reference, ours):
    tokenizer, bert = reference
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the batch must contain padding"
    with torch.inference_mode():
        mine = ours(batch["input_ids"], batch["attention_mask"])
        theirs = bert(**batch).last_hidden_state
    assert mine.shape == (len(TEXTS), batch["input_ids"].shape[1], 384)
    real = batch["attention_mask"].bool()
    assert (mine - theirs).abs()[real].max().item() < TOLERANCE


def test_wordpiece_matches_the_tokenizer(reference):
    tokenizer, _ = reference
    vocab = tokenizer.get_vocab()
    for word in ["unaffable", "embeddings", "tokenization", "hello", "xyzzyqq", "transformers"]:
        assert wordpiece(word, vocab) == tokenizer.tokenize(word), word


@pytest.mark.parametrize("method", ["cls", "mean", "max"])
def test_pooling_gives_the_same_vector_padded_left_or_right(reference, ours, method):
    tokenizer, _ = reference
    vectors, original = {}, tokenizer.padding_side
    try:  # the tokenizer is shared: put its padding side back whatever happens
        for side in ("left", "right"):
            tokenizer.padding_side = side
            batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
            with torch.inference_mode():
                vectors[side] = pool(ours(batch["input_ids"], batch["attention_mask"]), batch["attention_mask"],
                                     method)
    finally:
        tokenizer.padding_side = original
    assert torch.allclose(vectors["left"], vectors["right"], atol=1e-5)
    alone = tokenizer(TEXTS[-1:], return_tensors="pt")  # no padding at all
    with torch.inference_mode():
        single = pool(ours(alone["input_ids"], alone["attention_mask"]), alone["attention_mask"], method)
    assert torch.allclose(vectors["left"][-1], single[0], atol=1e-5)


def test_scratch_embedder_with_mean_pooling_equals_minilm(reference, ours):
    tokenizer, _ = reference
    embedder = ScratchEmbedder(tokenizer, ours, pooling="mean")
    embedder.cache = False
    mine = embedder.encode(TEXTS)
    theirs = load_minilm().encode(TEXTS, normalize_embeddings=True)
    assert abs(mine - theirs).max() < TOLERANCE


def test_attention_rows_are_distributions_that_ignore_padding(reference, ours):
    tokenizer, _ = reference
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        _, attentions = ours(batch["input_ids"], batch["attention_mask"], return_attentions=True)
    assert len(attentions) == 6 and attentions[0].shape[1] == 12
    weights = attentions[0]
    assert torch.allclose(weights.sum(-1), torch.ones_like(weights.sum(-1)), atol=1e-5)
    padded_keys = (batch["attention_mask"] == 0)[:, None, None, :].expand_as(weights)
    assert weights[padded_keys].max() < 1e-6


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="divisible"):
        EncoderConfig(hidden_size=100, num_heads=12)
    model = Encoder(EncoderConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                  max_positions=8))
    with pytest.raises(ValueError, match="max_positions"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="batch, tokens"):
        model(torch.zeros(9, dtype=torch.long))
