"""Primitive cases: Complex values as (real, imaginary) pairs: fft, complex, real, imag, conj."""

CASES: dict = {}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
