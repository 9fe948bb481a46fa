"""Pooling layers: windowed, adaptive and global max / average / Lp pooling.

Windowed pooling follows ONNX ``MaxPool`` / ``AveragePool`` / ``LpPool``: ``strides``
default to ``kernel_size``; ``ceil_mode`` rounds the output size up, but the last window
must start inside the input or the low padding (cells past the padded input are never
counted); padding cells are ignored by max pooling.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.layers._spatial import (
    Ints,
    Padding,
    as_tuple,
    check_channels,
    full_rank,
    resolve_padding,
    same_totals,
    spatial_axes,
    spatial_shape,
)

__all__ = [
    "max_pool",
    "avg_pool",
    "lp_pool",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "adaptive_lp_pool",
    "global_avg_pool",
    "global_max_pool",
    "global_lp_pool",
]


class _Window(NamedTuple):
    """Full-rank ``lax.reduce_window`` arguments; ``extra`` is the ``ceil_mode`` overflow."""

    dims: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    extra: tuple[tuple[int, int], ...]

    @property
    def total(self) -> list[tuple[int, int]]:
        return [(lo, hi + e) for (lo, hi), (_, e) in zip(self.pads, self.extra, strict=True)]


def _ceil_overflow(size: int, k: int, s: int, d: int, pad: tuple[int, int]) -> int:
    """Cells needed past the padded input for ``ceil_mode`` (PyTorch / ONNX rule)."""
    span = size + pad[0] + pad[1] - (k - 1) * d - 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + pad[0]:
        out -= 1
    return max((out - 1) * s - span, 0)


def _window(where, x, kernel_size, strides, padding, dilations, ceil_mode, channels) -> _Window:
    check_channels(channels, where)
    if x.ndim < 3:
        raise ValueError(f"{where}: expected input of rank >= 3, got shape {x.shape}.")
    n, sizes = x.ndim - 2, spatial_shape(x, channels)
    window = as_tuple(kernel_size, n, "kernel_size")
    strides = window if strides is None else as_tuple(strides, n, "strides")
    dilations = as_tuple(dilations, n, "dilations")
    pads = resolve_padding(padding, same_totals(sizes, window, strides, dilations))
    args = zip(sizes, window, strides, dilations, pads, strict=True)
    extra = [(0, _ceil_overflow(*a) if ceil_mode else 0) for a in args]
    return _Window(
        *(full_rank(v, 1, channels) for v in (window, strides, dilations)),
        *(full_rank(v, (0, 0), channels) for v in (pads, extra)),
    )


def _window_sum(x: jax.Array, w: _Window, pads: list[tuple[int, int]]) -> jax.Array:
    zero = np.zeros((), x.dtype)
    return lax.reduce_window(x, zero, lax.add, w.dims, w.strides, pads, window_dilation=w.dilations)


def max_pool(
    x: jax.Array,
    *,
    kernel_size: Ints,
    strides: Ints | None = None,
    padding: Padding = "valid",
    dilations: Ints = 1,
    ceil_mode: bool = False,
    channels: str = "last",
) -> jax.Array:
    """Max pooling over sliding windows (ONNX ``MaxPool``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``, 1-3 spatial dims.
      kernel_size: window size, an int or one per spatial dimension.
      strides: window strides; defaults to ``kernel_size``.
      padding: ``"valid"``, ``"same"`` (ONNX ``SAME_UPPER``), ``"same_lower"``, an int, or
        ``(low, high)`` pairs per spatial dimension. Padding never wins the max.
      dilations: window dilations.
      ceil_mode: round the output size up instead of down.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *out_spatial, C)`` or ``(N, C, *out_spatial)``, same dtype as ``x``.

    >>> max_pool(jnp.arange(8.0).reshape(1, 8, 1), kernel_size=2)[0, :, 0]
    Array([1., 3., 5., 7.], dtype=float32)
    """
    w = _window("max_pool", x, kernel_size, strides, padding, dilations, ceil_mode, channels)
    lowest = -np.inf if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.iinfo(x.dtype).min
    init = np.array(lowest, x.dtype)
    return lax.reduce_window(x, init, lax.max, w.dims, w.strides, w.total, None, w.dilations)


def avg_pool(
    x: jax.Array,
    *,
    kernel_size: Ints,
    strides: Ints | None = None,
    padding: Padding = "valid",
    dilations: Ints = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = False,
    channels: str = "last",
) -> jax.Array:
    """Average pooling over sliding windows (ONNX ``AveragePool``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``, 1-3 spatial dims.
      kernel_size, strides, padding, dilations, ceil_mode, channels: as in :func:`max_pool`.
      count_include_pad: divide by the window size including padding cells (but never the
        ``ceil_mode`` overflow); otherwise by the number of input cells in the window.

    Returns:
      ``(N, *out_spatial, C)`` or ``(N, C, *out_spatial)``, same dtype as ``x``.

    >>> avg_pool(jnp.arange(8.0).reshape(1, 8, 1), kernel_size=2)[0, :, 0]
    Array([0.5, 2.5, 4.5, 6.5], dtype=float32)
    """
    w = _window("avg_pool", x, kernel_size, strides, padding, dilations, ceil_mode, channels)
    ones = jnp.ones(full_rank(spatial_shape(x, channels), 1, channels), x.dtype)
    if count_include_pad:
        counts = _window_sum(jnp.pad(ones, w.pads, constant_values=1), w, list(w.extra))
    else:
        counts = _window_sum(ones, w, w.total)
    return _window_sum(x, w, w.total) / counts


def lp_pool(
    x: jax.Array,
    *,
    kernel_size: Ints,
    norm: float = 2,
    strides: Ints | None = None,
    padding: Padding = "valid",
    dilations: Ints = 1,
    ceil_mode: bool = False,
    channels: str = "last",
) -> jax.Array:
    """Lp pooling ``(sum |x| ** norm) ** (1 / norm)`` over sliding windows (ONNX ``LpPool``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``, 1-3 spatial dims.
      kernel_size: window size, an int or one per spatial dimension.
      norm: the exponent ``p`` (ONNX ``p``).
      strides, padding, dilations, ceil_mode, channels: as in :func:`max_pool`.

    Returns:
      ``(N, *out_spatial, C)`` or ``(N, C, *out_spatial)``, same dtype as ``x``.

    >>> lp_pool(jnp.array([[[3.0], [4.0]]]), kernel_size=2)[0, :, 0]
    Array([5.], dtype=float32)
    """
    w = _window("lp_pool", x, kernel_size, strides, padding, dilations, ceil_mode, channels)
    return _window_sum(jnp.abs(x) ** norm, w, w.total) ** (1 / norm)


def _adaptive(where: str, x: jax.Array, output_size: Ints, reduce: Callable, channels: str):
    """Reduces cell ``i`` of ``size`` inputs over ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    check_channels(channels, where)
    axes = spatial_axes(x.ndim, channels)
    for axis, out in zip(axes, as_tuple(output_size, len(axes), "output_size"), strict=True):
        size = x.shape[axis]
        bounds = [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
        cells = [lax.slice_in_dim(x, lo, hi, axis=axis) for lo, hi in bounds]
        x = jnp.stack([reduce(cell, axis=axis) for cell in cells], axis=axis)
    return x


def adaptive_avg_pool(x: jax.Array, *, output_size: Ints, channels: str = "last") -> jax.Array:
    """Average pooling to a fixed spatial ``output_size`` (PyTorch ``AdaptiveAvgPool``).

    Output cell ``i`` of a spatial axis of size ``n`` averages input cells
    ``floor(i * n / out)`` to ``ceil((i + 1) * n / out) - 1``; when ``out`` divides ``n``
    this is :func:`avg_pool` with ``kernel_size = strides = n // out``.

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      output_size: output spatial size, an int or one per spatial dimension.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *output_size, C)`` or ``(N, C, *output_size)``.

    >>> adaptive_avg_pool(jnp.ones((2, 7, 9, 3)), output_size=(2, 4)).shape
    (2, 2, 4, 3)
    """
    return _adaptive("adaptive_avg_pool", x, output_size, jnp.mean, channels)


def adaptive_max_pool(x: jax.Array, *, output_size: Ints, channels: str = "last") -> jax.Array:
    """Max pooling to a fixed spatial ``output_size``; windows as in :func:`adaptive_avg_pool`.

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      output_size: output spatial size, an int or one per spatial dimension.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *output_size, C)`` or ``(N, C, *output_size)``.

    >>> adaptive_max_pool(jnp.arange(5.0).reshape(1, 5, 1), output_size=2)[0, :, 0]
    Array([2., 4.], dtype=float32)
    """
    return _adaptive("adaptive_max_pool", x, output_size, jnp.max, channels)


def adaptive_lp_pool(
    x: jax.Array, *, output_size: Ints, norm: float = 2, channels: str = "last"
) -> jax.Array:
    """Lp pooling to a fixed spatial ``output_size``; windows as in :func:`adaptive_avg_pool`.

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      output_size: output spatial size, an int or one per spatial dimension.
      norm: the exponent ``p``.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *output_size, C)`` or ``(N, C, *output_size)``.

    >>> adaptive_lp_pool(jnp.array([[[3.0], [4.0]]]), output_size=1)[0, :, 0]
    Array([5.], dtype=float32)
    """
    summed = _adaptive("adaptive_lp_pool", jnp.abs(x) ** norm, output_size, jnp.sum, channels)
    return summed ** (1 / norm)


def _global(where: str, x: jax.Array, reduce: Callable, keep_axes: bool, channels: str):
    """``reduce`` over all spatial axes of ``x``."""
    check_channels(channels, where)
    return reduce(x, axis=spatial_axes(x.ndim, channels), keepdims=keep_axes)


def global_avg_pool(x: jax.Array, *, keep_axes: bool = False, channels: str = "last") -> jax.Array:
    """Mean over all spatial axes (ONNX ``GlobalAveragePool`` with ``keep_axes=True``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      keep_axes: keep the spatial axes with size 1.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, C)``, or with ``keep_axes`` ``(N, 1, ..., 1, C)`` / ``(N, C, 1, ..., 1)``.

    >>> global_avg_pool(jnp.ones((2, 4, 4, 3))).shape
    (2, 3)
    """
    return _global("global_avg_pool", x, jnp.mean, keep_axes, channels)


def global_max_pool(x: jax.Array, *, keep_axes: bool = False, channels: str = "last") -> jax.Array:
    """Max over all spatial axes (ONNX ``GlobalMaxPool`` with ``keep_axes=True``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      keep_axes: keep the spatial axes with size 1.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, C)``, or with ``keep_axes`` ``(N, 1, ..., 1, C)`` / ``(N, C, 1, ..., 1)``.

    >>> global_max_pool(jnp.ones((2, 4, 4, 3)), keep_axes=True).shape
    (2, 1, 1, 3)
    """
    return _global("global_max_pool", x, jnp.max, keep_axes, channels)


def global_lp_pool(
    x: jax.Array, *, norm: float = 2, keep_axes: bool = False, channels: str = "last"
) -> jax.Array:
    """``(sum |x| ** norm) ** (1 / norm)`` over all spatial axes (ONNX ``GlobalLpPool``).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      norm: the exponent ``p``.
      keep_axes: keep the spatial axes with size 1.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, C)``, or with ``keep_axes`` ``(N, 1, ..., 1, C)`` / ``(N, C, 1, ..., 1)``.

    >>> global_lp_pool(jnp.array([[[3.0], [4.0]]]))
    Array([[5.]], dtype=float32)
    """
    summed = _global("global_lp_pool", jnp.abs(x) ** norm, jnp.sum, keep_axes, channels)
    return summed ** (1 / norm)
