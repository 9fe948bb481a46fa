"""Resampling ops: Resize, Upsample, GridSample and AffineGrid."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.converters.ops import _nn_util as nu
from axonnx.converters.ops._common import static
from axonnx.converters.registry import onnx_op
from axonnx.converters.safety import check_elements
from axonnx.errors import InvalidModelError, UnsupportedOpError

_HIGHEST = lax.Precision.HIGHEST


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
    # Σ over the taps (2 linear, 4 cubic) as element-wise terms: a reduction over an axis
    # of 2 went to the CPU's reduction library at 32 ms for LR-ASPP's 28² → 224² upsample
    shape = [-1 if i == axis else 1 for i in range(x.ndim)]
    y = None
    for tap in range(coeffs.shape[1]):
        weight = jnp.asarray(coeffs[:, tap].reshape(shape), x.dtype)
        term = jnp.take(x, jnp.asarray(indices[:, tap]), axis) * weight
        y = term if y is None else y + term
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
    out_shape = list(X.shape)
    for axis, out, _, _ in plan:
        out_shape[axis] = out
    check_elements(out_shape, "Resize")
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
