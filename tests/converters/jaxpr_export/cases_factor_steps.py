"""Primitive cases: LU with partial pivoting, rank-one Cholesky updates and tridiagonal solves, unrolled for static sizes."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
