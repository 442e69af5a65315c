"""The tree's shape, as issue 18 set it: views ask the domain for what they show and never read
or commit themselves, no module grows past 400 lines nor a function past 60, and no two modules
import each other. Plain text and ast: no app, no database."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kiosk"
VIEWS = PACKAGE / "views"
MIGRATIONS = PACKAGE / "migrations"

# What a view may not do: read the database itself, or write and commit (a domain function does).
VIEW_READS_OR_COMMITS = re.compile(
    r"db\.session\.(execute|scalars?|get|query|commit|add|delete|flush)\b|\bselect\(|\b[A-Z]\w*\.query\b|\.commit\(|\bwrite_transaction\(|\bbegin_write\(")


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_view_reads_the_database_or_commits():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in _modules(VIEWS)
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if VIEW_READS_OR_COMMITS.search(line.split("#", 1)[0])]
    assert found == []


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules(PACKAGE)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


@pytest.mark.parametrize("folder", ["kiosk", "tests", "tools"])
def test_no_function_over_60_lines(folder):
    long = []
    for path in _modules(ROOT / folder):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known and module != name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module. A package importing its own
    submodules (a blueprint package registering its routes) and back is no circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def related(a: str, b: str) -> bool:
        return b.startswith(a + ".") or a.startswith(b + ".")

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if related(module, other):
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circle():
    paths = {_module_name(p): p for p in _modules(PACKAGE) if MIGRATIONS not in p.parents}
    graph = {name: _imports(path, name, set(paths)) for name, path in paths.items()}
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"p": {"p.x"}, "p.x": {"p"}}) == []
