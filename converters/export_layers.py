"""How built-in activations, linear and normalization layers and combinators are
written as ONNX nodes (spatial, recurrent and attention layers: `export_nn`).

The layers that ONNX import recognises (dense, conv, batch_norm, layer_norm,
embedding) write back the ONNX ops they came from, with their original initializer
names and layouts, so that a round trip keeps the file's weights bit for bit.
Op forms follow the writer's opset: ops newer than it (Gelu, Mish,
LayerNormalization, GroupNormalization) are decomposed.
"""

from __future__ import annotations

import math

import numpy as np

from axonnx.activations import _SELU_ALPHA, _SELU_GAMMA
from axonnx.converters.onnx_writer import Param, Writer, exporter
from axonnx.node import Node

__all__ = ["channels_back", "channels_first", "layer_name", "outputs_of"]

_SIMPLE_ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "exp": "Exp",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "linear": "Identity",
}


def layer_name(w: Writer, node: Node) -> str:
    """The ONNX node name of a layer: its dotted namespace path and layer name."""
    return node.meta.get("onnx_name") or ".".join(w.plan.key_of(node))


def rank_of(node: Node, default: int = 4) -> int:
    """The rank of a layer's first input."""
    shape = node.parents[0].shape
    return len(shape) if shape else default


def channels_first(w: Writer, x: str, node: Node) -> str:
    """Move channels from last to first (ONNX layout) when the layer is channels-last."""
    if node.options.get("channels", "last") == "first":
        return x
    rank = rank_of(node)
    return w.op("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])[0]


def channels_back(w: Writer, y: str, node: Node, rank: int) -> str:
    """Move channels back to the last axis when the layer is channels-last."""
    if node.options.get("channels", "last") == "first":
        return y
    return w.op("Transpose", [y], perm=[0, *range(2, rank), 1])[0]


def outputs_of(node: Node, last: bool = True) -> list[str] | int:
    """The original output names of an imported layer (for the op that ends it)."""
    outputs = node.meta.get("outputs")
    return list(outputs) if outputs and last else 1


# --- activations ---------------------------------------------------------------------


@exporter(*_SIMPLE_ACTIVATIONS)
def _simple_activation(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Relu, Sigmoid, Tanh, Exp, Softsign, Softplus; linear: Identity."""
    return w.op(_SIMPLE_ACTIVATIONS[node.op], inputs, name=layer_name(w, node))[0]


def _option(node: Node, key: str, default: float) -> float:
    return float(node.options.get(key, default))


@exporter("celu", "elu", "leaky_relu")
def _alpha_activation(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Celu, Elu, LeakyRelu with `alpha`."""
    op_type = {"celu": "Celu", "elu": "Elu", "leaky_relu": "LeakyRelu"}[node.op]
    alpha = _option(node, "alpha", 0.01 if node.op == "leaky_relu" else 1.0)
    return w.op(op_type, inputs, name=layer_name(w, node), alpha=alpha)[0]


@exporter("selu")
def _selu(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Selu with `alpha`, `gamma`."""
    alpha, gamma = _option(node, "alpha", _SELU_ALPHA), _option(node, "gamma", _SELU_GAMMA)
    return w.op("Selu", inputs, name=layer_name(w, node), alpha=alpha, gamma=gamma)[0]


@exporter("hard_sigmoid")
def _hard_sigmoid(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: HardSigmoid with `alpha`, `beta`."""
    alpha, beta = _option(node, "alpha", 0.2), _option(node, "beta", 0.5)
    return w.op("HardSigmoid", inputs, name=layer_name(w, node), alpha=alpha, beta=beta)[0]


@exporter("hard_silu")
def _hard_silu(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: HardSwish (opset 14+); below: x * HardSigmoid(x, 1/6, 0.5)."""
    if w.opset >= 14:
        return w.op("HardSwish", inputs, name=layer_name(w, node))[0]
    gate = w.op("HardSigmoid", inputs, alpha=1 / 6, beta=0.5)[0]
    return w.op("Mul", [inputs[0], gate], name=layer_name(w, node))[0]


@exporter("hard_tanh", "relu6")
def _clip(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Clip(-1, 1) for hard_tanh, Clip(0, 6) for relu6."""
    low, high = (-1.0, 1.0) if node.op == "hard_tanh" else (0.0, 6.0)
    bounds = [w.scalar(low, "min"), w.scalar(high, "max")]
    return w.op("Clip", [inputs[0], *bounds], name=layer_name(w, node))[0]


@exporter("silu")
def _silu(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: x * Sigmoid(x)."""
    gate = w.op("Sigmoid", inputs)[0]
    return w.op("Mul", [inputs[0], gate], name=layer_name(w, node))[0]


@exporter("log_sigmoid")
def _log_sigmoid(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: -Softplus(-x)."""
    softplus = w.op("Softplus", w.op("Neg", inputs))[0]
    return w.op("Neg", [softplus], name=layer_name(w, node))[0]


@exporter("mish")
def _mish(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Mish (opset 18+); below: x * Tanh(Softplus(x))."""
    if w.opset >= 18:
        return w.op("Mish", inputs, name=layer_name(w, node))[0]
    gate = w.op("Tanh", w.op("Softplus", inputs))[0]
    return w.op("Mul", [inputs[0], gate], name=layer_name(w, node))[0]


@exporter("gelu")
def _gelu(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Gelu (opset 20+, approximate none/tanh); below: Erf or Tanh formula."""
    approximate = bool(node.options.get("approximate", False))
    if w.opset >= 20:
        mode = "tanh" if approximate else "none"
        return w.op("Gelu", inputs, name=layer_name(w, node), approximate=mode)[0]
    x = inputs[0]
    if approximate:
        cube = w.op("Mul", [w.op("Mul", [x, x])[0], x])[0]
        inner = w.op("Add", [x, w.op("Mul", [cube, w.scalar(0.044715)])[0]])[0]
        scaled = w.op("Mul", [inner, w.scalar(math.sqrt(2 / math.pi))])[0]
        phi = w.op("Tanh", [scaled])[0]
    else:
        phi = w.op("Erf", [w.op("Mul", [x, w.scalar(1 / math.sqrt(2))])[0]])[0]
    half = w.op("Mul", [x, w.scalar(0.5)])[0]
    return w.op("Mul", [half, w.op("Add", [phi, w.scalar(1.0)])[0]], name=layer_name(w, node))[0]


@exporter("softmax", "log_softmax")
def _softmax(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Softmax / LogSoftmax on `axis`."""
    op_type = "Softmax" if node.op == "softmax" else "LogSoftmax"
    axis = int(node.options.get("axis", -1))
    return w.op(op_type, inputs, name=layer_name(w, node), axis=axis)[0]


@exporter("log_sumexp")
def _log_sumexp(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: ReduceLogSumExp (axes an attribute below opset 18, an input from 18)."""
    axis, keep = int(node.options.get("axis", -1)), bool(node.options.get("keepdims", True))
    return w.reduce("ReduceLogSumExp", inputs[0], [axis], keep)


@exporter("dropout", "alpha_dropout", "feature_alpha_dropout", "spatial_dropout")
def _dropout(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Identity (inference form)."""
    return w.op("Identity", inputs, name=layer_name(w, node))[0]


# --- linear layers ---------------------------------------------------------------------


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


# --- normalization ---------------------------------------------------------------------


@exporter("batch_norm")
def _batch_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: BatchNormalization with the running statistics (Transposes if channels-last)."""
    args = [channels_first(w, inputs[0], node)]
    args += [w.param(params[k]) for k in ("scale", "bias", "mean", "var")]
    first = node.options.get("channels") == "first"
    y = w.op(
        "BatchNormalization",
        args,
        outputs_of(node, first),
        name=layer_name(w, node),
        epsilon=float(node.options.get("epsilon", 1e-5)),
        momentum=float(node.options.get("momentum", 0.9)),
    )[0]
    return channels_back(w, y, node, rank_of(node))


@exporter("layer_norm")
def _layer_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: LayerNormalization (opset 17+); below: ReduceMean/Sub/Mul/Sqrt/Div decomposition."""
    epsilon = float(node.options.get("epsilon", 1e-5))
    scale, bias = w.param(params["scale"]), params.get("bias")
    if w.opset < 17:
        y = _standardize(w, inputs[0], [-1], epsilon)
        y = w.op("Mul", [y, scale])[0]
        return y if bias is None else w.op("Add", [y, w.param(bias)], name=layer_name(w, node))[0]
    args = [inputs[0], scale] + ([w.param(bias)] if bias else [])
    return w.op(
        "LayerNormalization",
        args,
        outputs_of(node),
        name=layer_name(w, node),
        axis=-1,
        epsilon=epsilon,
    )[0]


def _standardize(w: Writer, x: str, axes: list[int], epsilon: float) -> str:
    """`(x - mean) / sqrt(var + epsilon)` over `axes` (biased variance)."""
    centered = w.op("Sub", [x, w.reduce("ReduceMean", x, axes)])[0]
    var = w.reduce("ReduceMean", w.op("Mul", [centered, centered])[0], axes)
    std = w.op("Sqrt", [w.op("Add", [var, w.scalar(epsilon)])[0]])[0]
    return w.op("Div", [centered, std])[0]


def _per_channel(w: Writer, p: Param, rank: int) -> str:
    """A (C,) parameter reshaped to (C, 1, ..., 1) to broadcast over (N, C, *spatial)."""
    shape = w.constant(np.array([-1] + [1] * (rank - 2), np.int64), "shape")
    return w.op("Reshape", [w.param(p), shape])[0]


@exporter("instance_norm")
def _instance_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: InstanceNormalization (Transposes if channels-last)."""
    args = [channels_first(w, inputs[0], node), w.param(params["scale"]), w.param(params["bias"])]
    epsilon = float(node.options.get("epsilon", 1e-5))
    y = w.op("InstanceNormalization", args, name=layer_name(w, node), epsilon=epsilon)[0]
    return channels_back(w, y, node, rank_of(node))


@exporter("group_norm")
def _group_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: Reshape to groups, ReduceMean/Sqrt/Div, Reshape back, per-channel Mul + Add.

    Decomposed at every opset: onnx cannot infer GroupNormalization-21's types."""
    x, rank = channels_first(w, inputs[0], node), rank_of(node)
    groups, epsilon = int(node.options["num_groups"]), float(node.options.get("epsilon", 1e-5))
    grouped = w.op("Reshape", [x, w.constant(np.array([0, groups, -1], np.int64), "shape")])[0]
    y = w.op("Reshape", [_standardize(w, grouped, [2], epsilon), w.op("Shape", [x])[0]])[0]
    y = w.op("Mul", [y, _per_channel(w, params["scale"], rank)])[0]
    y = w.op("Add", [y, _per_channel(w, params["bias"], rank)], name=layer_name(w, node))[0]
    return channels_back(w, y, node, rank)


# --- combinators -----------------------------------------------------------------------


@exporter("add", "multiply")
def _variadic(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Add / Mul (Sum, or a chain of Mul, for more than two inputs)."""
    op_type = "Add" if node.op == "add" else "Mul"
    if len(inputs) > 2:
        op_type = "Sum" if node.op == "add" else op_type
    if op_type == "Mul" and len(inputs) > 2:
        result = inputs[0]
        for other in inputs[1:]:
            result = w.op("Mul", [result, other])[0]
        return result
    return w.op(op_type, inputs, name=layer_name(w, node))[0]


@exporter("subtract")
def _subtract(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Sub."""
    return w.op("Sub", inputs, name=layer_name(w, node))[0]


@exporter("concatenate")
def _concatenate(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Concat."""
    return w.op("Concat", inputs, name=layer_name(w, node), axis=int(node.options["axis"]))[0]


@exporter("stack")
def _stack(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Unsqueeze each input + Concat."""
    axes = w.constant(np.array([int(node.options["axis"])], np.int64), "axes")
    parts = [w.op("Unsqueeze", [x, axes])[0] for x in inputs]
    return w.op("Concat", parts, name=layer_name(w, node), axis=int(node.options["axis"]))[0]


@exporter("split")
def _split(w: Writer, node: Node, inputs: list, params: dict) -> list[str]:
    """ONNX: Split with `split` sizes as an input."""
    sections, axis = int(node.options["sections"]), int(node.options["axis"])
    size = node.parents[0].shape[axis] // sections
    sizes = w.constant(np.full(sections, size, np.int64), "split")
    return w.op("Split", [inputs[0], sizes], sections, name=layer_name(w, node), axis=axis)


@exporter("pad")
def _pad(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Pad (constant, reflect, edge; wrap from opset 19)."""
    pairs = [(int(lo), int(hi)) for lo, hi in node.options["padding"]]
    mode = node.options.get("pad_mode", "constant")
    if mode == "wrap" and w.opset < 19:
        from axonnx.errors import UnsupportedOpError

        raise UnsupportedOpError(
            f"{w.plan.where(node)}: pad mode 'wrap' needs ONNX Pad from opset 19, "
            f"exporting at opset {w.opset}. Pass opset=19 or newer."
        )
    pads = w.constant(np.array([p[0] for p in pairs] + [p[1] for p in pairs], np.int64), "pads")
    args = [inputs[0], pads]
    if mode == "constant":
        dtype = node.parents[0].dtype or "float32"
        args.append(w.constant(np.asarray(node.options.get("value", 0.0), dtype), "value"))
    return w.op("Pad", args, name=layer_name(w, node), mode=mode)[0]


@exporter("cond")
def _cond(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Where."""
    return w.op("Where", inputs, name=layer_name(w, node))[0]


@exporter("flatten")
def _flatten(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Flatten(axis=1)."""
    return w.op("Flatten", inputs, name=layer_name(w, node), axis=1)[0]


@exporter("reshape")
def _reshape(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Reshape (batch dimension kept with 0)."""
    shape = w.constant(np.array([0, *node.options["shape"]], np.int64), "shape")
    return w.op("Reshape", [inputs[0], shape], name=layer_name(w, node))[0]


@exporter("transpose")
def _transpose(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Transpose."""
    perm = [int(p) for p in node.options["permutation"]]
    return w.op("Transpose", inputs, name=layer_name(w, node), perm=perm)[0]
