"""Builders of the graph's structure: inputs, parameters, constants, custom layers,
containers, namespaces and output selection."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.errors import LayerError, ShapeError
from axonnx.node import Node, ParamSpec, Shape
from axonnx.op_table import register_op
from axonnx.policy import Policy
from axonnx.shapes import infer, is_shape

__all__ = [
    "constant",
    "container",
    "getitem",
    "input",
    "layer",
    "make",
    "namespace",
    "param",
]


def make(
    op: str,
    parents: Sequence[Node] = (),
    params: Sequence[ParamSpec] = (),
    options: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    policy: Policy | None = None,
    meta: dict[str, Any] | None = None,
) -> Node:
    """Create a node for a registered op, inferring its output shape and dtype.

    Raises `ShapeError` naming the layer when the inputs do not fit the op.
    """
    parents = tuple(_as_node(p) for p in parents)
    options = dict(options or {})
    shape, dtype = infer(op, parents, tuple(params), options, name or op)
    return Node(
        op,
        parents,
        tuple(params),
        options,
        name=name,
        policy=policy,
        shape=shape,
        dtype=dtype,
        meta=meta or {},
    )


def _as_node(value: Any) -> Node:
    if isinstance(value, Node):
        return value
    if isinstance(value, np.ndarray | int | float | jax.Array):
        return constant(value)
    raise TypeError(f"expected an axonnx Node as a layer input, got {type(value).__name__}")


def input(name: str, shape: Shape | None = None, *, dtype: str = "float32") -> Node:  # noqa: A001
    """A named model input; `None` in `shape` marks a run-time dimension.

    >>> import axonnx as ax
    >>> ax.input("pixels", shape=(None, 784)).shape
    (None, 784)
    """
    shape = None if shape is None else tuple(shape)
    dtype = jnp.dtype(dtype).name
    return Node(
        "input", (), (), {"shape": shape, "dtype": dtype}, name=name, shape=shape, dtype=dtype
    )


def param(
    name: str,
    shape: Sequence[int],
    *,
    initializer: str | Callable = "glorot_uniform",
    dtype: str = "float32",
    trainable: bool = True,
) -> Node:
    """A named parameter, used as an input of `layer` (or of any other node).

    Its value sits at `state.params[name]` (or `state.state[name]` when not trainable).
    A parameter node consumed by several layers is one shared (tied) parameter.

    >>> import axonnx as ax
    >>> ax.param("scale", (3,), initializer="ones").shape
    (3,)
    """
    kind = "param" if trainable else "state"
    spec = ParamSpec("value", tuple(shape), initializer, dtype, kind)
    return Node("param", (), (spec,), {}, name=name, shape=tuple(shape), dtype=dtype)


def constant(value: Any, *, name: str | None = None) -> Node:
    """A constant tensor (a NumPy array baked into the graph).

    >>> import axonnx as ax
    >>> ax.constant([1.0, 2.0]).shape
    (2,)
    """
    array = np.asarray(value)
    return Node(
        "constant", (), (), {"value": array}, name=name, shape=array.shape, dtype=array.dtype.name
    )


def _constant(*, value):
    return value


def layer(
    fn: Callable,
    inputs: Sequence[Node],
    *,
    name: str | None = None,
    op_name: str | None = None,
    **options: Any,
) -> Node:
    """Wrap any function of JAX arrays as a layer: `fn(*inputs, **options)`.

    Parameters are `ax.param` nodes among `inputs`. The function is stored by
    reference (`module:qualname`) when the model is saved, so give a module-level
    function if the model is to be saved.

    >>> import axonnx as ax, jax.numpy as jnp
    >>> x = ax.input("x", shape=(None, 3))
    >>> ax.layer(lambda a, w: a * w, [x, ax.param("w", (3,))]).shape
    (None, 3)
    """
    op = op_name or _layer_op(fn)
    register_op(op, fn, folds=False)
    return make(op, inputs, (), options, name=name)


_anonymous = itertools.count()


def _layer_op(fn: Callable) -> str:
    """`layer:module:qualname`; lambdas and local functions (which share qualnames such
    as `<lambda>`) get a unique `@k` suffix and cannot be saved by reference."""
    op = f"layer:{fn.__module__}:{fn.__qualname__}"
    return f"{op}@{next(_anonymous)}" if "<" in fn.__qualname__ else op


def container(structure: Any, *, name: str | None = None) -> Node:
    """Gather several nodes into one output with the same nesting (dicts, tuples, lists).

    >>> import axonnx as ax
    >>> x = ax.input("x", shape=(None, 3))
    >>> ax.container({"a": x, "b": (x, x)}).shape
    {'a': (None, 3), 'b': ((None, 3), (None, 3))}
    """
    leaves, treedef = jax.tree_util.tree_flatten(structure, is_leaf=lambda v: isinstance(v, Node))
    positions = jax.tree_util.tree_unflatten(treedef, list(range(len(leaves))))
    return make("container", leaves, (), {"structure": positions}, name=name)


def _container(*leaves, structure):
    return jax.tree_util.tree_map(lambda i: leaves[i], structure)


def namespace(model: Node, name: str) -> Node:
    """Place every parameter of `model` under `name` in the state.

    >>> import axonnx as ax
    >>> body = ax.namespace(ax.input("x", shape=(None, 3)).dense(2), "body")
    >>> list(ax.init(body).params)
    ['body']
    """
    return make("namespace", (model,), (), {"name": name})


def _namespace(x, *, name):
    return x


def getitem(node: Node, index: int | str, *, name: str | None = None) -> Node:
    """One output of a node that has several (a tuple or a container).

    A container of named outputs takes a name or a position in output order: an
    imported model's outputs in the ONNX graph's order, a hand-built dict's keys
    sorted (the order in which JAX flattens a dict).
    """
    if node.shape is not None and is_shape(node.shape):
        raise ShapeError(f"{node.name or node.op}: has a single output; it cannot be indexed")
    keys = _output_names(node)
    if keys is not None:
        index = _named_output(node, keys, index)
    elif isinstance(node.shape, tuple | list) and isinstance(index, int):
        if not -len(node.shape) <= index < len(node.shape):
            # An IndexError ends iteration, so `seq, (h, c) = x.lstm(8)` unpacks.
            raise IndexError(
                f"{node.name or node.op}: expected an output index below "
                f"{len(node.shape)}, got {index}"
            )
    return make("getitem", (node,), (), {"index": index}, name=name)


class _NoSuchOutput(LayerError, IndexError):
    """An output key or position that a node does not have (an IndexError too, so that
    iterating over a container's outputs ends)."""


def _output_names(node: Node) -> list | None:
    """The keys of a node whose outputs form a dict, in order; `None` otherwise."""
    if node.op == "container" and isinstance(node.options["structure"], Mapping):
        positions = node.options["structure"]  # key -> leaf position, or a nested tree
        return sorted(positions, key=lambda k: _first_leaf(positions[k]))
    return list(node.shape) if isinstance(node.shape, Mapping) else None


def _first_leaf(tree: Any) -> int:
    return min(jax.tree_util.tree_leaves(tree), default=-1)


def _named_output(node: Node, keys: list, index: Any) -> Any:
    if not isinstance(index, bool) and isinstance(index, int) and -len(keys) <= index < len(keys):
        return keys[index]
    if isinstance(index, Hashable) and index in keys:
        return index
    raise _NoSuchOutput(
        f"{node.name or node.op}: no output {index!r}; expected one of {keys} "
        f"or a position below {len(keys)}"
    )


def _getitem(value, *, index):
    return value[index]


register_op("constant", _constant)
register_op("container", _container)
register_op("namespace", _namespace)
register_op("getitem", _getitem)
