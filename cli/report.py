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
    lines += _simplified(model.meta.get("onnx_simplified"))
    lines += _initializers(model.meta.get("onnx_initializers"))
    return "\n".join(lines)


def _simplified(counts: dict | None) -> list[str]:
    """`ONNX nodes: 285 → 184 (...)`: what the import's simplification removed."""
    if not counts:
        return []
    return [
        f"ONNX nodes: {counts['nodes_before']} → {counts['nodes_after']} (folded "
        f"{counts['folded']}, identities {counts['identities']}, duplicate constants "
        f"{counts['deduplicated']}, repeated nodes {counts.get('repeated', 0)}, dead "
        f"{counts['dead']})"
    ]


def _initializers(counts: dict | None) -> list[str]:
    """The file's initializers: trainable weights and constants, adding up to all."""
    if not counts:
        return []
    total = counts["trainable"] + counts["constants"]
    return [
        f"Initializers in the file: {total:,} values = {counts['trainable']:,} trainable "
        f"({counts['trainable_bytes']:,} bytes) + {counts['constants']:,} constants "
        f"({counts['constants_bytes']:,} bytes)"
    ]


def _leaves(tree) -> list:
    import jax

    return jax.tree_util.tree_leaves(tree)
