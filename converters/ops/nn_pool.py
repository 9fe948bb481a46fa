"""ONNX pooling ops: windowed, global, MaxUnpool and RoiAlign (NCHW layout)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.converters.ops import _nn_util as nu
from axonnx.converters.ops._common import int64, static
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, UnsupportedOpError
from axonnx.layers import pooling as pool_layers

# ---------------------------------------------------------------- pooling


def _window_args(X, op, auto_pad, pads, kernel_shape, strides, dilations, ceil_mode):
    n = nu.spatial_rank(X, op)
    if kernel_shape is None:
        raise InvalidModelError(f"{op}: the kernel_shape attribute is required")
    return {
        "kernel_size": nu.per_axis(kernel_shape, n, 1, f"{op} kernel_shape"),
        "strides": nu.per_axis(strides, n, 1, f"{op} strides"),
        "padding": nu.padding(auto_pad, pads, n, op),
        "dilations": nu.per_axis(dilations, n, 1, f"{op} dilations"),
        "ceil_mode": bool(ceil_mode),
        "channels": "first",
    }


def _max_indices(X, window, strides, dilations, auto_pad, pads, ceil_mode, storage_order):
    """MaxPool's Indices: flat index into X of each window's first maximum."""
    sizes = X.shape[2:]
    pairs = nu.window_pairs(auto_pad, pads, sizes, window, strides, dilations, "MaxPool")
    out = [nu.pool_out_size(*a, ceil_mode) for a in zip(sizes, window, strides, dilations, pairs)]
    coords = nu.window_taps(out, window, strides, dilations, pairs)
    valid = np.all([(c >= 0) & (c < s) for c, s in zip(coords, sizes)], axis=0)
    clipped = [np.clip(c, 0, s - 1) for c, s in zip(coords, sizes)]
    flat = nu.flat_index(clipped, sizes).reshape(*out, -1)
    stored = nu.flat_index(clipped, sizes, column_major=bool(storage_order)).reshape(*out, -1)
    values = X.reshape(*X.shape[:2], -1)[:, :, flat]
    lowest = -jnp.inf if jnp.issubdtype(X.dtype, jnp.inexact) else jnp.iinfo(X.dtype).min
    values = jnp.where(valid.reshape(*out, -1), values, jnp.asarray(lowest, X.dtype))
    best = jnp.argmax(values, axis=-1)
    channel = np.arange(X.shape[0] * X.shape[1]).reshape(X.shape[:2] + (1,) * len(out))
    stored = jnp.broadcast_to(jnp.asarray(stored), values.shape)
    picked = jnp.take_along_axis(stored, best[..., None], axis=-1)[..., 0]
    return (channel * int(np.prod(sizes)) + picked).astype(int64())


@onnx_op("MaxPool", 1)
def max_pool_1(X, *, auto_pad="NOTSET", kernel_shape=None, pads=None, strides=None):
    """ONNX MaxPool-1 (opset 7): max over sliding windows, one output."""
    return pool_layers.max_pool(
        X, **_window_args(X, "MaxPool", auto_pad, pads, kernel_shape, strides, None, 0)
    )


@onnx_op("MaxPool", 8, 10, 11, 12, 22)
def max_pool(
    X,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
):
    """ONNX MaxPool-8..22: max over sliding windows and the flat index of each maximum."""
    args = _window_args(X, "MaxPool", auto_pad, pads, kernel_shape, strides, dilations, ceil_mode)
    indices = _max_indices(
        X,
        args["kernel_size"],
        args["strides"],
        args["dilations"],
        auto_pad,
        pads,
        ceil_mode,
        storage_order,
    )
    return pool_layers.max_pool(X, **args), indices


@onnx_op("AveragePool", 7, 10, 11, 19, 22)
def average_pool(
    X,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """ONNX AveragePool-7..22: mean over sliding windows."""
    args = _window_args(
        X, "AveragePool", auto_pad, pads, kernel_shape, strides, dilations, ceil_mode
    )
    return pool_layers.avg_pool(X, count_include_pad=bool(count_include_pad), **args)


@onnx_op("LpPool", 2, 11, 18, 22)
def lp_pool(
    X,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    p=2,
    pads=None,
    strides=None,
):
    """ONNX LpPool-2..22: `(sum |x|^p)^(1/p)` over sliding windows."""
    args = _window_args(X, "LpPool", auto_pad, pads, kernel_shape, strides, dilations, ceil_mode)
    return pool_layers.lp_pool(X, norm=p, **args)


@onnx_op("GlobalAveragePool", 1, 22)
def global_average_pool(X):
    """ONNX GlobalAveragePool-1..22: mean over all spatial axes, kept with size 1."""
    return pool_layers.global_avg_pool(X, keep_axes=True, channels="first")


@onnx_op("GlobalMaxPool", 1, 22)
def global_max_pool(X):
    """ONNX GlobalMaxPool-1..22: max over all spatial axes, kept with size 1."""
    return pool_layers.global_max_pool(X, keep_axes=True, channels="first")


@onnx_op("GlobalLpPool", 2, 22)
def global_lp_pool(X, *, p=2):
    """ONNX GlobalLpPool-2..22: Lp norm over all spatial axes, kept with size 1."""
    return pool_layers.global_lp_pool(X, norm=p, keep_axes=True, channels="first")


@onnx_op("MaxUnpool", 9, 11, 22, static_inputs=(2,))
def max_unpool(X, I, output_shape=None, *, kernel_shape=None, pads=None, strides=None):  # noqa: E741
    """ONNX MaxUnpool-9..22: scatter X to the flat positions I of a zero tensor of the
    shape inferred from the attributes, then zero-pad (or crop) it to `output_shape`
    at the end, as the ONNX reference implementation does."""
    n = nu.spatial_rank(X, "MaxUnpool")
    window = nu.per_axis(kernel_shape, n, 1, "MaxUnpool kernel_shape")
    strides = nu.per_axis(strides, n, 1, "MaxUnpool strides")
    pairs = nu.pad_pairs(pads, n, "MaxUnpool pads")
    sizes = [(X.shape[2 + i] - 1) * strides[i] + window[i] - sum(pairs[i]) for i in range(n)]
    shape = (*X.shape[:2], *sizes)
    y = jnp.zeros(int(np.prod(shape)), X.dtype).at[I.reshape(-1)].set(X.reshape(-1))
    y = y.reshape(shape)
    if output_shape is None:
        return y
    target = [int(v) for v in static(output_shape, "MaxUnpool output_shape")]
    y = y[tuple(slice(0, t) for t in target)]
    return jnp.pad(y, [(0, t - s) for t, s in zip(target, y.shape)])


# ---------------------------------------------------------------- RoiAlign


def _roi_axis(coord, size):
    """Bilinear taps of RoiAlign along one axis: (low, high, w_low, w_high, inside)."""
    inside = (coord >= -1.0) & (coord <= size)
    coord = jnp.maximum(coord, 0)
    low = jnp.floor(coord).astype(jnp.int32)
    edge = low >= size - 1
    low = jnp.where(edge, size - 1, low)
    high = jnp.where(edge, size - 1, low + 1)
    frac = jnp.where(edge, 0, coord - low)
    return low, high, 1 - frac, frac, inside


def _roi_sample(X, batch, y, x):
    """The four weighted corner values of every sample point: list of (R, oh, ow, C),
    gathered from `X` in (N, H, W, C) layout (each tap one contiguous channel row)."""
    H, W = X.shape[1:3]
    yl, yh, wyl, wyh, yin = _roi_axis(y, H)
    xl, xh, wxl, wxh, xin = _roi_axis(x, W)
    inside = (yin[:, :, None] & xin[:, None, :])[..., None]
    b = batch[:, None, None]
    terms = []
    for yi, wy in ((yl, wyl), (yh, wyh)):
        for xi, wx in ((xl, wxl), (xh, wxh)):
            v = X[b, yi[:, :, None], xi[:, None, :]]
            w = (wy[:, :, None] * wx[:, None, :])[..., None]
            terms.append(jnp.where(inside, v * w.astype(X.dtype), 0))
    return terms


def _roi_align(
    X,
    rois,
    batch_indices,
    *,
    half_pixel,
    mode,
    output_height,
    output_width,
    sampling_ratio,
    spatial_scale,
):
    if mode not in ("avg", "max"):
        raise UnsupportedOpError(f"RoiAlign: expected mode avg or max, got {mode!r}")
    dtype = jnp.promote_types(X.dtype, jnp.float32)
    boxes = rois.astype(dtype) * spatial_scale - (0.5 if half_pixel else 0.0)
    extent = boxes[:, 2:] - boxes[:, :2]
    extent = extent if half_pixel else jnp.maximum(extent, 1.0)
    bins = extent / jnp.array([output_width, output_height], dtype)
    if sampling_ratio > 0:
        grid = jnp.full(extent.shape, sampling_ratio, jnp.int32)
    else:
        grid = jnp.ceil(extent / jnp.array([output_width, output_height], dtype)).astype(jnp.int32)
    grid = jnp.maximum(grid, 0)
    counts = grid[:, 0] * grid[:, 1]
    batch = batch_indices.astype(jnp.int32)
    ph, pw = jnp.arange(output_height, dtype=dtype), jnp.arange(output_width, dtype=dtype)
    channels_last = jnp.transpose(X.astype(dtype), (0, 2, 3, 1))

    def body(k, acc):
        gw = jnp.maximum(grid[:, 0], 1)
        iy, ix = (k // gw).astype(dtype), (k % gw).astype(dtype)
        y = boxes[:, 1:2] + ph * bins[:, 1:2] + ((iy + 0.5) * bins[:, 1] / grid[:, 1])[:, None]
        x = boxes[:, 0:1] + pw * bins[:, 0:1] + ((ix + 0.5) * bins[:, 0] / grid[:, 0])[:, None]
        terms = _roi_sample(channels_last, batch, y, x)
        value = (
            sum(terms)
            if mode == "avg"
            else jnp.maximum(jnp.maximum(terms[0], terms[1]), jnp.maximum(terms[2], terms[3]))
        )
        take = (k < counts)[:, None, None, None]  # (R, oh, ow, C) from here
        new = acc + value if mode == "avg" else jnp.maximum(acc, value)
        return jnp.where(take, new, acc)

    init = 0.0 if mode == "avg" else -jnp.inf
    acc = jnp.full((rois.shape[0], output_height, output_width, X.shape[1]), init, dtype)
    bound = int(sampling_ratio) ** 2 if sampling_ratio > 0 else jnp.max(counts, initial=0)
    acc = lax.fori_loop(0, bound, body, acc)
    scale = jnp.maximum(counts, 1).astype(dtype)[:, None, None, None]
    out = acc / scale if mode == "avg" else jnp.where(counts[:, None, None, None] > 0, acc, 0)
    return jnp.transpose(out, (0, 3, 1, 2)).astype(X.dtype)


@onnx_op("RoiAlign", 10)
def roi_align_10(
    X,
    rois,
    batch_indices,
    *,
    mode="avg",
    output_height=1,
    output_width=1,
    sampling_ratio=0,
    spatial_scale=1.0,
):
    """ONNX RoiAlign-10: pooled bilinear samples of each region, no half-pixel shift."""
    return _roi_align(
        X,
        rois,
        batch_indices,
        half_pixel=False,
        mode=mode,
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )


@onnx_op("RoiAlign", 16, 22)
def roi_align(
    X,
    rois,
    batch_indices,
    *,
    coordinate_transformation_mode="half_pixel",
    mode="avg",
    output_height=1,
    output_width=1,
    sampling_ratio=0,
    spatial_scale=1.0,
):
    """ONNX RoiAlign-16..22: pooled bilinear samples of each region (R, C, oh, ow)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise UnsupportedOpError(
            "RoiAlign: expected coordinate_transformation_mode half_pixel or "
            f"output_half_pixel, got {coordinate_transformation_mode!r}"
        )
    return _roi_align(
        X,
        rois,
        batch_indices,
        half_pixel=coordinate_transformation_mode == "half_pixel",
        mode=mode,
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )
