"""Primitive cases: Householder reflections, unrolled for static sizes: qr, householder_product, hessenberg, tridiagonal."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
