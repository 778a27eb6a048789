"""Masked language modelling (helpers.mlm): the WordPiece vocabulary, the 15% / 80-10-10 rule, dynamic masking,
the most-frequent-token baseline, the small pre-training and its artifact."""

import pandas as pd
import pytest
import torch

from helpers import artifacts, corpus, data, mlm
from helpers.encoder import EncoderConfig, minilm_tokenizer

TINY = EncoderConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=64, dropout=0.0)


@pytest.fixture(scope="module")
def tokenizer():
    return minilm_tokenizer()


@pytest.fixture(scope="module")
def rows(tokenizer):
    return mlm.chunk_texts(tokenizer, corpus.sotu_texts()[-6:], length=128)


def test_masking_follows_the_15_80_10_10_rule(tokenizer, rows):
    special = mlm.special_tokens_mask(tokenizer, rows)
    corrupted, labels = mlm.mask_tokens(rows, special, tokenizer.mask_token_id, tokenizer.vocab_size,
                                        generator=torch.Generator().manual_seed(0))
    chosen = labels != mlm.IGNORE
    assert rows.numel() > 50_000
    assert abs(chosen.sum() / (~special).sum() - 0.15) < 0.01
    assert abs((corrupted[chosen] == tokenizer.mask_token_id).float().mean() - 0.8) < 0.02
    assert abs((corrupted[chosen] == rows[chosen]).float().mean() - 0.1) < 0.02
    assert torch.equal(labels[chosen], rows[chosen]), "labels hold the original tokens"
    assert torch.equal(corrupted[~chosen], rows[~chosen]), "tokens not chosen are left alone"
    assert not chosen[special].any(), "[CLS], [SEP] and padding are never chosen"


def test_dynamic_masking_draws_a_new_mask_each_time(tokenizer, rows):
    generator = torch.Generator().manual_seed(0)
    special = mlm.special_tokens_mask(tokenizer, rows[:4])
    first = mlm.mask_tokens(rows[:4], special, tokenizer.mask_token_id, tokenizer.vocab_size, generator=generator)
    second = mlm.mask_tokens(rows[:4], special, tokenizer.mask_token_id, tokenizer.vocab_size, generator=generator)
    assert not torch.equal(first[1], second[1])


def test_mask_tokens_rejects_bad_input(rows):
    with pytest.raises(ValueError, match="must match"):
        mlm.mask_tokens(rows[:2], torch.zeros(3, 128, dtype=torch.bool), 103, 30522)
    with pytest.raises(ValueError, match="probability"):
        mlm.mask_tokens(rows[:2], torch.zeros_like(rows[:2], dtype=torch.bool), 103, 30522, probability=1.5)


def test_chunks_are_cls_text_sep(tokenizer, rows):
    assert rows.shape[1] == 128
    assert (rows[:, 0] == tokenizer.cls_token_id).all() and (rows[:, -1] == tokenizer.sep_token_id).all()


def test_the_head_is_tied_to_the_token_embeddings():
    model = mlm.MaskedLM(TINY)
    assert model.head.embeddings.weight is model.encoder.embeddings.token.weight


def test_without_an_artifact_the_model_is_trained_once_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts.config, "data_dir", lambda: tmp_path / "data")  # no committed artifact
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    tokenizer = mlm.train_wordpiece(corpus.sotu_texts()[-3:], vocab_size=500)
    tiny = EncoderConfig(**{**TINY.__dict__, "vocab_size": len(tokenizer)})

    def quick_pretraining(progress):
        torch.manual_seed(0)
        history = pd.DataFrame({"step": [0, 10], "train_loss": [float("nan"), 2.5]})
        history.attrs.update(seconds=1.5, unigram_baseline=0.05)
        state = {k: v.half().float() for k, v in mlm.MaskedLM(tiny).state_dict().items()}
        return {"tokenizer": tokenizer, "state": state, "encoder_config": tiny.__dict__, "history": history}

    monkeypatch.setattr(mlm, "train_pretrained", quick_pretraining)
    mlm._pretrained.cache_clear()
    model, history = mlm.pretrained_mlm(progress=False)
    mlm._pretrained.cache_clear()
    monkeypatch.setattr(mlm, "train_pretrained", lambda progress: pytest.fail("the saved model should be read back"))
    again, history_again = mlm.pretrained_mlm(progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert again.head.embeddings.weight is again.encoder.embeddings.token.weight, "still tied"
    pd.testing.assert_frame_equal(history, history_again)
    assert history_again.attrs == history.attrs
    assert mlm.mlm_tokenizer().get_vocab() == tokenizer.get_vocab()
    assert mlm.pretrained_mlm(progress=False)[0] is not again, "a fresh copy each call: training one changes no other"
    mlm._pretrained.cache_clear()


def test_the_committed_encoder_beats_the_frequency_baseline():
    model, history = mlm.pretrained_mlm(progress=False)
    card = artifacts.read_card("mlm_encoder")
    assert card is not None, "run python scripts/pretrain_mlm.py"
    assert history["heldout_accuracy"].iloc[-1] >= 2 * history.attrs["unigram_baseline"]
    assert abs(card["scores"]["heldout_accuracy_fp16"] - card["scores"]["heldout_accuracy_fp32"]) < 0.002, (
        "fp16 storage changes the score")
    assert len(mlm.mlm_tokenizer()) == model.encoder.config.vocab_size == mlm.PRETRAINING["vocab_size"]


def test_pretraining_text_is_speeches_dictionary_news_and_the_training_documents():
    texts = mlm.pretraining_texts()  # tests/test_held_out.py checks it against the benchmark
    assert texts == corpus.sotu_texts() + corpus.gcide_texts() + corpus.news_texts() + list(data.training_background())


def test_the_held_out_documents_are_a_seeded_share_never_trained_on():
    texts = [f"document {k}" for k in range(1000)]
    train, held_out = mlm.pretraining_split(texts, held_out_share=0.02, seed=1)
    assert len(held_out) == 20 and not set(train) & set(held_out) and len(train) + len(held_out) == 1000
    assert mlm.pretraining_split(texts, held_out_share=0.02, seed=1) == (train, held_out)
    with pytest.raises(ValueError, match="held_out_share"):
        mlm.pretraining_split(texts, held_out_share=0.7)


def test_the_wordpiece_vocabulary_has_berts_special_tokens():
    tokenizer = mlm.train_wordpiece(corpus.sotu_texts()[-3:], vocab_size=600)
    assert len(tokenizer) == 600
    assert tokenizer.convert_ids_to_tokens(list(range(5))) == list(mlm.SPECIAL_TOKENS.values())
    encoded = tokenizer("The Congress")["input_ids"]
    assert encoded[0] == tokenizer.cls_token_id and encoded[-1] == tokenizer.sep_token_id
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "the congress"


def test_the_unigram_baseline_scores_the_positions_masked_accuracy_scores(tokenizer, rows):
    most_frequent = int(torch.bincount(rows[~mlm.special_tokens_mask(tokenizer, rows)]).argmax())
    model = mlm.MaskedLM(TINY)
    with torch.no_grad():  # a model that always answers the most frequent token: its accuracy is the baseline's
        model.head.bias.fill_(-1e4)
        model.head.bias[most_frequent] = 1e4
    held_out = rows[:40, :64]
    baseline = mlm.unigram_baseline(tokenizer, rows, held_out)
    assert 0.02 < baseline < 0.2
    assert mlm.masked_accuracy(model, tokenizer, held_out)["accuracy"] == pytest.approx(baseline)


def test_a_short_pre_training_beats_the_untrained_model(tokenizer, rows):
    model, history = mlm.pretrain_mlm(tokenizer, rows[:, :64], rows[:20, :64], steps=30, batch_size=16,
                                      learning_rate=3e-3, warmup_steps=5, eval_every=15, encoder_config=TINY,
                                      progress=False)
    assert list(history["step"]) == [0, 15, 30]
    assert history["heldout_loss"].iloc[-1] < history["heldout_loss"].iloc[0] - 1.0
    assert history["heldout_accuracy"].iloc[-1] > history["heldout_accuracy"].iloc[0]
    assert len(history.attrs["train_losses"]) == 30 and 0 < history.attrs["unigram_baseline"] < 1
    assert not model.training


def test_a_warm_up_as_long_as_training_is_refused(tokenizer, rows):
    with pytest.raises(ValueError, match="warmup_steps must be at least 1 and below steps"):
        mlm.pretrain_mlm(tokenizer, rows[:, :64], rows[:, :64], steps=5, warmup_steps=5, encoder_config=TINY,
                         progress=False)


class _Numbers:
    """The tokenizer interface mask_tokens and masked_accuracy use, for a toy language of ids 5..99."""

    mask_token_id, all_special_ids = 4, [0, 1, 2, 3, 4]

    def __len__(self):
        return 100


def test_the_loop_leaves_the_unigram_plateau_when_the_context_gives_the_answer():
    # Rows "a a b b c c ...": a masked token's twin sits next to it. Using that context is what notebook 02's
    # short CPU run has not learnt on English yet; here the loop learns it within 800 steps.
    rows = torch.randint(5, 100, (3000, 8), generator=torch.Generator().manual_seed(0)).repeat_interleave(2, dim=1)
    tiny = EncoderConfig(vocab_size=100, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                         max_positions=16, dropout=0.0)
    _, history = mlm.pretrain_mlm(_Numbers(), rows[:2800], rows[2800:], steps=800, batch_size=64,
                                  learning_rate=3e-3, warmup_steps=30, eval_every=400, encoder_config=tiny,
                                  progress=False)
    assert history["heldout_accuracy"].iloc[-1] > 0.5 > 10 * history.attrs["unigram_baseline"]
