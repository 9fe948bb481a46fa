"""The mapping report printed by `axonnx import`."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.plan import plan
from axonnx.state import ModelState

__all__ = ["mapping_report"]


def mapping_report(model: Node, state: ModelState) -> str:
    """What the import made of each ONNX op type, and the parameter totals."""
    mapped: Counter = Counter()
    for node in plan(model).order:
        op_type = node.meta.get("op_type")
        if op_type:
            mapped[(op_type, op_label(node.op))] += 1
    lines = ["ONNX nodes by op type:"]
    for (op_type, label), count in sorted(mapped.items()):
        target = "generic node" if label == op_type else f"layer {label}"
        lines.append(f"  {op_type:<28} {count:>6}  → {target}")
    leaves = [np.asarray(v) for v in _leaves(state.params)]
    count = sum(math.prod(v.shape) for v in leaves)
    memory = sum(v.nbytes for v in leaves)
    lines.append(f"Parameters: {count} ({memory} bytes)")
    return "\n".join(lines)


def _leaves(tree) -> list:
    import jax

    return jax.tree_util.tree_leaves(tree)
