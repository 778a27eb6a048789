"""One held-out policy (helpers.data, taught in notebook 00): no trainer in the course trains on a text that the
benchmark scores, nor on a text that contains one of its sentences. One test per trainer's training text."""

import pytest

from helpers import (
    contrastive,
    corpus,
    data,
    frontier,
    grit,
    instruct,
    latent_attention,
    llm2vec,
    mlm,
    sbert,
    synthetic,
)


def normalised(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def leaks():
    """``leaks(texts)``: the training texts that are benchmark texts, and the sentences of the training texts that
    are benchmark sentences (both empty for clean training text). Fragments under ``data.MIN_SENTENCE_WORDS`` words
    ("1.", "Why?", a SimLex word) occur in any English text and are not counted."""
    texts = {normalised(text) for text in data.evaluation_texts()}
    sentences = data.evaluation_sentences()

    def find(training_texts) -> list[str]:
        found = []
        for text in training_texts:
            if normalised(text) in texts:
                found.append(text)
            found += [s for s in map(normalised, data.split_sentences(text)) if s in sentences]
        return found

    return find


def test_the_check_finds_a_planted_leak(leaks):
    cloze = data.inverse_cloze_task("test")
    training = ["A clean first sentence about nothing in particular.", f"Some text. {cloze.queries[0]} More text."]
    assert leaks(training) == [normalised(cloze.queries[0])]
    assert leaks([data.news_headline_retrieval("dev").corpus[0]])
    assert not leaks(["Why? Because 1. The U.S."])  # fragments are not leaks


def test_the_training_sources_of_helpers_data_are_clean(leaks):
    assert not leaks(data.training_background())
    news = data.training_news()
    assert not leaks(news["title"]) and not leaks(news["text"])


@pytest.mark.parametrize("source", corpus.SOURCES)
def test_word_vector_corpus(leaks, source):
    readers = {"sotu": corpus.sotu_texts, "gcide": corpus.gcide_texts, "news": corpus.news_texts}
    assert set(readers) == set(corpus.SOURCES), "a new source needs its check here"
    assert not leaks(readers[source]())


def test_mlm_pretraining_text(leaks):
    texts = mlm.pretraining_texts()
    assert texts[-len(data.training_background()):] == list(data.training_background())
    assert not leaks(texts)


@pytest.mark.parametrize("kind", ["inverse_cloze", "adjacent", "headline", "dictionary"])  # "course" mixes them
def test_sbert_pairs(leaks, kind):
    pairs = sbert.training_pairs(kind)
    assert not leaks([text for pair in pairs for text in pair])


def test_contrastive_inverse_cloze_pairs(leaks):
    pairs = contrastive.ict_training_pairs()
    assert not leaks(pairs.queries + pairs.passages)


class CharacterTokenizer:
    """One token per character, end of text = 0: windows of it decode back to the text they came from."""

    eos_token_id = 0

    def __call__(self, text: str) -> dict:
        return {"input_ids": [ord(character) for character in text]}


@pytest.mark.parametrize("held_out", [False, True])
def test_llm2vec_mntp_windows_come_from_the_training_documents(leaks, held_out):
    windows = llm2vec.lm_windows(CharacterTokenizer(), seq_len=64, held_out=held_out)
    decoded = "".join(map(chr, windows.flatten().tolist())).split(chr(0))
    documents = llm2vec.lm_documents(held_out)
    assert len(decoded) == len(documents) and decoded[:-1] == list(documents[:-1])
    assert documents[-1].startswith(decoded[-1])  # the incomplete last window is dropped
    assert not leaks(documents)


def test_llm2vec_lm_split_is_a_split_of_the_training_documents():
    training, held_out = llm2vec.lm_documents(), llm2vec.lm_documents(held_out=True)
    assert len(held_out) == llm2vec.LM_HELD_OUT_DOCUMENTS
    assert training + held_out == data.training_background()


def test_llm2vec_simcse_sentences(leaks):
    sentences = llm2vec.simcse_sentences()
    assert not leaks(sentences)
    held_out = {s for document in llm2vec.lm_documents(held_out=True) for s in data.split_sentences(document)}
    assert not held_out & set(sentences), "SimCSE must not train on the held-out text for the LM loss"


def test_synthetic_passages(leaks):
    assert not leaks([passage["passage"] for passage in synthetic.training_passages()])


def test_committed_synthetic_set_and_instruction_tuning(leaks):
    examples, _ = synthetic.load_synthetic()
    texts = [value for example in examples for value in example.values() if isinstance(value, str)]
    assert not leaks(texts)
    # Instruction tuning (helpers.instruct.build_tuned) trains on these examples and the real pairs, with mined
    # negatives.
    examples = instruct.training_examples(instruct.RECIPE["sources"], instruct.RECIPE["real_per_kind"])
    for negative in ("window", "top"):
        assert not leaks([text for (instruction, query), *documents in instruct.training_triples(examples, negative)
                          for text in (instruction, query, *documents)])


def test_frontier_pairs_and_next_token_windows(leaks):
    held_out_sentences = {s for d in llm2vec.lm_documents(held_out=True) for s in data.split_sentences(d)}
    for recipe in (latent_attention.HEAD_RECIPE, grit.GRIT_RECIPE):
        pairs = frontier.training_pairs(recipe["n_pairs"], recipe["seed"])
        assert not leaks(pairs.queries + pairs.passages)
        sentences = set(pairs.queries) | {s for p in pairs.passages for s in data.split_sentences(p)}
        assert not sentences & held_out_sentences, "GRIT must not train on its held-out text for the LM loss"
    assert grit.lm_windows is llm2vec.lm_windows  # GRIT's next-token windows, checked above
