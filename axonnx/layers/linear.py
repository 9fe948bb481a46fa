"""Linear layers: dense, bilinear and embedding."""

import jax
import jax.numpy as jnp

__all__ = ["dense", "bilinear", "embedding"]


def _add_bias(y: jax.Array, bias: jax.Array | None) -> jax.Array:
    """Adds a ``(features,)`` bias along the last axis (explicit broadcast)."""
    return y if bias is None else y + bias.reshape((1,) * (y.ndim - 1) + (-1,))


def dense(x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """Fully connected layer ``x @ kernel + bias`` on the last axis (ONNX ``Gemm``/``MatMul``).

    Args:
      x: ``(..., in_features)``.
      kernel: ``(in_features, out_features)``.
      bias: optional ``(out_features,)``.

    Returns:
      ``(..., out_features)`` in the promoted dtype of the inputs.

    >>> dense(jnp.ones((2, 3)), jnp.ones((3, 4)), jnp.zeros(4)).shape
    (2, 4)
    """
    if kernel.ndim != 2 or x.shape[-1:] != kernel.shape[:1]:
        raise ValueError(
            f"dense: expected input (..., in_features) and kernel (in_features, out_features), "
            f"got input {x.shape} and kernel {kernel.shape}."
        )
    return _add_bias(_matmul(x, kernel), bias)


def _matmul(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``x @ kernel`` over the last axis; 16-bit floats accumulate in float32 (twice the
    speed of a bfloat16-accumulating dot on AVX-512 BF16 CPUs, and more accurate) and
    come back in their own dtype."""
    dtype = jnp.result_type(x, kernel)
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits == 16:
        product = jnp.tensordot(x, kernel, axes=1, preferred_element_type=jnp.float32)
        return product.astype(dtype)
    return jnp.tensordot(x, kernel, axes=1)


def bilinear(
    x1: jax.Array, x2: jax.Array, kernel: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """Bilinear layer ``y[..., o] = sum_ij x1[..., i] kernel[o, i, j] x2[..., j] + bias[o]``.

    Args:
      x1: ``(..., in1_features)``.
      x2: ``(..., in2_features)``, same leading shape as ``x1``.
      kernel: ``(out_features, in1_features, in2_features)``.
      bias: optional ``(out_features,)``.

    Returns:
      ``(..., out_features)``.

    >>> bilinear(jnp.ones((2, 3)), jnp.ones((2, 5)), jnp.ones((4, 3, 5))).shape
    (2, 4)
    """
    if kernel.ndim != 3 or x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(
            "bilinear: expected x1 (..., in1), x2 (..., in2) with the same leading shape and "
            f"kernel (out, in1, in2), got {x1.shape}, {x2.shape} and {kernel.shape}."
        )
    return _add_bias(jnp.einsum("...i,oij,...j->...o", x1, kernel, x2), bias)


def embedding(ids: jax.Array, table: jax.Array) -> jax.Array:
    """Looks up rows of ``table`` (ONNX ``Gather`` on axis 0).

    Args:
      ids: integer ids of any shape ``(...)``; negative ids count from the end as in
        ONNX ``Gather``, ids outside ``[-vocab, vocab)`` give rows of NaN.
      table: ``(vocab, dim)``.

    Returns:
      ``(..., dim)``, same dtype as ``table``.

    >>> embedding(jnp.array([[0, 2]]), jnp.eye(3)).shape
    (1, 2, 3)
    """
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise TypeError(f"embedding: expected integer ids, got dtype {ids.dtype}. Cast ids.")
    return jnp.take(table, ids, axis=0)
