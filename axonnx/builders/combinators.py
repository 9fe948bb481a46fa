"""Combinators: nodes that merge, split and rearrange other nodes' outputs."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jax import lax

from axonnx.builders.core import getitem, make
from axonnx.errors import ShapeError
from axonnx.layers.padding import pad as _pad
from axonnx.node import Node
from axonnx.op_table import register_op

__all__ = [
    "add",
    "concatenate",
    "cond",
    "flatten",
    "multiply",
    "pad",
    "reshape",
    "split",
    "stack",
    "subtract",
    "transpose",
]


def _sum(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def _product(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    return total


def _difference(a, b):
    return a - b


def _check_same_shapes(op: str, nodes: Sequence[Node]) -> None:
    shapes = {n.shape for n in nodes}
    if len(shapes) > 1:
        raise ShapeError(f"{op}: expected inputs of one shape, got {[n.shape for n in nodes]}.")


def add(*nodes: Node, name: str | None = None) -> Node:
    """Element-wise sum of nodes of the same shape.

    >>> import axonnx as ax
    >>> x = ax.input("x", shape=(None, 3))
    >>> ax.add(x, x, x).shape
    (None, 3)
    """
    _check_same_shapes("add", nodes)
    return make("add", nodes, name=name)


def subtract(a: Node, b: Node, *, name: str | None = None) -> Node:
    """Element-wise `a - b` of two nodes of the same shape."""
    _check_same_shapes("subtract", (a, b))
    return make("subtract", (a, b), name=name)


def multiply(*nodes: Node, name: str | None = None) -> Node:
    """Element-wise product of nodes of the same shape."""
    _check_same_shapes("multiply", nodes)
    return make("multiply", nodes, name=name)


def _concatenate(*xs, axis):
    return jnp.concatenate(xs, axis=axis)


def concatenate(nodes: Sequence[Node], *, axis: int = -1, name: str | None = None) -> Node:
    """Join nodes along `axis`.

    >>> import axonnx as ax
    >>> x = ax.input("x", shape=(None, 3))
    >>> ax.concatenate([x, x]).shape
    (None, 6)
    """
    return make("concatenate", nodes, options={"axis": axis}, name=name)


def _stack(*xs, axis):
    return jnp.stack(xs, axis=axis)


def stack(nodes: Sequence[Node], *, axis: int = 0, name: str | None = None) -> Node:
    """Stack nodes of one shape along a new `axis`."""
    _check_same_shapes("stack", nodes)
    return make("stack", nodes, options={"axis": axis}, name=name)


def _split(x, *, sections, axis):
    return tuple(jnp.split(x, sections, axis=axis))


def split(x: Node, sections: int, *, axis: int = -1, name: str | None = None) -> tuple[Node, ...]:
    """Split `x` into `sections` equal parts along `axis`; returns one node per part.

    >>> import axonnx as ax
    >>> a, b = ax.split(ax.input("x", shape=(None, 4)), 2)
    >>> a.shape
    (None, 2)
    """
    size = x.shape[axis]
    if size is None or size % sections:
        raise ShapeError(
            f"split: expected axis {axis} divisible by {sections}, got shape {x.shape}."
        )
    node = make("split", (x,), options={"sections": sections, "axis": axis}, name=name)
    return tuple(getitem(node, i) for i in range(sections))


def pad(
    x: Node,
    padding: Sequence[tuple[int, int]],
    *,
    value: float = 0.0,
    mode: str = "constant",
    name: str | None = None,
) -> Node:
    """Pad every axis but the batch axis with `(low, high)` pairs.

    >>> import axonnx as ax
    >>> ax.pad(ax.input("x", shape=(None, 3)), [(1, 1)]).shape
    (None, 5)
    """
    full = [(0, 0), *[tuple(p) for p in padding]]
    options = {"padding": full, "value": value, "pad_mode": mode}
    return make("pad", (x,), options=options, name=name)


def _pad_op(x, *, padding, value, pad_mode):
    # The compiler passes `mode` (train/inference) to ops that take it, so the padding
    # mode travels under another name.
    return _pad(x, padding, value=value, mode=pad_mode)


def _reshape(x, *, shape):
    return jnp.reshape(x, (x.shape[0], *shape))


def reshape(x: Node, shape: Sequence[int], *, name: str | None = None) -> Node:
    """Reshape every axis but the batch axis (the first) to `shape` (-1 allowed once).

    >>> import axonnx as ax
    >>> ax.reshape(ax.input("x", shape=(None, 784)), (28, 28)).shape
    (None, 28, 28)
    """
    return make("reshape", (x,), options={"shape": tuple(shape)}, name=name)


def flatten(x: Node, *, name: str | None = None) -> Node:
    """Flatten every axis but the batch axis.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 2, 3)).flatten().shape
    (None, 6)
    """
    return make("flatten", (x,), name=name)


def _flatten(x):
    return jnp.reshape(x, (x.shape[0], -1))


def _transpose(x, *, permutation):
    return jnp.transpose(x, permutation)


def transpose(x: Node, permutation: Sequence[int], *, name: str | None = None) -> Node:
    """Permute all axes of `x` (the batch axis included).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 2, 3)).transpose((0, 2, 1)).shape
    (None, 3, 2)
    """
    return make("transpose", (x,), options={"permutation": tuple(permutation)}, name=name)


def _cond(predicate, on_true, on_false):
    return lax.select(jnp.broadcast_to(predicate, on_true.shape), on_true, on_false)


def cond(predicate: Node, on_true: Node, on_false: Node, *, name: str | None = None) -> Node:
    """`on_true` where the boolean `predicate` node holds, else `on_false`.

    The predicate is a scalar (or broadcastable) boolean node, e.g. made with `ax.layer`.
    """
    _check_same_shapes("cond", (on_true, on_false))
    return make("cond", (predicate, on_true, on_false), name=name)


register_op("add", _sum)
register_op("subtract", _difference)
register_op("multiply", _product)
register_op("concatenate", _concatenate)
register_op("stack", _stack)
register_op("split", _split)
register_op("pad", _pad_op)
register_op("reshape", _reshape)
register_op("flatten", _flatten)
register_op("transpose", _transpose)
register_op("cond", _cond)
