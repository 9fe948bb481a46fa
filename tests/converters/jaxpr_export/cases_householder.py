"""Primitive cases: Householder reflections, unrolled for static sizes: qr, householder_product,
hessenberg, tridiagonal, each compared output by output (the packed reflectors and taus
included) with JAX on CPU, which calls LAPACK."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular

RNG = np.random.default_rng(16)


def _orthonormal(rows: int, cols: int, batch: tuple[int, ...]) -> np.ndarray:
    """[*batch, rows, cols] matrices with orthonormal columns (rows >= cols)."""
    return np.linalg.qr(RNG.standard_normal((*batch, rows, cols)))[0]


def _conditioned(shape: tuple[int, ...]) -> np.ndarray:
    """Random matrices of `shape` with singular values in [1, 2]."""
    *batch, rows, cols = shape
    k = min(rows, cols)
    scale = RNG.uniform(1.0, 2.0, (*batch, 1, k))
    u, v = _orthonormal(rows, k, tuple(batch)), _orthonormal(cols, k, tuple(batch))
    return ((u * scale) @ np.swapaxes(v, -1, -2)).astype(np.float32)


def _symmetric(shape: tuple[int, ...]) -> np.ndarray:
    """Random symmetric matrices of `shape` with eigenvalues of magnitude in [1, 2]."""
    *batch, n, _ = shape
    q = _orthonormal(n, n, tuple(batch))
    eigenvalues = RNG.choice([-1.0, 1.0], (*batch, 1, n)) * RNG.uniform(1.0, 2.0, (*batch, 1, n))
    s = (q * eigenvalues) @ np.swapaxes(q, -1, -2)
    return ((s + np.swapaxes(s, -1, -2)) / 2).astype(np.float32)


def _reflectors(shape: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Random reflectors below the diagonal of `shape` matrices and their k taus
    2 / ||v||² (so that each H is orthogonal)."""
    a = RNG.standard_normal(shape).astype(np.float32)
    below = np.tril(a, -1)[..., :k]
    taus = 2.0 / (1.0 + np.sum(below**2, axis=-2))
    return a, taus.astype(np.float32)


def _qrs(a):
    """qr of `a` and of its transpose, full and reduced, with and without pivoting."""
    return tuple(
        lax.linalg.qr(x, full_matrices=full, pivoting=pivoting)
        for x in (a, jnp.swapaxes(a, -1, -2))
        for full in (True, False)
        for pivoting in (False, True)
    )


def _tridiagonals(a):
    return lax.linalg.tridiagonal(a, lower=True), lax.linalg.tridiagonal(a, lower=False)


def _least_squares(a, b):
    """jnp.linalg.qr (reduced) and the least-squares solution of a x = b built on it."""
    q, r = jnp.linalg.qr(a)
    return q, r, solve_triangular(r, jnp.swapaxes(q, -1, -2) @ b)


CASES = {
    "qr": [(_qrs, (_conditioned((2, 4, 4)),)), (_qrs, (_conditioned((3, 6, 4)),))],
    "householder_product": [
        (lax.linalg.householder_product, _reflectors((2, 5, 5), 3)),
        (lax.linalg.householder_product, _reflectors((3, 6, 4), 4)),
    ],
    "hessenberg": [
        (lax.linalg.hessenberg, (_conditioned((5, 5)),)),
        (lax.linalg.hessenberg, (_conditioned((2, 3, 6, 6)),)),
    ],
    "tridiagonal": [
        (_tridiagonals, (_symmetric((5, 5)),)),
        (_tridiagonals, (_symmetric((2, 3, 6, 6)),)),
    ],
    "qr_least_squares": [
        (
            _least_squares,
            (_conditioned((2, 8, 4)), RNG.standard_normal((2, 8, 2)).astype(np.float32)),
        )
    ],
}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {"tridiagonal": 1e-4}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason: tridiagonal's
last entries (d, e, the packed matrix) are sensitive to rounding in float32, and the export
sums in another order than LAPACK's ssytd2 (MatMul for ssymv): on the 6x6 case JAX's own
float32 result is 5e-5 from the float64 one, the export's 6e-5 from it and 8e-5 from JAX's
(in float64 the two agree to 8e-14)."""
