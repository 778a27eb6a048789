"""Masked language modelling (helpers.mlm): the 15% / 80-10-10 rule, dynamic masking, the small pre-training."""

import pandas as pd
import pytest
import torch

from helpers import data, mlm
from helpers.encoder import EncoderConfig, minilm_tokenizer

TINY = EncoderConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=64, dropout=0.0)


@pytest.fixture(scope="module")
def tokenizer():
    return minilm_tokenizer()


@pytest.fixture(scope="module")
def rows(tokenizer):
    return mlm.chunk_texts(tokenizer, mlm.recent_speeches(6), length=128)


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


def test_the_pretrained_model_and_history_are_read_back_as_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))

    def quick_pretraining(**_):
        torch.manual_seed(0)
        history = pd.DataFrame({"step": [0, 10], "train_loss": [float("nan"), 2.5]})
        history.attrs.update(seconds=1.5, train_rows=4)
        return mlm.MaskedLM(mlm.SMALL_CONFIG).eval(), history

    monkeypatch.setattr(mlm, "pretrain_mlm", quick_pretraining)
    model, history = mlm.pretrained_mlm(progress=False)
    monkeypatch.setattr(mlm, "pretrain_mlm", lambda **_: pytest.fail("the saved model should be read back"))
    again, history_again = mlm.pretrained_mlm(progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert again.head.embeddings.weight is again.encoder.embeddings.token.weight, "still tied"
    pd.testing.assert_frame_equal(history, history_again)
    assert history_again.attrs == history.attrs


def test_pretraining_text_is_speeches_and_the_training_documents():
    texts = mlm.pretraining_texts(speeches=3)  # tests/test_held_out.py checks it against the benchmark
    assert texts == mlm.recent_speeches(3) + list(data.training_background())


def test_a_short_pre_training_beats_the_untrained_model():
    model, history = mlm.pretrain_mlm(steps=30, batch_size=16, sequence_length=64, learning_rate=3e-3,
                                      warmup_steps=5, eval_every=15, encoder_config=TINY, progress=False)
    assert list(history["step"]) == [0, 15, 30]
    assert history["heldout_loss"].iloc[-1] < history["heldout_loss"].iloc[0] - 1.0
    assert history["heldout_accuracy"].iloc[-1] > history["heldout_accuracy"].iloc[0]
    assert not model.training


def test_a_warm_up_as_long_as_training_is_refused():
    with pytest.raises(ValueError, match="warmup_steps must be at least 1 and below steps"):
        mlm.pretrain_mlm(steps=5, warmup_steps=5, progress=False)
