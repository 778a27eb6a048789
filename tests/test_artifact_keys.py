"""A trained artifact is served only to the recipe, training text, base weights and code that made it.

Each test trains nothing real: it stores an artifact under today's key (or counts builds), then changes one
part of the key (a recipe value, or the trainer's source as ``cache.source_hash`` sees it) and checks that the
stored artifact is not served.
"""

import pytest

from helpers import cache, instruct, latent_attention, llm2vec, mlm


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture
def edit_the_code(monkeypatch):
    """Make every source hash differ, as an edit of the trainer's code would."""
    real = cache.source_hash

    def edit():
        monkeypatch.setattr(cache, "source_hash", lambda *objects: "edited " + real(*objects))

    return edit


def test_matches_compares_as_the_stored_json_does():
    stored = {"recipe": {"layers": [1, 2]}, "seed": 3, "losses": [0.5]}
    assert cache.matches(stored, {"recipe": {"layers": (1, 2)}, "seed": 3})
    assert not cache.matches(stored, {"recipe": {"layers": (1, 2)}, "seed": 4})
    assert not cache.matches(stored, {"code": "abc"}), "a header without the key's part is stale"


def test_llm2vec_adapters_are_keyed_by_recipe_and_trainer_code(edit_the_code):
    before = llm2vec.artifact_key()
    assert llm2vec.artifact_key({**llm2vec.RECIPE, "mntp_steps": 301})["recipe"] != before["recipe"]
    edit_the_code()
    assert llm2vec.artifact_key()["code"] != before["code"]


def test_the_learning_rate_sweep_is_keyed_by_its_rates_the_adapters_and_its_code(edit_the_code):
    before = llm2vec.lr_sweep_key()
    assert llm2vec.lr_sweep_key(lrs=(3e-5, 2e-4))["lrs"] != before["lrs"]
    assert llm2vec.lr_sweep_key(recipe={**llm2vec.RECIPE, "simcse_steps": 49})["llm2vec"] != before["llm2vec"]
    edit_the_code()
    assert llm2vec.lr_sweep_key()["code"] != before["code"]


def test_an_instruction_tuned_variant_of_another_recipe_or_code_is_not_served(empty_cache, edit_the_code):
    folder = instruct.tuned_folder("e5_last")
    cache.save_tensors(folder / instruct.TUNED_FILE, {})
    assert instruct.is_trained("e5_last")
    assert not instruct.is_trained("e5_last", {"steps": instruct.RECIPE["steps"] + 1})
    assert not instruct.is_trained("gte_bidirectional")
    edit_the_code()
    assert not instruct.is_trained("e5_last")
    with pytest.raises(ValueError, match="Unknown variant"):
        instruct.tuned_folder("e5")


def test_frontier_heads_of_another_recipe_or_code_are_trained_again(empty_cache, monkeypatch, edit_the_code):
    trainings = []
    monkeypatch.setattr(latent_attention, "train_pooling_head", lambda *args, **kwargs: trainings.append(1) or [1.0])
    recipe = {**latent_attention.HEAD_RECIPE, "n_pairs": 8}
    latent_attention.pooling_head("mean", recipe, progress=False)
    latent_attention.pooling_head("mean", recipe, progress=False)
    assert len(trainings) == 1, "the stored head is read back"
    latent_attention.pooling_head("mean", {**recipe, "steps": recipe["steps"] + 1}, progress=False)
    assert len(trainings) == 2
    edit_the_code()
    latent_attention.pooling_head("mean", recipe, progress=False)
    assert len(trainings) == 3


def test_the_mlm_encoder_is_keyed_by_its_trainer_code(empty_cache, edit_the_code):
    before = mlm.artifact_key()
    edit_the_code()
    assert mlm.artifact_key()["code"] != before["code"]
