"""Shapes and dtypes of an imported graph's values, from ONNX shape inference.

Imported nodes carry them (like hand-built ones) so that a summary shows them and
layers can be built on top of an imported model (`bert["last_hidden_state"].dense(2)`):
`GraphImporter` sets them as it builds each node; `typed_container` types the model's
output container from its parents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import onnx
from onnx import helper

from axonnx.converters.graph_import import value_type
from axonnx.converters.safety_tensors import tensor_bytes
from axonnx.node import Node

__all__ = ["infer_value_types", "typed_container"]

_SMALL = 4096  # bytes: initializers kept for shape inference's data propagation


def infer_value_types(proto: onnx.ModelProto, dims: Mapping[str, int]) -> dict[str, Any]:
    """ONNX value name → (shape, dtype) for every value shape inference can type.

    Runs on a copy without the large initializers' data (their types suffice), so its
    cost does not grow with the weights.
    """
    graph = proto.graph
    small = [t for t in graph.initializer if _nbytes(t) <= _SMALL]
    typed = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in graph.initializer
        if _nbytes(t) > _SMALL
    ]
    light = helper.make_graph(
        list(graph.node),
        graph.name,
        [*(_bound(v, dims) for v in graph.input), *typed],
        list(graph.output),
        small,
        value_info=list(graph.value_info),
    )
    model = helper.make_model(
        light, opset_imports=list(proto.opset_import), ir_version=proto.ir_version
    )
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001  (inference is best effort: unknown shapes stay None)
        inferred = model
    values = [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
    return {v.name: value_type(v, dims) for v in values if v.type.HasField("tensor_type")}


def _bound(value: onnx.ValueInfoProto, dims: Mapping[str, int]) -> onnx.ValueInfoProto:
    """`value` with the symbolic dimensions `dims` binds made fixed, so that inference
    carries the sizes through (not only the dims that keep their names)."""
    tensor = value.type.tensor_type
    named = [d for d in tensor.shape.dim if d.HasField("dim_param") and d.dim_param in dims]
    if not named:
        return value
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value)
    for dim in copy.type.tensor_type.shape.dim:
        if dim.HasField("dim_param") and dim.dim_param in dims:
            dim.dim_value = int(dims[dim.dim_param])
    return copy


def _nbytes(tensor: onnx.TensorProto) -> int:
    """The tensor's data size as its dims declare it (`check_model` verified that the
    data matches): reading `len(tensor.raw_data)` would copy the bytes out of the proto."""
    count = math.prod(tensor.dims)
    if tensor.data_type == onnx.TensorProto.STRING:
        return 8 * count
    return tensor_bytes(tensor, count)


def typed_container(node: Node) -> Node:
    """A `container` node with the shapes and dtypes of its parents (in its structure),
    when all of them are known; else `node` itself."""
    if any(p.shape is None for p in node.parents):
        return node
    structure = node.options["structure"]
    pick = (
        (lambda attr: {k: getattr(node.parents[i], attr) for k, i in structure.items()})
        if isinstance(structure, dict)
        else (lambda attr: tuple(getattr(node.parents[i], attr) for i in structure))
    )
    return node.replace(shape=pick("shape"), dtype=pick("dtype"))
