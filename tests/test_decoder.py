"""The from-scratch Llama (helpers.decoder) against transformers' SmolLM2, and the decoder embedders."""

import numpy as np
import pytest
import torch

from helpers import config, decoder
from helpers.decoder import smollm2_embedder
from helpers.embed import weights_fingerprint
from helpers.models import load_smollm2
from helpers.pooling import pool

TEXTS = ["The bank raised interest rates again on Tuesday.", "Hi", "Rotary embeddings rotate pairs of dimensions."]


@pytest.fixture(scope="module")
def models():
    tokenizer, reference = load_smollm2()
    return tokenizer, reference, decoder.load_smollm2_from_scratch()


def test_last_hidden_states_equal_transformers_on_a_padded_batch(models):
    tokenizer, reference, scratch = models
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    real = batch["attention_mask"].bool()
    assert not real.all()  # the batch really is padded
    with torch.no_grad():
        ours = scratch(batch["input_ids"], batch["attention_mask"])
        theirs = reference.model(**batch).last_hidden_state
    assert (ours - theirs).abs()[real].max() < 1e-3


def test_greedy_generation_is_identical(models):
    tokenizer, reference, scratch = models
    prompt = tokenizer(["The capital of France is"], return_tensors="pt")["input_ids"]
    theirs = reference.generate(prompt, max_new_tokens=6, do_sample=False)
    ours = scratch.generate_greedy(prompt, max_new_tokens=6, eos_token_id=tokenizer.eos_token_id)
    assert torch.equal(ours, theirs)


def test_left_and_right_padding_give_the_same_vectors(models):
    tokenizer, _, scratch = models
    ids = [row + [tokenizer.eos_token_id] for row in tokenizer(TEXTS)["input_ids"]]
    pooled, original = {}, tokenizer.padding_side
    try:
        for side in ("right", "left"):
            tokenizer.padding_side = side
            batch = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
            with torch.no_grad():
                hidden = scratch(batch["input_ids"], batch["attention_mask"])
            pooled[side] = {m: pool(hidden, batch["attention_mask"], m) for m in ("last", "mean", "weighted_mean")}
    finally:
        tokenizer.padding_side = original
    for method in ("last", "mean", "weighted_mean"):
        assert torch.allclose(pooled["right"][method], pooled["left"][method], atol=1e-3), method


def test_causal_mask_first_token_never_sees_the_last(models):
    tokenizer, _, scratch = models
    a = tokenizer(["The bank raised interest rates"], return_tensors="pt")["input_ids"]
    b = a.clone()
    b[0, -1] = tokenizer.convert_tokens_to_ids("_")
    with torch.no_grad():
        assert torch.equal(scratch(a)[0, 0], scratch(b)[0, 0])
        assert not torch.allclose(scratch(a, bidirectional=True)[0, 0], scratch(b, bidirectional=True)[0, 0])


def test_scratch_embedder_equals_smollm2_embedder(models):
    tokenizer, _, scratch = models
    for pooling in ("mean", "last"):
        ours = decoder.ScratchDecoderEmbedder(tokenizer, scratch, pooling)
        theirs = smollm2_embedder(pooling)
        ours.cache = theirs.cache = False
        assert np.abs(ours.encode(TEXTS) - theirs.encode(TEXTS)).max() < 1e-4


def test_prompteol_reads_the_prompts_last_token(models):
    tokenizer, reference = load_smollm2()
    texts = ["Markets fell sharply on Monday", " ".join(["word"] * 400)]  # the second must be truncated
    embedder = smollm2_embedder("last", template=decoder.PROMPT_EOL, append_eos=False, max_length=64)
    embedder.cache = False
    ours = embedder.encode(texts)
    ids = tokenizer(decoder.PROMPT_EOL.format(text=texts[0]), return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        state = reference.model(input_ids=ids).last_hidden_state[0, -1]  # the closing quote's state
    assert np.abs(ours[0] - (state / state.norm()).numpy()).max() < 1e-4
    batch = embedder.tokenize(texts)
    for row, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        kept = row[mask.bool()]
        assert kept[-1] != tokenizer.eos_token_id and tokenizer.decode(kept).endswith('means in one word:"')
    assert int(batch["attention_mask"][1].sum()) == 64  # the long text was cut, the prompt kept whole


def test_sweep_views_equal_the_embedders(models):
    tokenizer, reference, _ = models
    sweep = decoder.LayerPoolingSweep(tokenizer, reference)
    for pooling, layer in (("mean", None), ("last", None), ("weighted_mean", None), ("mean", 12)):
        direct = smollm2_embedder(pooling, layer=layer)
        direct.cache = False
        assert np.abs(sweep.view(pooling, layer).encode(TEXTS) - direct.encode(TEXTS)).max() < 1e-4


def test_sweep_keeps_only_the_chosen_layers(models):
    tokenizer, reference, _ = models
    sweep = decoder.LayerPoolingSweep(tokenizer, reference, layers=[12, 30], batch_size=2)  # 3 texts: 2 batches
    sweep.compute(TEXTS)
    assert set(sweep.vectors[TEXTS[0]]) == {(p, layer) for p in sweep.poolings for layer in (12, 30)}
    direct = smollm2_embedder("mean", layer=12)
    direct.cache = False
    assert np.abs(sweep.view("mean", 12).encode(TEXTS) - direct.encode(TEXTS)).max() < 1e-4
    with pytest.raises(ValueError, match="keeps layers"):
        sweep.view("mean", 5)


def test_fingerprint_follows_in_place_changes(models):
    _, _, scratch = models
    before = weights_fingerprint(scratch)
    with torch.no_grad():
        scratch.norm.weight[0] += 1.0
    try:
        assert weights_fingerprint(scratch) != before
    finally:
        with torch.no_grad():
            scratch.norm.weight[0] -= 1.0


def test_bad_input_is_explained(models):
    tokenizer, reference, scratch = models
    with pytest.raises(ValueError, match="layer must be"):
        smollm2_embedder("mean", layer=31)
    with pytest.raises(ValueError, match="one prompt"):
        scratch.generate_greedy(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask"):
        scratch(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 4))


def test_exercise_solutions_pass(load_solution):
    from helpers.exercises import decoder as checks

    solution = load_solution("05_decoder_embeddings")
    assert checks.check_weighted_mean_pool(solution.weighted_mean_pool)
    assert checks.check_padding_only_bias(solution.padding_only_bias)
    assert checks.check_last_token_pool(solution.last_token_pool)
    assert not checks.check_last_token_pool(lambda hidden, mask: hidden[:, -1])
    assert not checks.check_padding_only_bias(...)


@pytest.mark.skipif(not config.native_bf16("cpu"), reason="this CPU has no native bfloat16: the fast path is float32")
def test_fast_path_keeps_the_vectors_and_is_cached_apart(models, monkeypatch):
    texts = ["The central bank raised interest rates again.", "A short one.",
             "Storms closed schools across the region for a second day, officials said on Tuesday."]
    exact_embedder = smollm2_embedder("mean")
    exact, exact_path = exact_embedder.encode(texts), exact_embedder._cache_path(texts)
    monkeypatch.setenv("COURSE_PRECISION", "fast")
    fast = smollm2_embedder("mean")
    assert fast.settings()["precision"] == "bfloat16"
    assert fast._cache_path(texts) != exact_path  # never served the other precision's vectors
    vectors = fast.encode(texts)
    cosines = (exact * vectors).sum(axis=1)
    assert cosines.min() > 0.995  # bfloat16 keeps 8 bits of mantissa; the residual stream stays float32
    assert not np.array_equal(exact, vectors)  # it really ran in bfloat16
