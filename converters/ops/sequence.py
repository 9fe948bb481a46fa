"""Sequence and optional ONNX ops.

Representation (what these ops take and return, and what a model gives back):
- a sequence is a Python tuple of arrays (a pytree: it passes through `jax.jit` and
  `lax` loops as long as its length is fixed); sequence inputs may be fed as lists.
  Its length is always known while compiling, its elements' values need not be.
- an optional is `None` when empty, else the value itself (a tensor or a sequence).

Positions (`SequenceAt`, `SequenceInsert`, `SequenceErase`) and `SplitToSequence`'s
`split` must be known while compiling (they are static inputs), except that
`SequenceAt` accepts a run-time position when all elements share shape and dtype.
`SequenceEmpty`'s `dtype` is not kept: an empty tuple has no element type.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, normalize_axis, static
from axonnx.converters.ops._control_util import is_concrete, split_captures
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError


def _sequence(value: Any, what: str) -> tuple:
    if not isinstance(value, tuple | list):
        raise InvalidModelError(
            f"{what}: expected a sequence (a tuple or list of tensors), got {type(value).__name__}"
        )
    return tuple(value)


def _position(position: Any, length: int, what: str, *, end: bool = False) -> int:
    """A non-negative position in `[-length, length)` (or `[-length, length]` with `end`)."""
    index = int(static(position, f"{what} position").reshape(()))
    top = length + 1 if end else length
    if not -length <= index < top:
        raise ShapeError(
            f"{what}: expected position in [{-length}, {top - 1}] for a sequence of "
            f"length {length}, got {index}"
        )
    return index + length if index < 0 else index


# ---------------------------------------------------------------- building


@onnx_op("SequenceEmpty", 11)
def sequence_empty(*, dtype=None):
    """ONNX SequenceEmpty-11: an empty sequence, `()` (`dtype` is not kept)."""
    return ()


@onnx_op("SequenceConstruct", 11)
def sequence_construct(*inputs):
    """ONNX SequenceConstruct-11: a sequence of the input tensors."""
    return tuple(inputs)


@onnx_op("SequenceInsert", 11, static_inputs=(2,))
def sequence_insert(input_sequence, tensor, position=None):
    """ONNX SequenceInsert-11: `tensor` inserted at `position` (default: at the end)."""
    items = _sequence(input_sequence, "SequenceInsert input_sequence")
    index = (
        len(items)
        if position is None
        else _position(position, len(items), "SequenceInsert", end=True)
    )
    return (*items[:index], tensor, *items[index:])


@onnx_op("SequenceErase", 11, static_inputs=(1,))
def sequence_erase(input_sequence, position=None):
    """ONNX SequenceErase-11: the sequence without the tensor at `position` (default:
    the last)."""
    items = _sequence(input_sequence, "SequenceErase input_sequence")
    index = len(items) - 1 if position is None else _position(position, len(items), "SequenceErase")
    if index < 0:
        raise ShapeError("SequenceErase: expected a non-empty sequence, got an empty one")
    return items[:index] + items[index + 1 :]


@onnx_op("SplitToSequence", 11, 24, static_inputs=(1,))
def split_to_sequence(input, split=None, *, axis=0, keepdims=1):
    """ONNX SplitToSequence-11..24: `input` cut along `axis` into pieces of the sizes in
    `split` (1-D), of size `split` (scalar; the last piece may be shorter), or of size
    1 (no split; `keepdims=0` then drops the axis)."""
    axis = normalize_axis(axis, jnp.ndim(input))
    total = jnp.shape(input)[axis]
    sizes = _split_sizes(split, total)
    bounds = np.cumsum(sizes)[:-1].tolist()
    pieces = jnp.split(input, bounds, axis=axis) if sizes else []
    if split is None and not keepdims:
        pieces = [jnp.squeeze(p, axis) for p in pieces]
    return tuple(pieces)


def _split_sizes(split: Any, total: int) -> list[int]:
    if split is None:
        return [1] * total
    sizes = static(split, "SplitToSequence split").astype(np.int64)
    if sizes.ndim == 0:
        step = int(sizes)
        if step <= 0:
            raise ShapeError(f"SplitToSequence: expected a positive split size, got {step}")
        return [min(step, total - start) for start in range(0, total, step)]
    if sizes.sum() != total or (sizes < 0).any():
        raise ShapeError(
            f"SplitToSequence: expected non-negative split sizes adding up to {total} "
            f"(the length of the split axis), got {sizes.tolist()}"
        )
    return sizes.tolist()


# ---------------------------------------------------------------- reading


@onnx_op("SequenceAt", 11, static_inputs=(1,))
def sequence_at(input_sequence, position):
    """ONNX SequenceAt-11: the tensor at `position` (negative counts from the end)."""
    items = _sequence(input_sequence, "SequenceAt input_sequence")
    if is_concrete(position):
        return items[_position(position, len(items), "SequenceAt")]
    if not items or len({(jnp.shape(x), jnp.result_type(x)) for x in items}) != 1:
        raise ShapeError(
            "SequenceAt: position depends on run-time data, which needs a non-empty "
            "sequence of tensors of one shape and dtype. Feed position as a constant."
        )
    index = jnp.reshape(position, ()).astype(int64())
    return jnp.stack(items)[jnp.where(index < 0, index + len(items), index)]


@onnx_op("SequenceLength", 11)
def sequence_length(input_sequence):
    """ONNX SequenceLength-11: the number of tensors, an int64 scalar."""
    return np.asarray(len(_sequence(input_sequence, "SequenceLength input")), int64())


@onnx_op("ConcatFromSequence", 11)
def concat_from_sequence(input_sequence, *, axis=None, new_axis=0):
    """ONNX ConcatFromSequence-11: the tensors joined along `axis`, or stacked on a new
    axis `axis` when `new_axis=1`."""
    items = _sequence(input_sequence, "ConcatFromSequence input_sequence")
    if axis is None:
        raise InvalidModelError("ConcatFromSequence: the attribute axis is required")
    if not items:
        raise ShapeError("ConcatFromSequence: expected a non-empty sequence, got an empty one")
    rank = jnp.ndim(items[0]) + (1 if new_axis else 0)
    axis = normalize_axis(axis, rank)
    return jnp.stack(items, axis) if new_axis else jnp.concatenate(items, axis)


@onnx_op("SequenceMap", 17)
def sequence_map(input_sequence, *additional_inputs, body, capture_names=()):
    """ONNX SequenceMap-17: `body` applied to each element of the sequence(s) (tensor
    inputs are passed whole to every call); one output sequence per body output."""
    extra, env = split_captures(additional_inputs, capture_names)
    items = _sequence(input_sequence, "SequenceMap input_sequence")
    for other in extra:
        if isinstance(other, tuple | list) and len(other) != len(items):
            raise ShapeError(
                "SequenceMap: expected additional sequences of the input's length "
                f"{len(items)}, got {len(other)}"
            )
    rows = [
        body(item, *(o[i] if isinstance(o, tuple | list) else o for o in extra), env=env)
        for i, item in enumerate(items)
    ]
    count = len(body.model.parents)
    return tuple(tuple(row[k] for row in rows) for k in range(count))


# ---------------------------------------------------------------- optionals


@onnx_op("Optional", 15, 28)
def optional(input=None, *, type=None):  # noqa: A002  (ONNX names)
    """ONNX Optional-15..28: an optional holding `input`, or empty (`None`)."""
    return input


@onnx_op("OptionalHasElement", 15, 18, 28)
def optional_has_element(input=None):  # noqa: A002
    """ONNX OptionalHasElement-15..28: whether the optional holds a value (bool scalar)."""
    return np.asarray(input is not None)


@onnx_op("OptionalGetElement", 15, 18, 28)
def optional_get_element(input):  # noqa: A002
    """ONNX OptionalGetElement-15..28: the value of a non-empty optional (a tensor or
    sequence passes through)."""
    if input is None:
        raise InvalidModelError("OptionalGetElement: the optional input is empty")
    return input
