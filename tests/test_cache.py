"""helpers.cache: atomic writes under concurrency, corrupt files rebuilt, keys that follow the code."""

import multiprocessing
import time

import numpy as np
import pytest
import torch

from helpers import cache
from helpers.embed import Embedder

EXPECTED = np.arange(2_000_000, dtype=np.float32).reshape(2000, 1000)


def _slow_array() -> np.ndarray:
    time.sleep(0.5)  # long enough that both processes are building at once
    return EXPECTED.copy()


def _fill_file(path, barrier, answers):
    barrier.wait()
    value = cache.cached(path, _slow_array, cache.save_array, cache.load_array)
    answers.put(bool(np.array_equal(value, EXPECTED)))


def _fill_folder(path, barrier, answers):
    barrier.wait()
    cache.save_folder(path, lambda folder: (_slow_array(), cache.save_array(folder / "part.npy", EXPECTED)))
    answers.put(bool(np.array_equal(cache.load_array(path / "part.npy"), EXPECTED)))


@pytest.mark.parametrize(("fill", "name"), [(_fill_file, "entry.npy"), (_fill_folder, "entry")])
def test_two_processes_filling_the_same_entry_both_get_it_whole(tmp_path, fill, name):
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(2), context.Queue()
    workers = [context.Process(target=fill, args=(tmp_path / name, barrier, answers)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert [answers.get(timeout=5) for _ in workers] == [True, True]
    assert [path.name for path in tmp_path.iterdir()] == [name], "no temporary file or folder is left behind"


FORMATS = {
    "array": (cache.save_array, cache.load_array, lambda: np.ones((50, 8), dtype=np.float32)),
    "tensors": (lambda path, value: cache.save_tensors(path, *value), cache.load_tensors,
                lambda: ({"weight": torch.ones(50, 8)}, {"recipe": {"steps": 3}})),
    "json": (cache.save_json, cache.load_json, lambda: {"losses": [0.5] * 100}),
}


@pytest.mark.parametrize("kind", FORMATS)
def test_a_truncated_file_is_rebuilt_with_a_warning(tmp_path, kind):
    save, load, build = FORMATS[kind]
    path = tmp_path / f"entry.{kind}"
    save(path, build())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    calls = []

    def rebuild():
        calls.append(1)
        return build()

    with pytest.warns(UserWarning, match="entry"):
        value = cache.cached(path, rebuild, save, load)
    assert calls == [1]
    assert repr(value) == repr(build()) == repr(load(path)), "rebuilt, and stored whole again"


def test_a_folder_that_does_not_load_is_removed_with_a_warning(tmp_path):
    cache.save_folder(tmp_path / "model", lambda folder: (folder / "weights.npy").write_bytes(b"not an array"))
    with pytest.warns(UserWarning, match="model"):
        assert cache.read(tmp_path / "model", lambda folder: cache.load_array(folder / "weights.npy")) is None
    assert not (tmp_path / "model").exists()


def test_save_tensors_keeps_tied_tensors_and_metadata(tmp_path):
    shared = torch.randn(4, 3)
    cache.save_tensors(tmp_path / "tied.safetensors", {"embed": shared, "output": shared}, {"recipe": {"lr": 1e-3}})
    tensors, metadata = cache.load_tensors(tmp_path / "tied.safetensors")
    assert torch.equal(tensors["embed"], shared) and torch.equal(tensors["output"], shared)
    assert metadata == {"recipe": {"lr": 1e-3}}


def _double(x):
    return 2 * x


def _triple(x):
    return 3 * x


def test_source_hash_follows_the_code():
    assert cache.source_hash(_double) == cache.source_hash(_double)
    assert cache.source_hash(_double) != cache.source_hash(_triple)
    assert cache.source_hash(_double, _triple) != cache.source_hash(_double)


def test_source_hash_of_code_without_a_file():
    # A class typed into a notebook cell (here: exec) has no source file; its methods' code still counts.
    classes = []
    for body in ("return 1", "return 2"):
        namespace = {}
        exec(f"class Toy:\n    def value(self):\n        {body}\n", namespace)
        classes.append(namespace["Toy"])
    assert cache.source_hash(classes[0]) != cache.source_hash(classes[1])


def _toy_embedder() -> type:
    class Toy(Embedder):
        name, dim = "toy", 2

        def embed_batch(self, texts):
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

        def settings(self):
            return {}
    return Toy


def _edited_toy_embedder() -> type:
    # The same class name and settings; one method edited.
    class Toy(Embedder):
        name, dim = "toy", 2

        def embed_batch(self, texts):
            return np.array([[len(t), 2.0] for t in texts], dtype=np.float32)

        def settings(self):
            return {}
    return Toy


def test_an_embedder_whose_source_changed_gets_another_fingerprint():
    toy, edited = _toy_embedder(), _edited_toy_embedder()
    assert toy().fingerprint() == toy().fingerprint()
    assert toy().fingerprint() != edited().fingerprint()


def test_a_truncated_embedding_cache_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    embedder = _toy_embedder()()
    first = embedder.encode(["one", "three"])
    (stored,) = (tmp_path / "embeddings").iterdir()
    stored.write_bytes(stored.read_bytes()[:100])
    with pytest.warns(UserWarning, match=stored.name):
        again = embedder.encode(["one", "three"])
    assert np.array_equal(first, again)
    assert np.array_equal(cache.load_array(stored), first)
