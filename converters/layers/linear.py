"""Linear layers: dense <-> MatMul (+ Add) / Gemm, embedding <-> Gather, bilinear -> ONNX.

On import, a MatMul or Gemm whose weight is an initializer used by that node alone
becomes `dense` (MatMul + Add of a bias initializer: one `dense`); on export, the
layer writes back the op it came from, with its initializer names and layout.
"""

from __future__ import annotations

import onnx

import axonnx.builders.linear  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.graph_import import GraphImporter, domain_of
from axonnx.converters.layer_mapping import ImportedLayer, attrs_of, import_rule
from axonnx.converters.onnx_writer import (
    Param,
    Writer,
    exporter,
    layer_name,
    outputs_of,
)
from axonnx.node import Node

__all__: list[str] = []


@import_rule("MatMul", "dense")
def _import_matmul(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    kernel = importer.weight(proto.input[1])
    if kernel is None or kernel.ndim != 2:
        return False
    layer = ImportedLayer("dense", proto, [proto.input[0]])
    layer.param("kernel", proto.input[1], kernel)
    output = proto.output[0]
    add = _bias_add(importer, output, kernel.shape[1])
    if add is not None:
        node, bias_name = add
        layer.param("bias", bias_name, importer.weight(bias_name))
        importer.fused.add(id(node))
        output = node.output[0]
    return layer.emit(importer, output)


def _bias_add(importer: GraphImporter, value: str, units: int):
    consumers = importer.consumers[value]
    if len(consumers) != 1 or value in importer.outputs:
        return None
    node = consumers[0]
    if node.op_type != "Add" or domain_of(node) != "":
        return None
    other = node.input[1] if node.input[0] == value else node.input[0]
    bias = importer.weight(other)
    if bias is None or bias.shape != (units,):
        return None
    return node, other


@import_rule("Gemm", "dense")
def _import_gemm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = attrs_of(proto)
    weight = importer.weight(proto.input[1])
    if (
        weight is None
        or weight.ndim != 2
        or attrs.get("alpha", 1.0) != 1.0
        or attrs.get("transA", 0)
        or attrs.get("beta", 1.0) != 1.0
    ):
        return False
    transposed = bool(attrs.get("transB", 0))
    kernel = weight.T if transposed else weight
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if bias_name and (bias is None or bias.shape != (kernel.shape[1],)):
        return False
    layer = ImportedLayer("dense", proto, [proto.input[0]])
    layer.param("kernel", proto.input[1], kernel)
    if transposed:
        layer.transposed.add("kernel")
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


@import_rule("Gather", "embedding")
def _import_embedding(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    table = importer.weight(proto.input[0])
    if table is None or table.ndim != 2 or attrs_of(proto).get("axis", 0) != 0:
        return False
    layer = ImportedLayer("embedding", proto, [proto.input[1]])
    layer.param("table", proto.input[0], table)
    return layer.emit(importer, proto.output[0])


@exporter("dense")
def _dense(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: MatMul + Add (Gemm with transB when imported from a Gemm)."""
    kernel, bias = params["kernel"], params.get("bias")
    name = layer_name(w, node)
    if kernel.meta.get("onnx_transposed"):
        args = [inputs[0], w.param(kernel, kernel.value.T)] + ([w.param(bias)] if bias else [])
        return w.op("Gemm", args, outputs_of(node), name=name, transB=1)[0]
    product = w.op(
        "MatMul", [inputs[0], w.param(kernel)], outputs_of(node, bias is None), name=name
    )[0]
    if bias is None:
        return product
    return w.op("Add", [product, w.param(bias)], outputs_of(node), name=f"{name}.bias")[0]


@exporter("bilinear")
def _bilinear(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: Einsum `...i,oij,...j->...o` + Add."""
    kernel, bias = params["kernel"], params.get("bias")
    name = layer_name(w, node)
    args = [inputs[0], w.param(kernel), inputs[1]]
    y = w.op("Einsum", args, name=name, equation="...i,oij,...j->...o")[0]
    return y if bias is None else w.op("Add", [y, w.param(bias)], name=f"{name}.bias")[0]


@exporter("embedding")
def _embedding(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: Gather on axis 0."""
    table = params["table"]
    args = [w.param(table), inputs[0]]
    return w.op("Gather", args, outputs_of(node), name=layer_name(w, node), axis=0)[0]
