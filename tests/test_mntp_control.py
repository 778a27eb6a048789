"""The control for MNTP (helpers.mntp_control): the causal next-token loss, and a run that resumes after a stop."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from helpers import llm2vec, mntp_control


def test_next_token_loss_equals_transformers_shifted_loss():
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1)).eval()
    ids = torch.randint(50, (3, 12))
    with torch.no_grad():
        assert torch.allclose(mntp_control.next_token_loss(model, ids), model(input_ids=ids, labels=ids).loss,
                              atol=1e-6)


def test_a_stopped_run_resumes_to_the_same_model(tmp_path, monkeypatch):
    # Three steps, one per chunk, on SmolLM2 with tiny batches; scoring replaced by the embedder itself.
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(mntp_control.evaluate, "mini_mteb", lambda embedder: embedder)
    monkeypatch.setattr(llm2vec, "held_out_mntp_loss", lambda model, tokenizer, bidirectional: 0.0)
    recipe = {**llm2vec.RECIPE, "mntp_steps": 3, "mntp_batch_size": 1, "seq_len": 16, "rank": 2}
    whole = mntp_control.train_control(recipe, progress=False)
    shards = sorted((tmp_path / "shards").iterdir())
    assert len(shards) == 3
    for shard in shards[1:]:  # stopped after the first chunk
        for file in shard.iterdir():
            file.unlink()
        shard.rmdir()
    resumed = mntp_control.train_control(recipe, progress=False)
    assert whole["history"]["loss"] == resumed["history"]["loss"] and len(whole["history"]["loss"]) == 3
    weights = [next(iter(run["results"].values())).model.state_dict() for run in (whole, resumed)]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
