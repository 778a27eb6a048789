"""Sentence-BERT training (helpers.sbert) and the exercises of notebooks 02 and 03."""


import pytest
import torch

from helpers import data, sbert
from helpers.encoder import Encoder, EncoderConfig, minilm_tokenizer
from helpers.losses import info_nce

TINY = EncoderConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=128, dropout=0.0)


@pytest.mark.parametrize("kind", ["inverse_cloze", "adjacent"])
def test_sentence_pairs_come_from_the_training_documents_and_news(kind):
    # tests/test_held_out.py checks every kind against the benchmark
    pairs = sbert.training_pairs(kind)
    assert len(pairs) > 5000 and len({query for query, _ in pairs}) == len(pairs)
    documents = list(data.training_background()) + data.training_news()["text"].tolist()
    sentences = {s for document in documents for s in data.split_sentences(document)}
    assert all(query in sentences for query, _ in pairs[:500])


def test_headline_and_definition_pairs():
    news = data.training_news()
    headlines = sbert.headline_pairs()
    assert len(headlines) > 1500 and set(headlines) <= set(zip(news["title"], news["lead"], strict=True))
    definitions = sbert.definition_pairs(count=500, seed=1)
    assert len(definitions) == 500 and definitions == sbert.definition_pairs(count=500, seed=1)
    held_out = data.evaluation_texts()
    assert not any(word in held_out for word, _ in definitions)
    assert all(word[:5].lower() not in definition.lower() and "[" not in definition for word, definition in definitions)


def test_the_course_mix_is_cloze_headline_and_dictionary_pairs():
    mix = sbert.training_pairs("course")
    parts = [sbert.training_pairs(kind) for kind in ("inverse_cloze", "headline", "dictionary")]
    assert {query for query, _ in mix} == {query for part in parts for query, _ in part}


def test_a_sentence_bert_saved_for_sentence_transformers_gives_the_same_vectors(tmp_path):
    from sentence_transformers import SentenceTransformer

    from helpers.encoder import ScratchEmbedder

    torch.manual_seed(0)
    ours = ScratchEmbedder(minilm_tokenizer(), Encoder(TINY).eval(), "mean", max_length=64)
    ours.cache = False
    folder = sbert.save_sentence_transformer(ours, tmp_path / "model")
    loaded = SentenceTransformer(str(folder), device="cpu")
    texts = ["A short one.", "A somewhat longer sentence about the budget of the state of Queensland."]
    assert loaded.encode(texts) == pytest.approx(ours.encode(texts), abs=1e-5)
    with pytest.raises(ValueError, match="Only mean pooling"):
        sbert.save_sentence_transformer(ScratchEmbedder(minilm_tokenizer(), Encoder(TINY), "cls"), tmp_path / "x")


def test_inverse_cloze_pairs_take_the_sentence_out_of_its_passage():
    document = data.load_lee_background()[0]
    for query, rest in sbert.inverse_cloze_pairs([document]):
        assert query not in rest and len(query.split()) >= 6
        assert query in document and all(sentence in document for sentence in data.split_sentences(rest))


def test_siamese_training_lowers_the_loss_and_leaves_the_input_encoder_alone():
    torch.manual_seed(0)
    start = Encoder(TINY)
    before = {name: tensor.clone() for name, tensor in start.state_dict().items()}
    pairs = sbert.training_pairs()[:64]
    trained, history = sbert.train_bi_encoder(start, minilm_tokenizer(), pairs, steps=20, batch_size=16,
                                              learning_rate=3e-3, max_length=64, progress=False)
    assert all(torch.equal(before[name], tensor) for name, tensor in start.state_dict().items())
    assert history["loss"].iloc[-5:].mean() < history["loss"].iloc[:5].mean() - 0.5
    assert not trained.training


def test_training_rejects_duplicate_queries_and_tiny_data():
    pairs = sbert.training_pairs()[:40]
    with pytest.raises(ValueError, match="false negative"):
        sbert.train_bi_encoder(Encoder(TINY), minilm_tokenizer(), pairs + pairs[:1], steps=1, batch_size=8)
    with pytest.raises(ValueError, match="at least batch_size"):
        sbert.train_bi_encoder(Encoder(TINY), minilm_tokenizer(), pairs[:4], steps=1, batch_size=8)
    with pytest.raises(ValueError, match="Unknown kind"):
        sbert.training_pairs("nli")


def test_solutions_pass_the_checks_of_notebook_03(load_solution):
    from helpers.exercises import sbert as checks

    solutions = load_solution("03_sentence_bert")
    assert checks.check_mean_pooling(solutions.mean_pooling)
    assert checks.check_adjacent_pairs(solutions.adjacent_pairs)
    assert checks.check_search_cost(solutions.search_cost)


def test_unanswered_exercises_are_not_errors():
    from helpers.exercises import sbert as checks

    assert not checks.check_mean_pooling(lambda hidden, mask: ...)
    assert not checks.check_search_cost(...)


def test_solutions_pass_the_checks_of_notebook_02(load_solution):
    from helpers.exercises import bert as checks

    solutions = load_solution("02_bert_from_scratch")
    assert checks.check_attention(solutions.attention)
    assert checks.check_parameter_count(solutions.parameter_count)
    assert checks.check_choose_positions(solutions.choose_positions)
    assert not checks.check_attention(lambda q, k, v, mask: ...)


def test_notebook_03s_siamese_loop_is_train_bi_encoder(notebook_definitions):
    notebook = notebook_definitions("03_sentence_bert")
    torch.manual_seed(0)
    start, pairs = Encoder(TINY), sbert.training_pairs("headline")[:48]
    settings = {"batch_size": 8, "learning_rate": 3e-3, "temperature": 0.05, "max_length": 32, "seed": 3}
    _, theirs = sbert.train_bi_encoder(start, minilm_tokenizer(), pairs, steps=8, progress=False, **settings)
    _, ours = notebook.siamese_training(start, minilm_tokenizer(), pairs, steps=8, warmup_steps=1, **settings)
    assert ours == pytest.approx(theirs["loss"].tolist(), abs=1e-5)
    queries, documents = torch.randn(6, 16), torch.randn(6, 16)
    assert notebook.in_batch_info_nce(queries, documents, 0.05) == pytest.approx(
        float(info_nce(queries, documents, 0.05)), abs=1e-6)
