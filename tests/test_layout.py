"""The rooms of archive/ import one another without a cycle; config, cli and demo stay where they belong.

Each sub-package of archive/ is a room, and each top-level module (config.py,
archive.py, errors.py, ...) a room of its own. Every import counts, wherever it
is written: at the top, inside a function, or under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "archive"

# (importing room, imported room) -> one "module imports name" that makes the edge, for messages.
Edges = dict[tuple[str, str], str]


def module_name(path: Path) -> str:
    """`archive.crawl.writer` for archive/crawl/writer.py, `archive.crawl` for its __init__.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[str]:
    """Every dotted name `path` imports (`from a import b` gives a.b, so submodules count)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def room_of(name: str) -> str | None:
    """The room a dotted name under archive/ belongs to (None outside archive/, '' for the package itself)."""
    parts = name.split(".")
    if parts[0] != "archive":
        return None
    if len(parts) == 1:
        return ""
    inside = PACKAGE / parts[1]
    return parts[1] if inside.is_dir() or inside.with_suffix(".py").is_file() else ""


def room_imports() -> Edges:
    """The import graph of archive/'s rooms, each edge with one import that makes it."""
    edges: Edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = room_of(module_name(path))
        for name in imported(path):
            target = room_of(name)
            if target and source and target != source:
                edges.setdefault((source, target), f"{module_name(path)} imports {name}")
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of `graph` as [a, b, ..., a], or [] if it has none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_cycle_finder_names_a_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_rooms_import_one_another_without_a_cycle():
    edges = room_imports()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    cycle = find_cycle(graph)
    steps = [f"{a} -> {b} ({edges[a, b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
    assert not cycle, "rooms import each other in a cycle: " + "; ".join(steps)


def test_config_is_a_leaf():
    config = PACKAGE / "config.py"
    rooms = {room_of(name) for name in imported(config)} - {None}
    allowed = {"errors", ""}
    assert rooms <= allowed, f"archive/config.py imports other rooms: {sorted(rooms - allowed)}"
    from_package = [n for n in imported(config) if room_of(n) == ""]
    assert from_package == ["archive.__version__"]


def test_nothing_imports_cli_demo_spiders_or_tests():
    # Room -> the rooms that may import it.
    allowed = {"archive.cli": {"cli"}, "archive.demo": {"cli", "demo"}, "spiders": set(), "tests": set()}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = room_of(module_name(path))
        for name in imported(path):
            for top, importers in allowed.items():
                if (name == top or name.startswith(top + ".")) and room not in importers:
                    wrong.append(f"{module_name(path)} imports {name}")
    assert not wrong, "; ".join(wrong)
