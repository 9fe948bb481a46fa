"""How built-in layers, activations and combinators are written as ONNX nodes.

The layers that ONNX import recognises (dense, conv, batch_norm, layer_norm,
embedding) write back the ONNX ops they came from, with their original initializer
names and layouts, so that a round trip keeps the file's weights bit for bit.
"""

from __future__ import annotations

import numpy as np

from axonnx.converters.onnx_export import Param, Writer, exporter
from axonnx.node import Node

_SIMPLE_ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "exp": "Exp",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "linear": "Identity",
    "mish": "Mish",
}


def _name(w: Writer, node: Node) -> str:
    return ".".join(w.plan.key_of(node))


def _channels_first(w: Writer, x: str, node: Node) -> str:
    """Move channels from last to first (ONNX layout) when the layer is channels-last."""
    if node.options.get("channels", "last") == "first":
        return x
    rank = len(node.parents[0].shape)
    return w.op("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])[0]


def _channels_back(w: Writer, y: str, node: Node, rank: int) -> str:
    if node.options.get("channels", "last") == "first":
        return y
    return w.op("Transpose", [y], perm=[0, *range(2, rank), 1])[0]


def _output(node: Node) -> list[str] | int:
    outputs = node.meta.get("outputs")
    return list(outputs) if outputs else 1


@exporter("dense")
def _dense(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    kernel, bias = params["kernel"], params.get("bias")
    name = _name(w, node)
    if kernel.meta.get("onnx_transposed"):
        weight = w.initializer(kernel.name, kernel.value.T)
        args = [inputs[0], weight] + ([w.initializer(bias.name, bias.value)] if bias else [])
        return w.op("Gemm", args, _output(node), name=name, transB=1)[0]
    product = w.op(
        "MatMul",
        [inputs[0], w.initializer(kernel.name, kernel.value)],
        1 if bias else _output(node),
        name=name,
    )[0]
    if bias is None:
        return product
    return w.op(
        "Add", [product, w.initializer(bias.name, bias.value)], _output(node), name=f"{name}.bias"
    )[0]


def _spatial_attrs(node: Node, rank: int) -> dict:
    n = rank - 2
    per_axis = lambda v: [int(v)] * n if isinstance(v, int) else [int(i) for i in v]  # noqa: E731
    attrs = {
        "strides": per_axis(node.options.get("strides", 1)),
        "dilations": per_axis(node.options.get("kernel_dilation", 1)),
    }
    padding = node.options.get("padding", "valid")
    if padding == "valid":
        attrs["pads"] = [0] * 2 * n
    elif padding in ("same", "same_lower"):
        attrs["auto_pad"] = "SAME_UPPER" if padding == "same" else "SAME_LOWER"
    else:
        pairs = [tuple(p) for p in padding]
        attrs["pads"] = [p[0] for p in pairs] + [p[1] for p in pairs]
    return attrs


@exporter("conv")
def _conv(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    kernel, bias = params["kernel"], params.get("bias")
    rank = kernel.value.ndim
    args = [_channels_first(w, inputs[0], node), w.initializer(kernel.name, kernel.value)]
    if bias is not None:
        args.append(w.initializer(bias.name, bias.value))
    attrs = _spatial_attrs(node, rank)
    outputs = _output(node) if node.options.get("channels") == "first" else 1
    y = w.op(
        "Conv",
        args,
        outputs,
        name=_name(w, node),
        group=int(node.options.get("feature_group_count", 1)),
        **attrs,
    )[0]
    return _channels_back(w, y, node, rank)


@exporter("batch_norm")
def _batch_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    rank = len(node.parents[0].shape) if node.parents[0].shape else 4
    args = [_channels_first(w, inputs[0], node)] + [
        w.initializer(params[k].name, params[k].value) for k in ("scale", "bias", "mean", "var")
    ]
    outputs = _output(node) if node.options.get("channels") == "first" else 1
    y = w.op(
        "BatchNormalization",
        args,
        outputs,
        name=_name(w, node),
        epsilon=float(node.options.get("epsilon", 1e-5)),
        momentum=float(node.options.get("momentum", 0.9)),
    )[0]
    return _channels_back(w, y, node, rank)


@exporter("layer_norm")
def _layer_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    args = [inputs[0], w.initializer(params["scale"].name, params["scale"].value)]
    if "bias" in params:
        args.append(w.initializer(params["bias"].name, params["bias"].value))
    return w.op(
        "LayerNormalization",
        args,
        _output(node),
        name=_name(w, node),
        axis=-1,
        epsilon=float(node.options.get("epsilon", 1e-5)),
    )[0]


@exporter("embedding")
def _embedding(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    table = params["table"]
    return w.op(
        "Gather",
        [w.initializer(table.name, table.value), inputs[0]],
        _output(node),
        name=_name(w, node),
        axis=0,
    )[0]


@exporter(*_SIMPLE_ACTIVATIONS)
def _simple_activation(w: Writer, node: Node, inputs: list, params: dict) -> str:
    return w.op(_SIMPLE_ACTIVATIONS[node.op], inputs, name=_name(w, node))[0]


@exporter("softmax", "log_softmax")
def _softmax(w: Writer, node: Node, inputs: list, params: dict) -> str:
    op_type = "Softmax" if node.op == "softmax" else "LogSoftmax"
    return w.op(op_type, inputs, name=_name(w, node), axis=int(node.options.get("axis", -1)))[0]


@exporter("dropout", "alpha_dropout", "feature_alpha_dropout", "spatial_dropout")
def _dropout(w: Writer, node: Node, inputs: list, params: dict) -> str:
    return w.op("Identity", inputs, name=_name(w, node))[0]


@exporter("add", "multiply")
def _variadic(w: Writer, node: Node, inputs: list, params: dict) -> str:
    op_type = "Sum" if node.op == "add" else "Mul"
    if op_type == "Mul" and len(inputs) > 2:
        result = inputs[0]
        for other in inputs[1:]:
            result = w.op("Mul", [result, other])[0]
        return result
    return w.op(
        op_type if len(inputs) > 2 else ("Add" if node.op == "add" else "Mul"),
        inputs,
        name=_name(w, node),
    )[0]


@exporter("subtract")
def _subtract(w: Writer, node: Node, inputs: list, params: dict) -> str:
    return w.op("Sub", inputs, name=_name(w, node))[0]


@exporter("concatenate")
def _concatenate(w: Writer, node: Node, inputs: list, params: dict) -> str:
    return w.op("Concat", inputs, name=_name(w, node), axis=int(node.options["axis"]))[0]


@exporter("flatten")
def _flatten(w: Writer, node: Node, inputs: list, params: dict) -> str:
    return w.op("Flatten", inputs, name=_name(w, node), axis=1)[0]


@exporter("reshape")
def _reshape(w: Writer, node: Node, inputs: list, params: dict) -> str:
    shape = w.constant(np.array([0, *node.options["shape"]], np.int64), "shape")
    return w.op("Reshape", [inputs[0], shape], name=_name(w, node))[0]


@exporter("transpose")
def _transpose(w: Writer, node: Node, inputs: list, params: dict) -> str:
    perm = [int(p) for p in node.options["permutation"]]
    return w.op("Transpose", inputs, name=_name(w, node), perm=perm)[0]
