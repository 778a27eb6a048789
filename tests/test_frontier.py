"""helpers.frontier, latent_attention and grit: latent attention = torch's multi-head attention, split forward =
full forward, GRIT's losses (per window too), positive-aware filtering. A tiny random Llama keeps the file fast
(SmolLM2 is used in notebook 10)."""

import numpy as np
import pytest
import torch

from helpers import contrastive, frontier, grit, latent_attention
from helpers.decoder import Llama, LlamaSizes
from helpers.encoder import minilm_tokenizer
from helpers.pooling import mean_pool

TEXTS = ["The bank raised interest rates again.", "Bushfires burned west of Sydney on Monday afternoon.", "Hi"]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    sizes = LlamaSizes(vocab_size=30522, hidden_size=32, intermediate_size=64, num_layers=4, num_heads=4,
                       num_kv_heads=2)
    return minilm_tokenizer(), Llama(sizes).eval().requires_grad_(False)


@pytest.fixture
def store(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    tokenizer, model = tiny

    def make(bidirectional=False):
        return frontier.StateStore(model, tokenizer, (2, 4), bidirectional=bidirectional)
    return make


def test_cross_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = latent_attention.CrossAttention(16, heads=4)
    theirs = torch.nn.MultiheadAttention(16, 4, bias=False, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        theirs.out_proj.weight.copy_(ours.o_proj.weight)
    x, context = torch.randn(2, 7, 16), torch.randn(2, 5, 16)
    expected, _ = theirs(x, context, context, need_weights=False)
    assert torch.allclose(ours(x, context), expected, atol=1e-5)


def test_untrained_heads_are_mean_pooling_and_padding_is_ignored():
    hidden, mask = torch.randn(2, 6, 32), torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    for head in (latent_attention.LatentAttentionPooling(32, num_latents=8, heads=4),
                 latent_attention.MeanMLPPooling(32)):
        assert torch.allclose(head(hidden, mask), mean_pool(hidden, mask), atol=1e-6)
        with torch.no_grad():
            for parameter in head.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
        changed = hidden.clone()
        changed[0, 4:] = 99.0  # padding
        assert torch.allclose(head(hidden, mask)[0], head(changed, mask)[0], atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stored_states_plus_top_layers_equal_the_full_forward(tiny, store, bidirectional):
    tokenizer, model = tiny
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    full = model(batch["input_ids"], batch["attention_mask"], bidirectional=bidirectional)
    expected = mean_pool(full, batch["attention_mask"])
    stored = store(bidirectional)
    stored.ensure(TEXTS, progress=False)
    states, mask = stored.batch(TEXTS, 2)
    top = grit.TopLayers(model, first_layer=2)
    assert torch.allclose(mean_pool(top(states, mask, bidirectional), mask), expected, atol=1e-2)
    reloaded = frontier.StateStore(model, tokenizer, (2, 4), bidirectional)  # from disk
    states, mask = reloaded.batch(TEXTS, 4)
    assert states.shape == (3, full.shape[1], 32)
    assert torch.allclose(mean_pool(states, mask), expected, atol=1e-2)
    with pytest.raises(ValueError, match="keeps layers"):
        reloaded.batch(TEXTS, 3)


def test_stores_sharing_a_file_keep_each_others_texts(store):
    first, second = store(), store()  # as two processes would: each holds what it read
    first.ensure(TEXTS[:1], progress=False)
    second.ensure(TEXTS[1:2], progress=False)
    first.ensure(TEXTS[2:], progress=False)  # first never saw TEXTS[1]; writing must not drop it
    states, mask = store().batch(TEXTS, 2)  # read from disk
    assert states.shape[0] == 3 and mask.sum(1).min() > 0


def test_missing_states_give_a_clear_error(store):
    with pytest.raises(KeyError, match="ensure"):
        store().batch(["never stored"], 2)


def test_an_uncached_embedder_runs_the_model_on_every_call(store):
    # What the leaderboard times: a memory-only twin that keeps no states between calls, and writes no file.
    embedder = frontier.StatesEmbedder(store(), latent_attention.MeanMLPPooling(32), "tiny")
    twin = embedder.uncached()
    first = twin.encode(TEXTS)
    assert twin.store.states == {} and not twin.store.path().exists()
    assert np.allclose(twin.encode(TEXTS), first) and np.allclose(embedder.encode(TEXTS), first, atol=1e-3)


def test_next_token_loss_matches_the_full_model(tiny):
    tokenizer, model = tiny
    ids = torch.randint(0, 30522, (2, 9), generator=torch.Generator().manual_seed(1))
    logits = model.logits(model(ids))
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 30522), ids[:, 1:].reshape(-1))
    states = grit.window_states(model, ids, layer=3)
    top = grit.TopLayers(model, 3)
    assert top.next_token_loss(states, ids).item() == pytest.approx(expected.item(), abs=1e-4)
    per_window = grit.held_out_next_token_losses(top, states, ids, batch_size=1)  # one window per batch
    assert per_window.shape == (2,) and per_window.mean() == pytest.approx(expected.item(), abs=1e-4)
    assert grit.held_out_next_token_losses(top, states, ids).mean() == pytest.approx(expected.item(), abs=1e-4)


def test_embedding_only_tuning_moves_the_next_token_loss_more_than_joint(tiny, store):
    tokenizer, model = tiny
    queries = [f"query number {k} about topic {k % 5}" for k in range(16)]
    passages = [f"passage {k} on topic {k % 5} with more words" for k in range(16)]
    ids = torch.randint(0, 30522, (16, 12), generator=torch.Generator().manual_seed(2))
    states = grit.window_states(model, ids, layer=2)
    lower = store()
    tops = {variant: grit.train_grit(model, lower, queries, passages, np.arange(16), states, ids, variant,
                                     steps=6, batch_size=8, lm_batch_size=4, lr=1e-2, progress=False)
            for variant in grit.VARIANTS}
    for _, history in tops.values():
        assert len(history["contrastive"]) == len(history["next_token"]) == 6
    first = {variant: history["contrastive"][0] for variant, (_, history) in tops.items()}
    assert first["joint"] == pytest.approx(first["embedding_only"]) == pytest.approx(first["lm_only"])  # same batch
    assert tops["joint"][1]["next_token"][-1] < tops["embedding_only"][1]["next_token"][-1]
    assert tops["lm_only"][1]["next_token"][-1] < tops["embedding_only"][1]["next_token"][-1]
    assert tops["lm_only"][1]["contrastive"][-1] > tops["embedding_only"][1]["contrastive"][-1]  # not tuned to embed
    with pytest.raises(ValueError, match="variant must be"):
        grit.train_grit(model, lower, queries, passages, np.arange(16), states, ids, "joint_lm", steps=1)


def test_positive_aware_filtering_drops_near_positive_candidates():
    q = np.array([[1.0, 0.0]])
    angles = np.array([0.1, 0.2, 0.5, 1.0])
    passages = np.column_stack([np.cos(angles), np.sin(angles)])  # scores 0.995, 0.980, 0.878, 0.540
    assert contrastive.positive_aware_negatives(q, passages, [0], k=1, max_ratio=None).tolist() == [[1]]
    assert contrastive.positive_aware_negatives(q, passages, [0], k=2, max_ratio=0.95).tolist() == [[2, 3]]
    with pytest.raises(ValueError, match="fewer"):
        contrastive.positive_aware_negatives(q, passages, [0], k=3, max_ratio=0.95)
    with pytest.raises(ValueError, match="max_ratio"):
        contrastive.positive_aware_negatives(q, passages, [0], max_ratio=1.5)


def test_training_pairs_leave_out_the_held_out_text_for_the_lm_loss():
    from helpers import data, llm2vec

    pairs = frontier.training_pairs(64)  # tests/test_held_out.py checks them against the benchmark
    queries, passages, positive = pairs.queries, pairs.passages, pairs.positive
    training = llm2vec.lm_documents()
    assert all(all(s in training[article] for s in data.split_sentences(passage))
               for passage, article in zip(passages, pairs.article, strict=True))
    assert len(queries) == 64 and positive.max() == len(passages) - 1
    with pytest.raises(ValueError, match="at most"):
        frontier.training_pairs(10_000)


def test_solutions_pass_their_checks(load_solution):
    from helpers.exercises import frontier as exercises

    solution = load_solution("10_frontier_architectures")
    assert exercises.check_latent_attention(solution.attend)
    assert exercises.check_positive_aware_filter(solution.keep_negatives)
    assert not exercises.check_latent_attention(...)
    assert not exercises.check_positive_aware_filter(lambda s, p, r: s > r * p)


def test_experiment_results_round_trip_with_tuple_keys(tmp_path):
    """The result artifact gives back what run_experiments returned: frames (with replicates, so comparisons stay
    paired), loss curves and window losses, under the same (kind, seed) keys."""
    from helpers import evaluate
    from helpers import frontier_experiments as experiments
    from helpers.embed import minilm_embedder

    frame = evaluate.mini_mteb(minilm_embedder(), split="test", tasks=["NewsHeadlineRetrieval"])
    value = {"head_results": {"untrained": frame, ("latent", 42): frame},
             "head_losses": {("latent", 42): [2.5, 1.5]},
             "grit_results": {"untuned": frame, ("joint", 43): frame},
             "grit_histories": {("joint", 43): {"contrastive": [1.0, 0.5], "next_token": [4.0, 3.9], "seconds": 9.0}},
             "window_losses": {("held-out news", "untuned"): np.array([4.1, 4.2]),
                               ("another source", ("lm_only", 44)): np.array([5.0, 5.5])}}
    experiments.save_files(tmp_path, value)
    back = experiments.load_files(tmp_path)
    assert set(back["head_results"]) == {"untrained", ("latent", 42)}
    assert back["head_losses"] == {("latent", 42): [2.5, 1.5]}
    assert back["grit_histories"] == {("joint", 43): {"contrastive": [1.0, 0.5], "next_token": [4.0, 3.9]}}
    assert set(back["window_losses"]) == set(value["window_losses"])
    assert np.allclose(back["window_losses"]["another source", ("lm_only", 44)], [5.0, 5.5])
    same = evaluate.compare(back["grit_results"]["joint", 43], frame)
    assert same.loc["average", "difference"] == pytest.approx(0, abs=1e-12)
    assert same.loc["average", "ci_low"] == pytest.approx(0, abs=1e-12)
