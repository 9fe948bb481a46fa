"""What a compilation depends on besides its traced arrays: the graph inputs whose
values are baked in (shape-like or string inputs), and the nodes that cannot be
traced at all (output shape set by data)."""

from __future__ import annotations

from typing import Any

import numpy as np

from axonnx.node import Node
from axonnx.op_table import get_op
from axonnx.plan import Plan
from axonnx.subgraph import subgraphs

__all__ = ["data_dependent_nodes", "freeze", "is_static_value", "static_key", "static_inputs"]

STRUCTURAL = ("input", "param")


def static_inputs(laid_out: Plan) -> set[str]:
    """Graph inputs whose values reach a shape-like slot (directly or through other ops;
    ops that read only shapes, such as Shape, end the walk)."""
    names, seen = set(), set()
    stack = [p for node in laid_out.order for p in _static_parents(node)]
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        if node.op == "input":
            names.add(laid_out.names[node.id])
        elif node.op not in STRUCTURAL and get_op(node.op).reads_values:
            stack.extend(node.parents)
    return names


def _static_parents(node: Node) -> list[Node]:
    """Parents feeding a static slot: of the node's own op, or, for If/Loop/Scan, the
    captured outer values that reach a static slot inside a subgraph."""
    if node.op in STRUCTURAL:
        return []
    positions = get_op(node.op).static_inputs
    parents = [p for i, p in enumerate(node.parents) if i in positions]
    names = node.options.get("capture_names", ())
    captured = dict(zip(names, node.parents[len(node.parents) - len(names) :], strict=True))
    for sub in subgraphs(node):
        parents.extend(captured[n] for n in static_inputs(sub.plan) if n in captured)
    return parents


def data_dependent_nodes(laid_out: Plan) -> set[int]:
    """Ids of the nodes whose output shapes depend on values: a data-dependent op, or a
    node holding a subgraph that contains one."""
    return {node.id for node in laid_out.order if _data_dependent(node)}


def _data_dependent(node: Node) -> bool:
    if node.op in STRUCTURAL:
        return False
    if get_op(node.op).data_dependent:
        return True
    return any(_data_dependent(n) for sub in subgraphs(node) for n in sub.plan.order)


def is_static_value(value: Any) -> bool:
    """Whether a value must be baked into a compilation: strings (JAX has no string
    arrays); sequences and `None` are traced."""
    if value is None or isinstance(value, list | tuple):
        return False
    dtype = getattr(value, "dtype", None)  # no host copy of a device array
    return (dtype if dtype is not None else np.asarray(value).dtype).kind == "O"


def freeze(value: Any) -> Any:
    """A static value as NumPy (a sequence as a tuple of arrays)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return np.asarray(value)


def static_key(value: Any) -> tuple:
    """A hashable key of a frozen static value (its dtype, shape and bytes)."""
    if isinstance(value, tuple):
        return ("sequence", *(static_key(v) for v in value))
    data = tuple(value.ravel().tolist()) if value.dtype.kind == "O" else value.tobytes()
    return (value.dtype.str, value.shape, data)
