"""Parameters kept on the device between compiled calls, packed so that a call passes
few arrays.

JAX's dispatch of a compiled function costs about 0.5 µs per array argument on the
CPU (measured: 20 small parameters, 22 µs a call; the same packed into one buffer,
11 µs). So the vectors and scalars of a prepared state (biases, normalisation scales:
at most `PACK_LIMIT` elements, not weakly typed) are packed into one 1-D buffer per
dtype, each starting at a multiple of `ALIGN` elements; the compiled function slices
them back out (a static slice, fused into the element-wise op that reads them).
Matrices and kernels are passed as they are: they feed library calls (XNNPACK,
YNNPACK), which need a whole buffer, so a packed one costs a copy each call
(BERT-tiny with its 64×64 kernels packed: ~130 µs a call, vectors only: ~95 µs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

__all__ = ["ALIGN", "PACK_LIMIT", "Resident", "pack", "unpack"]

PACK_LIMIT = 4096  # elements: a leaf this size or smaller goes into its dtype's buffer
ALIGN = 16  # elements: where each packed leaf may start (64 bytes for float32)

Layout = tuple[Any, ...]  # per leaf: its index among the own arrays, or (buffer, start, shape)


@dataclass(frozen=True)
class Resident:
    """A state's leaves on the device: as they are (`leaves`, for eager and segmented
    runs), and as a compiled call takes them (`packed`: `(own arrays, buffers)`, read
    back by `unpack(layout, packed)`)."""

    leaves: list
    layout: Layout
    packed: tuple[list, list]


def pack(leaves: list) -> Resident:
    """The leaves with their small arrays packed into one buffer per dtype."""
    own: list = []
    parts: dict[np.dtype, list[np.ndarray]] = {}
    ends: dict[np.dtype, int] = {}
    layout = []
    for leaf in leaves:
        if not _packable(leaf):
            layout.append(len(own))
            own.append(leaf)
            continue
        dtype = np.dtype(leaf.dtype)
        group = list(parts).index(dtype) if dtype in parts else len(parts)
        start = ends.get(dtype, 0)
        size = math.prod(leaf.shape)
        padded = -(-max(size, 1) // ALIGN) * ALIGN
        part = np.zeros(padded, dtype)
        part[:size] = np.asarray(leaf).ravel()
        parts.setdefault(dtype, []).append(part)
        ends[dtype] = start + padded
        layout.append((group, start, tuple(leaf.shape)))
    buffers = [jax.device_put(np.concatenate(p)) for p in parts.values()]
    return Resident(list(leaves), tuple(layout), (own, buffers))


def unpack(layout: Layout, packed: tuple[list, list]) -> list:
    """The leaves again, from `pack`'s arrays (traceable: static slices)."""
    own, buffers = packed
    leaves = []
    for place in layout:
        if isinstance(place, int):
            leaves.append(own[place])
            continue
        group, start, shape = place
        flat = jax.lax.slice(buffers[group], (start,), (start + math.prod(shape),))
        leaves.append(flat.reshape(shape))
    return leaves


def _packable(leaf: Any) -> bool:
    return (
        isinstance(leaf, jax.Array)
        and not isinstance(leaf, jax.core.Tracer)
        and not leaf.weak_type
        and leaf.ndim <= 1
        and leaf.size <= PACK_LIMIT
    )
