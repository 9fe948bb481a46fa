"""Export any jittable JAX function of arrays (and pytrees of arrays) as an ONNX model:
trace it to a jaxpr, write each primitive (`axonnx.converters.jaxpr_export`)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import onnx
from onnx import helper

from axonnx.converters.external import save_model
from axonnx.converters.jaxpr_export import Tracer
from axonnx.converters.jaxpr_export.complex_pairs import pair_array, pair_struct, realify
from axonnx.converters.jaxpr_export.tracer import elem
from axonnx.converters.onnx_export import default_versions
from axonnx.converters.onnx_writer import Writer
from axonnx.errors import InvalidModelError
from axonnx.state import ModelState

__all__ = ["Argument", "export_function", "write_function"]

DynamicAxes = Mapping[str, Mapping[int, str] | Sequence[int]]


@dataclass(frozen=True)
class Argument:
    """One flat argument of the traced function: a graph input, or (with
    `initializer=True`) an initializer named `name` holding `value`."""

    name: str
    value: Any
    initializer: bool = False


def export_function(
    fn: Callable,
    *example_args: Any,
    path: str | os.PathLike | None = None,
    opset: int | None = None,
    dynamic_axes: DynamicAxes | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> onnx.ModelProto:
    """Export `fn(*example_args)` as an ONNX model that onnxruntime runs.

    Args:
        fn: a jittable function of arrays, or pytrees of arrays; it may return a pytree.
        example_args: arrays (or `jax.ShapeDtypeStruct`s) giving the inputs' shapes
            and dtypes; each leaf becomes one graph input, in flattening order. A complex
            input or output of shape S is a float array of shape S + (2,) in the model
            (real part, imaginary part on the last axis, as ONNX DFT has them; complex64 →
            float32, complex128 → float64): onnxruntime has no complex tensors.
        path: where to write the file; the `ModelProto` is returned either way.
        opset: default-domain opset (16 or newer for scatters; default: the newest
            that onnxruntime loads).
        dynamic_axes: `{input_name: {axis: dim_name}}` (or a list of axes): dimensions
            left symbolic; the same `dim_name` on several inputs is one dimension.
        input_names / output_names: names of the flat inputs and outputs (default
            `input_0`, `input_1_w`, … and `output_0`, … after the pytree paths).

    >>> def top2(x):
    ...     return jnp.sort(x)[..., -2:]
    >>> ax.export_function(top2, np.ones((3, 5)), path="f.onnx")  # doctest: +SKIP
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(example_args)
    names = list(input_names or [_path_name("input", p) for p, _ in leaves])
    if len(names) != len(leaves):
        raise InvalidModelError(
            f"export_function: expected {len(leaves)} input_names, got {len(names)}"
        )
    tree = jax.tree_util.tree_structure(example_args)

    def flat_fn(*flat):
        return fn(*jax.tree_util.tree_unflatten(tree, list(flat)))

    arguments = [Argument(n, v) for n, (_, v) in zip(names, leaves)]
    out_shape = jax.eval_shape(flat_fn, *[_struct(a.value) for a in arguments])
    out_leaves, _ = jax.tree_util.tree_flatten_with_path(out_shape)
    outs = list(output_names or [_path_name("output", p) for p, _ in out_leaves])
    proto = write_function(
        lambda *xs: jax.tree_util.tree_leaves(flat_fn(*xs)),
        arguments,
        outs,
        opset=opset,
        dynamic_axes=dynamic_axes,
    )
    if path is not None:
        save_model(proto, Path(path))
    return proto


def _path_name(prefix: str, path: tuple) -> str:
    parts = [prefix, *(re.sub(r"\W+", "_", jax.tree_util.keystr((k,))).strip("_") for k in path)]
    return "_".join(p for p in parts if p)


def _struct(value: Any) -> jax.ShapeDtypeStruct:
    if isinstance(value, jax.ShapeDtypeStruct):
        return value
    array = np.asarray(value) if not isinstance(value, jax.Array) else value
    return jax.ShapeDtypeStruct(array.shape, array.dtype)


def write_function(
    fn: Callable[..., list],
    arguments: Sequence[Argument],
    output_names: Sequence[str],
    *,
    opset: int | None = None,
    dynamic_axes: DynamicAxes | None = None,
    where: str = "export_function",
) -> onnx.ModelProto:
    """The ONNX model of `fn(*arguments) -> list of arrays`, one output per name; complex
    values are float [..., 2] pairs (see `export_function`)."""
    newest, ir_version = default_versions()
    structs, dims, symbols = _abstract(arguments, dynamic_axes or {}, where)
    closed = realify(jax.make_jaxpr(fn)(*structs), where)  # complex → float [..., 2]
    structs = [pair_struct(s) for s in structs]
    writer = Writer(opset or newest, None, ModelState({}, {}))
    names = []
    for argument, var in zip(arguments, closed.jaxpr.invars):
        if argument.initializer:
            name = writer.initializer(argument.name, pair_array(argument.value))
        else:
            writer.taken.add(argument.name)
            name = argument.name
        if np.dtype(pair_struct(_struct(argument.value)).dtype) != var.aval.dtype:  # int64 → int32
            name = writer.op("Cast", [name], to=elem(var.aval.dtype))[0]
        names.append(name)
    produced = Tracer(writer, where, dims).run(closed.jaxpr, closed.consts, names)
    if len(produced) != len(output_names):
        raise InvalidModelError(
            f"{where}: expected {len(produced)} output names, got {len(output_names)}"
        )
    outputs = []
    for value, name, aval in zip(produced, output_names, closed.out_avals):
        out = writer.fresh(name)
        writer.op("Identity", [value], [out])
        outputs.append(_info(out, aval, symbols))
    inputs = [_info(a.name, s, symbols) for a, s in zip(arguments, structs) if not a.initializer]
    used = _used_names(writer.nodes)
    kept = [t for t in writer.initializers if t.name in used]
    graph = helper.make_graph(writer.nodes, "axonnx", inputs, outputs, kept)
    opsets = [helper.make_opsetid("", writer.opset)]
    return helper.make_model(
        graph, opset_imports=opsets, ir_version=ir_version, producer_name="axonnx"
    )


def _used_names(nodes) -> set[str]:
    """Every value name the nodes read, subgraphs included."""
    used = set()
    for node in nodes:
        used.update(node.input)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                used |= _used_names(attribute.g.node)
    return used


def _abstract(arguments: Sequence[Argument], dynamic_axes: DynamicAxes, where: str):
    unknown = sorted(set(dynamic_axes) - {a.name for a in arguments if not a.initializer})
    if unknown:
        raise InvalidModelError(f"{where}: dynamic_axes names no input {', '.join(unknown)}")
    scope = jax.export.SymbolicScope()
    structs, dims, symbols = [], {}, {}
    for argument in arguments:
        struct = _struct(argument.value)
        axes = dynamic_axes.get(argument.name, {})
        if not isinstance(axes, Mapping):
            axes = {int(a): f"{argument.name}_dim{int(a)}" for a in axes}
        if axes:
            spelled = []
            for axis, size in enumerate(struct.shape):
                label = axes.get(axis)
                symbol = re.sub(r"\W", "_", label) if label is not None else None
                if symbol is not None:
                    dims.setdefault(symbol, (argument.name, axis))
                    symbols[symbol] = label
                spelled.append(symbol or str(size))
            shape = jax.export.symbolic_shape(", ".join(spelled), scope=scope)
            struct = jax.ShapeDtypeStruct(shape, struct.dtype)
        structs.append(struct)
    return structs, dims, symbols


def _info(name: str, aval: Any, symbols: dict[str, str]) -> onnx.ValueInfoProto:
    dims = [d if isinstance(d, int) else symbols.get(str(d), str(d)) for d in aval.shape]
    return helper.make_tensor_value_info(name, elem(aval.dtype), dims)
