"""Helpers for the reduce family: axes resolution, identity-aware kernels, scans."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import normalize_axis, static
from axonnx.errors import ShapeError

__all__ = ["KERNELS", "cumulative", "reduce"]

Kernel = Callable[[jax.Array, tuple[int, ...], bool], jax.Array]


def resolve_axes(
    axes: Sequence[int] | None, rank: int, noop_with_empty_axes: int, what: str
) -> tuple[int, ...] | None:
    """Non-negative reduction axes; `None` means "return the input unchanged".

    Absent or empty `axes` reduce over every axis, unless `noop_with_empty_axes` is set.
    """
    axes = () if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))
    if not axes:
        return None if noop_with_empty_axes else tuple(range(rank))
    try:
        normalized = tuple(normalize_axis(a, rank) for a in axes)
    except ShapeError as error:
        raise ShapeError(
            f"{what}: {error}; expected axes in [{-rank}, {rank - 1}], got {list(axes)}"
        ) from None
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{what}: expected distinct axes, got {list(axes)}")
    return normalized


def reduce(
    data: Any, axes: Any, keepdims: int, noop_with_empty_axes: int, kernel: Kernel, what: str
) -> jax.Array:
    """Apply `kernel` over `axes` (static) of `data`, keeping `data`'s dtype."""
    data = jnp.asarray(data)
    if axes is not None:
        axes = static(axes, f"{what} axes")
    resolved = resolve_axes(axes, data.ndim, noop_with_empty_axes, what)
    if resolved is None:
        return data
    return kernel(data, resolved, bool(keepdims)).astype(data.dtype)


def _lowest(dtype: np.dtype) -> Any:
    if dtype == np.bool_:
        return False
    if jnp.issubdtype(dtype, jnp.integer):
        return jnp.iinfo(dtype).min
    return -jnp.inf


def _highest(dtype: np.dtype) -> Any:
    if dtype == np.bool_:
        return True
    if jnp.issubdtype(dtype, jnp.integer):
        return jnp.iinfo(dtype).max
    return jnp.inf


def _sum(x, axes, keepdims):
    return jnp.sum(x, axis=axes, keepdims=keepdims)


def _max(x, axes, keepdims):
    return jnp.max(x, axis=axes, keepdims=keepdims, initial=_lowest(x.dtype))


def _min(x, axes, keepdims):
    return jnp.min(x, axis=axes, keepdims=keepdims, initial=_highest(x.dtype))


def _mean(x, axes, keepdims):
    return jnp.mean(x, axis=axes, keepdims=keepdims)


def _prod(x, axes, keepdims):
    return jnp.prod(x, axis=axes, keepdims=keepdims)


def _l1(x, axes, keepdims):
    return _sum(jnp.abs(x), axes, keepdims)


def _sum_square(x, axes, keepdims):
    return _sum(x * x, axes, keepdims)


def _l2(x, axes, keepdims):
    return jnp.sqrt(_sum_square(x, axes, keepdims))


def _log_sum(x, axes, keepdims):
    return jnp.log(_sum(x, axes, keepdims))


def _log_sum_exp(x, axes, keepdims):
    return jax.nn.logsumexp(x, axis=axes, keepdims=keepdims)


# ONNX op type -> kernel; empty reductions give the identity (-inf for Max, 0 for Sum, …).
KERNELS: dict[str, Kernel] = {
    "ReduceL1": _l1,
    "ReduceL2": _l2,
    "ReduceLogSum": _log_sum,
    "ReduceLogSumExp": _log_sum_exp,
    "ReduceMax": _max,
    "ReduceMean": _mean,
    "ReduceMin": _min,
    "ReduceProd": _prod,
    "ReduceSum": _sum,
    "ReduceSumSquare": _sum_square,
}


def cumulative(
    x: Any, axis: Any, exclusive: int, reverse: int, scan: Callable, identity: int, what: str
) -> jax.Array:
    """Inclusive/exclusive, forward/reverse scan of `x` along the static `axis`.

    Args:
        x: input of any shape.
        axis: 0-d or 1-element static tensor naming the scan axis.
        exclusive: shift by one so that position i excludes element i.
        reverse: scan from the end of the axis.
        scan: `jax.lax.cumsum`-like function `(x, axis=, reverse=)`.
        identity: the value the exclusive scan starts from (0 for sums, 1 for products).
        what: op name for error messages.
    """
    x = jnp.asarray(x)
    axis_value = static(axis, f"{what} axis").reshape(-1)
    if axis_value.size != 1:
        raise ShapeError(f"{what}: expected a scalar axis, got {axis_value.tolist()}")
    dim = normalize_axis(int(axis_value[0]), x.ndim)
    y = scan(x, axis=dim, reverse=bool(reverse))
    if not exclusive or x.shape[dim] == 0:
        return y
    pad = [(0, 0)] * x.ndim
    pad[dim] = (0, 1) if reverse else (1, 0)
    padded = jnp.pad(y, pad, constant_values=jnp.asarray(identity, x.dtype))
    start = 1 if reverse else 0
    return jax.lax.slice_in_dim(padded, start, start + x.shape[dim], axis=dim)
