"""Built-in activations (`axonnx.activations`) as ONNX nodes; ops newer than the
writer's opset (Gelu, Mish) are decomposed. Activations are not recognised on import:
an ONNX activation imports as its ONNX op.
"""

from __future__ import annotations

import math

import axonnx.builders.activations  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.activations import SELU_ALPHA, SELU_GAMMA
from axonnx.converters.onnx_writer import (
    Writer,
    exporter,
    layer_name,
)
from axonnx.node import Node

__all__: list[str] = []


_SIMPLE_ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "exp": "Exp",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "linear": "Identity",
}


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
    alpha, gamma = _option(node, "alpha", SELU_ALPHA), _option(node, "gamma", SELU_GAMMA)
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
