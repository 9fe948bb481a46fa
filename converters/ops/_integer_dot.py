"""Exact integer matrix products for the quantized ops, computed in float32.

XLA's CPU backend has no fast integer dot (a u8×s8 BERT layer ran ~15× slower than
onnxruntime's), but float32 represents every integer up to 2^24 exactly: when every
partial sum of a product is an integer below that, a float32 matmul gives the exact
result whatever order it sums in. Eight-bit operands shifted by a zero point lie in
[-255, 255]; split into 4-bit halves, x = 16·(x >> 4) + (x & 15), each half's products
stay below 2^24 up to 4,112 terms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

EXACT_FLOAT32 = 2**24  # every integer of at most this magnitude is a float32
EIGHT_BIT_SHIFTED = 255  # the magnitude bound of an 8-bit value minus an 8-bit zero point


def _float_dot(x: jax.Array, y: jax.Array) -> jax.Array:
    product = jnp.matmul(
        x.astype(jnp.float32), y.astype(jnp.float32), precision=jax.lax.Precision.HIGHEST
    )
    return product.astype(jnp.int32)


def integer_matmul(x: jax.Array, y: jax.Array, bound: int = EIGHT_BIT_SHIFTED) -> jax.Array:
    """`x @ y` in int32, exactly, for int32 arrays whose entries have magnitude at most
    `bound`: one float32 matmul where bound²·K ≤ 2^24, two on x's 4-bit halves where
    16·bound·K ≤ 2^24, else XLA's int32 dot."""
    terms = x.shape[-1]
    if bound * bound * terms <= EXACT_FLOAT32:
        return _float_dot(x, y)
    if 16 * bound * terms <= EXACT_FLOAT32:
        return 16 * _float_dot(x >> 4, y) + _float_dot(x & 15, y)
    return jnp.matmul(x, y, preferred_element_type=jnp.int32)
