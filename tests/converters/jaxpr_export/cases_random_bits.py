"""Primitive cases: XLA's counter-based generators (rng_bit_generator, threefry2x32) and the
key-typed jax.random primitives, on fixed keys; integer outputs compare exactly."""

from __future__ import annotations

import jax
import numpy as np
from jax import lax
from jax.extend import random as jax_random

A = lax.RandomAlgorithm
KEY = np.array([0x12345678, 0x9ABCDEF0, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32)
"""A key whose counter wraps around (carry into the key word for Philox)."""
OTHER = np.array([7, 0, 3, 1], np.uint32)
FRY = np.array([42, 0xDEADBEEF], np.uint32)


def _bits(shape: tuple, dtype, algorithm: A):
    return lambda key: lax.rng_bit_generator(key, shape, dtype, algorithm)


def _uniform(impl: str, shape: tuple):
    return lambda data: jax.random.uniform(jax.random.wrap_key_data(data, impl=impl), shape)


def _normal(impl: str, shape: tuple):
    return lambda data: jax.random.normal(jax.random.wrap_key_data(data, impl=impl), shape)


def _split_bits(impl: str):
    def fn(data):
        keys = jax.random.split(jax.random.wrap_key_data(data, impl=impl), 3)
        folded = jax.random.fold_in(keys[0], 5)
        each = jax.vmap(lambda key: jax.random.bits(jax.random.fold_in(key, 2), (2,)))(keys)
        return jax.random.key_data(keys), jax.random.bits(folded, (2, 3), np.uint16), each

    return fn


def _threefry_bits(shape: tuple):
    return lambda data: jax_random.threefry_prng_impl.random_bits(data, 32, shape)


def _seeded(impl: str):
    return lambda seed: jax.random.uniform(jax.random.key(seed, impl=impl), (3, 2))


CASES: dict = {
    "rng_bit_generator": [
        (_bits((2, 3), np.uint32, A.RNG_DEFAULT), (KEY,)),
        (_bits((3, 5), np.uint32, A.RNG_DEFAULT), (OTHER,)),
        (_bits((5,), np.uint32, A.RNG_PHILOX), (KEY,)),
        (_bits((4, 1, 3), np.uint16, A.RNG_PHILOX), (OTHER,)),
        (_bits((), np.uint8, A.RNG_PHILOX), (KEY,)),
        (_bits((2, 3), np.uint32, A.RNG_THREE_FRY), (KEY,)),
        (_bits((3, 5), np.uint32, A.RNG_THREE_FRY), (OTHER,)),
        (_bits((7, 3), np.uint8, A.RNG_THREE_FRY), (KEY,)),
        (_bits((), np.uint16, A.RNG_THREE_FRY), (OTHER,)),
        (_bits((1, 6), np.uint8, A.RNG_DEFAULT), (OTHER,)),
    ],
    "random_bits": [
        (_uniform("rbg", (2, 3)), (KEY,)),
        (_uniform("unsafe_rbg", (5, 3)), (OTHER,)),
        (_normal("rbg", (4, 3)), (OTHER,)),
        (_uniform("threefry2x32", (3, 4)), (FRY,)),
        (_normal("threefry2x32", (5,)), (FRY,)),
    ],
    "random_seed": [(_seeded("rbg"), (np.int32(7),)), (_seeded("threefry2x32"), (np.int32(-3),))],
    "random_split": [
        (_split_bits("rbg"), (KEY,)),
        (_split_bits("unsafe_rbg"), (OTHER,)),
        (_split_bits("threefry2x32"), (FRY,)),
    ],
    "threefry2x32": [
        (_threefry_bits((3, 4)), (FRY,)),
        (jax_random.threefry_2x32, (FRY, np.arange(5, dtype=np.uint32) * 0x9E3779B9)),
    ],
}
"""Each algorithm at two shapes, narrow dtypes included; jax.random through rbg,
unsafe_rbg and threefry keys (wrap, seed, split, fold_in, bits, uniform, normal); the
threefry hash on its own (with iota_2x32_shape), as jax.random's threefry keys use it.
uint64 bits and u64[2] keys need jax_enable_x64, which this table does not set."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
