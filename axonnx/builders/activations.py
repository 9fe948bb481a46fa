"""Activation layers: one node per activation of `axonnx.activations`."""

from __future__ import annotations

from typing import Any

from axonnx import activations as _fn
from axonnx.builders.core import make
from axonnx.node import Node
from axonnx.op_table import register_op

__all__ = ["activation", *_fn.__all__]  # one builder per function of axonnx.activations


def activation(x: Node, fn: str, *, name: str | None = None, **options: Any) -> Node:
    """An activation layer by name, e.g. `activation(x, "relu")`; options go to the
    function of `axonnx.activations` with that name.

    >>> import axonnx as ax
    >>> ax.activation(ax.input("x", shape=(None, 3)), "relu").shape
    (None, 3)
    """
    if fn not in _fn.__all__:
        raise ValueError(f"unknown activation {fn!r}; expected one of {_fn.__all__}")
    return make(fn, (x,), options=options, name=name)


def celu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `celu` layer; options as in `axonnx.activations.celu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).celu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "celu", name=name, **options)


def elu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `elu` layer; options as in `axonnx.activations.elu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).elu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "elu", name=name, **options)


def exp(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `exp` layer; options as in `axonnx.activations.exp`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).exp().shape
    (None, 6, 6, 3)
    """
    return activation(x, "exp", name=name, **options)


def gelu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `gelu` layer; options as in `axonnx.activations.gelu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).gelu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "gelu", name=name, **options)


def hard_sigmoid(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `hard_sigmoid` layer; options as in `axonnx.activations.hard_sigmoid`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).hard_sigmoid().shape
    (None, 6, 6, 3)
    """
    return activation(x, "hard_sigmoid", name=name, **options)


def hard_silu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `hard_silu` layer; options as in `axonnx.activations.hard_silu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).hard_silu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "hard_silu", name=name, **options)


def hard_tanh(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `hard_tanh` layer; options as in `axonnx.activations.hard_tanh`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).hard_tanh().shape
    (None, 6, 6, 3)
    """
    return activation(x, "hard_tanh", name=name, **options)


def leaky_relu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `leaky_relu` layer; options as in `axonnx.activations.leaky_relu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).leaky_relu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "leaky_relu", name=name, **options)


def linear(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `linear` layer; options as in `axonnx.activations.linear`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).linear().shape
    (None, 6, 6, 3)
    """
    return activation(x, "linear", name=name, **options)


def log_sigmoid(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `log_sigmoid` layer; options as in `axonnx.activations.log_sigmoid`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).log_sigmoid().shape
    (None, 6, 6, 3)
    """
    return activation(x, "log_sigmoid", name=name, **options)


def log_softmax(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `log_softmax` layer; options as in `axonnx.activations.log_softmax`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).log_softmax().shape
    (None, 6, 6, 3)
    """
    return activation(x, "log_softmax", name=name, **options)


def log_sumexp(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `log_sumexp` layer; options as in `axonnx.activations.log_sumexp`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).log_sumexp().shape
    (None, 6, 6, 1)
    """
    return activation(x, "log_sumexp", name=name, **options)


def mish(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `mish` layer; options as in `axonnx.activations.mish`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).mish().shape
    (None, 6, 6, 3)
    """
    return activation(x, "mish", name=name, **options)


def relu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `relu` layer; options as in `axonnx.activations.relu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).relu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "relu", name=name, **options)


def relu6(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `relu6` layer; options as in `axonnx.activations.relu6`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).relu6().shape
    (None, 6, 6, 3)
    """
    return activation(x, "relu6", name=name, **options)


def selu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `selu` layer; options as in `axonnx.activations.selu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).selu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "selu", name=name, **options)


def sigmoid(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `sigmoid` layer; options as in `axonnx.activations.sigmoid`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).sigmoid().shape
    (None, 6, 6, 3)
    """
    return activation(x, "sigmoid", name=name, **options)


def silu(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `silu` layer; options as in `axonnx.activations.silu`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).silu().shape
    (None, 6, 6, 3)
    """
    return activation(x, "silu", name=name, **options)


def softmax(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `softmax` layer; options as in `axonnx.activations.softmax`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).softmax().shape
    (None, 6, 6, 3)
    """
    return activation(x, "softmax", name=name, **options)


def softplus(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `softplus` layer; options as in `axonnx.activations.softplus`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).softplus().shape
    (None, 6, 6, 3)
    """
    return activation(x, "softplus", name=name, **options)


def softsign(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `softsign` layer; options as in `axonnx.activations.softsign`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).softsign().shape
    (None, 6, 6, 3)
    """
    return activation(x, "softsign", name=name, **options)


def tanh(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """A `tanh` layer; options as in `axonnx.activations.tanh`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).tanh().shape
    (None, 6, 6, 3)
    """
    return activation(x, "tanh", name=name, **options)


register_op("celu", _fn.celu)
register_op("elu", _fn.elu)
register_op("exp", _fn.exp)
register_op("gelu", _fn.gelu)
register_op("hard_sigmoid", _fn.hard_sigmoid)
register_op("hard_silu", _fn.hard_silu)
register_op("hard_tanh", _fn.hard_tanh)
register_op("leaky_relu", _fn.leaky_relu)
register_op("linear", _fn.linear)
register_op("log_sigmoid", _fn.log_sigmoid)
register_op("log_softmax", _fn.log_softmax)
register_op("log_sumexp", _fn.log_sumexp)
register_op("mish", _fn.mish)
register_op("relu", _fn.relu)
register_op("relu6", _fn.relu6)
register_op("selu", _fn.selu)
register_op("sigmoid", _fn.sigmoid)
register_op("silu", _fn.silu)
register_op("softmax", _fn.softmax)
register_op("softplus", _fn.softplus)
register_op("softsign", _fn.softsign)
register_op("tanh", _fn.tanh)
