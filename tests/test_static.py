"""helpers.static (notebook 12): Model2Vec-style distillation against a by-hand computation, the static embedder's
contract, the cache, and the sentence-transformers export."""

import numpy as np
import pandas as pd
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
    states = static.teacher_states("minilm", ids, batch_size=64, progress=False)[None]  # MiniLM: one layer, None
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

    def fake_teacher(teacher, ids, batch_size=512, progress=True, reading=None, layers=None):
        calls.append(len(ids))
        return {None: np.random.default_rng(0).normal(size=(len(ids), 32)).astype(np.float32)}

    monkeypatch.setattr(static, "teacher_states", fake_teacher)
    first = static.distilled_embedder("minilm", pca_dims=8, progress=False)
    again = static.distilled_embedder("minilm", pca_dims=8, progress=False)
    assert calls == [29_522] and np.array_equal(first.table, again.table), "the second call reads the cache"
    ablation = static.distilled_embedder("minilm", pca_dims=None, progress=False)
    assert calls == [29_522], "another recipe reuses the cached states"
    assert ablation.dim == 32 and ablation.name == "MiniLM distilled to static (no PCA)"
    assert first.name == "MiniLM distilled to static (PCA 8)" and first.dim == 8
    with pytest.raises(ValueError, match="leave reading and layer"):
        static.distilled_embedder("minilm", reading="bos")
    with pytest.raises(ValueError, match="Unknown reading"):
        static.distilled_embedder("smollm2", reading="twice")


def test_the_readings_place_the_token_in_the_template():
    tokenizer = static.teacher_tokenizer("smollm2")
    from helpers.decoder import ECHO_TEMPLATES

    assert static.READINGS["echo"] == ECHO_TEMPLATES["echo"], "the echo reading is notebook 06's echo template"
    rows, first, last = static.reading_rows(tokenizer, static.READINGS["bos"], [2644, 2291])
    assert rows.tolist() == [[0, 2644], [0, 2291]] and first == last == 1
    rows, first, last = static.reading_rows(tokenizer, static.READINGS["alone"], [2644])
    assert rows.tolist() == [[2644]] and first == last == 0
    rows, first, last = static.reading_rows(tokenizer, static.READINGS["echo"], [2644])
    assert rows.shape == (1, 12) and (first, last) == (6, 11) and rows[0, 6] == rows[0, 11] == 2644
    assert static.SMOLLM2_RECIPE["layer"] in static.SWEEP_LAYERS and static.SMOLLM2_RECIPE["reading"] in static.READINGS


def test_each_smollm2_reading_equals_the_course_embedder_that_reads_a_text_so():
    """A token's state through each reading, at two layers, against helpers.decoder's embedders reading the token's
    text (float32): the same ids, the same pooled position, the same normed layer, to 1e-5 of the largest value."""
    from helpers import config
    from helpers.decoder import smollm2_embedder

    tokenizer = static.teacher_tokenizer("smollm2")
    words = ["cat", "house", "vaccine"]
    ids = [tokenizer.token_to_id("Ġ" + word) for word in words]
    references = {("alone", 18): smollm2_embedder("mean", layer=18), ("alone", 30): smollm2_embedder("mean"),
                  ("bos", 18): smollm2_embedder("mean", template="<|endoftext|>{text}", layer=18),
                  ("bos", 30): smollm2_embedder("mean", template="<|endoftext|>{text}"),
                  ("echo", 18): static.teacher_embedder("echo", 18), ("echo", 30): smollm2_embedder("mean", echo=True)}
    with config.using_precision("fp32"):
        for reading in static.READINGS:
            ours = static.teacher_states("smollm2", ids, progress=False, reading=reading, layers=[18, 30])
            for layer in (18, 30):
                teacher = references[reading, layer]
                assert teacher.settings() == static.teacher_embedder(reading, layer).settings()
                texts = words if reading == "echo" else [" " + word for word in words]  # echo's slot adds the space
                with torch.inference_mode(), teacher.forward_context():
                    theirs = teacher.embed_batch(texts).float().numpy()
                # the template's words before the token come from a key-value cache: float32 rounding only
                assert np.abs(ours[layer] - theirs).max() < 1e-5 * np.abs(theirs).max(), (reading, layer)


def test_a_constant_prefix_state_changes_no_static_vector(tokenizer):
    """Model2Vec averages all positions, the prefix's included; under a causal mask the prefix's state is the same
    for every token, so that mean is (c + h) / 2: PCA's centring removes c, the factor 1/2 scales every row alike,
    and the normalised text vectors are those of the token's own state h."""
    rng = np.random.default_rng(3)
    ids = static.kept_token_ids(tokenizer)
    states = rng.normal(size=(len(ids), 24)).astype(np.float32)
    prefix = rng.normal(size=24).astype(np.float32) * 10
    size = tokenizer.get_vocab_size()
    own = static.StaticEmbedder(tokenizer, static.distil_table(states, ids, size, pca_dims=16), "token only")
    mean = static.StaticEmbedder(tokenizer, static.distil_table((states + prefix) / 2, ids, size, pca_dims=16),
                                 "mean with the prefix")
    assert np.abs(own.encode(TEXTS) - mean.encode(TEXTS)).max() < 1e-5


def test_the_reading_sweep_round_trips(random_embedder, tmp_path):
    from helpers import evaluate

    frame = evaluate.mini_mteb(random_embedder, split="test", tasks=["SimLexSTS", "NewsInverseCloze"])
    dev = pd.DataFrame({("alone", 30): {"SimLexSTS": 0.1, "average": 0.2}, ("bos", 24): {"SimLexSTS": 0.3,
                                                                                          "average": 0.4}}).T
    sweep = {"dev": dev.rename_axis(["reading", "layer"]), "test": {"toy": frame}, "seconds": 1.5}
    static.save_sweep(tmp_path, sweep)
    loaded = static.load_sweep(tmp_path)
    assert loaded["seconds"] == 1.5 and loaded["dev"].loc[("bos", 24), "average"] == 0.4
    back = loaded["test"]["toy"]
    assert np.allclose(back["score"], frame["score"])
    assert evaluate.compare(back, frame).loc["average", "difference"] == 0


def test_the_sentence_transformers_export_gives_the_same_vectors(random_embedder, tmp_path):
    from sentence_transformers import SentenceTransformer

    path = static.export_sentence_transformer(random_embedder, tmp_path / "static-model")
    loaded = SentenceTransformer(str(path), device="cpu")
    theirs = loaded.encode(TEXTS, convert_to_numpy=True)
    assert np.abs(theirs - random_embedder.encode(TEXTS)).max() < 1e-6
    # The one documented difference: a text with no known token is our generic vector, their zero vector.
    assert not np.any(loaded.encode(["🙂🙂"], convert_to_numpy=True))


def test_the_keys_follow_the_reading_the_layer_and_the_code(monkeypatch):
    from helpers import cache

    chosen = static.artifact_key("smollm2")
    assert chosen == static.artifact_key("smollm2", reading=static.SMOLLM2_RECIPE["reading"],
                                         layer=static.SMOLLM2_RECIPE["layer"])
    others = [static.artifact_key("smollm2", reading=reading, layer=layer)["recipe"]
              for reading in static.READINGS for layer in (18, 30)]
    assert len({str(recipe) for recipe in others}) == len(others), "every reading and layer is its own recipe"
    sweep = static.readings_key()
    real = cache.source_hash
    monkeypatch.setattr(cache, "source_hash", lambda *objects: "edited " + real(*objects))
    assert static.readings_key()["code"] != sweep["code"] and static.artifact_key("smollm2")["code"] != chosen["code"]
