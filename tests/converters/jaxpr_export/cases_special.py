"""Primitive cases of the special functions, at two shapes: positive arguments, and
negative non-integers (the reflection)."""

from __future__ import annotations

import numpy as np
from jax import lax

RNG = np.random.default_rng(2)


def _arguments(n: int) -> tuple[np.ndarray]:
    positive = RNG.uniform(0.05, 12.0, (2, n))
    negative = -RNG.integers(0, 4, (2, n)) - RNG.uniform(0.05, 0.95, (2, n))
    return (np.concatenate([positive, negative, [[1.0] * n, [2.0] * n]]).astype(np.float32),)


def _signed(n: int) -> np.ndarray:
    """Both signs, both pieces (below and above 8), and 0."""
    x = RNG.uniform(0.0, 30.0, (4, n)) * RNG.choice([-1.0, 1.0], (4, n))
    x[0, 0], x[1, 0] = 0.0, 8.0
    return x.astype(np.float32)


def _zeta_arguments(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.uniform(1.1, 12.0, (3, n))
    x[0, 0] = 1.0
    return x.astype(np.float32), RNG.uniform(0.1, 6.0, (3, n)).astype(np.float32)


def _polygamma_arguments(n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.repeat(np.arange(0.0, 4.0)[:, None], n, axis=1)
    return order.astype(np.float32), RNG.uniform(0.5, 6.0, (4, n)).astype(np.float32)


SPECIAL_CASES = {
    "zeta": [(lax.zeta, _zeta_arguments(n)) for n in (3, 5)],
    "polygamma": [(lax.polygamma, _polygamma_arguments(n)) for n in (3, 5)],
    "lgamma": [(lax.lgamma, _arguments(n)) for n in (3, 5)],
    "digamma": [(lax.digamma, _arguments(n)) for n in (3, 5)],
    "bessel": [(lambda x: (lax.bessel_i0e(x), lax.bessel_i1e(x)), (_signed(n),)) for n in (3, 5)],
}
