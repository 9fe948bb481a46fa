"""Primitive cases of the triangular solves and Cholesky factors, at two sizes, with
every side, triangle and transpose."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

RNG = np.random.default_rng(3)


def _spd(n: int, batch: int = 2) -> np.ndarray:
    """Symmetric positive definite matrices, well conditioned."""
    m = RNG.standard_normal((batch, n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(np.float32)


def _triangles(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = RNG.standard_normal((2, n, n)) + 3 * np.eye(n)
    return a.astype(np.float32), RNG.standard_normal((2, n, 3)).astype(np.float32)


def _solves(a, b):
    left = [
        lax.linalg.triangular_solve(
            a, b, left_side=True, lower=lower, transpose_a=transpose, unit_diagonal=unit
        )
        for lower in (True, False)
        for transpose in (False, True)
        for unit in (False, True)
    ]
    bt = jnp.swapaxes(b, -1, -2)
    right = [lax.linalg.triangular_solve(a, bt, lower=lower) for lower in (True, False)]
    return (*left, *right)


def _pivots(n: int) -> tuple[np.ndarray]:
    """Pivots as LU writes them: row i swapped with a row j >= i."""
    return (np.stack([RNG.integers(i, n + 1, (2, 3)) for i in range(n)], -1).astype(np.int32),)


LINALG_CASES = {
    "lu_pivots_to_permutation": [
        (lambda p, n=n: lax.linalg.lu_pivots_to_permutation(p, n + 1), _pivots(n)) for n in (3, 5)
    ],
    "triangular_solve": [(_solves, _triangles(n)) for n in (1, 5)],
    "cholesky": [(jnp.linalg.cholesky, (_spd(n),)) for n in (3, 6)],
}


def _ragged(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows 2n, three groups whose sizes sum to less than that (the rest are zero)."""
    sizes = np.array([n, 0, n - 1], np.int32)
    return (
        RNG.standard_normal((2 * n, 4)).astype(np.float32),
        RNG.standard_normal((3, 4, n)).astype(np.float32),
        sizes,
    )


def _symmetric(a, c):
    return (
        lax.linalg.symmetric_product(a, c, alpha=2.0, beta=0.5),
        lax.linalg.symmetric_product(a, c, symmetrize_output=True),
    )


CONTRACTION_CASES = {
    "ragged_dot_general": [(lax.ragged_dot, _ragged(n)) for n in (3, 5)],
    "symmetric_product": [
        (_symmetric, (RNG.standard_normal((2, n, 3)).astype(np.float32), _spd(n))) for n in (3, 5)
    ],
}
