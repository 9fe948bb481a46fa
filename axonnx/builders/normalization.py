"""Normalization and dropout layer builders."""

from __future__ import annotations

from typing import Any

from axonnx import layers
from axonnx.builders._params import Initializer, channel_count, known_dim, state, weight
from axonnx.builders.core import make
from axonnx.node import Node
from axonnx.op_table import register_op

__all__ = [
    "alpha_dropout",
    "batch_norm",
    "dropout",
    "feature_alpha_dropout",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "rms_norm",
    "spatial_dropout",
]


def _affine(features: int, scale_init: Initializer, bias_init: Initializer) -> list:
    return [weight("scale", (features,), scale_init), weight("bias", (features,), bias_init)]


def batch_norm(
    x: Node,
    *,
    epsilon: float = 1e-5,
    momentum: float = 0.9,
    channels: str = "last",
    scale_initializer: Initializer = "ones",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """Batch normalization with running `mean`/`var` kept as state (updated in train mode).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 16)).batch_norm().shape
    (None, 8, 8, 16)
    """
    features = known_dim(
        x, 1 if channels == "first" else -1, "batch_norm", "The channel dimension must be known."
    )
    params = _affine(features, scale_initializer, bias_initializer)
    params += [state("mean", (features,), "zeros"), state("var", (features,), "ones")]
    options = {"epsilon": epsilon, "momentum": momentum, "channels": channels}
    return make("batch_norm", (x,), params, options, name=name)


def layer_norm(
    x: Node,
    *,
    epsilon: float = 1e-5,
    scale_initializer: Initializer = "ones",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """Layer normalization over the last axis, with `scale` and `bias`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 16, 64)).layer_norm().shape
    (None, 16, 64)
    """
    features = known_dim(x, -1, "layer_norm", "The last dimension must be known.")
    params = _affine(features, scale_initializer, bias_initializer)
    return make("layer_norm", (x,), params, {"epsilon": epsilon}, name=name)


def rms_norm(
    x: Node,
    *,
    epsilon: float = 1e-5,
    scale_initializer: Initializer = "ones",
    name: str | None = None,
) -> Node:
    """Root-mean-square normalization over the last axis, with a `scale` (no bias).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 16, 64)).rms_norm().shape
    (None, 16, 64)
    """
    features = known_dim(x, -1, "rms_norm", "The last dimension must be known.")
    params = [weight("scale", (features,), scale_initializer)]
    return make("rms_norm", (x,), params, {"epsilon": epsilon}, name=name)


def group_norm(
    x: Node,
    num_groups: int,
    *,
    epsilon: float = 1e-5,
    channels: str = "last",
    scale_initializer: Initializer = "ones",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """Group normalization over `num_groups` groups of channels.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 16)).group_norm(4).shape
    (None, 8, 8, 16)
    """
    features = channel_count(x, channels, "group_norm")
    params = _affine(features, scale_initializer, bias_initializer)
    options = {"num_groups": num_groups, "epsilon": epsilon, "channels": channels}
    return make("group_norm", (x,), params, options, name=name)


def instance_norm(
    x: Node,
    *,
    epsilon: float = 1e-5,
    channels: str = "last",
    scale_initializer: Initializer = "ones",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """Instance normalization: per example and channel over the spatial axes.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).instance_norm().shape
    (None, 6, 6, 3)
    """
    features = channel_count(x, channels, "instance_norm")
    params = _affine(features, scale_initializer, bias_initializer)
    return make(
        "instance_norm", (x,), params, {"epsilon": epsilon, "channels": channels}, name=name
    )


def dropout(x: Node, *, rate: float = 0.5, name: str | None = None) -> Node:
    """Dropout: zero a `rate` share of values in train mode (scaled); identity otherwise.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 128)).dropout(rate=0.5).shape
    (None, 128)
    """
    return make("dropout", (x,), (), {"rate": rate}, name=name)


def alpha_dropout(x: Node, *, rate: float = 0.5, name: str | None = None) -> Node:
    """Alpha dropout (keeps SELU's mean and variance) in train mode.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).alpha_dropout().shape
    (None, 6, 6, 3)
    """
    return make("alpha_dropout", (x,), (), {"rate": rate}, name=name)


def feature_alpha_dropout(
    x: Node, *, rate: float = 0.5, name: str | None = None, **options: Any
) -> Node:
    """Alpha dropout of whole channels in train mode.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).feature_alpha_dropout().shape
    (None, 6, 6, 3)
    """
    return make("feature_alpha_dropout", (x,), (), {"rate": rate, **options}, name=name)


def spatial_dropout(x: Node, *, rate: float = 0.5, name: str | None = None, **options: Any) -> Node:
    """Dropout of whole channels in train mode.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).spatial_dropout().shape
    (None, 6, 6, 3)
    """
    return make("spatial_dropout", (x,), (), {"rate": rate, **options}, name=name)


register_op("batch_norm", layers.batch_norm)
register_op("layer_norm", layers.layer_norm)
register_op("rms_norm", layers.rms_norm)
register_op("group_norm", layers.group_norm)
register_op("instance_norm", layers.instance_norm)
register_op("dropout", layers.dropout)
register_op("alpha_dropout", layers.alpha_dropout)
register_op("feature_alpha_dropout", layers.feature_alpha_dropout)
register_op("spatial_dropout", layers.spatial_dropout)
