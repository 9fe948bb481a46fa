"""Primitive cases of the bit-counting primitives, each at two shapes."""

from __future__ import annotations

import numpy as np
from jax import lax

RNG = np.random.default_rng(1)


def _integers(dtype, n: int) -> tuple[np.ndarray]:
    """Values over the whole range of `dtype`, with 0, -1 and the extremes."""
    info = np.iinfo(dtype)
    x = RNG.integers(info.min, info.max, (3, n), dtype=dtype, endpoint=True)
    x.flat[:4] = [0, info.max, info.min, 1]
    if info.min < 0:
        x.flat[4] = -1
    return (x,)


def _both(fn):
    return [(fn, _integers(dtype, n)) for n, dtype in [(3, np.int32), (5, np.uint32)]]


BIT_CASES = {
    "population_count": _both(lax.population_count),
    "clz": _both(lax.clz),
    "population_count_int8_int64": [
        (lambda x: (lax.population_count(x), lax.clz(x)), _integers(dtype, 4))
        for dtype in (np.int8, np.int64)
    ],
}
