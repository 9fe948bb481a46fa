"""Custom `ax.layer` functions exported by tracing them to a jaxpr and writing each
primitive as ONNX ops (the rules: `axonnx.converters.jaxpr_export`).

The function is traced on its inputs' shapes, with `None` dimensions symbolic
(`batch` for the first axis, `d<axis>` for the others), so the exported graph keeps
them dynamic: a shape that mentions one is assembled from `Shape` of the input that
has it. A primitive without a mapping raises `UnsupportedOpError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from axonnx.converters.jaxpr_export import PRIMITIVES, Tracer
from axonnx.converters.jaxpr_export.complex_pairs import realify
from axonnx.converters.onnx_writer import Writer, exporter, layer_name, value_dtype
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node
from axonnx.op_table import get_op

__all__ = ["PRIMITIVES", "write_traced"]


@exporter("layer:")
def _layer(w: Writer, node: Node, inputs: list, params: dict) -> Any:
    """ONNX: custom `ax.layer` functions: traced to a jaxpr, each primitive mapped.

    Trace the layer's function on its inputs' shapes and write the jaxpr."""
    return write_traced(w, node, inputs, get_op(node.op).fn, params)


def write_traced(w: Writer, node: Node, inputs: list, fn: Callable, params: dict) -> Any:
    """Write `fn(*inputs, *params, **node.options)` traced to a jaxpr (the parameters
    as initializers, in the node's parameter order); returns its outputs' names."""
    where = w.plan.where(node)
    structs, dims = _abstract_inputs(node, inputs, where)
    ordered = [params[spec.name] for spec in node.params if spec.name in params]
    structs += [jax.ShapeDtypeStruct(p.value.shape, p.value.dtype) for p in ordered]
    names = list(inputs) + [w.param(p) for p in ordered]
    options = dict(node.options)
    closed = realify(jax.make_jaxpr(lambda *xs: fn(*xs, **options))(*structs), where)
    flat = Tracer(w, where, dims).run(closed.jaxpr, closed.consts, names)
    out_tree = jax.tree_util.tree_structure(
        jax.eval_shape(lambda *xs: fn(*xs, **options), *structs)
    )
    flat = [w.op("Identity", [n], name=layer_name(w, node))[0] for n in flat]
    return _lists(jax.tree_util.tree_unflatten(out_tree, flat))


def _lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value


def _abstract_inputs(node: Node, inputs: list, where: str):
    structs, dims, scope = [], {}, jax.export.SymbolicScope()
    for parent, name in zip(node.parents, inputs):
        if parent.shape is None or not isinstance(name, str):
            raise UnsupportedOpError(f"{where}: cannot trace a layer whose input shape is unknown")
        names = []
        for axis, size in enumerate(parent.shape):
            if size is None:
                symbol = "batch" if axis == 0 else f"d{axis}"
                dims.setdefault(symbol, (name, axis))
                names.append(symbol)
            else:
                names.append(str(size))
        shape = jax.export.symbolic_shape(", ".join(names), scope=scope) if names else ()
        structs.append(jax.ShapeDtypeStruct(shape, jnp.dtype(value_dtype(parent) or "float32")))
    return structs, dims
