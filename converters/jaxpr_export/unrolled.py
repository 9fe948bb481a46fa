"""Building blocks of the matrix rules that are unrolled over the rows or columns of a
static matrix: the size limit, slices along one axis, the swap of the last two axes and
reversal along axes."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer
from axonnx.errors import UnsupportedOpError

__all__ = ["MAX_SIZE", "flip", "slice_axis", "static_size", "swap_last"]

MAX_SIZE = 64
"""The largest matrix a solve or a factor is unrolled for (its graph grows with n)."""


def static_size(t: Tracer, aval, what: str) -> int:
    """The static size n of the [..., n, n] matrix `aval`, at most `MAX_SIZE`."""
    n = t.static(aval, what)[-1]
    if n > MAX_SIZE:
        raise UnsupportedOpError(
            f"{t.where}: {what} of a {n}x{n} matrix; it is unrolled, up to {MAX_SIZE}"
        )
    return n


def slice_axis(t: Tracer, x: str, axis: int, start: int, stop: int) -> str:
    """`x[start:stop]` along `axis`."""
    return t.op("Slice", [x, t.ints([start]), t.ints([stop]), t.ints([axis])])


def swap_last(t: Tracer, x: str, ndim: int) -> str:
    """`x` with its last two axes swapped (`ndim` is its rank)."""
    return t.op("Transpose", [x], perm=[*range(ndim - 2), ndim - 1, ndim - 2])


def flip(t: Tracer, x: str, axes: list[int]) -> str:
    """`x` reversed along `axes` (Slice with step -1)."""
    big = np.iinfo(np.int64)
    n = len(axes)
    return t.op(
        "Slice",
        [x, t.ints([-1] * n), t.ints([big.min] * n), t.ints(axes), t.ints([-1] * n)],
    )
