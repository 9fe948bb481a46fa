"""Partly known shape vectors, for the import's simplification.

`Shape(x)` of a value whose shape is only partly static (`(batch, sequence, 64)` with
`batch` and `sequence` unbound) is not a constant, but some of its entries are. PyTorch's
exports pick entries out (`Gather(Shape(x), 2)`) and put them back together (`Concat`);
tracking which entries are known lets an entry that is static fold even when the whole
vector is not. A partly known vector is a `Partial`: its entries (None where unknown)
and whether it is a scalar. Only int64 vectors of rank 0 or 1 are tracked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

__all__ = ["Partial", "propagate", "shape_partial"]


@dataclass(frozen=True)
class Partial:
    """A shape vector (or one of its entries, `scalar`) with unknown entries as None."""

    entries: tuple[int | None, ...]
    scalar: bool = False

    def value(self) -> np.ndarray | None:
        """The constant it is when every entry is known, else None."""
        if None in self.entries:
            return None
        array = np.array(self.entries, np.int64)
        return array.reshape(()) if self.scalar else array


def shape_partial(node: onnx.NodeProto, shape: Sequence[int | None] | None) -> Partial | None:
    """What `Shape` (with its `start`/`end`) gives for a value of `shape`."""
    if shape is None:
        return None
    attrs = {a.name: a.i for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return Partial(tuple(shape[start:end]))


Lookup = Callable[[str], "Partial | np.ndarray | None"]


def propagate(node: onnx.NodeProto, lookup: Lookup) -> Partial | None:
    """The partial output of a Gather, Slice, Unsqueeze, Squeeze, Concat or Cast to
    int64 over partial or constant inputs; None when it cannot be tracked."""
    handler = _HANDLERS.get(node.op_type)
    if handler is None or not node.input or not node.input[0]:
        return None
    try:
        return handler(node, lookup)
    except (TypeError, ValueError, IndexError):
        return None


def _partial(value) -> Partial | None:
    if isinstance(value, Partial):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind == "i" and value.ndim <= 1:
        return Partial(tuple(int(v) for v in value.reshape(-1)), value.ndim == 0)
    return None


def _ints(value) -> list[int] | None:
    return None if not isinstance(value, np.ndarray) else [int(v) for v in value.reshape(-1)]


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _gather(node, lookup) -> Partial | None:
    data, indices = _partial(lookup(node.input[0])), lookup(node.input[1])
    if data is None or data.scalar or _attr(node, "axis", 0) != 0:
        return None
    picks = _ints(indices)
    if picks is None or indices.ndim > 1:
        return None
    return Partial(tuple(data.entries[i] for i in picks), indices.ndim == 0)


def _slice(node, lookup) -> Partial | None:
    data = _partial(lookup(node.input[0]))
    bounds = [_ints(lookup(n)) if n else None for n in node.input[1:5]]
    if data is None or data.scalar or len(bounds) < 2 or None in bounds[:2]:
        return None
    starts, ends = bounds[0], bounds[1]
    axes = bounds[2] if len(bounds) > 2 and bounds[2] is not None else [0]
    steps = bounds[3] if len(bounds) > 3 and bounds[3] is not None else [1]
    if len(starts) != 1 or axes not in ([0], [-1]):
        return None
    return Partial(tuple(data.entries[slice(starts[0], ends[0], steps[0])]))


def _unsqueeze(node, lookup) -> Partial | None:
    data = _partial(lookup(node.input[0]))
    axes = _ints(lookup(node.input[1])) if len(node.input) > 1 else _attr(node, "axes")
    if data is None or not data.scalar or list(axes or []) not in ([0], [-1]):
        return None
    return Partial(data.entries)


def _squeeze(node, lookup) -> Partial | None:
    data = _partial(lookup(node.input[0]))
    if data is None or data.scalar or len(data.entries) != 1:
        return None
    return Partial(data.entries, True)


def _concat(node, lookup) -> Partial | None:
    parts = [_partial(lookup(n)) for n in node.input]
    if any(p is None or p.scalar for p in parts) or _attr(node, "axis") not in (0, -1):
        return None
    return Partial(tuple(e for p in parts for e in p.entries))


def _cast(node, lookup) -> Partial | None:
    data = lookup(node.input[0])
    return data if isinstance(data, Partial) and _attr(node, "to") == 7 else None


_HANDLERS = {
    "Gather": _gather,
    "Slice": _slice,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Cast": _cast,
}
