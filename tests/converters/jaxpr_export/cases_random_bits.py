"""Primitive cases: XLA's counter-based generators: rng_bit_generator (and why rng_uniform cannot be reproduced)."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
