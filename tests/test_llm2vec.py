"""LLM2Vec (helpers.llm2vec): the bidirectional switch, MNTP, LoRA, SimCSE and the artifact."""

import pytest
import torch
import torch.nn.functional as F

from helpers import llm2vec
from helpers.decoder import load_smollm2_from_scratch
from helpers.embed import weights_fingerprint
from helpers.models import load_smollm2


@pytest.fixture(scope="module")
def smollm2():
    return load_smollm2()


@pytest.fixture(scope="module")
def pair(smollm2):
    tokenizer, _ = smollm2
    a = tokenizer(["The bank raised interest rates", "Hi"], return_tensors="pt", padding=True)
    b = {key: value.clone() for key, value in a.items()}
    b["input_ids"][0, 4] = tokenizer.convert_tokens_to_ids("_")  # change the last token of the first text
    return a, b


def test_padding_only_mask():
    mask = llm2vec.padding_only_mask(torch.tensor([[1, 1, 0]]))
    assert mask.shape == (1, 1, 3, 3)
    assert (mask[0, 0, :, :2] == 0).all() and (mask[0, 0, :, 2] < -1e30).all()


def test_switch_makes_the_first_token_see_the_last_in_transformers_and_scratch(smollm2, pair):
    _, model = smollm2
    a, b = pair
    scratch = load_smollm2_from_scratch()
    with torch.no_grad():
        for bidirectional in (False, True):
            first_a = llm2vec.hidden_states(model, a["input_ids"], a["attention_mask"], bidirectional)
            first_b = llm2vec.hidden_states(model, b["input_ids"], b["attention_mask"], bidirectional)
            moved = (first_a[0, 0] - first_b[0, 0]).abs().max()
            assert (moved > 0.1) if bidirectional else (moved == 0)
            ours = scratch(a["input_ids"], a["attention_mask"], bidirectional=bidirectional)
            real = a["attention_mask"].bool()
            assert (ours - first_a).abs()[real].max() < 5e-3
    assert all(m.self_attn.is_causal for m in model.model.layers)  # the switch is undone on exit


def test_the_flag_alone_is_not_enough(smollm2, pair):
    _, model = smollm2
    a, b = pair
    with torch.no_grad(), llm2vec.bidirectional_attention(model.model):
        states = [model.model(**x).last_hidden_state for x in (a, b)]  # 2-D mask: transformers makes it causal
    assert torch.equal(states[0][0, 0], states[1][0, 0])


def test_mntp_mask_and_loss(smollm2):
    tokenizer, model = smollm2
    ids = llm2vec.lm_windows(tokenizer, 32, held_out=True)[:4]
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    generator = torch.Generator().manual_seed(0)
    masked, targets = llm2vec.mntp_mask(ids, mask, 79, generator=generator)
    chosen = targets != llm2vec.IGNORE
    assert not chosen[:, 0].any() and not chosen[1, 20:].any()
    assert 0.1 < chosen.float().mean() < 0.3 and (masked[chosen] == 79).all() and (targets[chosen] == ids[chosen]).all()
    with torch.no_grad():
        loss = llm2vec.mntp_loss(model, masked, mask, targets, bidirectional=False)
        logits = model(input_ids=masked, attention_mask=mask).logits  # all positions, the slow way
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets[:, 1:].reshape(-1))
    assert torch.allclose(loss, expected, atol=1e-4)


def test_lora_starts_neutral_merges_exactly_and_freezes_lower_layers():
    torch.manual_seed(0)
    base = torch.nn.Linear(8, 6, bias=False)
    x = torch.randn(3, 8)
    lora = llm2vec.LoRALinear(base, rank=2)
    assert torch.equal(lora(x), base(x))
    with torch.no_grad():
        lora.lora_b.normal_()
    before = lora(x)
    assert torch.allclose(lora.merged()(x), before, atol=1e-5)


def test_mntp_replaces_the_chosen_tokens_berts_way():
    ids = torch.full((64, 256), 7)
    generator = torch.Generator().manual_seed(0)
    masked, targets = llm2vec.mntp_mask(ids, torch.ones_like(ids), 79, generator=generator, vocab_size=1000)
    chosen = targets != llm2vec.IGNORE
    assert abs(chosen.float().mean() - 0.2) < 0.01 and (targets[chosen] == 7).all()
    shown = masked[chosen]
    fractions = [(shown == 79).float().mean(), ((shown != 79) & (shown != 7)).float().mean(),
                 (shown == 7).float().mean()]  # the mask token, a random token, unchanged
    assert all(abs(got - want) < 0.02 for got, want in zip(fractions, (0.8, 0.1, 0.1), strict=True))
    assert (masked[~chosen] == 7).all()


def test_lora_goes_on_all_seven_projections_of_every_layer_and_starts_neutral(smollm2):
    tokenizer, base = smollm2
    _, model = llm2vec.fresh_copy()
    trainable = llm2vec.add_lora(model)
    wrapped = [m for m in model.modules() if isinstance(m, llm2vec.LoRALinear)]
    assert len(wrapped) == 7 * len(model.model.layers) and len(trainable) == 2 * len(wrapped)
    assert sum(p.requires_grad for p in model.parameters()) == len(trainable)
    x = tokenizer(["Rates rose again."], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**x).logits, base(**x).logits)


def test_simcse_grad_cache_gives_the_whole_batchs_gradient():
    texts = ["One sentence here.", "Another one, longer than that.", "A third.", "And the fourth sentence now."]
    gradients = []
    for chunked in (False, True):
        torch.manual_seed(0)
        tokenizer, model = llm2vec.fresh_copy()
        trainable = llm2vec.add_lora(model, rank=2, top_layers=1)
        with torch.no_grad():
            for p in trainable:
                p.normal_(std=0.1)  # B = 0 would give A no gradient
        model.train()  # no dropout anywhere (SmolLM2 ships with none): both views equal, so the two must agree
        if chunked:
            llm2vec.simcse_grad_cache(model, tokenizer, texts, chunk_size=1)
        else:
            llm2vec.simcse_loss(model, tokenizer, texts).backward()
        gradients.append(torch.cat([p.grad.flatten() for p in trainable]))
    assert torch.allclose(gradients[0], gradients[1], rtol=1e-4, atol=1e-6)


def test_adapters_are_stored_in_8_bits_per_rank_direction():
    torch.manual_seed(0)
    adapters = {"x.lora_a": torch.randn(4, 50), "x.lora_b": torch.randn(30, 4)}
    stored = llm2vec.store_adapters(adapters)
    assert stored["x.lora_b"].shape == (4, 30) and stored["x.lora_b.scales"].shape == (4,)
    back = llm2vec.read_adapters(stored)
    for name, tensor in adapters.items():
        assert back[name].shape == tensor.shape
        assert (back[name] - tensor).abs().max() <= tensor.abs().max() / 254 + 1e-6


def test_lora_on_top_layers_only_gets_gradients_there(smollm2):
    tokenizer, model = llm2vec.fresh_copy()
    trainable = llm2vec.add_lora(model, top_layers=2, rank=4, targets=("q_proj", "v_proj"))
    assert len(trainable) == 2 * 2 * 2 and all(p.requires_grad for p in trainable)
    assert sum(p.requires_grad for p in model.parameters()) == len(trainable)
    model.train()
    llm2vec.simcse_loss(model, tokenizer, ["One sentence here.", "Another one, longer than that."]).backward()
    assert all(p.grad is not None for p in trainable)
    with pytest.raises(ValueError, match="dropout"):
        llm2vec.simcse_loss(model.eval(), tokenizer, ["a b", "c d"])


def test_artifact_is_trained_when_missing_and_merges_deterministically(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    recipe = {**llm2vec.RECIPE, "rank": 2, "targets": ["v_proj"], "mntp_steps": 1, "mntp_batch_size": 2,
              "seq_len": 16, "simcse_steps": 1, "simcse_batch_size": 4, "simcse_chunk_size": 2}
    _, first = llm2vec.llm2vec_model("simcse", recipe)
    _, second = llm2vec.llm2vec_model("simcse", recipe)  # read back from the cache
    assert weights_fingerprint(first) == weights_fingerprint(second)
    assert weights_fingerprint(first) != weights_fingerprint(load_smollm2()[1])
    with pytest.raises(ValueError, match="stage"):
        llm2vec.llm2vec_model("simcse2", recipe)
    with pytest.raises(ValueError, match="stage"):
        llm2vec.llm2vec_embedder("causal")
    assert llm2vec.llm2vec_embedder("bidirectional").bidirectional
