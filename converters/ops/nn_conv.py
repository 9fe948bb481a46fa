"""Convolution ops: Conv, ConvTranspose, DeformConv and Col2Im; resampling (Resize,
Upsample, GridSample, AffineGrid) is in `nn_resample`."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.converters.ops import _nn_util as nu
from axonnx.converters.ops._common import static
from axonnx.converters.registry import onnx_op
from axonnx.layers import convolution as conv_layers

_HIGHEST = lax.Precision.HIGHEST


@onnx_op("Conv", 1, 11, 22, weight_inputs=(1, 2))
def conv(
    X,
    W,
    B=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """ONNX Conv-1..22: N-D grouped convolution, kernel (C_out, C_in / group, *k)."""
    n = nu.spatial_rank(X, "Conv")
    return conv_layers.conv(
        X,
        W,
        B,
        strides=nu.per_axis(strides, n, 1, "Conv strides"),
        padding=nu.padding(auto_pad, pads, n, "Conv"),
        kernel_dilation=nu.per_axis(dilations, n, 1, "Conv dilations"),
        feature_group_count=int(group),
        channels="first",
    )


def _transpose_padding(X, W, auto_pad, pads, output_shape, output_padding, strides, dilations):
    """ConvTranspose padding; an explicit `output_shape` fixes the total padding."""
    n = X.ndim - 2
    if output_shape is None or len(output_shape) == 0:
        return nu.padding(auto_pad, pads, n, "ConvTranspose")
    pairs = []
    for i, out in enumerate(list(output_shape)[-n:]):
        full = strides[i] * (X.shape[2 + i] - 1) + output_padding[i]
        total = full + (W.shape[2 + i] - 1) * dilations[i] + 1 - int(out)
        half = total // 2
        pairs.append((half, total - half) if auto_pad == "SAME_UPPER" else (total - half, half))
    return pairs


@onnx_op("ConvTranspose", 1, 11, 22, weight_inputs=(1, 2))
def conv_transpose(
    X,
    W,
    B=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    output_padding=None,
    output_shape=None,
    pads=None,
    strides=None,
):
    """ONNX ConvTranspose-1..22: transposed convolution, kernel (C_in, C_out / group, *k)."""
    n = nu.spatial_rank(X, "ConvTranspose")
    strides = nu.per_axis(strides, n, 1, "ConvTranspose strides")
    dilations = nu.per_axis(dilations, n, 1, "ConvTranspose dilations")
    extra = nu.per_axis(output_padding, n, 0, "ConvTranspose output_padding")
    pad = _transpose_padding(X, W, auto_pad, pads, output_shape, extra, strides, dilations)
    return conv_layers.conv_transpose(
        X,
        W,
        B,
        strides=strides,
        padding=pad,
        output_padding=extra,
        kernel_dilation=dilations,
        feature_group_count=int(group),
        channels="first",
    )


@onnx_op("DeformConv", 19, 22, weight_inputs=(1, 3))
def deform_conv(
    X,
    W,
    offset,
    B=None,
    mask=None,
    *,
    dilations=None,
    group=1,
    kernel_shape=None,
    offset_group=1,
    pads=None,
    strides=None,
):
    """ONNX DeformConv-19..22: convolution sampling X bilinearly at offset kernel taps."""
    n = nu.spatial_rank(X, "DeformConv")
    N, C, window, out = X.shape[0], X.shape[1], W.shape[2:], offset.shape[2:]
    G, taps = int(offset_group), int(np.prod(W.shape[2:]))
    base = nu.window_taps(
        out,
        window,
        nu.per_axis(strides, n, 1, "DeformConv strides"),
        nu.per_axis(dilations, n, 1, "DeformConv dilations"),
        nu.pad_pairs(pads, n, "DeformConv pads"),
    )
    shifts = offset.reshape(N * G, taps, n, *out)
    coords = [
        shifts[:, :, d].reshape(N * G, *window, *out)
        + jnp.asarray(np.moveaxis(base[d], range(n), range(n, 2 * n)), offset.dtype)
        for d in range(n)
    ]
    cols = nu.sample(X.reshape(N * G, C // G, *X.shape[2:]), coords)
    if mask is not None:
        cols = cols * mask.reshape(N * G, 1, *window, *out)
    g = int(group)
    cols = cols.reshape(N, g, C // g, taps, -1)
    kernel = W.reshape(g, W.shape[0] // g, C // g, taps)
    y = jnp.einsum("ngckp,gock->ngop", cols, kernel, precision=_HIGHEST)
    y = y.reshape(N, W.shape[0], *out)
    return y if B is None else y + B.reshape(-1, *([1] * n))


@onnx_op("Col2Im", 18, static_inputs=(1, 2))
def col2im(input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):  # noqa: A002
    """ONNX Col2Im-18: sum sliding blocks (N, C * prod(block), L) into (N, C, *image)."""
    image = [int(v) for v in static(image_shape, "Col2Im image_shape")]
    block = [int(v) for v in static(block_shape, "Col2Im block_shape")]
    n = len(image)
    strides = nu.per_axis(strides, n, 1, "Col2Im strides")
    dilations = nu.per_axis(dilations, n, 1, "Col2Im dilations")
    pairs = nu.pad_pairs(pads, n, "Col2Im pads")
    out = [nu.pool_out_size(*a, 0) for a in zip(image, block, strides, dilations, pairs)]
    coords = [
        np.moveaxis(c, range(n), range(n, 2 * n)).reshape(int(np.prod(block)), -1)
        for c in nu.window_taps(out, block, strides, dilations, pairs)
    ]
    valid = np.all([(c >= 0) & (c < s) for c, s in zip(coords, image)], axis=0)
    flat = nu.flat_index([c[valid] for c in coords], image)
    N, taps = input.shape[0], int(np.prod(block))
    cols = input.reshape(N, -1, taps, input.shape[-1])[:, :, valid]
    result = jnp.zeros((N, cols.shape[1], int(np.prod(image))), input.dtype)
    return result.at[:, :, flat].add(cols).reshape(N, -1, *image)
