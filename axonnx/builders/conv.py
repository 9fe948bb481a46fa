"""Convolution and pooling layer builders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from axonnx import layers
from axonnx.builders._params import (
    CONV_KERNEL_INIT,
    Initializer,
    channel_count,
    weight,
    with_activation,
)
from axonnx.builders.core import make
from axonnx.builders.linear import kernel_params
from axonnx.node import Node
from axonnx.op_table import register_op

__all__ = [
    "adaptive_avg_pool",
    "adaptive_lp_pool",
    "adaptive_max_pool",
    "avg_pool",
    "conv",
    "conv_transpose",
    "depthwise_conv",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "max_pool",
    "resize",
    "separable_conv2d",
    "separable_conv3d",
]

Ints = int | Sequence[int]


def _window(kernel_size: Ints, spatial: int) -> tuple[int, ...]:
    if isinstance(kernel_size, int):
        return (kernel_size,) * spatial
    return tuple(kernel_size)


def _spatial_rank(x: Node) -> int:
    return len(x.shape) - 2


def _in_window(op: str, x: Node, kernel_size: Ints, channels: str) -> tuple[int, tuple[int, ...]]:
    """The input channel count and the per-axis kernel size of a convolution."""
    return channel_count(x, channels, op), _window(kernel_size, _spatial_rank(x))


def conv(
    x: Node,
    filters: int,
    kernel_size: Ints,
    *,
    strides: Ints = 1,
    padding: Any = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    feature_group_count: int = 1,
    channels: str = "last",
    activation: str | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = CONV_KERNEL_INIT,
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """A 1-D, 2-D or 3-D convolution (rank from the input).

    Parameters: `kernel` (filters, in_channels // groups, *kernel_size), `bias` (filters,).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 28, 28, 1)).conv(8, 3, padding="same").shape
    (None, 28, 28, 8)
    """
    in_channels, window = _in_window("conv", x, kernel_size, channels)
    kernel = (filters, in_channels // feature_group_count, *window)
    options = {
        "strides": strides,
        "padding": padding,
        "input_dilation": input_dilation,
        "kernel_dilation": kernel_dilation,
        "feature_group_count": feature_group_count,
        "channels": channels,
    }
    params = kernel_params(kernel, filters, use_bias, kernel_initializer, bias_initializer)
    return with_activation(make("conv", (x,), params, options, name=name), activation)


def conv_transpose(
    x: Node,
    filters: int,
    kernel_size: Ints,
    *,
    strides: Ints = 1,
    padding: Any = "valid",
    output_padding: Ints = 0,
    kernel_dilation: Ints = 1,
    feature_group_count: int = 1,
    channels: str = "last",
    activation: str | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = CONV_KERNEL_INIT,
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """A transposed convolution; `kernel` is (in_channels, filters // groups, *kernel_size).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 4)).conv_transpose(2, 2, strides=2).shape
    (None, 16, 16, 2)
    """
    in_channels, window = _in_window("conv_transpose", x, kernel_size, channels)
    kernel = (in_channels, filters // feature_group_count, *window)
    options = {
        "strides": strides,
        "padding": padding,
        "output_padding": output_padding,
        "kernel_dilation": kernel_dilation,
        "feature_group_count": feature_group_count,
        "channels": channels,
    }
    params = kernel_params(kernel, filters, use_bias, kernel_initializer, bias_initializer)
    return with_activation(make("conv_transpose", (x,), params, options, name=name), activation)


def depthwise_conv(
    x: Node,
    channel_multiplier: int,
    kernel_size: Ints,
    *,
    strides: Ints = 1,
    padding: Any = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    channels: str = "last",
    activation: str | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = CONV_KERNEL_INIT,
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Node:
    """A depthwise convolution: `channel_multiplier` filters per input channel.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 3)).depthwise_conv(2, 3).shape
    (None, 6, 6, 6)
    """
    in_channels, window = _in_window("depthwise_conv", x, kernel_size, channels)
    out = in_channels * channel_multiplier
    options = {
        "strides": strides,
        "padding": padding,
        "input_dilation": input_dilation,
        "kernel_dilation": kernel_dilation,
        "channels": channels,
        "channel_multiplier": channel_multiplier,
    }
    params = kernel_params((out, 1, *window), out, use_bias, kernel_initializer, bias_initializer)
    return with_activation(make("depthwise_conv", (x,), params, options, name=name), activation)


def _separable(
    op: str,
    x: Node,
    multiplier: int,
    kernel_size: Ints,
    options: dict,
    kernel_initializer: Initializer,
    name: str | None,
) -> Node:
    in_channels, window = _in_window(op, x, kernel_size, options["channels"])
    spatial = len(window)
    out = in_channels * multiplier
    params = []
    for axis in range(spatial):
        shape = [1] * spatial
        shape[axis] = window[axis]
        params.append(weight(f"kernel_{axis}", (out, 1, *shape), kernel_initializer))
        params.append(weight(f"bias_{axis}", (out,), "zeros"))
    return make(op, (x,), params, options, name=name)


def separable_conv2d(
    x: Node,
    channel_multiplier: int,
    kernel_size: Ints,
    *,
    strides: Ints = 1,
    padding: Any = "valid",
    channels: str = "last",
    kernel_initializer: Initializer = CONV_KERNEL_INIT,
    name: str | None = None,
) -> Node:
    """A 2-D separable depthwise convolution: one depthwise conv per spatial axis.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 3)).separable_conv2d(1, 3).shape
    (None, 6, 6, 3)
    """
    options = {"strides": strides, "padding": padding, "channels": channels}
    return _separable(
        "separable_conv2d", x, channel_multiplier, kernel_size, options, kernel_initializer, name
    )


def separable_conv3d(
    x: Node,
    channel_multiplier: int,
    kernel_size: Ints,
    *,
    strides: Ints = 1,
    padding: Any = "valid",
    channels: str = "last",
    kernel_initializer: Initializer = CONV_KERNEL_INIT,
    name: str | None = None,
) -> Node:
    """A 3-D separable depthwise convolution: one depthwise conv per spatial axis.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 4, 4, 4, 2)).separable_conv3d(2, 3).shape
    (None, 2, 2, 2, 4)
    """
    options = {"strides": strides, "padding": padding, "channels": channels}
    return _separable(
        "separable_conv3d", x, channel_multiplier, kernel_size, options, kernel_initializer, name
    )


def _pool(op: str, x: Node, name: str | None, **options: Any) -> Node:
    channel_count(x, options.get("channels", "last"), op)
    return make(op, (x,), (), options, name=name)


def max_pool(x: Node, kernel_size: Ints, *, name: str | None = None, **options: Any) -> Node:
    """Max pooling; options (strides, padding, dilations, ceil_mode, channels) as in
    `axonnx.layers.max_pool`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 28, 28, 8)).max_pool(2).shape
    (None, 14, 14, 8)
    """
    return _pool("max_pool", x, name, kernel_size=kernel_size, **options)


def avg_pool(x: Node, kernel_size: Ints, *, name: str | None = None, **options: Any) -> Node:
    """Average pooling; options as in `axonnx.layers.avg_pool`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).avg_pool(2).shape
    (None, 3, 3, 3)
    """
    return _pool("avg_pool", x, name, kernel_size=kernel_size, **options)


def lp_pool(x: Node, kernel_size: Ints, *, name: str | None = None, **options: Any) -> Node:
    """Lp-norm pooling; options as in `axonnx.layers.lp_pool`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).lp_pool(2).shape
    (None, 3, 3, 3)
    """
    return _pool("lp_pool", x, name, kernel_size=kernel_size, **options)


def adaptive_avg_pool(
    x: Node, output_size: Ints, *, name: str | None = None, **options: Any
) -> Node:
    """Average pooling to a fixed `output_size`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).adaptive_avg_pool(3).shape
    (None, 3, 3, 3)
    """
    return _pool("adaptive_avg_pool", x, name, output_size=output_size, **options)


def adaptive_max_pool(
    x: Node, output_size: Ints, *, name: str | None = None, **options: Any
) -> Node:
    """Max pooling to a fixed `output_size`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).adaptive_max_pool(3).shape
    (None, 3, 3, 3)
    """
    return _pool("adaptive_max_pool", x, name, output_size=output_size, **options)


def adaptive_lp_pool(
    x: Node, output_size: Ints, *, name: str | None = None, **options: Any
) -> Node:
    """Lp-norm pooling to a fixed `output_size`.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).adaptive_lp_pool(3).shape
    (None, 3, 3, 3)
    """
    return _pool("adaptive_lp_pool", x, name, output_size=output_size, **options)


def global_avg_pool(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """Mean over all spatial axes.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 7, 7, 64)).global_avg_pool().shape
    (None, 64)
    """
    return _pool("global_avg_pool", x, name, **options)


def global_max_pool(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """Maximum over all spatial axes.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).global_max_pool().shape
    (None, 3)
    """
    return _pool("global_max_pool", x, name, **options)


def global_lp_pool(x: Node, *, name: str | None = None, **options: Any) -> Node:
    """Lp norm over all spatial axes.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 6, 6, 3)).global_lp_pool().shape
    (None, 3)
    """
    return _pool("global_lp_pool", x, name, **options)


def resize(
    x: Node, size: Ints, *, method: str = "nearest", channels: str = "last", name: str | None = None
) -> Node:
    """Resize the spatial axes to `size` (nearest, linear or cubic).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 8, 8, 3)).resize((16, 16), method="linear").shape
    (None, 16, 16, 3)
    """
    return _pool("resize", x, name, size=size, method=method, channels=channels)


register_op("conv", layers.conv)
register_op("conv_transpose", layers.conv_transpose)
register_op("depthwise_conv", layers.depthwise_conv)
register_op("separable_conv2d", layers.separable_conv2d)
register_op("separable_conv3d", layers.separable_conv3d)
register_op("max_pool", layers.max_pool)
register_op("avg_pool", layers.avg_pool)
register_op("lp_pool", layers.lp_pool)
register_op("adaptive_avg_pool", layers.adaptive_avg_pool)
register_op("adaptive_max_pool", layers.adaptive_max_pool)
register_op("adaptive_lp_pool", layers.adaptive_lp_pool)
register_op("global_avg_pool", layers.global_avg_pool)
register_op("global_max_pool", layers.global_max_pool)
register_op("global_lp_pool", layers.global_lp_pool)
register_op("resize", layers.resize)
