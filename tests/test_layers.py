"""The house by layers (docs/architecture.md): imports flow down, and no module imports itself in a circle.

Every module of ``src/lrkit`` is read with ``ast`` (nothing is imported). An import counts when it runs as
the module is imported: at module level or in a class body, not inside a function (a deferred import, as one
serving an operator such as ``>>``, is allowed) and not under ``if TYPE_CHECKING:``. Layers, bottom up::

    core       lrkit.core
    reactive   lrkit.reactive
    face       lrkit (its __init__: the public names of core and reactive, ``lk.cosine``)
    adapters   lrkit.torch, lrkit.optax, lrkit.keras, lrkit.compat
    tools      lrkit.finder, lrkit.curves, lrkit.plot, lrkit.cli, lrkit.tasks, lrkit.torch.finder
    entry      lrkit.__main__ (``python -m lrkit``)

``lrkit.torch.finder`` is the finder's torch driver: it lives beside the adapter it drives, but it is a tool.
An adapter or a tool may ``import lrkit as lk`` (the face re-exports the two layers below it); core and
reactive may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "lrkit"

LAYERS = ("core", "reactive", "face", "adapters", "tools", "entry")
#: the first prefix that matches a module's dotted name gives its layer
PREFIXES = (
    ("lrkit.__main__", "entry"),
    ("lrkit.torch.finder", "tools"),
    ("lrkit.core", "core"),
    ("lrkit.reactive", "reactive"),
    ("lrkit.torch", "adapters"),
    ("lrkit.optax", "adapters"),
    ("lrkit.keras", "adapters"),
    ("lrkit.compat", "adapters"),
    ("lrkit.finder", "tools"),
    ("lrkit.curves", "tools"),
    ("lrkit.plot", "tools"),
    ("lrkit.cli", "tools"),
    ("lrkit.tasks", "tools"),
    ("lrkit", "face"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    for prefix, name in PREFIXES:
        if module == prefix or module.startswith(prefix + "."):
            return name
    raise AssertionError(f"{module}: no layer; add it to PREFIXES in tests/test_layers.py")


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _eager_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported (function bodies and TYPE_CHECKING left out)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.If):
            if not _type_checking(node.test):
                found += _eager_imports(node.body)
            found += _eager_imports(node.orelse)
        elif isinstance(node, ast.ClassDef):
            found += _eager_imports(node.body)
        elif isinstance(node, (ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                found += _eager_imports(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                found += _eager_imports(handler.body)
    return found


def _target(name: str) -> str | None:
    """The lrkit module an import of ``name`` loads (the longest dotted prefix that is a module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> list[tuple[str, int]]:
    """``(imported lrkit module, line)`` for every eager import of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges: list[tuple[str, int]] = []
    for node in _eager_imports(tree.body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from X import Y``: the module X.Y when there is one, else X itself (Y is a name in X)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for name in names:
            target = _target(name) if name.startswith("lrkit") else None
            if target is not None and target != module:
                edges.append((target, node.lineno))
    return sorted(set(edges))


GRAPH = {module: imports_of(module) for module in MODULES}


def upward_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [
        f"{MODULES[m].relative_to(SOURCE)}:{line}: {m} ({layer(m)}) imports {t} ({layer(t)})"
        for m, edges in graph.items()
        for t, line in edges
        if rank[layer(t)] > rank[layer(m)]
    ]


def circles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The import circles: strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    assert len(MODULES) > 40
    assert {layer(m) for m in MODULES} == set(LAYERS)


def test_imports_flow_down_the_layers():
    assert upward_imports(GRAPH) == []


def test_no_import_circle():
    assert circles(GRAPH) == []


def test_the_checks_can_fail():
    """The checker itself: an upward import and a circle, written into a copy of the graph, are found."""
    graph = {m: list(edges) for m, edges in GRAPH.items()}
    graph["lrkit.core.schedule"].append(("lrkit.plot", 1))
    graph["lrkit.plot"].append(("lrkit.core.schedule", 1))
    assert any("lrkit.core.schedule (core) imports lrkit.plot (tools)" in line for line in upward_imports(graph))
    assert any({"lrkit.core.schedule", "lrkit.plot"} <= set(c) for c in circles(graph))


@pytest.mark.parametrize(
    "code, expected",
    [
        ("from lrkit.core import schedule", ["lrkit.core.schedule"]),
        ("from lrkit.core.schedule import Schedule", ["lrkit.core.schedule"]),
        ("from . import _io, errors", ["lrkit.core._io", "lrkit.core.errors"]),
        ("from lrkit import cosine", ["lrkit"]),
        ("def f():\n    import lrkit.plot", []),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import lrkit.plot", []),
        ("try:\n    import lrkit.plot\nexcept ImportError:\n    pass", ["lrkit.plot"]),
    ],
)
def test_what_counts_as_an_eager_import(tmp_path, monkeypatch, code, expected):
    fake = PACKAGE / "core" / "_layers_probe.py"  # a name no real module has: read from tmp_path instead
    monkeypatch.setitem(MODULES, "lrkit.core._layers_probe", tmp_path / "_layers_probe.py")
    (tmp_path / "_layers_probe.py").write_text(code)
    assert not fake.exists()
    assert [t for t, _ in imports_of("lrkit.core._layers_probe")] == expected
