"""Output shape inference for new nodes, with `None` (run-time) dimensions."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from axonnx.errors import ShapeError
from axonnx.op_table import get_op

__all__ = ["infer", "is_shape"]

# Two unlikely sizes stand in for every `None` dimension; an output dimension that
# changes between the two evaluations depends on a run-time dimension.
_PROBES = (5, 7)


def infer(op: str, parents: tuple, params: tuple, options: dict, where: str) -> tuple[Any, Any]:
    """Shape and dtype of `op`'s output, nested like the output; raises `ShapeError`."""
    runs = [_evaluate(op, parents, params, options, size, where) for size in _probes(parents)]
    shapes = jax.tree_util.tree_map(lambda *s: _merge(s), *[r[0] for r in runs], is_leaf=is_shape)
    return shapes, runs[0][1]


def _probes(parents: tuple) -> tuple[int, ...]:
    dynamic = any(_has_none(p.shape) for p in parents)
    return _PROBES if dynamic else _PROBES[:1]


def _has_none(shape: Any) -> bool:
    if is_shape(shape):
        return None in shape
    leaves = jax.tree_util.tree_leaves(shape, is_leaf=is_shape)
    return any(is_shape(leaf) and None in leaf for leaf in leaves)


def is_shape(value: Any) -> bool:
    """Whether `value` is one shape (a tuple of ints and `None`), not a nest of shapes."""
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _merge(shapes: tuple) -> tuple:
    return tuple(d if all(s[i] == d for s in shapes) else None for i, d in enumerate(shapes[0]))


def _struct(node, size: int) -> Any:
    if node.op == "constant":
        return node.options["value"]
    if node.shape is None:
        raise ShapeError(
            f"{node.name or node.op}: output shape unknown; cannot infer shapes after it"
        )

    def one(shape, dtype):
        return jax.ShapeDtypeStruct(tuple(size if d is None else d for d in shape), dtype)

    return jax.tree_util.tree_map(one, node.shape, node.dtype, is_leaf=is_shape)


def _evaluate(op, parents, params, options, size, where):
    fn = get_op(op).fn
    args = [_struct(p, size) for p in parents]
    param_structs = [jax.ShapeDtypeStruct(p.shape, p.dtype) for p in params]
    try:
        out = jax.eval_shape(lambda *a: fn(*a, **options), *args, *param_structs)
    except (TypeError, ValueError, IndexError) as error:
        raise ShapeError(f"{where}: {error}") from error
    shapes = jax.tree_util.tree_map(lambda s: tuple(s.shape), out)
    dtypes = jax.tree_util.tree_map(lambda s: np.dtype(s.dtype).name, out)
    return shapes, dtypes
