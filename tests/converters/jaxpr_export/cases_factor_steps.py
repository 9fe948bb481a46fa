"""Primitive cases: LU with partial pivoting (square, tall and wide, batched, and the
solves and determinants on top of it), rank-one Cholesky updates and tridiagonal solves
(diagonally dominant, and general systems where gtsv interchanges rows)."""

from __future__ import annotations

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jax import lax

RNG = np.random.default_rng(17)


def _conditioned(*shape: int) -> np.ndarray:
    """Random [..., m, n] matrices with singular values in [1, 2]: Q1 diag(s) Q2."""
    *batch, m, n = shape
    q1 = np.linalg.qr(RNG.standard_normal((*batch, m, m)))[0]
    q2 = np.linalg.qr(RNG.standard_normal((*batch, n, n)))[0]
    k = min(m, n)
    s = np.zeros((*batch, m, n))
    s[..., range(k), range(k)] = RNG.uniform(1.0, 2.0, (*batch, k))
    return (q1 @ s @ q2).astype(np.float32)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _update(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The upper Cholesky factor R of a well-conditioned SPD matrix, and a vector w."""
    a = _conditioned(n, n)
    r = np.linalg.cholesky(a @ a.T + np.eye(n, dtype=np.float32)).T
    return r.astype(np.float32), _normal(n)


def _tridiagonal(*shape: int, k: int, dominant: bool) -> tuple[np.ndarray, ...]:
    """(dl, d, du, b) of [..., n] diagonals, b [..., n, k]; dominant: |d| > |dl| + |du|
    everywhere, so that gtsv never interchanges rows. dl[..., 0] and du[..., -1] are
    random: the solve ignores them."""
    dl, du = RNG.uniform(-1, 1, shape), RNG.uniform(-1, 1, shape)
    d = RNG.uniform(-1, 1, shape)
    if dominant:
        d = np.sign(d) * (2.5 + np.abs(d))
    return (*(x.astype(np.float32) for x in (dl, d, du)), _normal(*shape, k))


def _lu_solve(a, b):
    return jsl.lu_solve(jsl.lu_factor(a), b)


CASES = {
    "lu": [
        (lax.linalg.lu, (_conditioned(2, 3, 6, 6),)),
        (lax.linalg.lu, (_conditioned(2, 7, 4),)),
        (lax.linalg.lu, (_conditioned(4, 7),)),
    ],
    "lu_solve_det": [
        (_lu_solve, (_conditioned(6, 6), _normal(6, 2))),
        (jnp.linalg.solve, (_conditioned(3, 5, 5), _normal(3, 5, 2))),
        (jnp.linalg.det, (_conditioned(2, 5, 5),)),
    ],
    "cholesky_update": [(lax.linalg.cholesky_update, _update(n)) for n in (3, 8)],
    "tridiagonal_solve": [
        (lax.linalg.tridiagonal_solve, _tridiagonal(7, k=1, dominant=True)),
        (lax.linalg.tridiagonal_solve, _tridiagonal(2, 3, 40, k=3, dominant=True)),
        (lax.linalg.tridiagonal_solve, _tridiagonal(3, 9, k=2, dominant=False)),
    ],
}
"""Primitive name → [(function, example arguments), …]."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
