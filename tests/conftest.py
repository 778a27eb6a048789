import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import helpers  # noqa: F401  (before any test imports a Hugging Face library: offline mode)

REPOSITORY = Path(__file__).resolve().parent.parent
SOLUTIONS = REPOSITORY / "solutions"

# Every test session gets its own empty cache, set before any helper reads it: tests never read what a
# notebook or a student left in the repository's .cache, and never write there.
SESSION_CACHE = tempfile.mkdtemp(prefix="course-cache-")
os.environ["COURSE_CACHE"] = SESSION_CACHE
# One exception: SmolLM2's de-quantised copy (≈ 20 s to make) is shared with the repository's .cache. It is
# keyed by the GGUF file's sha256 and written atomically, so a session can only find the right, whole copy.
os.environ.setdefault("COURSE_MODEL_CACHE", str(REPOSITORY / ".cache" / "models"))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_CACHE, ignore_errors=True)


def _load_solution(name: str):
    """Import ``solutions/<name>.py`` (file names start with digits, so not importable by name)."""
    path = SOLUTIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_solution():
    return _load_solution
