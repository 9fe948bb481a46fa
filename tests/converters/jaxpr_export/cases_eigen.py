"""Primitive cases: symmetric eigendecompositions (eigh) and singular value decompositions
(svd) by Jacobi rotations, compared with JAX on CPU (LAPACK). Vectors are unique only up
to sign, so the functions compare them in a sign-canonical form (the largest-|.|
component made positive), computed inside the exported function; values directly; and
the factors multiplied back into the matrix."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

RNG = np.random.default_rng(41)


def _orthogonal(n: int, batch: tuple[int, ...]) -> np.ndarray:
    return np.linalg.qr(RNG.standard_normal((*batch, n, n)))[0]


def _spread(k: int, batch: tuple[int, ...], low: float) -> np.ndarray:
    """[*batch, 1, k] values from `low` on, at least 0.4 apart, in a random order."""
    steps = low + 0.5 * np.arange(k) + RNG.uniform(0, 0.1, (*batch, k))
    return RNG.permuted(steps, axis=-1)[..., None, :]


def _symmetric(n: int, batch: tuple[int, ...]) -> np.ndarray:
    """Symmetric [*batch, n, n] with eigenvalues in [-n/4, n/4], at least 0.4 apart."""
    q = _orthogonal(n, batch)
    return ((q * _spread(n, batch, -n / 4)) @ np.swapaxes(q, -1, -2)).astype(np.float32)


def _one_triangle(n: int, batch: tuple[int, ...]) -> np.ndarray:
    """A symmetric matrix whose strict lower triangle is replaced by noise (eigh with
    lower=False must not read it)."""
    noise = np.tril(RNG.standard_normal((*batch, n, n)), -1).astype(np.float32)
    return np.triu(_symmetric(n, batch)) + noise


def _matrix(m: int, n: int, batch: tuple[int, ...]) -> np.ndarray:
    """[*batch, m, n] with singular values in [1, 1 + min(m, n) / 2], at least 0.4 apart."""
    k = min(m, n)
    u, v = _orthogonal(m, batch)[..., :k], _orthogonal(n, batch)[..., :k]
    return ((u * _spread(k, batch, 1.0)) @ np.swapaxes(v, -1, -2)).astype(np.float32)


def _canonical(vectors, axis: int):
    """Each vector along `axis` times the sign of its largest-|.| component."""
    size = jnp.abs(vectors)
    largest = jnp.where(size == jnp.max(size, axis, keepdims=True), vectors, 0)
    return vectors * jnp.sign(jnp.sum(largest, axis, keepdims=True))


def _eigh_default(a):
    w, v = jnp.linalg.eigh(a)
    return w, _canonical(v, -2)


def _eigh_upper(a):
    v, w = lax.linalg.eigh(a, lower=False, symmetrize_input=False, sort_eigenvalues=False)
    rebuilt = (v * w[..., None, :]) @ jnp.swapaxes(v, -1, -2)
    return w, _canonical(v, -2), rebuilt


def _svd_thin(a):
    u, s, vt = jnp.linalg.svd(a, full_matrices=False)
    values = jnp.linalg.svd(a, compute_uv=False)
    return s, values, _canonical(u, -2), _canonical(vt, -1), (u * s[..., None, :]) @ vt


def _svd_full(a):
    """Full matrices: the k vectors compared, the others by the projector onto their span
    (unique, unlike the vectors)."""
    u, s, vt = lax.linalg.svd(a, full_matrices=True, algorithm=lax.linalg.SvdAlgorithm.QR)
    k = s.shape[-1]
    left, rest = vt[..., :k, :], vt[..., k:, :]
    complement = jnp.swapaxes(rest, -1, -2) @ rest
    return s, _canonical(u, -2), _canonical(left, -1), complement, (u * s[..., None, :]) @ left


CASES = {
    "eigh": [
        (_eigh_default, (_symmetric(4, (2,)),)),
        (_eigh_upper, (_one_triangle(7, (3, 2)),)),
    ],
    "svd": [
        (_svd_thin, (_matrix(5, 3, (2,)),)),
        (_svd_full, (_matrix(4, 6, (3,)),)),
    ],
    "eig": [
        (lax.linalg.eig, (_matrix(1, 1, (3,)),)),
        (lambda a: lax.linalg.eig(a, compute_left_eigenvectors=False), (_matrix(1, 1, ()),)),
    ],
    "schur": [
        (lax.linalg.schur, (_matrix(1, 1, (3,)),)),
        (lambda a: lax.linalg.schur(a, compute_schur_vectors=False), (_matrix(1, 1, ()),)),
    ],
}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
