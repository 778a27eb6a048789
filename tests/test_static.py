"""helpers.static (notebook 12): Model2Vec-style distillation against a by-hand computation, the static embedder's
contract, the cache, and the sentence-transformers export."""

import numpy as np
import pytest
import torch

from helpers import static

TEXTS = ["The cat sat on the mat.", "Stock markets fell sharply on Tuesday", "naïve café ☃ x",
         "word " * 600]  # the last one is longer than max_length (512 tokens)


@pytest.fixture(scope="module")
def tokenizer():
    return static.teacher_tokenizer("minilm")


@pytest.fixture(scope="module")
def random_embedder(tokenizer):
    """A table of random rows over MiniLM's tokenizer, the skipped tokens' rows zero, as distillation leaves them."""
    table = np.zeros((tokenizer.get_vocab_size(), 24), dtype=np.float32)
    kept = static.kept_token_ids(tokenizer)
    table[kept] = np.random.default_rng(0).normal(size=(len(kept), 24))
    return static.StaticEmbedder(tokenizer, table, "random table")


def test_the_vocabulary_skips_special_unused_and_unreachable_tokens(tokenizer):
    kept = static.kept_token_ids(tokenizer)
    vocab = tokenizer.get_vocab()
    assert len(kept) == 30_522 - 5 - 994 - 1 and np.all(np.diff(kept) > 0)
    skipped = {vocab[token] for token in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused993]",
                                          "...")}
    assert not skipped & set(kept.tolist())
    assert {vocab["the"], vocab["##s"], vocab["."], vocab["!"]} <= set(kept.tolist())
    assert static.wrapping(tokenizer) == ([101], [102])


def test_the_tokenizer_reads_texts_as_minilm_does(tokenizer):
    from helpers.models import load_minilm

    theirs = load_minilm().tokenizer(TEXTS[:3], add_special_tokens=False)["input_ids"]
    assert [tokenizer.encode(text, add_special_tokens=False).ids for text in TEXTS[:3]] == theirs


def test_sif_weights_are_model2vecs_zipf_estimate():
    weights = static.sif_weights(4, 0.1)
    p = np.array([1 / 2, 1 / 3, 1 / 4, 1 / 5]) / (1 / 2 + 1 / 3 + 1 / 4 + 1 / 5)
    assert np.allclose(weights, 0.1 / (0.1 + p))
    assert np.all(np.diff(static.sif_weights(30_000)) > 0), "later (rarer) tokens keep more of their length"
    with pytest.raises(ValueError):
        static.sif_weights(10, 0.0)


def test_pca_is_scikit_learns():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(1).normal(size=(300, 20)) * np.linspace(4, 0.1, 20)
    assert np.allclose(static.pca(x, 8), PCA(8, svd_solver="full").fit_transform(x), atol=1e-5)
    assert static.pca(x, 50).shape == (300, 20), "more dimensions than the states have: a rotation, no reduction"


def test_distilling_a_vocabulary_subset_equals_a_by_hand_computation(tokenizer):
    """The teacher states through transformers' BertModel itself, scikit-learn's PCA and the SIF formula."""
    from sklearn.decomposition import PCA
    from transformers import AutoModel

    from helpers.models import minilm_path

    ids = static.kept_token_ids(tokenizer)[3000:3200]
    states = static.teacher_states("minilm", ids, batch_size=64, progress=False)
    bert = AutoModel.from_pretrained(minilm_path()).eval()
    inputs = torch.tensor([[101, token, 102] for token in ids])
    with torch.inference_mode():
        by_hand = bert(input_ids=inputs, attention_mask=torch.ones_like(inputs),
                       token_type_ids=torch.zeros_like(inputs)).last_hidden_state.mean(1).numpy()
    assert np.abs(states - by_hand).max() < 1e-5

    table = static.distil_table(states, ids, tokenizer.get_vocab_size(), pca_dims=16, sif_coefficient=1e-4)
    rank = np.arange(2, len(ids) + 2)
    p = (1 / rank) / (1 / rank).sum()
    expected = np.zeros_like(table)
    expected[ids] = PCA(16, svd_solver="full").fit_transform(states.astype(np.float64)) * (1e-4 / (1e-4 + p))[:, None]
    assert table.shape == (30_522, 16) and np.abs(table - expected).max() < 1e-5

    embedder = static.StaticEmbedder(tokenizer, table, "subset")
    words = [tokenizer.id_to_token(int(k)) for k in ids if tokenizer.id_to_token(int(k)).isalpha()][:3]
    text = " ".join(words)
    assert tokenizer.encode(text, add_special_tokens=False).tokens == words
    rows = table[[tokenizer.token_to_id(word) for word in words]]
    by_hand_vector = rows.mean(0) / np.linalg.norm(rows.mean(0))
    assert np.abs(embedder.encode([text])[0] - by_hand_vector).max() < 1e-6


def test_the_embedder_gives_unit_rows_and_explains_bad_input(random_embedder, tokenizer):
    vectors = random_embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 24) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    assert np.allclose(vectors[3], random_embedder.encode(["word " * 512])[0], atol=1e-6), "512 tokens are read"
    only_unknown = random_embedder.encode(["🙂🙂"])[0]
    assert np.allclose(only_unknown, random_embedder.fallback / np.linalg.norm(random_embedder.fallback), atol=1e-6)
    with pytest.raises(TypeError):
        random_embedder.encode("one text")
    with pytest.raises(ValueError):
        random_embedder.encode([])
    with pytest.raises(ValueError):
        random_embedder.encode(["  "])
    with pytest.raises(TypeError):
        random_embedder.encode([3])
    with pytest.raises(ValueError, match="one row per token id"):
        static.StaticEmbedder(tokenizer, np.ones((10, 4)), "too short")
    with pytest.raises(ValueError, match="zero"):
        static.StaticEmbedder(tokenizer, np.zeros((30_522, 4)), "empty")
    with pytest.raises(ValueError, match="Unknown teacher"):
        static.distilled_embedder("bert")


def test_the_distilled_table_is_cached_and_the_states_are_shared(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    calls = []

    def fake_teacher(teacher, ids, batch_size=512, progress=True):
        calls.append(len(ids))
        return np.random.default_rng(0).normal(size=(len(ids), 32)).astype(np.float32)

    monkeypatch.setattr(static, "teacher_states", fake_teacher)
    first = static.distilled_embedder("minilm", pca_dims=8, progress=False)
    again = static.distilled_embedder("minilm", pca_dims=8, progress=False)
    assert calls == [29_522] and np.array_equal(first.table, again.table), "the second call reads the cache"
    ablation = static.distilled_embedder("minilm", pca_dims=None, progress=False)
    assert calls == [29_522], "another recipe reuses the cached states"
    assert ablation.dim == 32 and ablation.name == "MiniLM distilled to static (no PCA)"
    assert first.name == "MiniLM distilled to static (PCA 8)" and first.dim == 8


def test_the_sentence_transformers_export_gives_the_same_vectors(random_embedder, tmp_path):
    from sentence_transformers import SentenceTransformer

    path = static.export_sentence_transformer(random_embedder, tmp_path / "static-model")
    loaded = SentenceTransformer(str(path), device="cpu")
    theirs = loaded.encode(TEXTS, convert_to_numpy=True)
    assert np.abs(theirs - random_embedder.encode(TEXTS)).max() < 1e-6
    # The one documented difference: a text with no known token is our generic vector, their zero vector.
    assert not np.any(loaded.encode(["🙂🙂"], convert_to_numpy=True))
