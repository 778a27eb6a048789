"""helpers.leaderboard: the registry, parameter counts, timing, the Pareto front, the plot; exercise solutions."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers import leaderboard
from helpers.embed import minilm_embedder

matplotlib.use("Agg")

TABLE = pd.DataFrame({"average": [0.6, 0.5, 0.55, 0.2], "ms_per_text": [2.0, 50.0, 40.0, 0.1],
                      "parameters": [2e7, 1.3e8, 1.3e8, 1e6], "family": ["encoder", "decoder LLM", "decoder LLM",
                                                                       "encoder"]},
                     index=["encoder", "llm a", "llm b", "tiny"])


def test_registry_names_are_unique_and_cover_the_course():
    names = [entry.name for entry in leaderboard.REGISTRY]
    assert len(names) == len(set(names))
    assert {entry.notebook for entry in leaderboard.REGISTRY} >= {"00", "01", "02", "03", "04", "05", "06", "07", "10"}
    assert all(entry.family in ("static word vectors", "encoder", "decoder LLM") for entry in leaderboard.REGISTRY)


def test_parameter_count_and_timing_of_minilm():
    embedder = minilm_embedder()
    assert leaderboard.parameter_count(embedder) == pytest.approx(22.7e6, rel=0.01)
    assert embedder.cache
    assert 0 < leaderboard.ms_per_text(embedder, ["A short sentence.", "Another one."]) < 10_000
    assert embedder.cache, "timing turns the cache off only while it runs"
    with pytest.raises(TypeError, match="add a case"):
        leaderboard.parameter_count(object())


def test_contrastive_head_row_counts_minilm_and_its_head():
    from helpers import contrastive

    embedder = contrastive.HeadEmbedder(contrastive.EncoderFeatures(minilm_embedder()), contrastive.ProjectionHead(384),
                                        "toy head")
    assert leaderboard.parameter_count(embedder) == leaderboard.parameter_count(minilm_embedder()) + 384 * 384 + 384


def test_timing_texts_are_fixed_real_sentences():
    texts = leaderboard.timing_texts()
    assert len(texts) == leaderboard.TIMING_TEXTS and texts == leaderboard.timing_texts()


def test_pareto_front_and_plot():
    assert leaderboard.pareto_front(TABLE) == ["tiny", "encoder"]
    assert leaderboard.pareto_front(TABLE, cost="parameters") == ["tiny", "encoder"]
    axes = leaderboard.cost_quality_plot(TABLE)
    assert len(axes) == 2 and axes[0].get_xscale() == "log"


def test_solutions_pass_their_checks(load_solution):
    from helpers.exercises import leaderboard as exercises

    solution = load_solution("11_leaderboard_and_tradeoffs")
    assert exercises.check_pareto_front(solution.pareto)
    assert exercises.check_best_under_budget(solution.best_under_budget)
    assert not exercises.check_pareto_front(...)
    assert not exercises.check_best_under_budget(lambda table, budget: table["average"].idxmax())


def test_entry_names_every_precision_row_and_refuses_others():
    assert [leaderboard.entry(name).name for name in leaderboard.PRECISION_ROWS] == list(leaderboard.PRECISION_ROWS)
    with pytest.raises(ValueError, match="No leaderboard row is called"):
        leaderboard.entry("GPT-5")


def test_precision_results_round_trip_and_compare_paired(tmp_path):
    from helpers import artifacts, evaluate

    minilm = evaluate.mini_mteb(minilm_embedder(), split="test", tasks=["LeeDocSTS", "NewsHeadlineRetrieval"])
    artifacts.save_results(tmp_path, {"MiniLM": minilm})
    loaded = artifacts.load_results(tmp_path)["MiniLM"]
    assert list(loaded.index) == list(minilm.index)
    assert loaded["score"].to_dict() == pytest.approx(minilm["score"].to_dict())
    same = leaderboard.precision_table({"MiniLM": minilm}, {"MiniLM": loaded})
    assert same.loc["MiniLM", "difference"] == pytest.approx(0, abs=1e-12)
    assert same.loc["MiniLM", "within_margin"]
    shifted = minilm.copy()
    shifted.attrs = {**minilm.attrs, "replicates": {k: v + 0.01 for k, v in minilm.attrs["replicates"].items()}}
    shifted["score"] += 0.01
    moved = leaderboard.precision_table({"MiniLM": shifted}, {"MiniLM": loaded})
    assert moved.loc["MiniLM", "difference"] == pytest.approx(0.01) and not moved.loc["MiniLM", "within_margin"]


def test_stored_rows_are_registered_and_trained_rows_timed_on_an_untrained_twin():
    registered = {entry.name for entry in leaderboard.REGISTRY}
    stored = leaderboard.STORED_ROWS
    assert set(stored) <= registered and len(set(stored)) == len(stored)
    for name in leaderboard.TRAINED_ROWS:
        assert leaderboard.entry(name).timed is not None, f"{name} needs a twin to time"
    instructed = leaderboard.entry("instruct E5 (last token + EOS)")
    twin = instructed.timed()
    assert instructed.instructed and twin.pooling == "last" and not twin.bidirectional


def test_live_check_agrees_with_a_faithful_store_and_flags_a_stale_one():
    from helpers.evaluate import mini_mteb

    embedder = minilm_embedder()
    faithful = mini_mteb(embedder, tasks=list(leaderboard.LIVE_CHECK_TASKS))
    check = leaderboard.live_check("all-MiniLM-L6-v2", embedder, {"all-MiniLM-L6-v2": faithful})
    assert list(check.index) == list(leaderboard.LIVE_CHECK_TASKS)
    assert check["agrees"].all() and (check["difference"] == 0).all()
    stale = faithful.copy()
    stale.loc["SimLexSTS", "score"] += 2 * leaderboard.LIVE_CHECK_TOLERANCE
    check = leaderboard.live_check("all-MiniLM-L6-v2", embedder, {"all-MiniLM-L6-v2": stale})
    assert not check.loc["SimLexSTS", "agrees"] and check.loc["DictionaryRetrieval", "agrees"]
    with pytest.raises(ValueError, match="not a stored row"):
        leaderboard.live_check("all-MiniLM-L6-v2", embedder, {})


def test_type_claims_pair_each_task_type_and_correct_the_family():
    from helpers.evaluate import mini_mteb

    frame = mini_mteb(minilm_embedder())
    better = frame.copy()
    better.attrs = {**frame.attrs, "replicates": {k: v + 0.05 for k, v in frame.attrs["replicates"].items()}}
    better["score"] += 0.05
    claims = leaderboard.type_claims({"MiniLM": frame, "MiniLM + 0.05": better},
                                     [("MiniLM + 0.05", "MiniLM"), ("MiniLM", "MiniLM")])
    assert list(claims.index.names) == ["A", "B", "task type"] and len(claims) == 4
    assert np.allclose(claims.loc[("MiniLM + 0.05", "MiniLM"), "difference"].to_numpy(float), 0.05)
    assert (claims.loc[("MiniLM + 0.05", "MiniLM"), "verdict_holm"] == "A beats B").all()
    assert (claims.loc[("MiniLM", "MiniLM"), "verdict_holm"] == "no measurable difference").all()
