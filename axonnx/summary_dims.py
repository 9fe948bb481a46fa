"""Names for the run-time dimensions of a graph's values, for summaries.

Imported inputs remember the names of their symbolic dimensions (`batch`,
`sequence`: `meta["dim_names"]`); other values get them from their inputs by a few
rules that hold for the common ops (elementwise and same-rank ops keep positions,
Transpose permutes, Gather splices, reshapes keep the order of the named dimensions).
A dimension no rule names stays `None`.
"""

from __future__ import annotations

import math
from typing import Any

from axonnx.node import Node
from axonnx.shapes import is_shape

__all__ = ["named_shapes"]


def named_shapes(order: list[Node]) -> dict[int, Any]:
    """Map node id → its shape with names in place of known run-time dimensions."""
    named: dict[int, Any] = {}
    for node in order:
        named[node.id] = _named(node, named)
    return named


def _flat(shape: Any) -> bool:
    return isinstance(shape, tuple) and all(d is None or isinstance(d, int | str) for d in shape)


def _named(node: Node, named: dict[int, Any]) -> Any:
    shape = node.shape
    if shape is None or not is_shape(shape) or None not in shape:
        return shape
    given = node.meta.get("dim_names")
    if given is not None and len(given) == len(shape):
        return tuple(g if d is None and g else d for d, g in zip(shape, given))
    parents = node.parents
    if node.op == "getitem" and parents:
        parents = parents[0].parents
    sources = [named[p.id] for p in parents if _flat(named.get(p.id))]
    holes = [i for i, d in enumerate(shape) if d is None]
    for rule in (_transpose, _gather, _embedding, _positions, _in_order):
        names = rule(node, shape, holes, sources)
        if names is not None and all(isinstance(n, str | int) for n in names):
            result = list(shape)
            for i, name in zip(holes, names):
                result[i] = name
            return tuple(result)
    return shape


def _op(node: Node) -> str:
    """The ONNX op type of a generic imported node, else the op (`dense` for a fused
    MatMul + Add)."""
    return node.meta.get("op_type", node.op) if "::" in node.op else node.op


def _transpose(node, shape, holes, sources):
    if _op(node) not in ("Transpose", "transpose") or not sources:
        return None
    perm = node.options.get("perm") or node.options.get("permutation")
    source = sources[0]
    if perm is None:
        perm = tuple(reversed(range(len(source))))
    if len(perm) != len(shape) or len(source) != len(shape):
        return None
    return [source[perm[i]] for i in holes]


def _gather(node, shape, holes, sources):
    """ONNX Gather: `data[:axis] + indices.shape + data[axis + 1:]`."""
    if _op(node) != "Gather" or len(node.parents) != 2 or not sources:
        return None
    indices = node.parents[1].shape
    if not _flat(indices):
        return None
    data = sources[0]
    axis = node.options.get("axis", 0) % max(len(data), 1)
    spliced = (*data[:axis], *indices, *data[axis + 1 :])
    if len(spliced) != len(shape):
        return None
    return [spliced[i] for i in holes]


def _embedding(node, shape, holes, sources):
    """An embedding: the indices' shape and the feature size."""
    if node.op != "embedding" or not sources or len(sources[0]) + 1 != len(shape):
        return None
    return [sources[0][i] for i in holes]


def _positions(node, shape, holes, sources):
    """Elementwise and shape-keeping ops: a dimension keeps its input's name or size
    (a bound dimension that inference lost) at its position, except through ops that
    may resize it there."""
    if _op(node) in ("Concat", "concatenate"):
        axis = node.options.get("axis", -1) % len(shape)
        if axis in holes:
            return None
    same = [s for s in sources if len(s) == len(shape)]
    kept = _kept_sizes(_op(node), len(shape))
    names = []
    for i in holes:
        found = next((s[i] for s in same if isinstance(s[i], str)), None)
        if found is None:
            found = next((s[i] for s in same if isinstance(s[i], int) and s[i] != 1), None)
        names.append(found if i in kept else None)
    return names


# ops whose output may differ in size from an input's at the same position
_RESIZING = frozenset(
    "Slice Pad Resize Upsample Tile Expand Concat Reshape Flatten Split TopK Compress "
    "Range ConstantOfShape NonZero Unique DepthToSpace SpaceToDepth Transpose Gather "
    "GatherND GatherElements ScatterND ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd "
    "pad concatenate reshape resize transpose flatten".split()
)
_BATCHED = {"MatMul": 2, "Einsum": 2, "Gemm": 1, "dense": 1}  # trailing dims that change
_SPATIAL = frozenset("Conv ConvTranspose MaxPool AveragePool LpPool conv max_pool avg_pool".split())


def _kept_sizes(op: str, rank: int) -> range:
    """Positions at which `op`'s output has its inputs' size."""
    if op in _BATCHED:
        return range(rank - _BATCHED[op])
    if op in _SPATIAL:
        return range(1)
    return range(0) if op in _RESIZING else range(rank)


def _in_order(node, shape, holes, sources):
    """Reshapes, Unsqueeze, Squeeze: named dimensions keep their order, and the fixed
    dimensions hold as many elements before and after."""
    fixed = math.prod(d for d in shape if isinstance(d, int))
    for source in sources:
        names = [d for d in source if isinstance(d, str)]
        if len(names) == len(holes) and math.prod(d for d in source if isinstance(d, int)) == fixed:
            return names
    return None
