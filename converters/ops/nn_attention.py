"""Attention-family ONNX ops: Attention, RotaryEmbedding and FlexAttention (domain
`ai.onnx.preview`); LinearAttention and CausalConvWithState are in `nn_linear_attention`.

Attention follows the ONNX reference step by step rather than calling
`jax.nn.dot_product_attention`, because ONNX fixes details that function does not
expose: Q and K are each scaled by `sqrt(scale)` in the input dtype, the optional
`qk_matmul_output` exposes intermediate scores, `softcap` applies before the mask,
`softmax_precision` picks the softmax dtype, and a query row whose keys are all masked
gives zeros (not NaN, not a uniform average). Heads are (batch, heads, seq, head_size);
3-D inputs (batch, seq, heads * head_size) are split with `q_num_heads` /
`kv_num_heads`. Grouped-query attention repeats each K/V head for its group of query
heads (`[h0, h0, h1, h1, ...]`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from axonnx.converters.ops._attention_util import (
    merge_heads,
    np_dtype,
    repeat_heads,
    scaled_scores,
    softmax,
    split_heads,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

PREVIEW = "ai.onnx.preview"


def _where_allowed(allowed, dtype):
    return jnp.where(allowed, jnp.zeros((), dtype), jnp.asarray(-jnp.inf, dtype))


def _mask_bias(attn_mask, kv_len: int, dtype):
    """`attn_mask` (bool: True attends; float: added) as an additive bias, padded on the
    key axis to `kv_len` (masked there)."""
    widths = [(0, 0)] * (attn_mask.ndim - 1) + [(0, kv_len - attn_mask.shape[-1])]
    if attn_mask.dtype == jnp.bool_:
        return _where_allowed(jnp.pad(attn_mask, widths, constant_values=False), dtype)
    return jnp.pad(jnp.asarray(attn_mask, dtype), widths, constant_values=-jnp.inf)


def _offset(q_len: int, past_key, nonpad_kv_seqlen):
    """How many valid keys precede the query block: the past length, per batch
    `nonpad_kv_seqlen - q_len` (shaped (batch, 1, 1, 1)) for an external cache, or 0."""
    if past_key is not None:
        return past_key.shape[2]
    if nonpad_kv_seqlen is not None:
        return jnp.reshape(jnp.asarray(nonpad_kv_seqlen) - q_len, (-1, 1, 1, 1))
    return 0


def _position_bias(q_len, kv_len, offset, is_causal, left, right, dtype):
    """Causal and sliding-window limits, bottom-right aligned by `offset`; None if none."""
    if not is_causal and left < 0 and right < 0:
        return None
    distance = (jnp.arange(q_len)[:, None] + offset) - jnp.arange(kv_len)[None, :]
    allowed = jnp.ones(distance.shape, bool)
    if is_causal:
        allowed &= distance >= 0
    if left >= 0:
        allowed &= distance <= left
    if right >= 0:
        allowed &= -distance <= right
    return _where_allowed(allowed, dtype)


def _attention_bias(q_len, kv_len, dtype, attn_mask, offset, nonpad_kv_seqlen, limits):
    """The additive bias (broadcastable to (batch, heads, q, kv)) from the mask, the
    causal/window limits and the key padding."""
    bias = jnp.zeros((q_len, kv_len), dtype)
    if attn_mask is not None:
        bias = bias + _mask_bias(attn_mask, kv_len, dtype)
    position = _position_bias(q_len, kv_len, offset, *limits, dtype)
    if position is not None:
        bias = bias + position
    if nonpad_kv_seqlen is not None:
        valid = jnp.arange(kv_len)[None, :] < jnp.reshape(nonpad_kv_seqlen, (-1, 1))
        bias = bias + _where_allowed(valid[:, None, None, :], dtype)
    return bias


def _heads_4d(Q, K, V, q_num_heads, kv_num_heads):
    if not (Q.ndim == K.ndim == V.ndim and Q.ndim in (3, 4)):
        raise ShapeError(
            f"Attention: expected Q, K and V all 3-D or all 4-D, got shapes "
            f"{Q.shape}, {K.shape}, {V.shape}"
        )
    if Q.ndim == 4:
        return Q, K, V
    return (
        split_heads(Q, q_num_heads, "Attention", "q_num_heads"),
        split_heads(K, kv_num_heads, "Attention", "kv_num_heads"),
        split_heads(V, kv_num_heads, "Attention", "kv_num_heads"),
    )


def _with_past(past, new):
    if past is None:
        return new
    return jnp.concatenate([jnp.asarray(past, new.dtype), new], axis=2)


def _check_attention(past_key, past_value, qk_matmul_output_mode):
    if (past_key is None) != (past_value is None):
        raise InvalidModelError("Attention: past_key and past_value must be given together")
    if qk_matmul_output_mode not in (0, 1, 2, 3):
        raise UnsupportedOpError(
            f"Attention: expected qk_matmul_output_mode in 0..3, got {qk_matmul_output_mode}"
        )


def _probabilities(biased, bias, softmax_precision):
    """Softmax of the biased scores (in `softmax_precision` when given); rows whose
    bias masks every key give zeros."""
    if softmax_precision is not None:
        biased = biased.astype(np_dtype(softmax_precision, "Attention"))
    fully_masked = jnp.isneginf(jnp.max(bias, axis=-1, keepdims=True))
    return jnp.where(fully_masked, 0, softmax(biased))


@onnx_op("Attention", 23, 24, 25)
def attention(
    Q,
    K,
    V,
    attn_mask=None,
    past_key=None,
    past_value=None,
    nonpad_kv_seqlen=None,
    *,
    is_causal=0,
    kv_num_heads=None,
    left_window_size=-1,
    q_num_heads=None,
    qk_matmul_output_mode=0,
    right_window_size=-1,
    scale=None,
    softcap=0.0,
    softmax_precision=None,
):
    """ONNX Attention-23..25: `softmax(Q K^T * scale + bias) V` with a KV cache, GQA,
    causal/sliding-window limits and key padding; outputs
    (Y, present_key, present_value, qk_matmul_output)."""
    _check_attention(past_key, past_value, qk_matmul_output_mode)
    q, k, v = _heads_4d(jnp.asarray(Q), jnp.asarray(K), jnp.asarray(V), q_num_heads, kv_num_heads)
    present_key, present_value = _with_past(past_key, k), _with_past(past_value, v)
    q_len, kv_len = q.shape[2], present_key.shape[2]
    bias = _attention_bias(
        q_len,
        kv_len,
        q.dtype,
        attn_mask,
        _offset(q_len, past_key, nonpad_kv_seqlen),
        nonpad_kv_seqlen,
        (is_causal, left_window_size, right_window_size),
    )
    scores = scaled_scores(q, repeat_heads(present_key, q.shape[1], "Attention"), scale)
    if softcap > 0:
        scores = softcap * jnp.tanh(scores / softcap)
    biased = scores + bias
    probs = _probabilities(biased, bias, softmax_precision)
    qk_output = {0: scores, 1: scores, 2: biased, 3: probs}[qk_matmul_output_mode]
    y = jnp.matmul(probs.astype(q.dtype), repeat_heads(present_value, q.shape[1], "Attention"))
    y = merge_heads(y) if jnp.ndim(Q) == 3 else y
    return y, present_key, present_value, qk_output.astype(q.dtype)


def _rotate(x, cos, sin, interleaved: bool):
    """Rotate pairs of the last axis of x by the angles whose cos/sin are given."""
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
    else:
        x1, x2 = jnp.split(x, 2, axis=-1)
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if interleaved:
        return jnp.reshape(jnp.stack([real, imag], axis=-1), x.shape)
    return jnp.concatenate([real, imag], axis=-1)


@onnx_op("RotaryEmbedding", 23)
def rotary_embedding(
    X,
    cos_cache,
    sin_cache,
    position_ids=None,
    *,
    interleaved=0,
    num_heads=None,
    rotary_embedding_dim=0,
):
    """ONNX RotaryEmbedding-23: rotary position embedding of X (batch, heads, seq, size)
    or (batch, seq, heads * size); caches (max_pos, dim / 2) indexed by `position_ids`
    (batch, seq), or (batch, seq, dim / 2) without them."""
    if X.ndim == 4:
        x = jnp.transpose(X, (0, 2, 1, 3))
    else:
        x = jnp.transpose(split_heads(X, num_heads, "RotaryEmbedding", "num_heads"), (0, 2, 1, 3))
    dim = rotary_embedding_dim or x.shape[-1]
    if position_ids is not None:
        cos_cache, sin_cache = cos_cache[position_ids], sin_cache[position_ids]
    if cos_cache.shape[-1] != dim // 2 or sin_cache.shape[-1] != dim // 2:
        raise ShapeError(
            f"RotaryEmbedding: expected caches with last axis {dim // 2} (rotary dim / 2), "
            f"got {cos_cache.shape} and {sin_cache.shape}"
        )
    rotated = _rotate(x[..., :dim], cos_cache[:, :, None], sin_cache[:, :, None], interleaved)
    y = jnp.concatenate([rotated.astype(X.dtype), x[..., dim:]], axis=-1)
    return jnp.reshape(y, X.shape) if X.ndim == 3 else jnp.transpose(y, (0, 2, 1, 3))


def _flex_softmax_dtype(dtype, softmax_precision):
    if softmax_precision is not None:
        return np_dtype(softmax_precision, "FlexAttention")
    return jnp.promote_types(dtype, jnp.float32)


def _modify(subgraph, value, env, dtype):
    if subgraph is None:
        return value
    return jnp.asarray(subgraph(value, env=env)[0], dtype)


@onnx_op("FlexAttention", 1, domain=PREVIEW)
def flex_attention(
    Q,
    K,
    V,
    *captured,
    prob_mod=None,
    scale=None,
    score_mod=None,
    softmax_precision=None,
    capture_names=(),
):
    """ONNX FlexAttention-1 (ai.onnx.preview): attention of rank-4 Q, K, V with the
    scores passed through the `score_mod` subgraph before the softmax and the
    probabilities through `prob_mod` after it; GQA when heads differ."""
    if not Q.ndim == K.ndim == V.ndim == 4:
        raise ShapeError(
            f"FlexAttention: expected rank-4 Q, K, V, got {Q.shape}, {K.shape}, {V.shape}"
        )
    env = dict(zip(capture_names, captured, strict=True))
    heads = Q.shape[1]
    dtype = _flex_softmax_dtype(Q.dtype, softmax_precision)
    scores = scaled_scores(Q, repeat_heads(K, heads, "FlexAttention"), scale).astype(dtype)
    probs = jax.nn.softmax(_modify(score_mod, scores, env, dtype), axis=-1)
    probs = _modify(prob_mod, probs, env, dtype)
    values = repeat_heads(V, heads, "FlexAttention").astype(dtype)
    return jnp.matmul(probs, values).astype(V.dtype)
