"""Primitive cases: Eigen- and singular value decompositions for static sizes: eigh, svd, eig, schur."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
