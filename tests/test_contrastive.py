
import numpy as np
import pytest
import torch

from helpers import contrastive, data, evaluate
from helpers.exercises import contrastive as exercises
from helpers.losses import info_nce


@pytest.fixture(scope="module")
def pairs():
    return contrastive.ict_training_pairs()


@pytest.fixture(scope="module")
def static():
    return contrastive.minilm_static_features()


def test_training_pairs_come_from_the_training_documents(pairs):
    # tests/test_held_out.py checks them against the benchmark
    documents = data.training_background()
    for passage, article in zip(pairs.passages, pairs.article, strict=True):
        assert all(sentence in documents[article] for sentence in data.split_sentences(passage))
    assert len(pairs.queries) == 2 * len(pairs.passages) == len(pairs.positive)
    assert np.bincount(pairs.positive).tolist() == [2] * len(pairs.passages)
    for query, passage in zip(pairs.queries, pairs.positive, strict=True):
        assert query not in pairs.passages[passage]


def test_no_duplicate_batches_use_every_pair_once_without_repeats(pairs):
    rng = np.random.default_rng(0)
    batches = contrastive.no_duplicate_batches(pairs.positive, 32, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(pairs.positive)))
    assert all(len(b) <= 32 for b in batches)
    assert contrastive.duplicate_rate(batches, pairs.positive) == 0
    negatives = contrastive.mine_hard_negatives(np.eye(len(pairs.positive), 8), np.eye(len(pairs.passages), 8),
                                                pairs.positive, "random")
    for batch in contrastive.no_duplicate_batches(pairs.positive, 32, rng, negatives):
        used = np.concatenate([pairs.positive[batch], negatives[batch]])
        assert len(set(used.tolist())) == len(used)
    random_epoch = contrastive.random_batches(len(pairs.positive), 64, rng)
    assert contrastive.duplicate_rate(random_epoch, pairs.positive) > 0


def test_duplicate_rate_counts_pairs_whose_passage_repeats():
    assert contrastive.duplicate_rate([np.array([0, 1, 2]), np.array([3])], np.array([5, 5, 6, 7])) == 0.5


def test_mining_strategies():
    rng = np.random.default_rng(1)
    queries, passages = rng.normal(size=(30, 8)), rng.normal(size=(120, 8))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    positive = rng.integers(0, 120, size=30)
    scores = queries @ passages.T
    for strategy in contrastive.STRATEGIES:
        mined = contrastive.mine_hard_negatives(queries, passages, positive, strategy)
        assert (mined != positive).all()
    top = contrastive.mine_hard_negatives(queries, passages, positive, "top")
    masked = scores.copy()
    masked[np.arange(30), positive] = -np.inf
    assert (top == masked.argmax(axis=1)).all()
    band = contrastive.mine_hard_negatives(queries, passages, positive, "ranks", ranks=(30, 100))
    rank = (masked > masked[np.arange(30), band][:, None]).sum(axis=1) + 1  # 1-based, positive left out
    assert ((rank >= 30) & (rank <= 100)).all()
    with pytest.raises(ValueError, match="strategy"):
        contrastive.mine_hard_negatives(queries, passages, positive, "hardest")
    with pytest.raises(ValueError, match="ranks"):
        contrastive.mine_hard_negatives(queries, passages, positive, "ranks", ranks=(30, 500))


def test_grad_cache_equals_the_full_batch_gradient_and_accumulation_does_not():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(12, 24), torch.nn.Dropout(0.2), torch.nn.Tanh(),
                                  torch.nn.Linear(24, 16)).train()
    queries, docs = torch.randn(32, 12), torch.randn(32, 12)

    def gradients(step):
        encoder.zero_grad()
        torch.manual_seed(5)
        loss = step()
        return loss, torch.cat([p.grad.reshape(-1).clone() for p in encoder.parameters()])

    def full():
        loss = info_nce(encoder(queries), encoder(docs))
        loss.backward()
        return loss.detach()

    def accumulated():
        total = 0
        for k in range(0, 32, 8):
            loss = info_nce(encoder(queries[k:k + 8]), encoder(docs[k:k + 8])) / 4
            loss.backward()
            total += loss.detach()
        return total

    full_loss, full_grad = gradients(full)
    cached_loss, cached_grad = gradients(lambda: contrastive.grad_cache_step(encoder, queries, docs, info_nce, 8))
    accumulated_loss, accumulated_grad = gradients(accumulated)
    assert torch.allclose(cached_loss, full_loss, atol=1e-6)
    assert torch.allclose(cached_grad, full_grad, atol=1e-6)
    assert not torch.allclose(accumulated_grad, full_grad, atol=1e-3)
    assert accumulated_loss < full_loss
    with pytest.raises(ValueError, match="chunk_size"):
        contrastive.grad_cache_step(encoder, queries, docs, info_nce, 0)


def test_head_embedder_and_probe_agree_with_the_course_evaluator(static):
    head = contrastive.ProjectionHead(384)
    assert torch.equal(head.linear.weight, torch.eye(384))
    embedder = contrastive.HeadEmbedder(static, head, name="static")
    texts = ["The fire spread quickly.", "Shares fell on Monday."]
    features = torch.nn.functional.normalize(static(texts), dim=-1).numpy()
    assert np.allclose(embedder.encode(texts), features, atol=1e-6)
    assert contrastive.HeadEmbedder(static, head, name="static", dims=32).encode(texts).shape == (2, 32)
    for split in data.SPLITS:
        probe = contrastive.RetrievalProbe(static, split=split)
        assert abs(probe(head) - evaluate.eval_inverse_cloze(embedder, split).metrics["ndcg@10"]) < 1e-6
    assert contrastive.RetrievalProbe(static).task == data.inverse_cloze_task("dev")  # probes choose settings
    with pytest.raises(ValueError, match="dims"):
        contrastive.HeadEmbedder(static, head, name="bad", dims=500)
    with pytest.raises(TypeError, match="list of strings"):
        embedder.encode("one text")


def test_training_improves_held_out_retrieval(pairs, static):
    probe = contrastive.RetrievalProbe(static)
    features = (static(pairs.queries), static(pairs.passages))
    torch.manual_seed(0)
    head = contrastive.ProjectionHead(384)
    history = contrastive.train(head, *features, pairs.positive, epochs=4, probe=probe, probe_every=8)
    assert history["loss"].tail(8).mean() < history["loss"].head(8).mean()
    assert history["ndcg@10"].iloc[-1] > probe() + 0.03
    assert {"alignment", "uniformity"} <= set(history.columns)
    assert not head.training
    with pytest.raises(ValueError, match="loss"):
        contrastive.train(head, *features, pairs.positive, loss="triplet")
    with pytest.raises(ValueError, match="positive"):
        contrastive.train(head, *features, pairs.positive[:-1])


def test_train_for_a_fixed_number_of_steps_and_with_micro_batches():
    generator = torch.Generator().manual_seed(3)
    queries, passages = torch.randn(40, 16, generator=generator), torch.randn(20, 16, generator=generator)
    positive = np.arange(40) % 20

    def run(**settings):
        torch.manual_seed(0)
        head = contrastive.ProjectionHead(16)
        history = contrastive.train(head, queries, passages, positive, batch_size=8, **settings)
        return history, head.linear.weight.detach().clone()

    by_epochs, weight = run(epochs=6)  # 5 batches of 8 an epoch: 30 steps
    by_steps, same_weight = run(steps=30, epochs=1)  # epochs is ignored when steps is given
    assert by_steps.equals(by_epochs) and torch.equal(same_weight, weight)
    seven = run(steps=7)[0]
    assert len(seven) == 7 and seven["epoch"].tolist() == [0] * 5 + [1] * 2
    assert seven["loss"].tolist() == by_epochs["loss"].head(7).tolist()
    whole, whole_weight = run(epochs=2, micro_batch=8)  # one micro-batch per batch: the plain loss
    assert np.allclose(whole["loss"], by_epochs["loss"].head(10), atol=1e-6)
    assert torch.allclose(whole_weight, run(epochs=2)[1], atol=1e-6)

    # Micro-batches of 3 (3 + 3 + 2 pairs): the pair-weighted mean of InfoNCE over each micro-batch alone, the
    # loss gradient accumulation sees. Without dropout the first step's vectors are the features themselves.
    micro = run(steps=1, micro_batch=3, dropout_views=False)[0]
    batch = np.random.default_rng(42).permutation(40)[:8]  # train's first batch (seed 42)
    parts = [batch[:3], batch[3:6], batch[6:]]
    expected = sum(len(part) * info_nce(queries[part], passages[positive[part]]) for part in parts) / 8
    assert micro["loss"].iloc[0] == pytest.approx(expected.item(), abs=1e-5)
    full = run(steps=1, dropout_views=False)[0]
    assert micro["loss"].iloc[0] < full["loss"].iloc[0], "fewer negatives per query: an easier loss"
    with pytest.raises(ValueError, match="steps"):
        run(steps=0)
    with pytest.raises(ValueError, match="micro_batch"):
        run(micro_batch=1)


def test_solutions_pass_their_checks(capsys, load_solution):
    solutions = load_solution("04_contrastive_learning")
    assert exercises.check_info_nce(solutions.my_info_nce)
    assert exercises.check_uniformity(solutions.my_uniformity)
    assert exercises.check_false_negative_mask(solutions.my_mask)
    assert not exercises.check_info_nce(None)
    assert not exercises.check_uniformity(lambda x, t: torch.tensor(0.0))
    assert not exercises.check_false_negative_mask(lambda ids: 1 / 0)
    assert "not answered yet" in capsys.readouterr().out.lower()


def test_seed_mean_averages_scores_and_their_bootstrap_values(static):
    head = contrastive.ProjectionHead(384)
    tasks = ["NewsInverseCloze"]
    a = evaluate.mini_mteb(contrastive.HeadEmbedder(static, head, name="full"), split="dev", tasks=tasks)
    b = evaluate.mini_mteb(contrastive.HeadEmbedder(static, head, name="first 32", dims=32), split="dev", tasks=tasks)
    one = contrastive.seed_mean([a])
    assert np.allclose(one[["score", "ci_low", "ci_high"]].to_numpy(dtype=float),
                       a[["score", "ci_low", "ci_high"]].to_numpy(dtype=float))
    both = contrastive.seed_mean([a, b], name="mean")
    for task in a.index:
        assert both.loc[task, "score"] == pytest.approx((a.loc[task, "score"] + b.loc[task, "score"]) / 2)
        assert np.allclose(both.attrs["replicates"][task],
                           (a.attrs["replicates"][task] + b.attrs["replicates"][task]) / 2)
    assert both.attrs["model"] == "mean" and both.attrs["seeds"] == 2
    versus = evaluate.compare(both, a, split="dev")
    assert versus.loc["NewsInverseCloze", "difference"] == pytest.approx(
        (b.loc["NewsInverseCloze", "score"] - a.loc["NewsInverseCloze", "score"]) / 2)
    with pytest.raises(ValueError, match="at least one"):
        contrastive.seed_mean([])
    other = evaluate.mini_mteb(contrastive.HeadEmbedder(static, head, name="full"), split="test", tasks=tasks)
    with pytest.raises(ValueError, match="same tasks"):
        contrastive.seed_mean([a, other])
