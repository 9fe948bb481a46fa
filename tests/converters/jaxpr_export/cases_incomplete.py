"""Primitive cases: Incomplete gamma and beta functions: igamma, igammac, igamma_grad_a, regularized_incomplete_beta."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
