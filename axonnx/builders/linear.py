"""Linear layer builders: dense, bilinear, embedding."""

from __future__ import annotations

from axonnx import layers
from axonnx.builders._params import Initializer, check_rank, known_dim, weight, with_activation
from axonnx.builders.core import make
from axonnx.node import Node, ParamSpec
from axonnx.op_table import register_op

__all__ = ["bilinear", "dense", "embedding"]

_BATCH_HINT = "Add a batch dimension, e.g. shape=(None, features)."


def kernel_params(
    kernel_shape: tuple[int, ...],
    units: int,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
) -> list[ParamSpec]:
    """A `kernel` of `kernel_shape`, then a `bias` (units,) when `use_bias`; shared by the
    dense and convolution builders."""
    params = [weight("kernel", kernel_shape, kernel_initializer)]
    if use_bias:
        params.append(weight("bias", (units,), bias_initializer))
    return params


def dense(
    x: Node,
    units: int,
    *,
    activation: str | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """A fully connected layer: `x @ kernel + bias` over the last axis.

    Parameters: `kernel` (in_features, units), `bias` (units,).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 784)).dense(128, activation="relu").shape
    (None, 128)
    """
    check_rank(x, 2, "dense", _BATCH_HINT)
    features = known_dim(x, -1, "dense", _BATCH_HINT)
    params = kernel_params((features, units), units, use_bias, kernel_initializer, bias_initializer)
    return with_activation(make("dense", (x,), params, name=name), activation)


def bilinear(
    x1: Node,
    x2: Node,
    units: int,
    *,
    activation: str | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """A bilinear layer: `y[k] = x1 @ kernel[k] @ x2 + bias[k]`.

    Parameters: `kernel` (units, in1, in2), `bias` (units,).

    >>> import axonnx as ax
    >>> a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 4))
    >>> ax.bilinear(a, b, 2).shape
    (None, 2)
    """
    in1 = known_dim(x1, -1, "bilinear", _BATCH_HINT)
    in2 = known_dim(x2, -1, "bilinear", _BATCH_HINT)
    params = kernel_params((units, in1, in2), units, use_bias, kernel_initializer, bias_initializer)
    return with_activation(make("bilinear", (x1, x2), params, name=name), activation)


def embedding(
    ids: Node,
    vocab_size: int,
    features: int,
    *,
    initializer: Initializer = "uniform",
    name: str | None = None,
) -> Node:
    """Look up rows of a `table` (vocab_size, features) for integer `ids`.

    >>> import axonnx as ax
    >>> ax.input("ids", shape=(None, 16), dtype="int32").embedding(1000, 64).shape
    (None, 16, 64)
    """
    params = [weight("table", (vocab_size, features), initializer)]
    return make("embedding", (ids,), params, name=name)


register_op("dense", layers.dense)
register_op("bilinear", layers.bilinear)
register_op("embedding", layers.embedding)
