"""Every trainer in helpers takes one step on the device the course runs on (`COURSE_SCALE=gpu`: CUDA).

Tiny models keep each step to a fraction of a second. On a machine without a GPU only the CPU cases run:
they check the test itself; the CUDA cases catch a helper that leaves a tensor on the CPU.
"""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from helpers import config, contrastive, frontier, grit, instruct, latent_attention, llm2vec, mlm, sbert, word2vec
from helpers.decoder import Llama, LlamaSizes
from helpers.encoder import Encoder, EncoderConfig, minilm_tokenizer
from helpers.models import load_smollm2

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
TINY_ENCODER = EncoderConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_positions=64,
                             dropout=0.0)
TEXTS = ["The council approved the new budget on Monday.", "A storm closed the coastal road for two days.",
         "Scientists found water ice near the lunar south pole.", "The team won its third title in a row."]


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=GPU)])
def device(request, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("COURSE_SCALE", "gpu" if request.param == "cuda" else "cpu")
    assert config.device() == request.param
    return request.param


def tiny_hf_llama(device):
    """A 2-layer transformers Llama with SmolLM2's tokenizer (the decoder trainers take transformers models)."""
    tokenizer, _ = load_smollm2()
    torch.manual_seed(0)
    sizes = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    return tokenizer, LlamaForCausalLM(sizes).to(device)


def test_sgns(device):
    vectors, _ = word2vec.train_sgns([text.lower().split() for text in TEXTS], dim=8, min_count=1, epochs=1,
                                     progress=False, device=device)
    assert vectors.vectors.shape[1] == 8


def test_mlm_pretraining(device):
    tokenizer = minilm_tokenizer()
    rows = mlm.chunk_texts(tokenizer, TEXTS, 16)
    model, history = mlm.pretrain_mlm(tokenizer, rows, rows, steps=2, batch_size=2, warmup_steps=1, eval_every=1,
                                      encoder_config=TINY_ENCODER, progress=False)
    assert len(history) >= 1


def test_sbert(device):
    pairs = [(TEXTS[k], TEXTS[k + 1]) for k in range(3)]
    _, losses = sbert.train_bi_encoder(Encoder(TINY_ENCODER), minilm_tokenizer(), pairs, steps=1, batch_size=2,
                                       max_length=16, progress=False)
    assert len(losses) == 1


def test_contrastive_head(device):
    features = torch.randn(6, 8, device=device)
    log = contrastive.train(contrastive.ProjectionHead(8).to(device), features, features, list(range(6)), epochs=1,
                            batch_size=3)
    assert len(log) == 2


def test_llm2vec_stages(device):
    tokenizer, model = tiny_hf_llama(device)
    parameters = llm2vec.add_lora(model, top_layers=1, rank=2)
    assert len(llm2vec.train_mntp(model, tokenizer, steps=1, batch_size=2, seq_len=16, parameters=parameters,
                                  progress=False)["loss"]) == 1
    assert len(llm2vec.train_simcse(model, tokenizer, steps=1, batch_size=4, chunk_size=2, parameters=parameters,
                                    progress=False)["loss"]) == 1


def test_instruction_tuning(device):
    tokenizer, model = tiny_hf_llama(device)
    triples = [(TEXTS[k], TEXTS[(k + 1) % 4], TEXTS[(k + 2) % 4]) for k in range(4)]
    _, losses, _ = instruct.train_contrastive(tokenizer, model, triples, pooling="mean", train_layers=1, steps=1,
                                              batch_size=2, max_length=16)
    assert len(losses) == 1


def test_frontier_heads_and_grit(device):
    torch.manual_seed(0)
    sizes = LlamaSizes(vocab_size=30522, hidden_size=32, intermediate_size=64, num_layers=4, num_heads=4,
                       num_kv_heads=2)
    model = Llama(sizes).eval().requires_grad_(False).to(device)
    store = frontier.StateStore(model, minilm_tokenizer(), (2, 4))
    head = latent_attention.MeanMLPPooling(32).to(device)
    queries, passages, positive = TEXTS[:2], TEXTS[2:], [0, 1]
    assert len(latent_attention.train_pooling_head(head, store, queries, passages, positive, steps=1, batch_size=2,
                                           progress=False)) == 1
    windows = torch.randint(0, 30522, (4, 8))
    states = grit.window_states(model, windows, layer=2)
    _, history = grit.train_grit(model, store, queries, passages, positive, states, windows, "joint", steps=1,
                                     batch_size=2, lm_batch_size=2, progress=False)
    assert len(history["next_token"]) == 1
