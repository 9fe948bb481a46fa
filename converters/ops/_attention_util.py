"""Helpers shared by the attention ops (`nn_attention`, `nn_linear_attention`, the
com.microsoft `contrib_attention` and `contrib_decoder`): heads split and merged,
scaled scores, a softmax whose all-masked rows give zeros."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError


def split_heads(x, heads, op: str, what: str):
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    if heads is None:
        raise InvalidModelError(f"{op}: {what} is required for 3-D inputs")
    batch, seq, hidden = x.shape
    if hidden % heads:
        raise ShapeError(f"{op}: last axis {hidden} is not divisible by {what}={heads}")
    return jnp.transpose(jnp.reshape(x, (batch, seq, heads, hidden // heads)), (0, 2, 1, 3))


def merge_heads(x):
    """(batch, heads, seq, size) -> (batch, seq, heads * size)."""
    batch, heads, seq, size = x.shape
    return jnp.reshape(jnp.transpose(x, (0, 2, 1, 3)), (batch, seq, heads * size))


def repeat_heads(x, q_heads: int, op: str):
    """K or V (batch, kv_heads, ...) repeated for grouped-query attention."""
    kv_heads = x.shape[1]
    if q_heads == kv_heads:
        return x
    if q_heads % kv_heads:
        raise ShapeError(
            f"{op}: expected the query heads ({q_heads}) to be a multiple of the key/value "
            f"heads ({kv_heads})"
        )
    return jnp.repeat(x, q_heads // kv_heads, axis=1)


def scaled_scores(Q, K, scale):
    """`(Q * sqrt(scale)) @ (K * sqrt(scale))^T`, the factor in Q's dtype."""
    if scale is None:
        scale = 1.0 / np.sqrt(Q.shape[-1])
    factor = jnp.asarray(np.sqrt(np.float64(scale)), Q.dtype)
    return jnp.matmul(Q * factor, jnp.swapaxes(K * factor, -1, -2))


def softmax(x):
    """Softmax over the last axis; a row that is all -inf gives zeros."""
    top = jnp.max(x, axis=-1, keepdims=True)
    e = jnp.exp(x - jnp.where(jnp.isneginf(top), 0, top))
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(total == 0, 1, total).astype(x.dtype)


def np_dtype(onnx_type: int, op: str):
    """The NumPy dtype of the ONNX type code `softmax_precision`."""
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(int(onnx_type))
    except (KeyError, ValueError) as error:
        raise UnsupportedOpError(f"{op}: softmax_precision {onnx_type} is not a type") from error
