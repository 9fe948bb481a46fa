"""Formulations of a 2-D convolution for XLA, chosen per shape at compile time.

The engine runs an imported channels-first (NCHW) convolution as `conv_hwio`: NHWC
data with the kernel stored as HWIO (transposed once, outside the compiled function),
because XLA's CPU convolution is 1.3–2.7× faster in that layout. Inside, the shape
picks the form: a pointwise convolution is a matmul, one with few products per
output is a sum of shifted slices, the rest is XLA's convolution.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.layers._spatial import add_channel_bias, resolve_padding, same_totals
from axonnx.ops import register_op

__all__ = ["CONV_HWIO", "ENTRIES_LIMIT", "TAPS_LIMIT", "conv_hwio", "few_taps"]

CONV_HWIO = "engine::conv_hwio"
_NHWC = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
# A convolution runs as shifted slices when each output sums at most TAPS_LIMIT products
# (kH · kW · C/groups, C/groups ≥ 1) and the kernel has at most ENTRIES_LIMIT entries.
# Measured with XNNPACK convolutions, NHWC (µs, XLA → slices): 1→8 ch 3×3 at 28², batch 8:
# 89 → 14; 3→64 3×3 at 224², batch 1: 1246 → 1034; 4→16 3×3, batch 8: 219 → 95; but
# 8→16 3×3 (72 products) 68 → 91, 4→64 3×3 (2304 entries) 731 → 877.
TAPS_LIMIT = 36
ENTRIES_LIMIT = 2048


def conv_hwio(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: tuple[int, int] = (1, 1),
    padding="valid",
    kernel_dilation: tuple[int, int] = (1, 1),
    feature_group_count: int = 1,
) -> jax.Array:
    """ONNX `Conv` on `x` (N, C, H, W) with `kernel` (kH, kW, C // groups, O): the
    result (N, O, H', W') equals `conv(x, kernel.transpose(3, 2, 0, 1), channels="first")`
    but is computed in NHWC."""
    y = jnp.transpose(x, (0, 2, 3, 1))
    totals = same_totals(y.shape[1:3], kernel.shape[:2], strides, kernel_dilation)
    pads = resolve_padding(padding, totals)
    dtype = jnp.result_type(x, kernel)
    y, kernel = y.astype(dtype), kernel.astype(dtype)
    pointwise = kernel.shape[:2] == (1, 1) and tuple(strides) == (1, 1) and feature_group_count == 1
    if pointwise and all(p == (0, 0) for p in pads):
        y = jnp.matmul(y, kernel[0, 0])
    elif few_taps(kernel.shape):
        y = _conv_taps(y, kernel, strides, pads, kernel_dilation, feature_group_count)
    else:
        y = lax.conv_general_dilated(
            y, kernel, strides, pads, (1, 1), kernel_dilation, _NHWC, feature_group_count
        )
    return jnp.transpose(add_channel_bias(y, bias, "last"), (0, 3, 1, 2))


def few_taps(kernel_shape: tuple[int, ...]) -> bool:
    """Whether a (kH, kW, C/groups, O) convolution runs as shifted slices (see TAPS_LIMIT)."""
    kh, kw, per_group, _ = kernel_shape
    products = kh * kw * per_group
    return kh * kw > 1 and products <= TAPS_LIMIT and int(np.prod(kernel_shape)) <= ENTRIES_LIMIT


def _conv_taps(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """NHWC convolution as Σ over kernel taps of (strided input slice × kernel row)."""
    kh, kw, per_group, out = kernel.shape
    y = lax.pad(y, jnp.zeros((), y.dtype), [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)])
    n, height, width, channels = y.shape
    rows = (height - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    cols = (width - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    total = None
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            bottom, right = top + (rows - 1) * strides[0] + 1, left + (cols - 1) * strides[1] + 1
            window = lax.slice(
                y, (0, top, left, 0), (n, bottom, right, channels), (1, strides[0], strides[1], 1)
            )
            for c in range(per_group):  # input channel c of every group, repeated per output
                row = kernel[i, j, c][None, None, None, :]
                term = jnp.repeat(window[..., c::per_group], out // groups, axis=-1) * row
                total = term if total is None else total + term
    return total


register_op(CONV_HWIO, conv_hwio)
