"""axonnx: ONNX as a first-class citizen of JAX.

Build, import, run, train and export neural networks as graphs of nodes compiled
to JAX/XLA.
"""

from axonnx import activations, initializers, layers, losses, metrics
from axonnx.builders.activations import (
    activation,
    celu,
    elu,
    exp,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_tanh,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    log_sumexp,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from axonnx.builders.combinators import (
    add,
    concatenate,
    cond,
    flatten,
    multiply,
    pad,
    reshape,
    split,
    stack,
    subtract,
    transpose,
)
import axonnx.builders.methods  # noqa: F401  (chained methods on Node)
from axonnx.builders.core import constant, container, getitem, input, layer, namespace, param
from axonnx.compiler import build, init, predict
from axonnx.errors import (
    AxonnxError,
    InvalidModelError,
    LayerError,
    ShapeError,
    UnsafeFileError,
    UnsupportedOpError,
)
from axonnx.node import Node, ParamSpec
from axonnx.policy import Policy, policy
from axonnx.state import ModelState
from axonnx.summary import summary
from axonnx.converters import import_onnx

__all__ = [
    "AxonnxError", "InvalidModelError", "LayerError", "ModelState", "Node", "ParamSpec",
    "Policy", "ShapeError", "UnsafeFileError", "UnsupportedOpError",
    "activation", "activations", "add", "build", "celu", "concatenate", "cond", "constant",
    "container", "elu", "exp", "flatten", "gelu", "getitem", "hard_sigmoid", "hard_silu",
    "hard_tanh", "import_onnx", "init", "initializers", "input", "layer", "layers",
    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "log_sumexp", "losses", "metrics",
    "mish", "multiply", "namespace", "pad", "param", "policy", "predict", "relu", "relu6",
    "reshape", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "split", "stack",
    "subtract", "summary", "tanh", "transpose",
]
