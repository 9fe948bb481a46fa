"""The layering of the packages, read from every module's imports (lazy ones included).

Contracts (docs/architecture.md draws them):

- no import cycle among the modules;
- ``axonnx.cli`` -> ``axonnx.converters`` -> core (``axonnx.*``), never upward;
- the public facades (the root ``axonnx`` and ``axonnx.testing``) may import any layer;
- the functional API (activations, initializers, layers, losses, metrics) imports no
  graph, compiler, engine or training module: only itself, ``axonnx.errors`` and the
  numeric helpers listed in ``FUNCTIONAL_MAY_IMPORT``.

Imports under ``if TYPE_CHECKING:`` never run and are not counted. A failure names the
offending import as ``file:line``.
"""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {
    "axonnx": ROOT / "axonnx",
    "axonnx.converters": ROOT / "converters",
    "axonnx.cli": ROOT / "cli",
}

FUNCTIONAL = (
    "axonnx.activations",
    "axonnx.initializers",
    "axonnx.layers",
    "axonnx.losses",
    "axonnx.metrics",
)
FUNCTIONAL_MAY_IMPORT = ("axonnx.errors", "axonnx.lookup")
FACADES = ("axonnx", "axonnx.testing")
"""The root package and `axonnx.testing` re-export the whole public API (converters
included): they stand above every layer, so their own imports may point anywhere."""


@dataclass(frozen=True)
class Import:
    """One import statement's target, as a module of the project, and where it is."""

    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def _module_files() -> dict[str, pathlib.Path]:
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if name.split(".")[1:2] in (["converters"], ["cli"]) and package == "axonnx":
                continue  # not there: converters/ and cli/ are their own folders
            modules[name] = path
    return modules


MODULES = _module_files()


def _resolve(name: str) -> str | None:
    """The project module an import of `name` runs last (a module, else its package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    name = getattr(test, "id", None) or getattr(test, "attr", None)
    return isinstance(node, ast.If) and name == "TYPE_CHECKING"


def _statements(tree: ast.AST):
    """Every node of `tree` but the bodies of `if TYPE_CHECKING:` (never run)."""
    for child in ast.iter_child_nodes(tree):
        yield child
        if _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _statements(other)
        else:
            yield from _statements(child)


def _imports_of(module: str, path: pathlib.Path) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append(Import(module, target, where))
    return list(dict.fromkeys(found))


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports_of(module, path)]


def _tier(module: str) -> int:
    if module == "axonnx.cli" or module.startswith("axonnx.cli."):
        return 2
    if module == "axonnx.converters" or module.startswith("axonnx.converters."):
        return 1
    return 0


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _find_cycle(edges: dict[str, dict[str, Import]]) -> list[Import] | None:
    """One cycle of imports in the graph, as its edges, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []
    taken: list[Import] = []

    def visit(module: str) -> list[Import] | None:
        path.append(module)
        for target, imp in sorted(edges.get(module, {}).items()):
            if target in path:
                return [*taken[path.index(target) :], imp]
            if target not in done:
                taken.append(imp)
                cycle = visit(target)
                if cycle is not None:
                    return cycle
                taken.pop()
        done.add(path.pop())
        return None

    for module in sorted(edges):
        cycle = None if module in done else visit(module)
        if cycle is not None:
            return cycle
    return None


def test_the_module_map_sees_the_packages():
    assert {"axonnx.node", "axonnx.converters.onnx_export", "axonnx.cli.main"} <= set(MODULES)
    assert any(imp.target == "axonnx.node" for imp in IMPORTS)


def test_no_import_cycle():
    edges: dict[str, dict[str, Import]] = {}
    for imp in IMPORTS:
        edges.setdefault(imp.source, {}).setdefault(imp.target, imp)
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle (lazy imports count):\n  " + "\n  ".join(map(str, cycle))


def test_cli_then_converters_then_core_never_upward():
    upward = [
        imp
        for imp in IMPORTS
        if imp.source not in FACADES and _tier(imp.target) > _tier(imp.source)
    ]
    assert not upward, (
        "an import goes up the layers cli -> converters -> core; move the shared code down "
        "(into axonnx.*) instead:\n  " + "\n  ".join(map(str, upward))
    )


def test_the_functional_api_imports_only_itself():
    allowed = FUNCTIONAL + FUNCTIONAL_MAY_IMPORT
    bad = [
        imp
        for imp in IMPORTS
        if _within(imp.source, FUNCTIONAL) and not _within(imp.target, allowed)
    ]
    assert not bad, (
        "the functional API (pure functions on arrays) imports a graph, compiler, engine or "
        "loop module:\n  " + "\n  ".join(map(str, bad))
    )


HOMES = {"Plan": "axonnx.plan", "plan": "axonnx.plan", "Subgraph": "axonnx.subgraph"}
"""Shared graph concepts, imported from their home module only (not a re-export)."""


def test_shared_concepts_come_from_their_home_module():
    bad = []
    for module, path in MODULES.items():
        for node in _statements(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:
                home = HOMES.get(alias.name)
                if home is not None and base.startswith("axonnx") and base != home:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {base}")
    assert not bad, "import these from their home module instead:\n  " + "\n  ".join(bad)


PRIVATE_IMPORTS_EXEMPT: dict[str, str] = {}
"""`file: name` of the private names still imported across modules, each with why; the
list may only shrink (an entry that no longer occurs fails the test)."""


def _private_imports() -> dict[str, str]:
    """`file: name` -> `file:line: name from module` for every `_private` name imported
    from another module, except from package-private helper modules (named `_*.py`)."""
    found = {}
    for module, path in MODULES.items():
        for node in _statements(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _absolute(node, module, path.name == "__init__.py")
            if base not in MODULES or base.rpartition(".")[2].startswith("_"):
                continue
            file = path.relative_to(ROOT).as_posix()
            for alias in node.names:
                name = alias.name
                private = name.startswith("_") and not name.startswith("__")
                if private and f"{base}.{name}" not in MODULES:
                    found[f"{file}: {name}"] = f"{file}:{node.lineno}: {name} from {base}"
    return found


def test_no_private_name_crosses_modules():
    found = _private_imports()
    bad = [where for key, where in found.items() if key not in PRIVATE_IMPORTS_EXEMPT]
    assert not bad, (
        "a module imports another's private name: make it public there, or move it to a "
        "package-private helper module (_name.py):\n  " + "\n  ".join(bad)
    )
    stale = sorted(set(PRIVATE_IMPORTS_EXEMPT) - set(found))
    assert not stale, f"no longer imported: take {stale} off PRIVATE_IMPORTS_EXEMPT"


NODE_POSITIONAL = 4
"""`Node(op, parents, params, options, *, name=, policy=, shape=, dtype=, meta=)`: the
fields after `options` are keyword-only (`dataclasses.KW_ONLY`); this check names the
line of a call that would fail when it runs."""


def test_nodes_are_built_with_keywords_after_the_options():
    bad = []
    for path in MODULES.values():
        file = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            func = getattr(node, "func", None)
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if isinstance(node, ast.Call) and name == "Node" and len(node.args) > NODE_POSITIONAL:
                bad.append(f"{file}:{node.lineno}: Node(...) with {len(node.args)} positional")
    assert not bad, "pass name=, policy=, shape=, dtype=, meta= by keyword:\n  " + "\n  ".join(bad)


def test_node_fields_after_the_options_are_keyword_only():
    from axonnx.node import Node

    with pytest.raises(TypeError):
        Node("input", (), (), {}, "x")  # name by position
    assert Node("input", (), (), {}, name="x").name == "x"
