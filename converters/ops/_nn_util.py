"""Private helpers of the nn_conv and nn_pool ops: ONNX padding attributes, window
geometry, point sampling (GridSample, DeformConv) and Resize interpolation weights.

Window geometry and Resize weights depend only on shapes and attributes, so they are
computed with NumPy while tracing and enter the graph as constants.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

__all__: list[str] = []

_AUTO_PADS = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}


def spatial_rank(X, op: str) -> int:
    """The number of spatial axes of a channels-first input `(N, C, *spatial)`."""
    if X.ndim < 3:
        raise ShapeError(f"{op}: expected input (N, C, *spatial), got shape {X.shape}")
    return X.ndim - 2


def per_axis(values: Sequence[int] | None, n: int, default: int, what: str) -> tuple[int, ...]:
    """`values` (one per spatial axis) as ints, or `default` on every axis when absent."""
    if values is None or len(values) == 0:
        return (default,) * n
    if len(values) != n:
        raise InvalidModelError(f"{what}: expected {n} values (one per spatial axis), got {values}")
    return tuple(int(v) for v in values)


def pad_pairs(pads: Sequence[int] | None, n: int, what: str) -> list[tuple[int, int]]:
    """ONNX `pads` `[x1_begin, x2_begin, ..., x1_end, x2_end]` as `(begin, end)` pairs."""
    if pads is None or len(pads) == 0:
        return [(0, 0)] * n
    if len(pads) != 2 * n:
        raise InvalidModelError(f"{what}: expected pads of length {2 * n}, got {list(pads)}")
    return [(int(pads[i]), int(pads[i + n])) for i in range(n)]


def padding(auto_pad: str, pads: Sequence[int] | None, n: int, op: str) -> str | list:
    """The layers' `padding` argument for ONNX `auto_pad` and `pads`."""
    if auto_pad in ("NOTSET", ""):
        return pad_pairs(pads, n, f"{op} pads")
    if auto_pad not in _AUTO_PADS:
        raise UnsupportedOpError(
            f"{op}: expected auto_pad in NOTSET, {', '.join(_AUTO_PADS)}, got {auto_pad!r}"
        )
    return _AUTO_PADS[auto_pad]


def window_pairs(auto_pad, pads, sizes, window, strides, dilations, op) -> list[tuple[int, int]]:
    """Explicit `(begin, end)` padding of a sliding window (SAME: `ceil(size / stride)`)."""
    mode = padding(auto_pad, pads, len(sizes), op)
    if not isinstance(mode, str):
        return mode
    if mode == "valid":
        return [(0, 0)] * len(sizes)
    pairs = []
    for size, k, s, d in zip(sizes, window, strides, dilations, strict=True):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        low, high = total // 2, total - total // 2
        pairs.append((low, high) if mode == "same" else (high, low))
    return pairs


def pool_out_size(size: int, k: int, s: int, d: int, pad: tuple[int, int], ceil_mode: int) -> int:
    """Output length of a pooling window (ONNX rule: with `ceil_mode` the last window
    must start inside the input or its begin padding)."""
    span = size + pad[0] + pad[1] - (k - 1) * d - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + pad[0] else out


def window_taps(out_sizes, window, strides, dilations, pairs) -> list[np.ndarray]:
    """Per spatial axis, the input coordinate of each (output cell, window tap): arrays
    of shape `(*out_sizes, *window)`; coordinates may lie outside the input."""
    n = len(out_sizes)
    coords = []
    for axis in range(n):
        cells = np.arange(out_sizes[axis]) * strides[axis] - pairs[axis][0]
        line = cells[:, None] + np.arange(window[axis])[None, :] * dilations[axis]
        shape = [1] * (2 * n)
        shape[axis], shape[n + axis] = line.shape
        coords.append(np.broadcast_to(line.reshape(shape), (*out_sizes, *window)))
    return coords


def flat_index(coords: Sequence[np.ndarray], sizes: Sequence[int], column_major: bool = False):
    """Flat (row- or column-major) index of integer coordinates into `sizes`."""
    order = range(len(sizes) - 1, -1, -1) if not column_major else range(len(sizes))
    index, stride = 0, 1
    for axis in order:
        index = index + coords[axis] * stride
        stride *= sizes[axis]
    return index


# ---------------------------------------------------------------- point sampling


def _cubic(t: jax.Array, a: float) -> list[jax.Array]:
    """Keys cubic convolution weights of taps -1, 0, 1, 2 at fraction `t` in [0, 1)."""
    u, v = t + 1, 1 - t
    return [
        ((a * u - 5 * a) * u + 8 * a) * u - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * v - (a + 3)) * v * v + 1,
        ((a * (v + 1) - 5 * a) * (v + 1) + 8 * a) * (v + 1) - 4 * a,
    ]


def reflect(x: jax.Array, low: float, high: float) -> jax.Array:
    """Reflects coordinates at the borders `low` and `high` until they lie inside."""
    span = high - low
    if span <= 0:
        return jnp.full_like(x, low)
    below, above = low - x, x - high
    dx = jnp.where(x < low, below, above)
    flips = jnp.floor(dx / span)
    rest = dx - flips * span
    even = jnp.mod(flips, 2) == 0
    from_low = jnp.where(even, low + rest, high - rest)
    from_high = jnp.where(even, high - rest, low + rest)
    return jnp.where(x < low, from_low, jnp.where(x > high, from_high, x))


def _taps(coord: jax.Array, method: str, cubic_a: float) -> list[tuple[jax.Array, jax.Array]]:
    """(integer index, weight) pairs interpolating at `coord` along one axis."""
    if method == "nearest":
        return [(coord.astype(jnp.int32), jnp.ones_like(coord))]
    base = jnp.floor(coord)
    t = coord - base
    start = base.astype(jnp.int32)
    if method == "linear":
        return [(start, 1 - t), (start + 1, t)]
    return [(start + i - 1, w) for i, w in enumerate(_cubic(t, cubic_a))]


def _resolve(index: jax.Array, size: int, padding: str, border: tuple[float, float]):
    """An in-range index for `padding` and whether the tap counts (zeros padding)."""
    if padding == "zeros":
        valid = (index >= 0) & (index < size)
        return jnp.clip(index, 0, size - 1), valid
    if padding == "reflection":
        index = reflect(index.astype(jnp.float32), *border).astype(jnp.int32)
    return jnp.clip(index, 0, size - 1), None


def sample(x, coords, method="linear", padding="zeros", borders=None, cubic_a=-0.75):
    """Interpolates `x` `(N, C, *S)` at pixel coordinates: `coords[d]` `(N, *P)` along
    spatial axis `d`; returns `(N, C, *P)`. Taps outside the input read zero
    (`padding="zeros"`), the nearest edge (`"border"`) or their reflection at `borders`."""
    sizes = x.shape[2:]
    borders = borders or [(-0.5, s - 0.5) for s in sizes]
    per_axis_taps = [_taps(c, method, cubic_a) for c in coords]
    flat_x = x.reshape(*x.shape[:2], -1)
    out_shape = coords[0].shape
    result = None
    for combo in itertools.product(*per_axis_taps):
        weight, indices = 1, []
        for (index, w), size, border in zip(combo, sizes, borders, strict=True):
            index, valid = _resolve(index, size, padding, border)
            weight = weight * (w if valid is None else jnp.where(valid, w, 0))
            indices.append(index)
        flat = flat_index(indices, sizes).reshape(out_shape[0], -1)
        values = jax.vmap(lambda image, i: image[:, i])(flat_x, flat)
        term = values.reshape(*x.shape[:2], *out_shape[1:]) * weight[:, None].astype(x.dtype)
        result = term if result is None else result + term
    return result


# ---------------------------------------------------------------- Resize weights


def _nearest_coeffs(ratio: np.ndarray, nearest_mode: str, scale: float) -> np.ndarray:
    ceil = {
        "round_prefer_floor": ratio > 0.5,
        "round_prefer_ceil": ratio >= 0.5,
        "floor": ratio == 1,
        "ceil": np.ones_like(ratio, bool),
        "simple": (ratio == 1) | (scale < 1),
    }.get(nearest_mode)
    if ceil is None:
        raise UnsupportedOpError(
            "Resize: expected nearest_mode round_prefer_floor, round_prefer_ceil, floor or "
            f"ceil, got {nearest_mode!r}"
        )
    return np.stack([~ceil, ceil], axis=-1).astype(np.float64)


def _linear_coeffs(ratio: np.ndarray, scale: float, antialias: bool) -> np.ndarray:
    scale = min(scale, 1.0) if antialias else 1.0
    start = int(np.floor(-1 / scale) + 1)
    taps = np.arange(start, 2 - start)
    coeffs = np.clip(1 - np.abs((taps[None, :] - ratio[:, None]) * scale), 0, 1)
    return coeffs / coeffs.sum(axis=-1, keepdims=True)


def _cubic_coeffs(ratio: np.ndarray, scale: float, antialias: bool, a: float) -> np.ndarray:
    if not antialias:
        return np.stack(_cubic(ratio, a), axis=-1)
    scale = min(scale, 1.0)
    start = int(np.floor(-2 / scale) + 1)
    x = np.abs(scale * (np.arange(start, 2 - start)[None, :] - ratio[:, None]))
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    coeffs = np.where(x <= 1, near, np.where(x < 2, far, 0.0))
    return coeffs / coeffs.sum(axis=-1, keepdims=True)


def source_coords(mode: str, size: int, out: int, scale: float, roi) -> np.ndarray:
    """Input coordinate of each output cell along one axis (ONNX
    `coordinate_transformation_mode`)."""
    y = np.arange(out, dtype=np.float64)
    length = scale * size
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = size / 2 * (1 - out / length)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return np.full(out, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    if mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale
    if mode == "align_corners":
        return np.zeros(out) if length == 1 else y * (size - 1) / (length - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length == 1:
            return np.full(out, (end - start) * (size - 1) / 2 + start * (size - 1))
        return y * (end - start) * (size - 1) / (length - 1) + start * (size - 1)
    raise UnsupportedOpError(f"Resize: unsupported coordinate_transformation_mode {mode!r}")


def resize_weights(
    size,
    out,
    scale,
    roi,
    *,
    mode,
    coordinate_mode,
    nearest_mode,
    cubic_a,
    antialias,
    exclude_outside,
):
    """Static `(indices, coefficients, extrapolated)` resizing one axis from `size` to
    `out` cells: output `i` is `sum_j coefficients[i, j] * x[indices[i, j]]`;
    `extrapolated` (or None) flags outputs outside the input (tf_crop_and_resize)."""
    x = source_coords(coordinate_mode, size, out, scale, roi)
    base = np.floor(x)
    ratio = np.where(x == base, 1.0, x - base)
    if mode == "nearest":
        coeffs = _nearest_coeffs(ratio, nearest_mode, scale)
    elif mode == "linear":
        coeffs = _linear_coeffs(ratio, scale, bool(antialias))
    elif mode == "cubic":
        coeffs = _cubic_coeffs(ratio, scale, bool(antialias), cubic_a)
    else:
        raise UnsupportedOpError(f"Resize: expected mode nearest, linear or cubic, got {mode!r}")
    indices = _neighbors(x, coeffs.shape[1])
    if exclude_outside:
        coeffs = np.where((indices < 0) | (indices >= size), 0.0, coeffs)
        total = coeffs.sum(axis=-1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    extrapolated = (x < 0) | (x > size - 1) if coordinate_mode == "tf_crop_and_resize" else None
    return np.clip(indices, 0, size - 1), coeffs, extrapolated


def _neighbors(x: np.ndarray, n: int) -> np.ndarray:
    """The `n` integer positions nearest to each `x` (ties to the smaller), ascending."""
    pad = -(-n // 2)
    padded = x + pad
    p = np.floor(padded).astype(np.int64)
    frac = padded - p
    if n % 2 == 0:
        offset = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        offset = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    return (p + offset)[:, None] + np.arange(n)[None, :] - pad
