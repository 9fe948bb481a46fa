"""Convolution layers: conv, conv_transpose, depthwise_conv, separable_conv2d/3d.

Kernels are always stored in the ONNX / PyTorch layout, whatever ``channels`` is:
``(out_channels, in_channels // groups, *kernel_spatial)`` for convolutions and
``(in_channels, out_channels // groups, *kernel_spatial)`` for transposed convolutions.
Data layout is handled with dimension numbers, never by transposing the input.
"""

import jax
import jax.numpy as jnp
from jax import lax

from axonnx.layers._spatial import (
    Ints,
    Padding,
    add_channel_bias,
    as_tuple,
    check_channels,
    conv_dimension_numbers,
    padding_pairs,
    resolve_padding,
    same_totals,
    spatial_shape,
)

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv2d", "separable_conv3d"]


def _check_ranks(where: str, x: jax.Array, kernel: jax.Array, channels: str) -> int:
    check_channels(channels, where)
    if x.ndim < 3 or kernel.ndim != x.ndim:
        raise ValueError(
            f"{where}: expected input (N, C, *spatial) or (N, *spatial, C) and a kernel of "
            f"the same rank, got input {x.shape} and kernel {kernel.shape}. Add a batch "
            "dimension or store the kernel as (out, in // groups, *kernel_spatial)."
        )
    return x.ndim - 2


def _convolve(x, kernel, bias, strides, pads, lhs_dilation, rhs_dilation, groups, channels):
    """``lax.conv_general_dilated`` in the promoted dtype, then the channel bias."""
    dtype = jnp.result_type(x, kernel)
    y = lax.conv_general_dilated(
        x.astype(dtype),
        kernel.astype(dtype),
        strides,
        pads,
        lhs_dilation,
        rhs_dilation,
        conv_dimension_numbers(x.ndim, channels),
        groups,
    )
    return add_channel_bias(y, bias, channels)


def conv(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: Ints = 1,
    padding: Padding = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    feature_group_count: int = 1,
    channels: str = "last",
) -> jax.Array:
    """N-dimensional convolution (ONNX ``Conv``), 1-D, 2-D or 3-D from the input rank.

    Args:
      x: input ``(N, *spatial, C_in)`` (``channels="last"``) or ``(N, C_in, *spatial)``.
      kernel: ``(C_out, C_in // feature_group_count, *kernel_spatial)``.
      bias: optional ``(C_out,)``.
      strides: window strides, an int or one per spatial dimension.
      padding: ``"valid"``, ``"same"`` (ONNX ``SAME_UPPER``), ``"same_lower"``, an int,
        or one ``(low, high)`` pair per spatial dimension.
      input_dilation: input (lhs) dilation, as in a transposed convolution.
      kernel_dilation: kernel (rhs) dilation, ONNX ``dilations``.
      feature_group_count: number of channel groups, ONNX ``group``.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *out_spatial, C_out)`` or ``(N, C_out, *out_spatial)``, in the promoted dtype of
      ``x`` and ``kernel``.

    >>> x = jnp.ones((1, 5, 5, 3))
    >>> conv(x, jnp.ones((8, 3, 3, 3)), padding="same").shape
    (1, 5, 5, 8)
    """
    n = _check_ranks("conv", x, kernel, channels)
    strides = as_tuple(strides, n, "strides")
    lhs_dilation = as_tuple(input_dilation, n, "input_dilation")
    rhs_dilation = as_tuple(kernel_dilation, n, "kernel_dilation")
    sizes = [
        (size - 1) * d + 1 for size, d in zip(spatial_shape(x, channels), lhs_dilation, strict=True)
    ]
    totals = same_totals(sizes, kernel.shape[2:], strides, rhs_dilation)
    pads = resolve_padding(padding, totals)
    return _convolve(
        x, kernel, bias, strides, pads, lhs_dilation, rhs_dilation, feature_group_count, channels
    )


def _forward_kernel(kernel: jax.Array, groups: int) -> jax.Array:
    """``(C_in, C_out // g, *k)`` transposed kernel -> flipped ``(C_out, C_in // g, *k)``."""
    c_in, c_out_per_group, *window = kernel.shape
    grouped = kernel.reshape(groups, c_in // groups, c_out_per_group, *window).swapaxes(1, 2)
    forward = grouped.reshape(groups * c_out_per_group, c_in // groups, *window)
    return jnp.flip(forward, axis=tuple(range(2, kernel.ndim)))


def conv_transpose(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: Ints = 1,
    padding: Padding = "valid",
    output_padding: Ints = 0,
    kernel_dilation: Ints = 1,
    feature_group_count: int = 1,
    channels: str = "last",
) -> jax.Array:
    """Transposed convolution (ONNX ``ConvTranspose``), the gradient of :func:`conv`.

    Each spatial output size is
    ``stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - low - high``.

    Args:
      x: input ``(N, *spatial, C_in)`` (``channels="last"``) or ``(N, C_in, *spatial)``.
      kernel: ``(C_in, C_out // feature_group_count, *kernel_spatial)``.
      bias: optional ``(C_out,)``.
      strides: strides of the corresponding forward convolution.
      padding: ``"valid"``, ``"same"`` (output size ``in * stride``, ONNX ``SAME_UPPER``),
        ``"same_lower"``, or ``(low, high)`` pairs cropped from the output (ONNX ``pads``).
      output_padding: extra cells added at the high end of each spatial dimension.
      kernel_dilation: kernel dilation, ONNX ``dilations``.
      feature_group_count: number of channel groups, ONNX ``group``.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *out_spatial, C_out)`` or ``(N, C_out, *out_spatial)``.

    >>> x = jnp.ones((1, 4, 4, 3))
    >>> conv_transpose(x, jnp.ones((3, 8, 2, 2)), strides=2).shape
    (1, 8, 8, 8)
    """
    n = _check_ranks("conv_transpose", x, kernel, channels)
    strides = as_tuple(strides, n, "strides")
    output_padding = as_tuple(output_padding, n, "output_padding")
    dilation = as_tuple(kernel_dilation, n, "kernel_dilation")
    edges = [(k - 1) * d for k, d in zip(kernel.shape[2:], dilation, strict=True)]
    sizes = zip(spatial_shape(x, channels), strides, edges, output_padding, strict=True)
    totals = [s * (size - 1) + op + e + 1 - size * s for size, s, e, op in sizes]
    crops = resolve_padding(padding, totals)
    pads = [
        (e - lo, e - hi + op) for e, (lo, hi), op in zip(edges, crops, output_padding, strict=True)
    ]
    forward = _forward_kernel(kernel, feature_group_count)
    return _convolve(
        x, forward, bias, (1,) * n, pads, strides, dilation, feature_group_count, channels
    )


def depthwise_conv(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    channel_multiplier: int | None = None,
    strides: Ints = 1,
    padding: Padding = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    channels: str = "last",
) -> jax.Array:
    """Depthwise convolution: each input channel convolved with its own filters.

    Equals :func:`conv` with ``feature_group_count = C_in``.

    Args:
      x: input ``(N, *spatial, C_in)`` (``channels="last"``) or ``(N, C_in, *spatial)``.
      kernel: ``(C_in * channel_multiplier, 1, *kernel_spatial)``.
      bias: optional ``(C_in * channel_multiplier,)``.
      channel_multiplier: filters per input channel; checked against the kernel when given.
      strides, padding, input_dilation, kernel_dilation, channels: as in :func:`conv`.

    Returns:
      ``(N, *out_spatial, C_in * channel_multiplier)`` or the channels-first equivalent.

    >>> x = jnp.ones((1, 5, 5, 3))
    >>> depthwise_conv(x, jnp.ones((6, 1, 3, 3)), channel_multiplier=2).shape
    (1, 3, 3, 6)
    """
    _check_ranks("depthwise_conv", x, kernel, channels)
    c_in = x.shape[-1 if channels == "last" else 1]
    multiplier = channel_multiplier or kernel.shape[0] // c_in
    if kernel.shape[:2] != (c_in * multiplier, 1):
        raise ValueError(
            f"depthwise_conv: expected a kernel of shape ({c_in * multiplier}, 1, *kernel_spatial)"
            f" for {c_in} input channels and channel_multiplier={multiplier}, got "
            f"{kernel.shape}."
        )
    return conv(
        x,
        kernel,
        bias,
        strides=strides,
        padding=padding,
        input_dilation=input_dilation,
        kernel_dilation=kernel_dilation,
        feature_group_count=c_in,
        channels=channels,
    )


def _on_axis(values: tuple, axis: int, neutral: object) -> list:
    return [v if i == axis else neutral for i, v in enumerate(values)]


def _separable(x, kernels, biases, strides, padding, input_dilation, kernel_dilation, channels):
    """Depthwise convolutions, the i-th along spatial axis i only."""
    n = len(kernels)
    strides = as_tuple(strides, n, "strides")
    input_dilation = as_tuple(input_dilation, n, "input_dilation")
    if not isinstance(padding, str):
        padding = padding_pairs(padding, n)
    for axis, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        x = depthwise_conv(
            x,
            kernel,
            bias,
            strides=_on_axis(strides, axis, 1),
            padding=padding if isinstance(padding, str) else _on_axis(padding, axis, (0, 0)),
            input_dilation=_on_axis(input_dilation, axis, 1),
            kernel_dilation=kernel_dilation,
            channels=channels,
        )
    return x


def separable_conv2d(
    x: jax.Array,
    k1: jax.Array,
    b1: jax.Array | None,
    k2: jax.Array,
    b2: jax.Array | None,
    *,
    strides: Ints = 1,
    padding: Padding = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    channels: str = "last",
) -> jax.Array:
    """2-D separable depthwise convolution: a depthwise conv per spatial axis, as in Axon.

    ``k1`` runs along the first spatial axis (with the channel multiplier), ``k2`` along the
    second. Unlike Axon, each step strides, pads and dilates only its own axis, so the
    result equals one depthwise convolution with the outer-product kernel.

    Args:
      x: input ``(N, H, W, C)`` (``channels="last"``) or ``(N, C, H, W)``.
      k1: ``(C * multiplier, 1, kh, 1)``; b1: ``(C * multiplier,)`` or None.
      k2: ``(C * multiplier, 1, 1, kw)``; b2: ``(C * multiplier,)`` or None.
      strides, padding, input_dilation, kernel_dilation, channels: as in :func:`conv`.

    Returns:
      ``(N, H_out, W_out, C * multiplier)`` or ``(N, C * multiplier, H_out, W_out)``.

    >>> x = jnp.ones((1, 5, 5, 3))
    >>> separable_conv2d(x, jnp.ones((3, 1, 3, 1)), None, jnp.ones((3, 1, 1, 3)), None).shape
    (1, 3, 3, 3)
    """
    return _separable(
        x, (k1, k2), (b1, b2), strides, padding, input_dilation, kernel_dilation, channels
    )


def separable_conv3d(
    x: jax.Array,
    k1: jax.Array,
    b1: jax.Array | None,
    k2: jax.Array,
    b2: jax.Array | None,
    k3: jax.Array,
    b3: jax.Array | None,
    *,
    strides: Ints = 1,
    padding: Padding = "valid",
    input_dilation: Ints = 1,
    kernel_dilation: Ints = 1,
    channels: str = "last",
) -> jax.Array:
    """3-D separable depthwise convolution: a depthwise conv per spatial axis, as in Axon.

    Args:
      x: input ``(N, D, H, W, C)`` (``channels="last"``) or ``(N, C, D, H, W)``.
      k1: ``(C * multiplier, 1, kd, 1, 1)``; b1: ``(C * multiplier,)`` or None.
      k2: ``(C * multiplier, 1, 1, kh, 1)``; b2: ``(C * multiplier,)`` or None.
      k3: ``(C * multiplier, 1, 1, 1, kw)``; b3: ``(C * multiplier,)`` or None.
      strides, padding, input_dilation, kernel_dilation, channels: as in
        :func:`separable_conv2d`.

    Returns:
      ``(N, D_out, H_out, W_out, C * multiplier)`` or the channels-first equivalent.

    >>> x = jnp.ones((1, 4, 4, 4, 2))
    >>> k = [jnp.ones(s) for s in [(2, 1, 3, 1, 1), (2, 1, 1, 3, 1), (2, 1, 1, 1, 3)]]
    >>> separable_conv3d(x, k[0], None, k[1], None, k[2], None).shape
    (1, 2, 2, 2, 2)
    """
    return _separable(
        x,
        (k1, k2, k3),
        (b1, b2, b3),
        strides,
        padding,
        input_dilation,
        kernel_dilation,
        channels,
    )
