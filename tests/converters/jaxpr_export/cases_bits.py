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


def _floats(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of floats: ordinary, equal, zeros of both signs, toward 0 and across it."""
    x = RNG.standard_normal((4, n)).astype(np.float32)
    y = RNG.standard_normal((4, n)).astype(np.float32)
    x[0, :3], y[0, :3] = [0.0, -0.0, 1.5], [1.0, -2.0, 1.5]
    x[1, :3], y[1, :3] = [2.0, -2.0, 0.0], [0.0, 3.0, -0.0]
    return x, y


BIT_CASES = {
    "nextafter": [(lax.nextafter, _floats(n)) for n in (3, 5)],
    "bitcast_convert_type": [
        (
            lambda x, y: (
                lax.bitcast_convert_type(x, np.int32),
                lax.bitcast_convert_type(lax.bitcast_convert_type(y, np.uint32), np.float32),
            ),
            _floats(n),
        )
        for n in (3, 5)
    ],
    "population_count": _both(lax.population_count),
    "clz": _both(lax.clz),
    "population_count_int8_int64": [
        (lambda x: (lax.population_count(x), lax.clz(x)), _integers(dtype, 4))
        for dtype in (np.int8, np.int64)
    ],
}
