"""axonnx → ONNX: write a graph-node model and its state as a standard ONNX model."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import onnx
from onnx import helper, numpy_helper

from axonnx.converters import export_jaxpr, layers, standard_forms
from axonnx.converters.export_attributes import node_attributes, several_outputs, trim_inputs
from axonnx.converters.onnx_writer import (
    EXPORTERS,
    Exporter,
    Param,
    Writer,
    elem_type,
    exporter,
    is_float,
    value_dtype,
)
from axonnx.converters.ort_sessions import onnxruntime_session
from axonnx.errors import InvalidModelError, UnsupportedOpError
from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.plan import Plan, plan
from axonnx.state import ModelState, get_path
from axonnx.subgraph import Subgraph

__all__ = ["Writer", "default_versions", "export_onnx", "exporter", "exporters"]

_RULE_MODULES = (export_jaxpr, layers)
"""Imported for their `@exporter` registrations into `onnx_writer.EXPORTERS`."""


def exporters() -> dict[str, Exporter]:
    """The registered layer exporters by op."""
    return dict(EXPORTERS)


@functools.lru_cache(maxsize=1)
def default_versions() -> tuple[int, int]:
    """(opset, IR version): the newest the installed onnxruntime can load (onnx itself
    may define newer ones)."""
    opset = max(v for v in range(13, onnx.defs.onnx_opset_version() + 1) if _loads(10, v))
    ir = max(v for v in range(7, onnx.IR_VERSION + 1) if _loads(v, opset))
    return opset, ir


def _loads(ir_version: int, opset: int) -> bool:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version
    )
    try:
        onnxruntime_session(model.SerializeToString())  # quiet: refusals are expected
    except Exception:  # noqa: BLE001  (onnxruntime's load errors have no common type)
        return False
    return True


def export_onnx(
    model: Node,
    state: ModelState,
    path: str | os.PathLike | None = None,
    *,
    opset: int | None = None,
    dynamic: bool = True,
    external_data: bool | None = None,
    static_batch: int | None = None,
    standard_only: bool = False,
) -> onnx.ModelProto:
    """Export `model` with the values in `state` as an ONNX model.

    Args:
        model: a hand-built or imported model.
        state: its `ModelState` (parameters and state such as batch-norm statistics).
        path: where to write the file; the `ModelProto` is returned either way.
        opset: default-domain opset (13 or newer); by default the imported model's own
            opset, or for hand-built models the newest that onnxruntime can load.
        dynamic: keep `None` dimensions symbolic (`batch`, …); with False they need
            `static_batch`.
        external_data: store weights next to the file (needed over 2 GB; the default
            decides by size).
        static_batch: a fixed batch size for `None` leading dimensions.
        standard_only: write imported onnxruntime contrib ops (com.microsoft) in their
            standard forms (`axonnx.converters.standard_forms`), so that the file has
            default-domain ops only; an op without one is an `UnsupportedOpError`.

    >>> ax.export_onnx(model, state, "model.onnx")       # doctest: +SKIP
    """
    laid_out = plan(model)
    version, ir_version = _versions(model, opset)
    writer = Writer(version, laid_out, state, standard_only=standard_only)
    inputs, outputs = _write_graph(writer, laid_out, dynamic, static_batch)
    initializers, used = writer.initializers, None
    if standard_only:
        initializers = standard_forms.used_initializers(writer.nodes, initializers)
        used = standard_forms.used_domains(writer.nodes)
    graph = helper.make_graph(writer.nodes, "axonnx", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", version)] + _extra_opsets(model, used)
    proto = _typed_outputs(
        helper.make_model(
            graph, opset_imports=opsets, ir_version=ir_version, producer_name="axonnx"
        )
    )
    if path is not None:
        _save(proto, Path(path), external_data)
    return proto


def _versions(model: Node, opset: int | None) -> tuple[int, int]:
    newest, ir_version = default_versions()
    original = dict(model.meta.get("onnx_opsets", {})).get("")
    version = opset or original or newest
    if version < 13 and original is None:
        raise ValueError(f"export_onnx: expected opset >= 13, got {version}")
    return version, ir_version


def _typed_outputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Fill the graph outputs' types (and shapes) by ONNX shape inference (of a copy
    whose outputs are untyped: a float guessed for an output of unknown dtype must not
    stop the inference)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    for output in probe.graph.output:
        output.type.tensor_type.Clear()
    inferred = onnx.shape_inference.infer_shapes(probe, data_prop=True)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for output in proto.graph.output:
        source = known.get(output.name)
        tensor = source.type.tensor_type if source is not None else None
        if tensor is not None and tensor.elem_type and tensor.HasField("shape"):
            output.CopyFrom(source)
    return proto


def _extra_opsets(model: Node, used: set[str] | None = None) -> list:
    """The model's other domains (with standard_only, those some node uses)."""
    opsets = dict(model.meta.get("onnx_opsets", {}))
    kept = opsets if used is None else used
    return [helper.make_opsetid(d, v) for d, v in opsets.items() if d and d in kept]


def _save(proto: onnx.ModelProto, path: Path, external_data: bool | None) -> None:
    from axonnx.converters.external import save_model

    save_model(proto, path, external_data)


def _write_graph(writer: Writer, laid_out: Plan, dynamic: bool, static_batch: int | None):
    values: dict[int, Any] = {}
    inputs = []
    for node in laid_out.order:
        if node.op == "input":
            name = writer.fresh(laid_out.names[node.id])
            inputs.append(_input_info(node, name, dynamic, static_batch))
            values[node.id] = name
        else:
            values[node.id] = _write_node(writer, node, values)
    outputs = _graph_outputs(writer, laid_out.output, values[laid_out.output.id])
    return inputs, outputs


def _input_info(node: Node, name: str, dynamic: bool, static_batch: int | None):
    shape = node.options.get("shape")
    dims = (
        None
        if shape is None
        else [_dim(d, i, name, dynamic, static_batch) for i, d in enumerate(shape)]
    )
    return helper.make_tensor_value_info(name, elem_type(node.options.get("dtype")), dims)


def _dim(size: int | None, axis: int, name: str, dynamic: bool, static_batch: int | None):
    if size is not None:
        return size
    if axis == 0 and static_batch is not None:
        return static_batch
    if not dynamic:
        raise ValueError(
            f"export_onnx: input {name!r} has a dynamic axis {axis}; "
            "pass static_batch=N or dynamic=True"
        )
    return "batch" if axis == 0 else f"{name}_dim{axis}"


def _graph_outputs(writer: Writer, output: Node, value: Any) -> list[onnx.ValueInfoProto]:
    """Graph outputs named after the model's outputs, typed with axonnx's shapes (shape
    inference refines them later where it can)."""
    infos = []
    for name, produced, shape, dtype in _output_leaves(writer, output, value):
        if produced != name:
            writer.op("Identity", [produced], [name], name=f"{name}_output")
        dims = None if shape is None else [d if d is None else int(d) for d in shape]
        elem = elem_type(dtype) if isinstance(dtype, str) else onnx.TensorProto.FLOAT
        infos.append(helper.make_tensor_value_info(name, elem, dims))
    return infos


def _output_leaves(writer: Writer, output: Node, value: Any):
    """(name, produced value, shape, dtype) of every output leaf."""
    names = list(output.meta.get("onnx_outputs", ()))
    shape, dtype = output.shape, value_dtype(output)
    if isinstance(value, dict):
        keys = names or list(value)
        items = [(str(k), value[k], _at(shape, k), _at(dtype, k)) for k in keys]
    elif isinstance(value, list | tuple):
        items = [(f"output_{i}", v, _at(shape, i), _at(dtype, i)) for i, v in enumerate(value)]
    else:
        return [(writer.plan.names[output.id], value, shape, dtype)]
    leaves = []
    for name, produced, sub_shape, sub_dtype in items:
        if isinstance(produced, str):
            leaves.append((name, produced, sub_shape, sub_dtype))
            continue
        inner = output.replace(shape=sub_shape, dtype=sub_dtype, meta={}, id=output.id)
        for leaf in _output_leaves(writer, inner, produced):
            leaves.append((f"{name}_{leaf[0].rsplit('_', 1)[-1]}", *leaf[1:]))
    return leaves


def _write_node(writer: Writer, node: Node, values: dict[int, Any]) -> Any:
    inputs = [values[p.id] for p in node.parents]
    if node.op == "param":
        spec = node.params[0]
        name = spec.meta.get("onnx_name") or ".".join(writer.plan.key_of(node))
        return writer.initializer(name, _param_value(writer, node, spec))
    if node.op == "constant":
        return writer.initializer(
            writer.fresh(node.meta.get("onnx_name", "const")), node.options["value"]
        )
    if node.op == "none":
        return ""
    if node.op in ("namespace",):
        return inputs[0]
    if node.op == "getitem":
        return inputs[0][node.options["index"]]
    if node.op == "container":
        return jax.tree_util.tree_map(
            lambda i: inputs[i],
            dict(node.options)["structure"]
            if not isinstance(node.options["structure"], tuple)
            else node.options["structure"],
        )
    if "::" in node.op:
        return _write_onnx_node(writer, node, inputs)
    return _write_layer(writer, node, inputs)


def _param_value(writer: Writer, node: Node, spec) -> np.ndarray:
    tree = writer.state.state if spec.kind == "state" else writer.state.params
    path = (
        writer.plan.key_of(node) if node.op == "param" else writer.plan.key_of(node) + (spec.name,)
    )
    value = get_path(tree, path)
    if value is None:
        raise InvalidModelError(f"export_onnx: the state has no value for {'/'.join(path)!r}")
    return np.asarray(value)


def _write_layer(writer: Writer, node: Node, inputs: list) -> Any:
    export = EXPORTERS.get(node.op) or _traced(writer, node)
    params = {}
    for spec in node.params:
        default = ".".join(writer.plan.key_of(node) + (spec.name,))
        params[spec.name] = Param(
            spec.meta.get("onnx_name") or default, _param_value(writer, node, spec), dict(spec.meta)
        )
    writer.compute = node.policy.compute if node.policy else _float_input(node, params)
    if node.policy is not None:
        inputs = [_cast_tree(writer, v, value_dtype(p)) for p, v in zip(node.parents, inputs)]
    result = export(writer, node, inputs, params)
    if node.policy is None:
        return result
    writer.compute = node.policy.output
    return _cast_tree(writer, result, node.policy.compute)


def _traced(writer: Writer, node: Node) -> Exporter:
    """Custom `ax.layer` functions (any op without an exporter) export by tracing."""
    from axonnx.op_table import registered_ops

    if node.op not in registered_ops() or node.op in _BUILT_IN:
        raise UnsupportedOpError(
            f"{writer.plan.where(node)}: no ONNX export for op {op_label(node.op)!r}"
        )
    return EXPORTERS["layer:"]


_BUILT_IN = {"input", "param", "constant", "none", "container", "namespace", "getitem"}


def _float_input(node: Node, params: dict) -> str:
    """The dtype a layer without a policy computes in: its first float input's, else
    (integer inputs, as an embedding's ids, or of unknown dtype) its first float
    parameter's (an fp16 model's tables stay float16), else float32."""
    for parent in node.parents:
        dtype = value_dtype(parent)
        if isinstance(dtype, str) and is_float(dtype):
            return dtype
    for param in params.values():
        dtype = np.asarray(param.value).dtype.name
        if is_float(dtype):
            return dtype
    return "float32"


def _cast_tree(writer: Writer, value: Any, dtype: Any) -> Any:
    """Cast float leaves of a written value (names, nested in lists/dicts) to the
    writer's compute dtype."""
    if isinstance(value, str):
        return writer.cast(value, dtype if isinstance(dtype, str) or dtype is None else None)
    if isinstance(value, dict):
        return {k: _cast_tree(writer, v, _at(dtype, k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cast_tree(writer, v, _at(dtype, i)) for i, v in enumerate(value))
    return value


def _at(dtype: Any, key: Any) -> Any:
    if isinstance(dtype, dict | list | tuple):
        return dtype[key]
    return dtype


def _write_onnx_node(writer: Writer, node: Node, inputs: list) -> Any:
    domain, op_type = node.meta["domain"], node.meta["op_type"]
    options = dict(node.options)
    captures = options.pop("capture_names", ())
    if captures:
        inputs = inputs[: len(inputs) - len(captures)]
    inputs = trim_inputs(inputs)
    attributes = {
        k: _attribute(writer, v) for k, v in node_attributes(writer, node, options, inputs).items()
    }
    if writer.standard_only and not standard_forms.is_standard(node):
        names = standard_forms.write_standard(writer, node, inputs, attributes)
        return names if len(names) > 1 or several_outputs(node) else names[0]
    outputs = [writer.fresh(o) if o else "" for o in node.meta.get("outputs", [])] or 1
    names = writer.op(
        op_type,
        inputs,
        outputs,
        name=node.meta.get("onnx_name", ""),
        domain=domain,
        **attributes,
    )
    return names if len(names) > 1 or several_outputs(node) else names[0]


def _attribute(writer: Writer, value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return numpy_helper.from_array(value)
    if isinstance(value, Subgraph):
        return _subgraph(writer, value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _subgraph(writer: Writer, sub: Subgraph) -> onnx.GraphProto:
    inner = Writer(
        writer.opset,
        sub.plan,
        ModelState({}, {}),
        taken=set(writer.taken),
        standard_only=writer.standard_only,
    )
    values: dict[int, Any] = {}
    inputs = []
    for node in sub.plan.order:
        name = sub.plan.names[node.id]
        if node.op == "input":
            values[node.id] = name
            if name not in sub.captures:
                inner.taken.add(name)
                inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None))
        else:
            values[node.id] = _write_node(inner, node, values)
    outputs = values[sub.plan.output.id]
    infos = []
    for produced in outputs:
        name = inner.fresh(f"{produced}_out")
        inner.op("Identity", [produced], [name])
        infos.append(helper.make_empty_tensor_value_info(name))
    writer.taken |= inner.taken
    return helper.make_graph(inner.nodes, "body", inputs, infos, inner.initializers)
