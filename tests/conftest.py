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
# SmolLM2's de-quantised copy too: each test session makes its own (≈ 20 s), so the repository's .cache is never
# read or written by a test. Its folder is fixed here, not derived from COURSE_CACHE, which tests change.
os.environ["COURSE_MODEL_CACHE"] = os.path.join(SESSION_CACHE, "models")
# Every equality test against a reference implementation compares float32 with float32; the fast inference path
# (bfloat16) has tests of its own that switch it on.
os.environ["COURSE_PRECISION"] = "fp32"


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


def _notebook_definitions(name: str):
    """The functions and classes a notebook defines in its code cells, with the imports they use, as a module
    (LLMs-from-scratch's tests do the same): a test proves the notebook's own code equals ``helpers``'."""
    import ast
    import json
    import types

    cells = json.loads((REPOSITORY / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    module = types.ModuleType(f"notebook_{name}")
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        kept = [node for node in tree.body
                if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)]
        exec(compile(ast.Module(body=kept, type_ignores=[]), f"<{name}>", "exec"), module.__dict__)
    return module


@pytest.fixture
def notebook_definitions():
    return _notebook_definitions
