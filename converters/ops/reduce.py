"""ONNX ops: reductions (Reduce*, ArgMax/ArgMin), TopK and cumulative scans."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from axonnx.converters.ops._common import int64, normalize_axis, static
from axonnx.converters.ops._reduce_util import KERNELS, cumulative, reduce
from axonnx.converters.registry import onnx_op
from axonnx.errors import ShapeError

# ---------------------------------------------------------------------------------------
# Reduce*: `axes` is an attribute up to the first version listed in `_INPUT_AXES`, then an
# optional static input (with `noop_with_empty_axes`).

_ATTRIBUTE_AXES = {op: (1, 11, 13) for op in KERNELS}
_ATTRIBUTE_AXES.update(
    {"ReduceSum": (1, 11), "ReduceMax": (1, 11, 12, 13), "ReduceMin": (1, 11, 12, 13)}
)
_INPUT_AXES = {op: (18,) for op in KERNELS}
_INPUT_AXES.update(
    {
        "ReduceSum": (13,),
        "ReduceMax": (18, 20),
        "ReduceMin": (18, 20),
        "ReduceLogSum": (18, 28),
        "ReduceLogSumExp": (18, 28),
    }
)


def _register_reduce(op_type: str) -> None:
    """Register the attribute-axes and input-axes forms of one Reduce* op."""
    kernel = KERNELS[op_type]
    old, new = _ATTRIBUTE_AXES[op_type], _INPUT_AXES[op_type]

    def with_attribute_axes(data, *, axes=None, keepdims=1):
        return reduce(data, axes, keepdims, 0, kernel, op_type)

    def with_input_axes(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        return reduce(data, axes, keepdims, noop_with_empty_axes, kernel, op_type)

    for fn, versions, where in (
        (with_attribute_axes, old, "attribute"),
        (with_input_axes, new, "optional static input"),
    ):
        fn.__name__ = fn.__qualname__ = f"{op_type.lower()}_{versions[0]}"
        fn.__doc__ = (
            f"ONNX {op_type}-{','.join(map(str, versions))}: reduce `data` over "
            f"`axes` ({where}; all axes when absent)."
        )
        onnx_op(op_type, *versions, static_inputs=(1,) if fn is with_input_axes else ())(fn)


for _op_type in KERNELS:
    _register_reduce(_op_type)


# ---------------------------------------------------------------------------------------
# ArgMax / ArgMin


def _arg_reduce(find: Callable, data, axis: int, keepdims: int, select_last_index: int):
    data = jnp.asarray(data)
    dim = normalize_axis(axis, data.ndim)
    if select_last_index:
        last = data.shape[dim] - 1
        index = last - find(jnp.flip(data, dim), axis=dim, keepdims=bool(keepdims))
    else:
        index = find(data, axis=dim, keepdims=bool(keepdims))
    return index.astype(int64())


@onnx_op("ArgMax", 1, 11)
def argmax_1(data, *, axis=0, keepdims=1):
    """ONNX ArgMax-1,11: int64 index of the first maximum along `axis`."""
    return _arg_reduce(jnp.argmax, data, axis, keepdims, 0)


@onnx_op("ArgMax", 12, 13)
def argmax(data, *, axis=0, keepdims=1, select_last_index=0):
    """ONNX ArgMax-12,13: int64 index of the first (or last) maximum along `axis`."""
    return _arg_reduce(jnp.argmax, data, axis, keepdims, select_last_index)


@onnx_op("ArgMin", 1, 11)
def argmin_1(data, *, axis=0, keepdims=1):
    """ONNX ArgMin-1,11: int64 index of the first minimum along `axis`."""
    return _arg_reduce(jnp.argmin, data, axis, keepdims, 0)


@onnx_op("ArgMin", 12, 13)
def argmin(data, *, axis=0, keepdims=1, select_last_index=0):
    """ONNX ArgMin-12,13: int64 index of the first (or last) minimum along `axis`."""
    return _arg_reduce(jnp.argmin, data, axis, keepdims, select_last_index)


# ---------------------------------------------------------------------------------------
# TopK


def _top_k(X, k, axis: int, largest: int):
    """The k largest/smallest values along `axis` and their int64 indices, sorted; ties
    keep the lower index first (ONNX)."""
    X = jnp.asarray(X)
    dim = normalize_axis(axis, X.ndim)
    k = int(static(k, "TopK K").reshape(-1)[0]) if not isinstance(k, int) else k
    if not 0 <= k <= X.shape[dim]:
        raise ShapeError(
            f"TopK: expected 0 <= K <= {X.shape[dim]} (size of axis {axis}), got K={k}"
        )
    if largest:
        values, indices = jax.lax.top_k(jnp.moveaxis(X, dim, -1), k)
        return jnp.moveaxis(values, -1, dim), jnp.moveaxis(indices, -1, dim).astype(int64())
    order = jnp.argsort(X, axis=dim, stable=True)
    indices = jax.lax.slice_in_dim(order, 0, k, axis=dim)
    return jnp.take_along_axis(X, indices, axis=dim), indices.astype(int64())


@onnx_op("TopK", 1)
def top_k_1(X, *, axis=-1, k=None):
    """ONNX TopK-1: the `k` (attribute) largest elements along `axis`."""
    if k is None:
        raise ShapeError("TopK-1: expected the attribute k, got none")
    return _top_k(X, int(k), axis, 1)


@onnx_op("TopK", 10, static_inputs=(1,))
def top_k_10(X, K, *, axis=-1):
    """ONNX TopK-10: the `K` (static input) largest elements along `axis`."""
    return _top_k(X, K, axis, 1)


@onnx_op("TopK", 11, 24, static_inputs=(1,))
def top_k(X, K, *, axis=-1, largest=1, sorted=1):  # noqa: A002 (ONNX attribute name)
    """ONNX TopK-11,24: the `K` largest (or smallest) elements along `axis`, always
    sorted (ONNX leaves the order free when `sorted=0`)."""
    return _top_k(X, K, axis, largest)


# ---------------------------------------------------------------------------------------
# CumSum / CumProd


@onnx_op("CumSum", 11, 14, static_inputs=(1,))
def cumsum(x, axis, *, exclusive=0, reverse=0):
    """ONNX CumSum-11,14: cumulative sum along the static `axis`."""
    return cumulative(x, axis, exclusive, reverse, jax.lax.cumsum, 0, "CumSum")


@onnx_op("CumProd", 26, static_inputs=(1,))
def cumprod(x, axis, *, exclusive=0, reverse=0):
    """ONNX CumProd-26: cumulative product along the static `axis`."""
    return cumulative(x, axis, exclusive, reverse, jax.lax.cumprod, 1, "CumProd")
