"""Attention contrib ops of onnxruntime (domain `com.microsoft`): Attention (BERT's
fused self-attention), MultiHeadAttention, RotaryEmbedding and GroupQueryAttention.

Masks follow onnxruntime's CPU kernels: a mask is additive, masked keys get
`mask_filter_value` (default -10000) rather than -inf, and future keys under
`unidirectional` get the dtype's lowest value (`mask_filter_value` with 3-D masks), so a
query row whose keys are all masked averages them instead of giving zeros, as
onnxruntime does. Scores are `scale * Q K^T` (scale 1/sqrt(head size) by default) and
the softmax runs in at least float32. Heads are (batch, heads, seq, head_size).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._attention_util import merge_heads, split_heads
from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_FILTER = -10000.0


# ---------------------------------------------------------------- shared helpers


def mask_bias(mask, batch, q_len, total, past_len, filter_value, causal, dtype, op):
    """onnxruntime's additive mask (batch, 1, q_len, total) from a mask index: 1-D
    (batch) valid lengths, 1-D (2 * batch) end then start positions, 2-D (batch,
    total) or 3-D (batch, q_len, total) 0/1 masks; plus the causal limit (a query at
    position `past_len + i` sees keys up to it). None when there is neither."""
    if mask is None and not causal:
        return None
    filtered = jnp.asarray(_FILTER if filter_value is None else filter_value, dtype)
    zero = jnp.zeros((), dtype)
    future_fill = jnp.asarray(jnp.finfo(dtype).min, dtype)
    keys = jnp.arange(total)
    bias = jnp.zeros((batch, 1, total), dtype)
    if mask is None:
        pass
    elif mask.ndim == 3:
        bias = jnp.where(mask > 0, zero, filtered)
        future_fill = filtered
    elif mask.ndim == 2:
        bias = jnp.where(mask > 0, zero, filtered)[:, None, :]
    elif mask.ndim == 1 and mask.shape[0] in (batch, 2 * batch):
        allowed = keys[None, :] < mask[:batch, None]
        if mask.shape[0] == 2 * batch:
            allowed &= keys[None, :] >= jnp.minimum(mask[batch:, None], total)
        bias = jnp.where(allowed, zero, filtered)[:, None, :]
    else:
        raise UnsupportedOpError(
            f"{op}: mask of shape {mask.shape} is not supported; expected (batch), "
            "(2 * batch), (batch, total_sequence) or (batch, sequence, total_sequence)"
        )
    bias = jnp.broadcast_to(bias, (batch, q_len, total))
    if causal:
        future = keys[None, :] > jnp.arange(q_len)[:, None] + past_len
        bias = jnp.where(future[None], future_fill, bias)
    return bias[:, None]


def attend(q, k, v, scale, *biases):
    """`softmax(scale * q k^T + biases) v` with the softmax in at least float32; q, k, v
    (batch, heads, seq, size), biases broadcastable to (batch, heads, q_len, kv_len)."""
    dtype = jnp.promote_types(q.dtype, jnp.float32)
    if scale is None or scale == 0.0:
        scale = 1.0 / np.sqrt(q.shape[-1])
    scores = jnp.matmul(q.astype(dtype), jnp.swapaxes(k.astype(dtype), -1, -2)) * scale
    for bias in biases:
        if bias is not None:
            scores = scores + bias.astype(dtype)
    probs = jax.nn.softmax(scores, axis=-1)
    return jnp.matmul(probs, v.astype(dtype)).astype(q.dtype), scores


def _unsupported(op: str, **flags) -> None:
    for name, value in flags.items():
        if value:
            raise UnsupportedOpError(f"{op}: {name}={value} is not supported")


# ---------------------------------------------------------------- Attention


def _qkv_sizes(weights, qkv_hidden_sizes, num_heads, op: str) -> tuple[int, int, int]:
    total = weights.shape[-1]
    sizes = tuple(int(s) for s in qkv_hidden_sizes) if qkv_hidden_sizes else (total // 3,) * 3
    if len(sizes) != 3 or sum(sizes) != total or any(s % num_heads for s in sizes):
        raise ShapeError(
            f"{op}: weights' last axis {total} does not split into Q, K, V sizes {sizes} "
            f"divisible by num_heads={num_heads}"
        )
    return sizes


def self_attention(q, k, v, mask_index, past, attention_bias, attrs, op: str):
    """The core of Attention and QAttention: Q, K, V (batch, seq, hidden) after the
    projection; returns (output, present)."""
    heads = attrs["num_heads"]
    q = split_heads(q, heads, op, "num_heads")
    k = split_heads(k, heads, op, "num_heads")
    v = split_heads(v, heads, op, "num_heads")
    past_len = 0
    if past is not None:
        past_len = past.shape[3]
        k = jnp.concatenate([past[0].astype(k.dtype), k], axis=2)
        v = jnp.concatenate([past[1].astype(v.dtype), v], axis=2)
    batch, _, q_len, _ = q.shape
    total = k.shape[2]
    bias = mask_bias(
        mask_index,
        batch,
        q_len,
        total,
        past_len,
        attrs["mask_filter_value"],
        attrs["unidirectional"],
        jnp.promote_types(q.dtype, jnp.float32),
        op,
    )
    y, _ = attend(q, k, v, attrs["scale"], bias, attention_bias)
    present = jnp.stack([k, v]) if k.shape == v.shape else None
    return merge_heads(y), present


@onnx_op("Attention", 1, domain=MS, weight_inputs=(1, 2))
def attention(
    input,  # noqa: A002
    weights,
    bias=None,
    mask_index=None,
    past=None,
    attention_bias=None,
    past_sequence_length=None,
    *,
    do_rotary=None,
    mask_filter_value=None,
    num_heads=None,
    past_present_share_buffer=None,
    qkv_hidden_sizes=None,
    rotary_embedding_dim=None,
    scale=None,
    unidirectional=0,
):
    """com.microsoft Attention-1: multi-head self-attention with the Q, K, V projection
    fused (`input @ weights + bias`, split by `qkv_hidden_sizes`), a mask index (see
    `mask_bias`), an additive `attention_bias` (batch or 1, heads or 1, seq, total) and
    a `past` (2, batch, heads, past_seq, head_size) key/value cache; outputs (output
    (batch, seq, v_hidden), present)."""
    _unsupported(
        "Attention", do_rotary=do_rotary, past_present_share_buffer=past_present_share_buffer
    )
    if num_heads is None:
        raise InvalidModelError("Attention: the num_heads attribute is required")
    q_size, k_size, _ = _qkv_sizes(weights, qkv_hidden_sizes, num_heads, "Attention")
    qkv = jnp.matmul(input, weights.astype(input.dtype))
    if bias is not None:
        qkv = qkv + bias.astype(qkv.dtype)
    q, k, v = jnp.split(qkv, [q_size, q_size + k_size], axis=-1)
    attrs = {
        "num_heads": num_heads,
        "mask_filter_value": mask_filter_value,
        "unidirectional": unidirectional,
        "scale": scale,
    }
    return self_attention(q, k, v, mask_index, past, attention_bias, attrs, "Attention")


# ---------------------------------------------------------------- MultiHeadAttention


def _mha_inputs(query, key, value, bias, heads: int):
    """Q, K, V as (batch, heads, seq, size) from MultiHeadAttention's layouts: separate
    (batch, seq, hidden), packed QKV (batch, seq, heads, 3, size), packed KV (batch,
    kv_seq, heads, 2, size), or K, V already split into heads (batch, heads, kv_seq,
    size, no bias). Returns (q, k, v, whether K and V may take a past)."""
    op = "MultiHeadAttention"
    if query.ndim == 5:
        q, k, v = (jnp.transpose(query[:, :, :, i], (0, 2, 1, 3)) for i in range(3))
        size = q.shape[-1]
        if bias is not None:
            parts = jnp.reshape(bias, (3, heads, 1, size)).astype(q.dtype)
            q, k, v = q + parts[0], k + parts[1], v + parts[2]
        return q, k, v, True
    hidden = query.shape[-1]
    if bias is not None:
        query = query + bias[:hidden].astype(query.dtype)
    q = split_heads(query, heads, op, "num_heads")
    if key is None:
        raise InvalidModelError(f"{op}: key is required unless query packs Q, K and V")
    if key.ndim == 5:
        k, v = (jnp.transpose(key[:, :, :, i], (0, 2, 1, 3)) for i in range(2))
        if bias is not None:
            parts = jnp.reshape(bias[hidden:], (2, heads, 1, k.shape[-1])).astype(k.dtype)
            k, v = k + parts[0], v + parts[1]
        return q, k, v, True
    if value is None:
        raise InvalidModelError(f"{op}: value is required with a 3-D or 4-D key")
    if key.ndim == 4:
        return q, key, value, False
    if bias is not None:
        key = key + bias[hidden : 2 * hidden].astype(key.dtype)
        value = value + bias[2 * hidden :].astype(value.dtype)
    k = split_heads(key, heads, op, "num_heads")
    return q, k, split_heads(value, heads, op, "num_heads"), True


@onnx_op("MultiHeadAttention", 1, domain=MS, weight_inputs=(3,))
def multi_head_attention(
    query,
    key=None,
    value=None,
    bias=None,
    key_padding_mask=None,
    attention_bias=None,
    past_key=None,
    past_value=None,
    past_sequence_length=None,
    cache_indirection=None,
    *,
    mask_filter_value=None,
    num_heads=None,
    scale=None,
    unidirectional=0,
):
    """com.microsoft MultiHeadAttention-1: attention of projected Q, K, V (layouts in
    `_mha_inputs`) with an optional projection bias, key padding mask (as Attention's
    mask index), additive `attention_bias` and a past_key / past_value cache (batch,
    heads, past_seq, size); outputs (output (batch, seq, v_hidden), present_key,
    present_value, qk (the scaled, biased scores))."""
    _unsupported("MultiHeadAttention", cache_indirection=cache_indirection is not None)
    if num_heads is None:
        raise InvalidModelError("MultiHeadAttention: the num_heads attribute is required")
    q, k, v, cacheable = _mha_inputs(query, key, value, bias, num_heads)
    if (past_key is None) != (past_value is None):
        raise InvalidModelError("MultiHeadAttention: past_key and past_value go together")
    past_len = 0
    if past_key is not None and cacheable:
        past_len = past_key.shape[2]
        k = jnp.concatenate([past_key.astype(k.dtype), k], axis=2)
        v = jnp.concatenate([past_value.astype(v.dtype), v], axis=2)
    batch, _, q_len, _ = q.shape
    dtype = jnp.promote_types(q.dtype, jnp.float32)
    padding = mask_bias(
        key_padding_mask,
        batch,
        q_len,
        k.shape[2],
        past_len,
        mask_filter_value,
        unidirectional,
        dtype,
        "MultiHeadAttention",
    )
    y, scores = attend(q, k, v, scale, padding, attention_bias)
    return merge_heads(y), k, v, scores.astype(q.dtype)
