"""The committed-artifact convention (helpers.artifacts): every committed card is current, a stale artifact is
refused with the script to run, another recipe trains, and the weights stay small."""

import json

import pytest
import torch

from helpers import (
    artifacts,
    config,
    frontier_experiments,
    instruct_experiments,
    leaderboard,
    llm2vec,
    mlm,
    mntp_control,
    sbert,
    static,
    trained_vectors,
)

# Every committed artifact, with the function that gives today's key for it: a new artifact must be added here.
TODAY = {"mlm_encoder": mlm.artifact_key, "llm2vec": llm2vec.artifact_key, "llm2vec_lr": llm2vec.lr_sweep_key,
         "precision": leaderboard.precision_key, "frontier_results": frontier_experiments.results_key,
         "leaderboard_rows": leaderboard.stored_rows_key, "long_articles": leaderboard.long_articles_key,
         "mntp_control": mntp_control.control_key,
         "instruct_results": instruct_experiments.results_key,
         "sbert_mlm": lambda: sbert.artifact_key("mlm"), "sbert_random": lambda: sbert.artifact_key("random"),
         "static_smollm2": lambda: static.artifact_key("smollm2"), "static_smollm2_readings": static.readings_key,
         **{name: (lambda kind=kind: trained_vectors.artifact_key(kind))
            for kind, name in trained_vectors.KINDS.items()}}


def _today(name: str, card: dict) -> dict:
    """Today's key of a committed artifact on the course's default path (the tests themselves run in float32). A
    result scored in bfloat16 is another recipe, not a stale one, on a CPU without it: the course makes it there."""
    with config.using_precision("fast"):
        key = TODAY[name]()
    made_in = card["key"].get("recipe", {}).get("inference_dtype") if isinstance(card["key"], dict) else None
    if made_in is not None and key["recipe"].get("inference_dtype") != made_in:
        key = {**key, "recipe": {**key["recipe"], "inference_dtype": made_in}}
    return key


def test_every_committed_artifact_is_known_and_current():
    names = artifacts.committed_names()
    assert set(names) <= set(TODAY), f"add {sorted(set(names) - set(TODAY))} to TODAY with its key"
    for name in names:
        card = artifacts.read_card(name)
        assert artifacts.differences(card, _today(name, card)) == [], (
            f"data/artifacts/{name} is stale: run `{card['script']}` and commit the result")
        assert card["script"].startswith("python scripts/") and card["seconds"] > 0 and card["scores"]


def test_committed_artifacts_stay_under_60_mb():
    assert artifacts.size_mb() <= 60  # issue 32's limit (was 40)


@pytest.fixture
def fake_artifact(tmp_path, monkeypatch):
    """An artifact ``toy`` committed under a temporary data folder, made with recipe {"steps": 3} and code "v1"."""
    monkeypatch.setattr(artifacts.config, "data_dir", lambda: tmp_path / "data")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    save = lambda folder, value: (folder / "value.json").write_text(json.dumps(value))
    artifacts.save("toy", {"recipe": {"steps": 3}, "code": "v1"}, {"weights": [1, 2]}, save,
                   "python scripts/make_toy.py", seconds=120.0, scores={"accuracy": 0.5})
    load = lambda folder: json.loads((folder / "value.json").read_text())
    return save, load


def test_the_committed_artifact_is_loaded_under_its_key(fake_artifact):
    save, load = fake_artifact
    value = artifacts.load_or_train("toy", {"recipe": {"steps": 3}, "code": "v1"},
                                    lambda: pytest.fail("a current artifact is loaded, not trained"), save, load)
    assert value == {"weights": [1, 2]}
    assert artifacts.committed_names() == ["toy"]


def test_a_stale_artifact_is_refused_with_the_script_to_run(fake_artifact):
    save, load = fake_artifact
    with pytest.raises(artifacts.StaleArtifactError, match=r"other code .*python scripts/make_toy.py"):
        artifacts.load_or_train("toy", {"recipe": {"steps": 3}, "code": "v2"}, lambda: {"weights": [0]}, save, load)


def test_another_recipe_is_trained_once_and_cached(fake_artifact):
    save, load = fake_artifact
    key = {"recipe": {"steps": 30}, "code": "v1"}  # say COURSE_SCALE=gpu's longer training
    assert artifacts.load_or_train("toy", key, lambda: {"weights": [3]}, save, load) == {"weights": [3]}
    again = artifacts.load_or_train("toy", key, lambda: pytest.fail("cached after the first time"), save, load)
    assert again == {"weights": [3]}


def test_8bit_storage_keeps_each_value_within_half_a_step():
    torch.manual_seed(0)
    state = {"weight": torch.randn(5, 7) * torch.arange(1, 6)[:, None], "bias": torch.randn(7)}
    stored = artifacts.store_8bit(state)
    assert stored["weight"].dtype == torch.int8 and stored["bias"].dtype == torch.float16
    back = artifacts.read_8bit(stored)
    step = state["weight"].abs().amax(1, keepdim=True) / 127
    assert ((back["weight"] - state["weight"]).abs() <= step / 2 + 1e-7).all()
    assert torch.allclose(back["bias"], state["bias"], atol=1e-3) and set(back) == set(state)


def test_a_shard_runs_once_and_is_read_back_after_a_stop(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    save = lambda folder, value: (folder / "value.json").write_text(json.dumps(value))
    load = lambda folder: json.loads((folder / "value.json").read_text())
    assert artifacts.shard("run_seed1", {"seed": 1}, lambda: {"loss": 0.5}, save, load) == {"loss": 0.5}
    again = artifacts.shard("run_seed1", {"seed": 1}, lambda: pytest.fail("a finished shard is read"), save, load)
    assert again == {"loss": 0.5} and "finished before" in capsys.readouterr().out
    assert artifacts.shard("run_seed1", {"seed": 2}, lambda: {"loss": 0.7}, save, load) == {"loss": 0.7}
