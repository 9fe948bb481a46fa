"""Primitive cases: Incomplete gamma and beta functions: igamma, igammac, igamma_grad_a,
regularized_incomplete_beta, at two shapes (the second broadcast against a row), over
both of each one's regimes and the edge cases."""

from __future__ import annotations

import numpy as np
from jax import lax
from jax.scipy.special import betainc

RNG = np.random.default_rng(16)

_GAMMA_EDGES = np.array(
    [
        [0.5, 0.0],  # x = 0
        [3.0, np.inf],  # x = inf
        [0.0, 2.0],  # a = 0
        [0.0, 0.0],  # a = x = 0
        [-1.0, 2.0],  # a < 0
        [2.0, -1.0],  # x < 0
        [np.nan, 1.0],
        [2.0, np.nan],
        [5.0, 5.0],  # x = a: the series for P, the continued fraction for Q
        [0.1, 1e-6],  # x near 0
        [50.0, 1e-3],  # underflow of x^a e^-x
        [20.0, 2.0],  # a large, x small
        [0.3, 40.0],  # a small, x large
        [50.0, 49.0],  # near x = a: the slow series
        [40.0, 41.0],  # near x = a: the slow continued fraction
        [1.0, 1.0],
    ],
    np.float32,
)
"""(a, x) pairs: the edge cases and the slow corners of each regime."""


def _gamma_arguments(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, x) of shape (4, n), a in (0.1, 50) log-uniform, x in (0, 1) on the first row
    and in (0, 2.5 a) on the others: both regimes."""
    a = np.exp(RNG.uniform(np.log(0.1), np.log(50.0), (4, n)))
    x = a * RNG.uniform(0.0, 2.5, (4, n))
    x[0] = RNG.uniform(0.0, 1.0, n)
    return a.astype(np.float32), x.astype(np.float32)


def _gamma_cases(fn) -> list:
    """The random pairs with the edge cases below them, (6, 8); one row of a against a
    (4, 5) grid of x."""
    a, x = _gamma_arguments(8)
    edge_a, edge_x = _GAMMA_EDGES.T.reshape(2, 2, 8)
    row_a, grid_x = _gamma_arguments(5)
    grid = (np.concatenate([a, edge_a]), np.concatenate([x, edge_x]))
    return [(fn, grid), (fn, (row_a[:1], grid_x))]


def _beta_arguments(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, x) of shape (3, n): a, b in (0.2, 20), x across (0, 1) with 0 and 1."""
    a, b = (np.exp(RNG.uniform(np.log(0.2), np.log(20.0), (3, n))) for _ in range(2))
    x = RNG.uniform(0.0, 1.0, (3, n))
    x[0, :2] = 0.0, 1.0
    x[1, :2] = 1e-4, 1.0 - 1e-4
    return a.astype(np.float32), b.astype(np.float32), x.astype(np.float32)


_BETA_EDGES = np.array(
    [
        [0.0, 2.0, 0.5],
        [2.0, 0.0, 0.5],
        [0.0, 0.0, 0.5],
        [np.inf, 2.0, 0.5],
        [2.0, np.inf, 0.5],
        [-1.0, 2.0, 0.5],
        [2.0, 3.0, 1.5],
        [2.0, 3.0, -0.5],
        [np.nan, 2.0, 0.5],
        [2.0, 3.0, 0.0],
        [2.0, 3.0, 1.0],
        [1e-3, 5.0, 0.3],
    ],
    np.float32,
)
"""(a, b, x): the edge cases of I_x(a, b)."""


CASES = {
    "igamma": _gamma_cases(lax.igamma),
    "igammac": _gamma_cases(lax.igammac),
    "igamma_grad_a": _gamma_cases(lax.igamma_grad_a),
    "regularized_incomplete_beta": [
        (betainc, _beta_arguments(8)),
        (betainc, tuple(_BETA_EDGES.T.copy())),
    ],
}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {"igamma": 2e-5, "igammac": 2e-5}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason: near x = a = 50,
where P ≈ 1/2, x^a e^-x / Γ(a) is the exp of a·log x - x - lgamma(a) with terms near 180
and 145, whose float32 ulps (1.5e-5) XLA's log and lgamma and the exported ones round
apart by one or two; so P differs by up to 1.06e-5 (rtol = atol) over 20000 random pairs
(in float64: 1e-14). igamma_grad_a and betainc stay under 6e-6 there."""
