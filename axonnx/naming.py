"""Layer names and namespaces, derived from a graph in topological order."""

from __future__ import annotations

import re
from collections import defaultdict

from axonnx.errors import InvalidModelError
from axonnx.node import Node

__all__ = ["layer_names", "namespace_paths", "op_label"]


def op_label(op: str) -> str:
    """The short label of an op: `"onnx::Conv@11"` → `"Conv"`, `"dense"` → `"dense"`."""
    return re.sub(r"@\d+$", "", op.rsplit("::", 1)[-1])


def layer_names(order: list[Node]) -> dict[int, str]:
    """Map node id → name: the user's name, or `<op>_<k>` numbered per op in order."""
    taken = {n.name for n in order if n.name is not None}
    counters: dict[str, int] = defaultdict(int)
    names = {}
    for node in order:
        if node.name is not None:
            names[node.id] = node.name
            continue
        base = re.sub(r"[^0-9a-zA-Z_]", "_", op_label(node.op)).lower()
        while (candidate := f"{base}_{counters[base]}") in taken:
            counters[base] += 1
        counters[base] += 1
        taken.add(candidate)
        names[node.id] = candidate
    return names


def namespace_paths(order: list[Node]) -> dict[int, tuple[str, ...]]:
    """Map node id → namespace path (outermost first) of the layer's parameters.

    A node inside `ax.namespace(inner, "bert")` has path `("bert",)`. The walk goes
    from the outputs towards the inputs, children before parents.
    """
    paths: dict[int, tuple[str, ...]] = {}
    for node in reversed(order):
        path = paths.setdefault(node.id, ())
        inner = path + (node.options["name"],) if node.op == "namespace" else path
        for parent in node.parents:
            previous = paths.get(parent.id)
            if previous is None or len(inner) > len(previous):
                paths[parent.id] = inner
    return paths


def check_unique(order: list[Node], names: dict[int, str], paths: dict[int, tuple]) -> None:
    """Raise when two parameter-owning layers share a name inside one namespace."""
    owners: dict[tuple, Node] = {}
    for node in order:
        if not node.params and node.op != "param":
            continue
        key = paths[node.id] + (names[node.id],)
        if key in owners:
            raise InvalidModelError(
                f"two layers are named {'/'.join(key)!r} ({owners[key].op} and {node.op}). "
                "Give them distinct names."
            )
        owners[key] = node
