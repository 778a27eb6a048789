"""The modules of ``helpers`` import one way only: no module imports one that (directly or not) imports it back,
not even inside a function, so that each can be read, taught and tested above the ones it uses."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "helpers"


def module_name(path: Path) -> str:
    """``helpers/exercises/tour.py`` -> ``helpers.exercises.tour``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``path`` imports, at the top or inside a function (``import helpers.X``,
    ``from helpers import X``, ``from helpers.X import name``, relative forms too)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..data import y
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from helpers import data`` imports the module helpers.data; ``from helpers.data import SPLITS``
            # imports helpers.data itself.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # import helpers.exercises.tour.something -> its module
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) - {module_name(path)} for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], list[str]]]:
    """``(cycle, group)`` per group of modules that import each other (a strongly connected component, Tarjan's
    algorithm): a shortest cycle through the group's first module (``[a, b, ..., a]``) and all the group's modules."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append((_cycle_within(graph, group), sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, through the group only."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} holds no cycle")


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "helpers.data" in graph and "helpers.exercises.tour" in graph and "helpers" in graph
    assert "helpers.cache" in graph["helpers.data"] or "helpers.config" in graph["helpers.data"]
    # helpers.leaderboard imports grit and latent_attention only inside functions
    assert {"helpers.grit", "helpers.latent_attention"} <= graph["helpers.leaderboard"]


def test_cycles_are_found_and_printed():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(graph) == [(["a", "b", "c", "a"], ["a", "b", "c"])]
    assert cycles({"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}) == [(["a", "b", "a"], ["a", "b", "c"])]
    assert cycles({"a": {"b"}, "b": set()}) == []


def short(names: list[str]) -> list[str]:
    return [name.removeprefix("helpers.") for name in names]


def test_helpers_imports_go_one_way():
    found = cycles(import_graph())
    assert not found, "import cycles in helpers/ (a lower module must not import a higher one):\n" + "\n".join(
        f"{' -> '.join(short(cycle))}   (modules that import each other: {', '.join(short(group))})"
        for cycle, group in found)
