"""Attention layers: scaled dot-product attention and multi-head attention.

Masks are boolean with True = attend, broadcastable to
(batch, heads, q_seq, k_seq). ``causal=True`` lets query i attend to keys 0..i.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from axonnx.layers.normalization import check_mode
from axonnx.layers.regularization import dropout

__all__ = ["dot_product_attention", "multi_head_attention"]


def _mask4(mask: jax.Array | None) -> jax.Array | None:
    """Boolean mask left-padded with unit axes to rank 4 (batch, heads, q_seq, k_seq)."""
    if mask is None:
        return None
    mask = jnp.asarray(mask, bool)
    if mask.ndim > 4:
        raise ValueError(
            f"attention: expected a mask broadcastable to (batch, heads, q_seq, k_seq), "
            f"got shape {mask.shape}."
        )
    return jnp.reshape(mask, (1,) * (4 - mask.ndim) + mask.shape)


def dot_product_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    *,
    mask: jax.Array | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> jax.Array:
    """Scaled dot-product attention, ``softmax(q k^T * scale) v`` per head.

    Args:
        query: (batch, q_seq, heads, head_dim).
        key: (batch, k_seq, heads, head_dim).
        value: (batch, k_seq, heads, head_dim).
        mask: boolean, True = attend, broadcastable to (batch, heads, q_seq, k_seq).
        causal: mask out keys after the query position.
        scale: logit scale; ``1 / sqrt(head_dim)`` when None.

    Returns:
        (batch, q_seq, heads, head_dim) with the dtype of ``query``.

    >>> q = jnp.ones((2, 5, 4, 8))
    >>> dot_product_attention(q, q, q, causal=True).shape
    (2, 5, 4, 8)
    """
    return jax.nn.dot_product_attention(
        query, key, value, mask=_mask4(mask), scale=scale, is_causal=causal
    )


def _attention_with_dropout(q, k, v, *, mask, causal, rate, key):
    """Like ``dot_product_attention``, with dropout on the attention weights."""
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32)
    logits = logits / math.sqrt(q.shape[-1])
    allowed = _mask4(mask)
    if causal:
        tril = jnp.tril(jnp.ones(logits.shape[-2:], bool))[None, None]
        allowed = tril if allowed is None else allowed & tril
    if allowed is not None:
        logits = jnp.where(allowed, logits, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    weights = dropout(weights, rate=rate, key=key, mode="train")
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)


def _project(x: jax.Array, kernel: jax.Array, bias: jax.Array | None) -> jax.Array:
    """Dense projection of (batch, seq, in) by kernel (in, out)."""
    y = jnp.einsum("bsi,io->bso", x, kernel)
    return y if bias is None else y + bias[None, None, :]


def _split_heads(x: jax.Array, num_heads: int, name: str) -> jax.Array:
    """(batch, seq, dim) -> (batch, seq, heads, dim // heads)."""
    if x.shape[-1] % num_heads:
        raise ValueError(
            f"multi_head_attention: expected the {name} projection width to be divisible "
            f"by num_heads={num_heads}, got {x.shape[-1]}."
        )
    return jnp.reshape(x, (*x.shape[:2], num_heads, x.shape[-1] // num_heads))


def multi_head_attention(
    query: jax.Array,
    key_input: jax.Array,
    value: jax.Array,
    q_kernel: jax.Array,
    k_kernel: jax.Array,
    v_kernel: jax.Array,
    o_kernel: jax.Array,
    q_bias: jax.Array | None = None,
    k_bias: jax.Array | None = None,
    v_bias: jax.Array | None = None,
    o_bias: jax.Array | None = None,
    *,
    num_heads: int,
    mask: jax.Array | None = None,
    causal: bool = False,
    dropout_rate: float = 0.0,
    key: jax.Array | None = None,
    mode: str = "inference",
) -> jax.Array:
    """Multi-head attention with dense projections.

    ``q, k, v = query Wq + bq, key_input Wk + bk, value Wv + bv``, split into
    ``num_heads`` heads, attended with ``dot_product_attention``, merged and
    projected by ``Wo``.

    Args:
        query: (batch, q_seq, dim).
        key_input: (batch, k_seq, k_dim).
        value: (batch, k_seq, v_dim).
        q_kernel: (dim, dim); k_kernel: (k_dim, dim); v_kernel: (v_dim, dim).
        o_kernel: (dim, out_dim).
        q_bias, k_bias, v_bias: (dim,) or None; o_bias: (out_dim,) or None.
        num_heads: number of heads; must divide dim.
        mask: boolean, True = attend, broadcastable to (batch, heads, q_seq, k_seq).
        causal: mask out keys after the query position.
        dropout_rate: dropout on the attention weights in train mode.
        key: PRNG key, required in train mode when ``dropout_rate > 0``.
        mode: "inference" or "train".

    Returns:
        (batch, q_seq, out_dim) with the dtype of ``query``.

    >>> x = jnp.ones((2, 5, 8))
    >>> w = jnp.eye(8)
    >>> multi_head_attention(x, x, x, w, w, w, w, num_heads=2).shape
    (2, 5, 8)
    """
    check_mode(mode, "multi_head_attention")
    q = _split_heads(_project(query, q_kernel, q_bias), num_heads, "query")
    k = _split_heads(_project(key_input, k_kernel, k_bias), num_heads, "key").astype(q.dtype)
    v = _split_heads(_project(value, v_kernel, v_bias), num_heads, "value").astype(q.dtype)
    if mode == "train" and dropout_rate > 0.0:
        out = _attention_with_dropout(q, k, v, mask=mask, causal=causal, rate=dropout_rate, key=key)
    else:
        out = dot_product_attention(q, k, v, mask=mask, causal=causal)
    out = jnp.reshape(out, (*out.shape[:2], -1))
    return _project(out, o_kernel, o_bias).astype(query.dtype)
