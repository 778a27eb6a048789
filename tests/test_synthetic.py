import json

import numpy as np
import pytest
import torch

from helpers import data, synthetic


def test_first_json_object_respects_strings_and_nesting():
    assert synthetic.first_json_object('Sure: {"a": "b}"} and {"c": 1}') == '{"a": "b}"}'
    assert synthetic.first_json_object('{"a": {"b": 1}} tail') == '{"a": {"b": 1}}'
    assert synthetic.first_json_object('{"a": "unfinished') is None
    assert synthetic.first_json_object("no braces") is None


@pytest.mark.parametrize(("answer", "reason"), [
    ('q one", "positive_document": "a b c d e f", "hard_negative_document": "g h i j k l"}', "ok"),
    ('q one", "positive_document": "a b c d e f"', "no JSON object"),
    ('q one", "positive_document": "a b c d e f",}', "invalid JSON"),
    ('q one", "positive_document": "a b c d e f"}', "missing key"),
    ('q one", "positive_document": 3, "hard_negative_document": "g h i j k l"}', "not a string"),
    ('q", "positive_document": "a b c d e f", "hard_negative_document": "g h i j k l"}', "too short"),
    ('q one", "positive_document": "' + "on tv, " * 8 + '", "hard_negative_document": "g h i j k l"}', "repetitive"),
    ('q one", "positive_document": "a b c d e f", "hard_negative_document": "A b c d e f."}', "positive = negative"),
    ('a b c d e f", "positive_document": "a b c d e f", "hard_negative_document": "g h i j k l"}',
     "query copies a document"),
])
def test_parse_example_gives_a_reason(answer, reason):
    example, status = synthetic.parse_example(answer)
    assert status == reason
    assert (example is not None) == (reason == "ok")


def test_parse_task_and_query():
    prefill = synthetic.gecko_prefill(synthetic.GECKO_TASKS[0])
    assert json.loads(prefill + 'x"}')["task"] == synthetic.GECKO_TASKS[0]
    passage = "The magistrate refused bail to a British man accused of a shoe bomb plot on a flight."
    parsed, status = synthetic.parse_task_and_query('shoe bomb suspect bail", "extra": {', passage, prefill)
    assert status == "ok" and parsed == {"task": synthetic.GECKO_TASKS[0], "query": "shoe bomb suspect bail"}
    assert synthetic.parse_task_and_query("shoe bomb suspect", passage, prefill)[1] == "unfinished query"
    assert synthetic.parse_task_and_query('British man accused of a shoe"', passage, prefill)[1] == \
        "query copies a document"
    # four of five words copied in one run: a near copy; two of four is a query in the model's own words
    assert synthetic.parse_task_and_query('a British man accused today"', passage, prefill)[1] == \
        "query copies a document"
    assert synthetic.parse_task_and_query('why was bail refused today"', passage, prefill)[1] == "ok"
    assert synthetic.parse_task_and_query('cooking pasta at home"', passage, prefill)[1] == "off-topic"
    # shared words that carry no content, or that come from the prompt, do not make a query on topic
    chatty = passage + " Which of these would come from there?"
    assert synthetic.parse_task_and_query('which of these would be from there"', chatty, prefill)[1] == "off-topic"
    assert synthetic.parse_task_and_query('###Extracted sentences from the passage"', passage + " passage",
                                          prefill)[1] == "off-topic"
    assert synthetic.parse_task_and_query('Given a question, retrieve news passages"', passage, prefill)[1] == \
        "echoes the instructions"
    with pytest.raises(ValueError, match="gecko_prefill"):
        synthetic.parse_task_and_query('x y z"', passage, prefill="")


def test_parse_task_list():
    text = "Here are tasks:\n1. **Retrieve news about local elections**\n- Given a recipe, find similar recipes.\nok"
    assert synthetic.parse_task_list(text) == ["Retrieve news about local elections",
                                               "Given a recipe, find similar recipes"]
    assert synthetic.parse_task_list('["Retrieve papers that cite a given paper"]') == [
        "Retrieve papers that cite a given paper"]


def test_filter_examples_counts_duplicates():
    records = [{"status": "ok", "query": "A b"}, {"status": "ok", "query": "a B!"},
               {"status": "invalid JSON"}]
    kept, reasons = synthetic.filter_examples(records)
    assert len(kept) == 1 and reasons == {"ok": 1, "duplicate": 1, "invalid JSON": 1}


def test_reciprocal_rank_fusion_by_hand():
    fused = synthetic.reciprocal_rank_fusion([0.3, 0.9, 0.1], [2.0, -1.0, 5.0], k=60)
    assert np.allclose(fused, [2 / 62, 1 / 61 + 1 / 63, 1 / 63 + 1 / 61])
    with pytest.raises(ValueError, match="same items"):
        synthetic.reciprocal_rank_fusion([1, 2], [1, 2, 3])


def test_content_words_and_copy_and_echo_filters():
    assert synthetic.content_words("What was that from the 2001 Passage about Bushfires?") == {"bushfires"}
    assert synthetic.shared_run("fires near Sydney today", "Bushfires burned near Sydney today.") == 3
    assert synthetic.shared_run("nothing shared", "Bushfires burned.") == 0
    assert synthetic.shared_run("", "Bushfires burned.") == 0
    passage = "Fire crews say the blaze near the town of Bargo was contained late on Sunday after a long battle."
    # eight consecutive words copied out of a longer query: a copy, however much the query adds around it
    long_query = "why did fire crews say the blaze near the town of Bargo finally stop burning on that weekend"
    assert synthetic.shared_run(long_query, passage) == 10 and synthetic.copies_passage(long_query, passage)
    assert not synthetic.copies_passage("when was the Bargo fire finally brought under control", passage)
    assert synthetic.echoes_instructions("Retrieve news passages about the topic", synthetic.GECKO_TASKS[3])
    assert not synthetic.echoes_instructions("Retrieve news about the Bargo fire", synthetic.GECKO_TASKS[3])


def test_llm_order_breaks_fusion_ties_by_relevance():
    likelihood, relevance = [0.9, 0.1, 0.5], [-1.0, 2.0, 0.0]  # ranks (1, 3, 2) and (3, 1, 2): items 0 and 1 tie
    fused = synthetic.reciprocal_rank_fusion(likelihood, relevance)
    assert fused[0] == fused[1] > fused[2]
    assert synthetic.llm_order(fused, relevance).tolist() == [1, 0, 2]  # a stable sort would put item 0 first
    assert np.argsort(-fused, kind="stable").tolist() == [0, 1, 2]
    assert synthetic.fused_tie_at_top(fused) and not synthetic.fused_tie_at_top([0.5, 0.2, 0.1])


def test_training_passages_come_from_the_training_documents():
    passages = synthetic.training_passages()  # tests/test_held_out.py checks them against the benchmark
    documents = data.training_background()
    assert len(passages) > 500 and all(25 <= len(p["passage"].split()) <= 70 for p in passages)
    assert all(" ".join(p["passage"].split()[:20]) in " ".join(documents[p["doc_id"]].split()) for p in passages)


def test_saved_set_is_consistent():
    examples, settings = synthetic.load_synthetic()
    assert len(examples) == settings["counts"]["examples"] >= 1000
    for example in examples:
        assert example["source"] in ("e5", "gecko")
        assert all(example[k].strip() for k in ("task", "query", "positive", "hard_negative", "window_negative"))
        for key in ("positive", "seed_passage"):  # no kept query copies its passage (the n-gram filter)
            assert synthetic.shared_run(example["query"], example.get(key, "")) < synthetic.MAX_SHARED_RUN
    with pytest.raises(FileNotFoundError, match="make_synthetic_data"):
        synthetic.load_synthetic("/nonexistent")


def test_generation_passages_are_the_ones_the_saved_set_indexes():
    examples, settings = synthetic.load_synthetic()
    texts = [p["passage"] for p in synthetic.generation_passages(settings)]
    records = [json.loads(line) for line in (synthetic.DATA_DIR / "gecko_answers.jsonl").read_text().splitlines()]
    kept, _ = synthetic.filter_examples(records, key="query")
    gecko = [e for e in examples if e["source"] == "gecko"]
    assert len(kept) == len(gecko) > 0
    for record, example in zip(kept, gecko, strict=True):
        assert texts[record["seed"]] == example["seed_passage"] and texts[record["positive"]] == example["positive"]
        assert texts[record["hard_negative"]] == example["hard_negative"]
    assert set(texts) <= {p["passage"] for p in synthetic.training_passages()}
    with pytest.raises(ValueError, match="make data"):
        synthetic.generation_passages({**settings, "counts": {"training_passages": 1}})


@pytest.fixture(scope="module")
def smollm2():
    from helpers.models import load_smollm2

    return load_smollm2()


def test_query_likelihood_equals_transformers_loss(smollm2):
    tokenizer, model = smollm2
    passage, query = "Bushfires burned across New South Wales on Christmas Day.", "fires in NSW at Christmas"
    ours = synthetic.query_log_likelihood(tokenizer, model, query, [passage, "An unrelated sentence about cricket."])
    prompt = synthetic.chat_prompt(tokenizer, f"Passage: {passage}\nWrite a search query that this passage answers.")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + tokenizer(query, add_special_tokens=False)["input_ids"]])
    labels = ids.clone()
    labels[0, : len(prompt_ids)] = -100
    with torch.inference_mode():
        reference = -model(input_ids=ids, labels=labels).loss.item()
    assert abs(ours[0] - reference) < 1e-4
    assert ours[0] > ours[1]  # the matching passage makes the query more likely
    relevance = synthetic.relevance_scores(tokenizer, model, query, [passage, "An unrelated sentence about cricket."])
    assert relevance.shape == (2,) and np.isfinite(relevance).all()
    assert tokenizer.padding_side == "right"  # left padding for generation is restored


def test_sampling_distribution_equals_transformers_warpers():
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    # (Exact ties at the k-th score, which real logits do not have, are where the two differ: transformers keeps
    # every tied token, topk keeps k.)
    logits = torch.randn(6, 1000, generator=torch.Generator().manual_seed(0)) * 3
    logits[1, 7] = 50.0  # one certain token: the nucleus is that token alone
    for temperature, top_k, top_p in ((0.7, 50, 0.9), (1.0, 50, 0.5), (0.3, 10, 1.0)):
        scores = TemperatureLogitsWarper(temperature)(None, logits.clone())
        scores = TopPLogitsWarper(top_p)(None, TopKLogitsWarper(top_k)(None, scores))
        theirs = scores.softmax(dim=-1)
        probabilities, token_ids = synthetic.sampling_distribution(logits, temperature, top_k, top_p)
        ours = torch.zeros_like(theirs).scatter(1, token_ids, probabilities)
        assert torch.allclose(ours, theirs, atol=1e-6)
        assert torch.allclose(probabilities.sum(dim=1), torch.ones(6))
    assert synthetic.sampling_distribution(logits, 0.7, 50, 0.9)[0][1, 0] == 1.0


def test_generate_follows_transformers_greedy_path_and_stops(smollm2):
    """At a vanishing temperature sampling is greedy: the course's KV-cached loop on a left-padded batch makes
    transformers' greedy tokens (float32), and each row stops on its own at EOS or at the stop string."""
    from helpers import config

    tokenizer, model = smollm2
    prompts = [synthetic.chat_prompt(tokenizer, question) for question in
               ("What is the capital of France?", "Name three colours, as a JSON list.", "Say hi.")]
    with config.using_precision("fp32"):
        ours = synthetic.generate(tokenizer, model, prompts, max_new_tokens=12, temperature=1e-6)
    with synthetic.left_padding(tokenizer), torch.inference_mode():
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        out = model.generate(**encoded, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    new_tokens = out[:, encoded["input_ids"].shape[1]:].tolist()
    theirs = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    assert ours == theirs
    with config.using_precision("fp32"):
        stopped = synthetic.generate(tokenizer, model, prompts, max_new_tokens=12, temperature=1e-6, stop=" ")
    for tokens, short in zip(new_tokens, stopped, strict=True):  # cut at the first token whose text completes " "
        ends = [n for n in range(1, len(tokens) + 1) if " " in tokenizer.decode(tokens[:n], skip_special_tokens=True)]
        assert short == tokenizer.decode(tokens[: ends[0] if ends else len(tokens)], skip_special_tokens=True)
    assert tokenizer.padding_side == "right"
