"""No import cycles among shoal's modules, lazy imports (inside functions) included.

Every ``import`` and ``from … import`` anywhere in a module counts, as in the
project's hook: a cycle hidden behind a lazy import is still a cycle. A package's
``__init__`` importing its own submodules is not (``shoal.x`` -> ``shoal.x.y`` is the
package's face), nor are the catalog's migrations (loaded by Alembic, not imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

import shoal

SRC = Path(shoal.__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, anywhere in its body."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            # ``from pkg import mod`` imports pkg.mod when that is a module.
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found.add(target)
                break
    # A package's own submodules are its face, not a dependency back.
    return {t for t in found if not name.startswith(t + ".")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the shoal modules it imports."""
    files = [p for p in SRC.joinpath("shoal").rglob("*.py") if "migrations" not in p.parts]
    known = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, known) for p in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_checker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_lazy_imports_are_seen() -> None:
    graph = import_graph()
    # runner.py imports its handlers at module level; the app builds services lazily.
    assert "shoal.queries.select" in graph["shoal.queries.runner"]
    assert "shoal.queries.service" in graph["shoal.app"]  # inside a method


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
