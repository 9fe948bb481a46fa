"""ONNX convolution, pooling, resizing and image-sampling ops (NCHW layout)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.converters.ops import _nn_util as nu
from axonnx.converters.ops._common import int64, static
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError
from axonnx.layers import convolution as conv_layers
from axonnx.layers import pooling as pool_layers

_HIGHEST = lax.Precision.HIGHEST


def _spatial_rank(X, op: str) -> int:
    if X.ndim < 3:
        raise ShapeError(f"{op}: expected input (N, C, *spatial), got shape {X.shape}")
    return X.ndim - 2


# ---------------------------------------------------------------- convolution


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
    n = _spatial_rank(X, "Conv")
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
    n = _spatial_rank(X, "ConvTranspose")
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
    n = _spatial_rank(X, "DeformConv")
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


# ---------------------------------------------------------------- pooling


def _window_args(X, op, auto_pad, pads, kernel_shape, strides, dilations, ceil_mode):
    n = _spatial_rank(X, op)
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
    n = _spatial_rank(X, "MaxUnpool")
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


# ---------------------------------------------------------------- resizing


def _optional(value, what: str) -> np.ndarray | None:
    """A static optional input; absent or empty means not given."""
    if value is None:
        return None
    value = static(value, what)
    return value if value.size else None


def _resize_plan(shape, roi, scales, sizes, axes, policy):
    """Per resized axis: (axis, output size, scale, roi pair)."""
    rank = len(shape)
    axes = [a % rank for a in axes] if axes else list(range(rank))
    roi = None if roi is None else roi.astype(np.float64)
    if sizes is not None:
        sizes = [int(v) for v in sizes]
        ratios = [sizes[i] / shape[a] for i, a in enumerate(axes)]
        if policy != "stretch":
            pick = {"not_larger": min, "not_smaller": max}.get(policy)
            if pick is None:
                raise UnsupportedOpError(f"Resize: unsupported keep_aspect_ratio_policy {policy!r}")
            ratios = [pick(ratios)] * len(axes)
            sizes = [int(r * shape[a] + 0.5) for r, a in zip(ratios, axes)]
    elif scales is not None:
        ratios = [float(s) for s in scales]
        sizes = [int(r * shape[a]) for r, a in zip(ratios, axes)]
    else:
        raise InvalidModelError("Resize: expected one of the scales and sizes inputs, got neither")
    plan = []
    for i, axis in enumerate(axes):
        pair = (0.0, 1.0) if roi is None else (roi[i], roi[i + len(axes)])
        if ratios[i] == 1.0 and sizes[i] == shape[axis] and pair == (0.0, 1.0):
            continue
        plan.append((axis, sizes[i], ratios[i], pair))
    return plan


def _resize_axis(x, axis, indices, coeffs, extrapolated, extrapolation_value, nearest):
    if nearest:
        return jnp.take(x, jnp.asarray(indices[np.arange(len(indices)), coeffs.argmax(-1)]), axis)
    shape = [1] * (x.ndim + 1)
    shape[axis], shape[axis + 1] = coeffs.shape
    y = jnp.sum(
        jnp.take(x, jnp.asarray(indices), axis) * coeffs.reshape(shape).astype(x.dtype),
        axis=axis + 1,
    )
    if extrapolated is not None:
        mask = extrapolated.reshape([-1 if i == axis else 1 for i in range(x.ndim)])
        y = jnp.where(mask, jnp.asarray(extrapolation_value, x.dtype), y)
    return y


def _cast_back(y, dtype):
    if jnp.issubdtype(dtype, jnp.integer):
        info = jnp.iinfo(dtype)
        y = jnp.clip(jnp.round(y), info.min, info.max)
    return y.astype(dtype)


def _resize(
    X,
    roi,
    scales,
    sizes,
    *,
    mode,
    axes=None,
    antialias=0,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    keep_aspect_ratio_policy="stretch",
    nearest_mode="round_prefer_floor",
):
    plan = _resize_plan(X.shape, roi, scales, sizes, axes, keep_aspect_ratio_policy)
    nearest = mode == "nearest"
    y = X if nearest else X.astype(jnp.promote_types(X.dtype, jnp.float32))
    for axis, out, scale, pair in plan:
        weights = nu.resize_weights(
            X.shape[axis],
            out,
            scale,
            pair,
            mode=mode,
            coordinate_mode=coordinate_transformation_mode,
            nearest_mode=nearest_mode,
            cubic_a=cubic_coeff_a,
            antialias=antialias,
            exclude_outside=exclude_outside,
        )
        y = _resize_axis(y, axis, *weights, extrapolation_value, nearest)
    return y if nearest else _cast_back(y, X.dtype)


@onnx_op("Resize", 10, static_inputs=(1,))
def resize_10(X, scales, *, mode="nearest"):
    """ONNX Resize-10: asymmetric coordinates; nearest rounds down when upsampling and up
    when downsampling (as onnxruntime's opset-10 kernel)."""
    return _resize(
        X,
        None,
        static(scales, "Resize scales"),
        None,
        mode=mode,
        coordinate_transformation_mode="asymmetric",
        nearest_mode="simple",
    )


@onnx_op("Resize", 11, 13, 18, 19, static_inputs=(1, 2, 3))
def resize(
    X,
    roi=None,
    scales=None,
    sizes=None,
    *,
    antialias=0,
    axes=None,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    keep_aspect_ratio_policy="stretch",
    mode="nearest",
    nearest_mode="round_prefer_floor",
):
    """ONNX Resize-11..19: nearest / linear / cubic resampling; scales and sizes static."""
    return _resize(
        X,
        _optional(roi, "Resize roi"),
        _optional(scales, "Resize scales"),
        _optional(sizes, "Resize sizes"),
        mode=mode,
        axes=axes,
        antialias=antialias,
        coordinate_transformation_mode=coordinate_transformation_mode,
        cubic_coeff_a=cubic_coeff_a,
        exclude_outside=exclude_outside,
        extrapolation_value=extrapolation_value,
        keep_aspect_ratio_policy=keep_aspect_ratio_policy,
        nearest_mode=nearest_mode,
    )


def _upsample(X, scales, mode):
    mode = {"bilinear": "linear"}.get(mode, mode)
    return _resize(
        X,
        None,
        np.asarray(scales, np.float32),
        None,
        mode=mode,
        coordinate_transformation_mode="asymmetric",
        nearest_mode="simple",
    )


@onnx_op("Upsample", 7)
def upsample_7(X, *, mode="nearest", scales=None):
    """ONNX Upsample-7: Resize-10 semantics with the scales attribute."""
    return _upsample(X, scales, mode)


@onnx_op("Upsample", 9, 10, static_inputs=(1,))
def upsample(X, scales, *, mode="nearest"):
    """ONNX Upsample-9..10: Resize-10 semantics with a static scales input."""
    return _upsample(X, static(scales, "Upsample scales"), mode)


# ---------------------------------------------------------------- sampling grids


_GRID_MODES = {
    "bilinear": "linear",
    "bicubic": "cubic",
    "linear": "linear",
    "cubic": "cubic",
    "nearest": "nearest",
}


def _grid_coords(grid, sizes, align_corners, method, padding_mode):
    """GridSample: pixel coordinates (one array per spatial axis) and reflection borders."""
    borders = [(0.0, s - 1.0) if align_corners else (-0.5, s - 0.5) for s in sizes]
    coords = []
    for d, size in enumerate(sizes):
        g = grid[..., len(sizes) - 1 - d]
        c = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
        c = jnp.round(c) if method == "nearest" else c
        outside = (c < borders[d][0]) | (c > borders[d][1])
        if padding_mode == "border":
            c = jnp.where(outside, jnp.clip(c, 0, size - 1), c)
        elif padding_mode == "reflection":
            c = nu.reflect(c, *borders[d])
        coords.append(c)
    return coords, borders


@onnx_op("GridSample", 16)
def grid_sample_16(X, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    """ONNX GridSample-16: 2-D sampling, modes bilinear / nearest / bicubic."""
    return grid_sample(X, grid, align_corners=align_corners, mode=mode, padding_mode=padding_mode)


@onnx_op("GridSample", 20, 22)
def grid_sample(X, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    """ONNX GridSample-20..22: sample X at normalized grid points, N-D, modes linear /
    nearest / cubic."""
    method = _GRID_MODES.get(mode)
    if method is None or padding_mode not in ("zeros", "border", "reflection"):
        raise UnsupportedOpError(
            f"GridSample: expected mode in {sorted(_GRID_MODES)} and padding_mode in zeros, "
            f"border, reflection, got mode={mode!r}, padding_mode={padding_mode!r}"
        )
    dtype = jnp.promote_types(X.dtype, jnp.float32)
    coords, borders = _grid_coords(
        grid.astype(dtype), X.shape[2:], align_corners, method, padding_mode
    )
    y = nu.sample(X.astype(dtype), coords, method, padding_mode, borders)
    return y.astype(X.dtype)


def _affine_base(sizes, align_corners, dtype):
    """Homogeneous base grid `(*sizes, n + 1)`, coordinates in x, y(, z) order."""
    lines = []
    for size in sizes:
        line = np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
        lines.append(line if align_corners else line * (size - 1) / size)
    mesh = np.meshgrid(*lines, indexing="ij")
    return jnp.asarray(np.stack([*mesh[::-1], np.ones(sizes)], axis=-1), dtype)


@onnx_op("AffineGrid", 20, static_inputs=(1,))
def affine_grid(theta, size, *, align_corners=0):
    """ONNX AffineGrid-20: grid (N, *spatial, n) of theta applied to the base grid."""
    sizes = tuple(int(v) for v in static(size, "AffineGrid size")[2:])
    base = _affine_base(sizes, align_corners, theta.dtype)
    return jnp.einsum("...k,nik->n...i", base, theta, precision=_HIGHEST)


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
    """The four weighted corner values of every sample point: list of (R, C, oh, ow)."""
    H, W = X.shape[2:]
    yl, yh, wyl, wyh, yin = _roi_axis(y, H)
    xl, xh, wxl, wxh, xin = _roi_axis(x, W)
    inside = (yin[:, :, None] & xin[:, None, :])[:, None]
    b = batch[:, None, None]
    terms = []
    for yi, wy in ((yl, wyl), (yh, wyh)):
        for xi, wx in ((xl, wxl), (xh, wxh)):
            v = jnp.moveaxis(X[b, :, yi[:, :, None], xi[:, None, :]], -1, 1)
            w = (wy[:, :, None] * wx[:, None, :])[:, None]
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

    def body(k, acc):
        gw = jnp.maximum(grid[:, 0], 1)
        iy, ix = (k // gw).astype(dtype), (k % gw).astype(dtype)
        y = boxes[:, 1:2] + ph * bins[:, 1:2] + ((iy + 0.5) * bins[:, 1] / grid[:, 1])[:, None]
        x = boxes[:, 0:1] + pw * bins[:, 0:1] + ((ix + 0.5) * bins[:, 0] / grid[:, 0])[:, None]
        terms = _roi_sample(X.astype(dtype), batch, y, x)
        value = (
            sum(terms)
            if mode == "avg"
            else jnp.maximum(jnp.maximum(terms[0], terms[1]), jnp.maximum(terms[2], terms[3]))
        )
        take = (k < counts)[:, None, None, None]
        new = acc + value if mode == "avg" else jnp.maximum(acc, value)
        return jnp.where(take, new, acc)

    init = 0.0 if mode == "avg" else -jnp.inf
    acc = jnp.full((rois.shape[0], X.shape[1], output_height, output_width), init, dtype)
    bound = int(sampling_ratio) ** 2 if sampling_ratio > 0 else jnp.max(counts, initial=0)
    acc = lax.fori_loop(0, bound, body, acc)
    scale = jnp.maximum(counts, 1).astype(dtype)[:, None, None, None]
    out = acc / scale if mode == "avg" else jnp.where(counts[:, None, None, None] > 0, acc, 0)
    return out.astype(X.dtype)


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


# ---------------------------------------------------------------- Col2Im


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
