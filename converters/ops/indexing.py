"""ONNX ops: indexing (gather, scatter, one-hot, selection by value).

Negative indices count from the end of their axis. NonZero, Unique and Compress have
output shapes that depend on input values: a model using them runs outside `jax.jit`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, normalize_axis, static
from axonnx.converters.ops._shape_util import as_array, backend, element_index, wrap_negative
from axonnx.converters.registry import onnx_op
from axonnx.errors import ShapeError, UnsupportedOpError

# --- gather ----------------------------------------------------------------------------


@onnx_op("Gather", 1, 11, 13, weight_inputs=(0,))
def gather(data, indices, *, axis=0):
    """ONNX Gather-1..13: entries of `data` along `axis` at `indices`; the output shape
    is `data.shape[:axis] + indices.shape + data.shape[axis+1:]`."""
    axis = normalize_axis(axis, np.ndim(data))
    indices = wrap_negative(indices, np.shape(data)[axis])
    return backend(data).take(data, indices, axis=axis)


@onnx_op("GatherElements", 11, 13)
def gather_elements(data, indices, *, axis=0):
    """ONNX GatherElements-11/13: `out[i…] = data[i…, indices[i…], …]` with the index on
    `axis`; the output has the shape of `indices`."""
    axis = normalize_axis(axis, np.ndim(data))
    indices = wrap_negative(indices, np.shape(data)[axis])
    return as_array(data)[element_index(indices, axis)]


def _nd_index(data, indices, batch_dims: int) -> tuple:
    """The index tuple of GatherND/ScatterND: batch grids, then `indices[..., j]`."""
    depth = np.shape(indices)[-1]
    if batch_dims + depth > np.ndim(data):
        raise ShapeError(
            f"expected batch_dims + indices.shape[-1] <= rank {np.ndim(data)}, "
            f"got {batch_dims} + {depth}"
        )
    lead = np.shape(indices)[:-1]
    grids = [
        np.arange(lead[j]).reshape([-1 if t == j else 1 for t in range(len(lead))])
        for j in range(batch_dims)
    ]
    dims = np.shape(data)[batch_dims:]
    return tuple(grids) + tuple(wrap_negative(indices[..., j], dims[j]) for j in range(depth))


@onnx_op("GatherND", 11, 12, 13)
def gather_nd(data, indices, *, batch_dims=0):
    """ONNX GatherND-11..13: slices of `data` addressed by the last axis of `indices`,
    after `batch_dims` shared leading axes."""
    return as_array(data)[_nd_index(data, indices, batch_dims)]


# --- scatter ---------------------------------------------------------------------------

_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _scatter(data, index: tuple, updates, reduction: str, op: str):
    if reduction not in _REDUCTIONS:
        raise UnsupportedOpError(
            f"{op}: reduction {reduction!r} is not supported; use one of {_REDUCTIONS}"
        )
    ref = jnp.asarray(data).at[index]
    apply = {"none": ref.set, "add": ref.add, "mul": ref.multiply, "max": ref.max, "min": ref.min}[
        reduction
    ]
    return apply(jnp.asarray(updates))


@onnx_op("ScatterElements", 11, 13, 16, 18)
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    """ONNX ScatterElements-11..18: `data` with `updates[i…]` written (or combined by
    `reduction`) at `(i…, indices[i…], …)`, the index on `axis`."""
    axis = normalize_axis(axis, np.ndim(data))
    indices = wrap_negative(indices, np.shape(data)[axis])
    return _scatter(data, element_index(indices, axis), updates, reduction, "ScatterElements")


@onnx_op("Scatter", 9, 11)
def scatter(data, indices, updates, *, axis=0):
    """ONNX Scatter-9/11 (deprecated): ScatterElements without reduction."""
    return scatter_elements(data, indices, updates, axis=axis)


@onnx_op("ScatterND", 11, 13, 16, 18)
def scatter_nd(data, indices, updates, *, reduction="none"):
    """ONNX ScatterND-11..18: `data` with slices `updates` written (or combined by
    `reduction`) at the positions in the last axis of `indices`."""
    return _scatter(data, _nd_index(data, indices, 0), updates, reduction, "ScatterND")


@onnx_op("TensorScatter", 24)
def tensor_scatter(past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    """ONNX TensorScatter-24: write `update` into the cache `past_cache` along `axis`,
    from position `write_indices[b]` of each batch entry b (0 by default); `circular`
    mode wraps positions modulo the cache length."""
    if mode not in ("linear", "circular"):
        raise UnsupportedOpError(
            f"TensorScatter: mode {mode!r} is not supported; use 'linear' or 'circular'"
        )
    rank = np.ndim(past_cache)
    axis = normalize_axis(axis, rank)
    start = jnp.zeros(np.shape(past_cache)[0], int) if write_indices is None else write_indices
    along = [-1 if t == axis else 1 for t in range(rank)]
    position = jnp.reshape(start, (-1,) + (1,) * (rank - 1)) + jnp.arange(
        np.shape(update)[axis]
    ).reshape(along)
    if mode == "circular":
        position = position % np.shape(past_cache)[axis]
    index = element_index(jnp.broadcast_to(position, np.shape(update)), axis)
    return _scatter(past_cache, index, update, "none", "TensorScatter")


# --- one-hot and sequences -------------------------------------------------------------


@onnx_op("OneHot", 9, 11, 28, static_inputs=(1,))
def one_hot(indices, depth, values, *, axis=-1):
    """ONNX OneHot-9..28: `values[1]` where the new `axis` equals `indices` (negative ones
    count from `depth`), `values[0]` elsewhere; out-of-range indices give all `values[0]`."""
    depth = int(static(depth, "OneHot depth").reshape(-1)[0])
    rank = np.ndim(indices) + 1
    axis = normalize_axis(axis, rank)
    indices = jnp.asarray(indices).astype(int64())
    indices = jnp.expand_dims(jnp.where(indices < 0, indices + depth, indices), axis)
    positions = jnp.arange(depth).reshape([-1 if t == axis else 1 for t in range(rank)])
    return jnp.where(indices == positions, values[1], values[0])


@onnx_op("ReverseSequence", 10, 28)
def reverse_sequence(input, sequence_lens, *, batch_axis=1, time_axis=0):
    """ONNX ReverseSequence-10/28: reverse the first `sequence_lens[b]` steps along
    `time_axis` of every batch entry b (along `batch_axis`)."""
    rank = np.ndim(input)
    lens = jnp.reshape(sequence_lens, [-1 if t == batch_axis else 1 for t in range(rank)])
    steps = jnp.arange(np.shape(input)[time_axis]).reshape(
        [-1 if t == time_axis else 1 for t in range(rank)]
    )
    source = jnp.where(steps < lens, lens - 1 - steps, steps)
    index = element_index(jnp.broadcast_to(source, np.shape(input)), time_axis)
    return as_array(input)[index]


# --- selection by value (data-dependent shapes) ----------------------------------------


@onnx_op("Compress", 9, 11, 28, data_dependent=True)
def compress(input, condition, *, axis=None):
    """ONNX Compress-9..28: the slices of `input` along `axis` (of the flattened input
    if absent) where `condition` is true."""
    keep = static(condition, "Compress condition").astype(bool).reshape(-1)
    xp = backend(input)
    if axis is None:
        return xp.compress(keep, xp.reshape(input, -1))
    return xp.compress(keep, input, axis=normalize_axis(axis, np.ndim(input)))


@onnx_op("NonZero", 9, 13, data_dependent=True)
def non_zero(X):
    """ONNX NonZero-9/13: the indices of the non-zero elements, int64 `(rank, count)`."""
    x = static(X, "NonZero input")
    return np.asarray(np.nonzero(np.atleast_1d(x)), dtype=int64()).reshape(max(x.ndim, 1), -1)


@onnx_op("Unique", 11, 28, data_dependent=True)
def unique(X, *, axis=None, sorted=1):
    """ONNX Unique-11/28: `(Y, indices, inverse_indices, counts)`: the unique elements
    (or slices along `axis`), sorted or in order of first occurrence, the index of
    each one's first occurrence, the position in `Y` of every input element, and counts."""
    x = static(X, "Unique input")
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = normalize_axis(axis, x.ndim)
    _, first, inverse, counts = np.unique(x, True, True, True, axis=axis)
    if not sorted:
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        first, inverse, counts = first[order], rank[inverse.reshape(-1)], counts[order]
    y = np.take(x, first, axis=axis)
    return y, *(np.asarray(v, int64()).reshape(-1) for v in (first, inverse, counts))
