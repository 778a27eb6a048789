import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import instruct


def test_query_formats():
    assert instruct.format_query("Find news", "floods") == "Instruct: Find news\nQuery: floods"
    with pytest.raises(ValueError, match="instruction is empty"):
        instruct.format_query("  ", "floods")
    assert instruct.icl_query("Find news", "floods", [("rain", "It rained."), ("snow", "It snowed.")]) == (
        "<instruct>Find news\n<query>rain\n<response>It rained.\n\n"
        "<instruct>Find news\n<query>snow\n<response>It snowed.\n\n"
        "<instruct>Find news\n<query>floods\n<response>")
    assert instruct.icl_query("Find news", "floods") == "<instruct>Find news\n<query>floods\n<response>"


def test_training_triples():
    example = {"task": "Find news", "query": "floods", "positive": "p", "top": "t", "window": "w"}
    assert instruct.training_triples([example]) == [(("Find news", "floods"), "p", "w")]
    assert instruct.training_triples([example], "top")[0][2] == "t"
    assert instruct.training_triples([example], None)[0][2] is None
    with pytest.raises(ValueError, match="negative must be"):
        instruct.training_triples([example], "positive")


def test_held_out_split_is_disjoint_and_seeded():
    examples = [{"query": str(k)} for k in range(50)]
    train, held = instruct.split_held_out(examples)
    assert len(held) == 5 and len(train) == 45
    assert not {e["query"] for e in train} & {e["query"] for e in held}
    assert instruct.split_held_out(examples) == (train, held)


def test_real_examples_read_each_task_as_the_benchmark_does():
    examples = instruct.real_examples(per_kind=5)
    assert [e["kind"] for e in examples] == ["headline"] * 5 + ["inverse_cloze"] * 5 + ["dictionary"] * 5
    dictionary = examples[-1]
    assert len(dictionary["positive"].split()) == 1 and len(dictionary["query"].split()) >= 4  # definition -> word
    assert {e["task"] for e in examples} == {instruct.TASK_INSTRUCTIONS[t] for t in instruct.REAL_PAIR_TASKS.values()}
    with pytest.raises(ValueError, match="sources must be"):
        instruct.training_examples(("real", "web"))


@pytest.fixture(scope="module")
def smollm2():
    from helpers.models import load_smollm2

    return load_smollm2()


def _e5_reference(tokenizer, model, texts):
    """E5-mistral's model-card recipe: instructed text + EOS, left padding, last token, L2 normalised."""
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, ids))
    input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(r)) + r for r in ids])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in ids])
    with torch.inference_mode():
        hidden = model.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    return F.normalize(hidden[:, -1], dim=-1).numpy()


def test_instruct_embedder_equals_e5_recipe(smollm2):
    tokenizer, model = smollm2
    texts = ["floods in Queensland", "a much longer query about the cricket test match in Adelaide"]
    embedder = instruct.InstructEmbedder(tokenizer, model, "Retrieve news reports", pooling="last")
    embedder.cache = False
    ours = embedder.encode(texts)
    theirs = _e5_reference(tokenizer, model, [instruct.format_query("Retrieve news reports", t) for t in texts])
    assert np.abs(ours - theirs).max() < 1e-4
    plain = embedder.with_instruction(None).tokenize(["floods"])["input_ids"][0].tolist()
    assert plain == tokenizer("floods", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    with pytest.raises(ValueError, match="need an instruction"):
        instruct.InstructEmbedder(tokenizer, model, None, examples=[("q", "r")])
    icl = embedder.with_instruction("Find news", examples=[]).format("floods")
    assert icl == "<instruct>Find news\n<query>floods\n<response>"


def test_train_save_load_gives_the_same_vectors(smollm2, tmp_path):
    tokenizer, model = smollm2
    triples = [(("Find news", q), p, n) for q, p, n in [
        ("floods", "Rivers flooded towns in Queensland.", "The cricket test was drawn."),
        ("bushfires", "Fires burned near Sydney on Christmas Day.", "Interest rates were left unchanged."),
        ("elections", "Voters went to the polls in Israel.", "A new species of frog was found."),
    ]]
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    tuned, losses, held = instruct.train_contrastive(tokenizer, model, triples[:2], pooling="last", train_layers=1,
                                                     steps=2, batch_size=2, lr=1e-4, max_length=24,
                                                     held_out=triples[1:])
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert set(held) == {"before", "after"} and held["before"] != held["after"]
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())  # original intact
    changed = {name for name, tensor in tuned.state_dict().items() if not torch.equal(before[name], tensor)}
    assert changed and all(name.startswith(("model.layers.29.", "model.norm.")) for name in changed)

    settings = {"train_layers": 1, "pooling": "last", "bidirectional": False, "name": "test tuned"}
    instruct.save_tuned(tuned, tmp_path, settings)
    loaded = instruct.load_tuned(tmp_path).with_instruction("Find news")
    direct = instruct.InstructEmbedder(tokenizer, tuned, "Find news", pooling="last")
    loaded.cache = direct.cache = False
    texts = ["floods in Queensland", "bushfires"]
    assert np.abs(loaded.encode(texts) - direct.encode(texts)).max() < 1e-6
    with pytest.raises(FileNotFoundError, match="train_instruct_embedder"):
        instruct.load_tuned(tmp_path / "missing")


@pytest.mark.parametrize(("pooling", "bidirectional"), [("last", False), ("mean", True), ("mean", False)])
def test_frozen_bottom_equals_the_whole_model(smollm2, pooling, bidirectional):
    tokenizer, model = smollm2
    items = [("Find news", "floods"), "Rivers flooded many towns in Queensland after rain.", "cricket",
             ("Find news", "bushfires near Sydney")]
    embedder = instruct.InstructEmbedder(tokenizer, model, pooling=pooling, max_length=32, bidirectional=bidirectional)
    bottom = instruct.FrozenBottom(embedder, items, first_trained=28, batch_size=1)  # batches padded differently
    with torch.no_grad():
        stored = bottom.embed_with_grad(items)
        whole = torch.cat([instruct.embed_with_grad(embedder.with_instruction(item[0]), [item[1]])
                           if isinstance(item, tuple) else instruct.embed_with_grad(embedder, [item])
                           for item in items])
    assert (stored - whole).abs().max() < 1e-3 * whole.abs().max()


@pytest.mark.parametrize("examples", [None, [("rain", "It rained all week.")]])
def test_mean_pooling_reads_the_text_not_the_instruction(smollm2, examples):
    tokenizer, model = smollm2
    text = "Rivers flooded many towns in Queensland."
    embedder = instruct.InstructEmbedder(tokenizer, model, "Find news", examples=examples, pooling="mean")
    batch = embedder.tokenize([text])
    span = batch["span_mask"][0].bool()
    assert tokenizer.decode(batch["input_ids"][0][span]).strip() == text  # the pooled tokens are the text's
    assert batch["input_ids"][0].tolist() == tokenizer(embedder.format(text))["input_ids"]  # as written in full
    with torch.inference_mode():
        hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    reference = F.normalize(hidden[0, span].mean(0), dim=-1).numpy()  # the text tokens' mean, written out
    embedder.cache = False
    assert np.abs(embedder.encode([text])[0] - reference).max() < 1e-5
    last = instruct.InstructEmbedder(tokenizer, model, "Find news", examples=examples, pooling="last")
    eos = last.tokenize([text])
    assert eos["input_ids"][0][-1] == tokenizer.eos_token_id and last.pooled_mask(eos)[0][-1] == 1  # reads EOS
    with pytest.raises(ValueError, match="reword it"):
        instruct.InstructEmbedder(tokenizer, model, "Find news about {text}")


def test_in_context_examples_are_cut_never_the_query(smollm2):
    tokenizer, model = smollm2
    long_examples = [(f"question {k} " + "about the weather in Sydney " * 3, "It rained all week. " * 3)
                     for k in range(3)]
    embedder = instruct.InstructEmbedder(tokenizer, model, "Find news", examples=long_examples, pooling="last",
                                         max_length=96)
    embedder.cache = False
    queries = ["bushfires near the Blue Mountains", "interest rates at the Reserve Bank"]
    assert len(tokenizer(instruct.icl_query("Find news", queries[0], long_examples))["input_ids"]) > 96  # too long
    kept = [embedder.examples_kept(q) for q in queries]
    assert all(0 < k < 3 for k in kept), kept  # some examples dropped, not all
    batch = embedder.tokenize(queries)
    for row, mask, query, k in zip(batch["input_ids"], batch["attention_mask"], queries, kept, strict=True):
        row = row[mask.bool()].tolist()
        assert row == tokenizer(instruct.icl_query("Find news", query, long_examples[:k]))["input_ids"] + [
            tokenizer.eos_token_id]  # the query whole, at the end, then EOS
        assert len(row) <= 96
    vectors = embedder.encode(queries)
    assert np.abs(vectors[0] - vectors[1]).max() > 1e-3, "two different queries must get different vectors"
    short = embedder.with_instruction("Find news", examples=[("rain", "It rained.")])
    assert short.examples_kept(queries[0]) == 1
    assert short.tokenize(queries[:1])["input_ids"][0].tolist() == tokenizer(
        instruct.icl_query("Find news", queries[0], [("rain", "It rained.")]))["input_ids"] + [tokenizer.eos_token_id]


def test_neutral_prefix_has_each_instructions_length_and_none_of_its_words(smollm2):
    from helpers import instruct_experiments

    tokenizer, _ = smollm2
    neutral = instruct_experiments.neutral_instructions(tokenizer)
    assert set(neutral) == set(instruct.TASK_INSTRUCTIONS)
    for task, instruction in instruct.TASK_INSTRUCTIONS.items():
        length = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in (neutral[task], instruction)]
        assert length[0] == length[1]
        assert not {"retrieve", "identify", "news", "word", "tweet"} & set(neutral[task].lower().split())
