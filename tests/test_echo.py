"""Echo embeddings (helpers.echo): templates, the span mask, scratch = transformers, the triples."""

import numpy as np
import pytest

from helpers import decoder, echo
from helpers.decoder import PROMPT_EOL, load_smollm2_from_scratch, smollm2_embedder, tokenize_with_span
from helpers.models import load_smollm2

TEXTS = ["She loves the sea but fears deep water.", "Short text.", "Markets fell sharply on Monday."]


@pytest.fixture(scope="module")
def tokenizer():
    return load_smollm2()[0]


@pytest.mark.parametrize("name", sorted(decoder.ECHO_TEMPLATES))
def test_span_mask_covers_exactly_the_last_copy(tokenizer, name):
    batch = tokenize_with_span(tokenizer, TEXTS, decoder.ECHO_TEMPLATES[name])
    for row, text in enumerate(TEXTS):
        span = batch["span_mask"][row].bool()
        assert tokenizer.decode(batch["input_ids"][row][span]).strip() == text
        assert (batch["attention_mask"][row][span] == 1).all()
    copies = decoder.ECHO_TEMPLATES[name].count("{text}")
    assert (batch["attention_mask"].sum(1) >= copies * batch["span_mask"].sum(1)).all()


def test_span_mask_under_left_padding_and_with_eos(tokenizer):
    original, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        batch = tokenize_with_span(tokenizer, TEXTS, decoder.ECHO_TEMPLATES["echo"], append_eos=True)
    finally:
        tokenizer.padding_side = original
    for row, text in enumerate(TEXTS):
        assert batch["input_ids"][row][-1] == tokenizer.eos_token_id  # left padding: the row ends with EOS
        assert tokenizer.decode(batch["input_ids"][row][batch["span_mask"][row].bool()]).strip() == text


def test_one_template_per_text_and_text_only_truncation(tokenizer):
    templates = [PROMPT_EOL, "{text}"]  # the first ends with words after the text
    long = " ".join(["word"] * 400)
    batch = tokenize_with_span(tokenizer, [long, TEXTS[1]], templates, max_length=48)
    prompt_end = tokenizer(PROMPT_EOL.split("{text}")[1], add_special_tokens=False)["input_ids"]
    real = batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist()
    assert len(real) == 48 and real[-len(prompt_end):] == prompt_end  # the text was cut, the prompt kept whole
    assert tokenizer.decode(batch["input_ids"][1][batch["span_mask"][1].bool()]).strip() == TEXTS[1]
    with pytest.raises(ValueError, match="one per text"):
        tokenize_with_span(tokenizer, TEXTS, templates)


def test_truncation_keeps_both_copies_inside_max_length(tokenizer):
    long = " ".join(["word"] * 400)
    batch = tokenize_with_span(tokenizer, [long], decoder.ECHO_TEMPLATES["echo"], max_length=64)
    assert batch["attention_mask"].sum() <= 64
    with pytest.raises(ValueError, match="no room"):
        tokenize_with_span(tokenizer, [long], decoder.ECHO_TEMPLATES["echo"], max_length=10)


def test_echo_on_the_scratch_model_equals_transformers(tokenizer):
    scratch = load_smollm2_from_scratch()
    for pooling in ("mean", "last"):
        ours = decoder.EchoEmbedder(tokenizer, scratch, pooling)
        theirs = smollm2_embedder(pooling, echo=True)
        ours.cache = theirs.cache = False
        assert np.abs(ours.encode(TEXTS) - theirs.encode(TEXTS)).max() < 1e-4


def test_classical_template_equals_the_plain_embedder():
    for pooling in ("mean", "last"):
        plain, classical = smollm2_embedder(pooling), smollm2_embedder(pooling, echo="classical")
        plain.cache = classical.cache = False
        assert np.abs(plain.encode(TEXTS) - classical.encode(TEXTS)).max() < 1e-5


def test_triples_share_the_first_half_with_the_negative_only():
    triples = echo.shared_prefix_triples()
    assert len(triples) >= 30 and len({t for triple in triples for t in triple}) == 3 * len(triples)
    for query, positive, negative in triples:
        half = len(query) // 3
        assert negative[:half] == query[:half] and positive[:half] != query[:half]


def test_bootstrap_ci_and_bad_input():
    mean, low, high = echo.bootstrap_ci(np.array([1.0, 0.0] * 20))
    assert mean == 0.5 and low < 0.5 < high and high - low < 0.4
    with pytest.raises(ValueError, match="at least two"):
        echo.bootstrap_ci(np.array([1.0]))
    with pytest.raises(ValueError, match="Unknown echo template"):
        smollm2_embedder("mean", echo="twice")
    with pytest.raises(ValueError, match="leave template"):
        smollm2_embedder("mean", echo=True, template="Query: {text}")


def test_exercise_solutions_pass(load_solution):
    from helpers.exercises import echo as checks

    solution = load_solution("06_echo_embeddings")
    assert checks.check_span_mean(solution.span_mean)
    assert checks.check_triple_accuracy(solution.triple_accuracy)
    assert checks.check_bootstrap_ci(solution.bootstrap_ci)
    assert not checks.check_triple_accuracy(lambda q, p, n: 0.0)
