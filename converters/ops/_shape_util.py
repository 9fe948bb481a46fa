"""Private helpers of the shape and indexing op families."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import normalize_axis, static
from axonnx.errors import InvalidModelError

__all__ = ["as_array", "axes_list", "backend", "element_index", "ints", "slice_of", "wrap_negative"]


def backend(x: Any):
    """`numpy` for string (object) arrays, which JAX cannot hold; `jax.numpy` otherwise."""
    return np if isinstance(x, np.ndarray) and x.dtype == object else jnp


def as_array(x: Any) -> Any:
    """`x` ready for fancy indexing by (possibly traced) index arrays: a JAX array, except
    string arrays, which stay NumPy."""
    return x if backend(x) is np else jnp.asarray(x)


def ints(value: Any, what: str) -> list[int]:
    """A static 1-D integer input or attribute (shape, axes, pads, sizes) as Python ints."""
    return [int(v) for v in np.ravel(static(value, what))]


def axes_list(axes: Any, rank: int, what: str) -> list[int]:
    """Non-negative axes from a static `axes` input/attribute; duplicates are an error."""
    result = [normalize_axis(a, rank) for a in ints(axes, what)]
    if len(set(result)) != len(result):
        raise InvalidModelError(f"{what}: expected distinct axes, got {list(ints(axes, what))}")
    return result


def slice_of(start: int, end: int, step: int, dim: int) -> slice:
    """The Python slice of ONNX Slice's `start:end:step` on an axis of size `dim`.

    Negative starts/ends count from the end; they are then clamped to `[0, dim]`
    (`[0, dim-1]` and `[-1, dim-1]` with a negative step).
    """
    if step == 0:
        raise InvalidModelError("Slice: expected non-zero steps, got 0")
    if dim == 0:
        return slice(0, 0, step)
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


def wrap_negative(indices: Any, size: int) -> Any:
    """Indices in `[-size, size)` made non-negative (ONNX allows counting from the end)."""
    xp = backend(indices)
    return xp.where(indices < 0, indices + size, indices)


def element_index(indices: Any, axis: int) -> tuple:
    """The full index tuple of element-wise gather/scatter along `axis`.

    For `indices` of shape `(d0, …, dn)`, entry `(i0, …, in)` addresses
    `(i0, …, indices[i0, …, in], …, in)`: every other axis indexes itself.
    """
    shape = np.shape(indices)
    grids: Sequence[Any] = list(jnp.indices(shape, sparse=True))
    grids[axis] = indices
    return tuple(grids)
