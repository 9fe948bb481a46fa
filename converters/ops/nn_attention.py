"""Attention-family ONNX ops: Attention, RotaryEmbedding, LinearAttention,
CausalConvWithState and FlexAttention (domain `ai.onnx.preview`).

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

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from jax import lax

from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

PREVIEW = "ai.onnx.preview"

# ---------------------------------------------------------------- shared helpers


def _split_heads(x, heads, op: str, what: str):
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    if heads is None:
        raise InvalidModelError(f"{op}: {what} is required for 3-D inputs")
    batch, seq, hidden = x.shape
    if hidden % heads:
        raise ShapeError(f"{op}: last axis {hidden} is not divisible by {what}={heads}")
    return jnp.transpose(jnp.reshape(x, (batch, seq, heads, hidden // heads)), (0, 2, 1, 3))


def _merge_heads(x):
    """(batch, heads, seq, size) -> (batch, seq, heads * size)."""
    batch, heads, seq, size = x.shape
    return jnp.reshape(jnp.transpose(x, (0, 2, 1, 3)), (batch, seq, heads * size))


def _repeat_heads(x, q_heads: int, op: str):
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


def _scaled_scores(Q, K, scale):
    """`(Q * sqrt(scale)) @ (K * sqrt(scale))^T`, the factor in Q's dtype."""
    if scale is None:
        scale = 1.0 / np.sqrt(Q.shape[-1])
    factor = jnp.asarray(np.sqrt(np.float64(scale)), Q.dtype)
    return jnp.matmul(Q * factor, jnp.swapaxes(K * factor, -1, -2))


def _softmax(x):
    """Softmax over the last axis; a row that is all -inf gives zeros."""
    top = jnp.max(x, axis=-1, keepdims=True)
    e = jnp.exp(x - jnp.where(jnp.isneginf(top), 0, top))
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(total == 0, 1, total).astype(x.dtype)


def _np_dtype(onnx_type: int, op: str):
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(int(onnx_type))
    except (KeyError, ValueError) as error:
        raise UnsupportedOpError(f"{op}: softmax_precision {onnx_type} is not a type") from error


# ---------------------------------------------------------------- Attention


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
        _split_heads(Q, q_num_heads, "Attention", "q_num_heads"),
        _split_heads(K, kv_num_heads, "Attention", "kv_num_heads"),
        _split_heads(V, kv_num_heads, "Attention", "kv_num_heads"),
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
        biased = biased.astype(_np_dtype(softmax_precision, "Attention"))
    fully_masked = jnp.isneginf(jnp.max(bias, axis=-1, keepdims=True))
    return jnp.where(fully_masked, 0, _softmax(biased))


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
    scores = _scaled_scores(q, _repeat_heads(present_key, q.shape[1], "Attention"), scale)
    if softcap > 0:
        scores = softcap * jnp.tanh(scores / softcap)
    biased = scores + bias
    probs = _probabilities(biased, bias, softmax_precision)
    qk_output = {0: scores, 1: scores, 2: biased, 3: probs}[qk_matmul_output_mode]
    y = jnp.matmul(probs.astype(q.dtype), _repeat_heads(present_value, q.shape[1], "Attention"))
    y = _merge_heads(y) if jnp.ndim(Q) == 3 else y
    return y, present_key, present_value, qk_output.astype(q.dtype)


# ---------------------------------------------------------------- RotaryEmbedding


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
        x = jnp.transpose(_split_heads(X, num_heads, "RotaryEmbedding", "num_heads"), (0, 2, 1, 3))
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


# ---------------------------------------------------------------- LinearAttention

_UPDATE_RULES = ("linear", "gated", "delta", "gated_delta")


def _per_head(x, heads: int, op: str, what: str):
    """Decay/beta (batch, seq, heads * n) -> (seq, batch, heads, n), float32."""
    if x.ndim != 3 or x.shape[-1] % heads and x.shape[-1] != 1:
        raise ShapeError(f"{op}: {what} of shape {x.shape} does not fit {heads} heads")
    batch, seq, last = x.shape
    groups = heads if last % heads == 0 else 1
    x = jnp.reshape(x, (batch, seq, groups, last // groups))
    return jnp.swapaxes(x, 0, 1).astype(jnp.float32)


def _check_rule(update_rule, decay, beta):
    if update_rule not in _UPDATE_RULES:
        raise UnsupportedOpError(
            f"LinearAttention: expected update_rule in {_UPDATE_RULES}, got {update_rule!r}"
        )
    gated, delta = "gated" in update_rule, "delta" in update_rule
    if gated != (decay is not None) or delta != (beta is not None):
        raise InvalidModelError(
            f"LinearAttention: update_rule {update_rule!r} needs decay: {gated}, "
            f"beta: {delta}; got decay: {decay is not None}, beta: {beta is not None}"
        )


def _linear_attention_step(state, inputs, *, group: int, scale: float):
    """One token: decay, delta correction, write `k v^T`, read `scale * q^T S`."""
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    if "decay" in inputs:
        state = state * jnp.exp(inputs["decay"])[..., None]
    if "beta" in inputs:
        v = inputs["beta"] * (v - jnp.einsum("bhdm,bhd->bhm", state, k))
    state = state + k[..., :, None] * v[..., None, :]
    read = jnp.repeat(state, group, axis=1) if group > 1 else state
    return state, scale * jnp.einsum("bhd,bhdm->bhm", q, read)


@onnx_op("LinearAttention", 27)
def linear_attention(
    query,
    key,
    value,
    past_state=None,
    decay=None,
    beta=None,
    *,
    chunk_size=64,
    kv_num_heads=None,
    q_num_heads=None,
    scale=0.0,
    update_rule="gated_delta",
):
    """ONNX LinearAttention-27: the linear / gated / delta / gated-delta recurrence over
    tokens (a `lax.scan` in float32; `chunk_size` is only a tuning hint); inputs
    (batch, seq, heads * size), state (batch, kv_heads, d_k, d_v); outputs
    (output, present_state)."""
    _check_rule(update_rule, decay, beta)
    op = "LinearAttention"

    def time_major(x, heads, what):
        return jnp.transpose(_split_heads(x, heads, op, what), (2, 0, 1, 3)).astype(jnp.float32)

    inputs = {
        "q": time_major(query, q_num_heads, "q_num_heads"),
        "k": time_major(key, kv_num_heads, "kv_num_heads"),
        "v": time_major(value, kv_num_heads, "kv_num_heads"),
    }
    if decay is not None:
        inputs["decay"] = _per_head(decay, kv_num_heads, op, "decay")
    if beta is not None:
        inputs["beta"] = _per_head(beta, kv_num_heads, op, "beta")
    _, batch, _, d_k = inputs["k"].shape
    shape = (batch, kv_num_heads, d_k, inputs["v"].shape[-1])
    state = jnp.zeros(shape, jnp.float32) if past_state is None else past_state.astype(jnp.float32)
    step_scale = float(scale) if scale else 1.0 / float(np.sqrt(inputs["q"].shape[-1]))
    step = partial(_linear_attention_step, group=q_num_heads // kv_num_heads, scale=step_scale)
    state, outputs = lax.scan(step, state, inputs)
    output = _merge_heads(jnp.transpose(outputs, (1, 2, 0, 3))).astype(query.dtype)
    state_dtype = query.dtype if past_state is None else past_state.dtype
    return output, state.astype(state_dtype)


# ---------------------------------------------------------------- CausalConvWithState


@onnx_op("CausalConvWithState", 27)
def causal_conv_with_state(input, weight, bias=None, past_state=None, *, activation="none"):  # noqa: A002
    """ONNX CausalConvWithState-27: depthwise causal 1-D convolution of input
    (batch, channels, length) with weight (channels, 1, k), left-padded by `past_state`
    (batch, channels, k - 1) or zeros, optionally followed by SiLU; outputs
    (output, present_state = the last k - 1 padded positions)."""
    if activation not in ("none", "silu", "swish"):
        raise UnsupportedOpError(
            f"CausalConvWithState: expected activation none, silu or swish, got {activation!r}"
        )
    batch, channels, _ = input.shape
    k = weight.shape[2]
    past = jnp.zeros((batch, channels, k - 1), input.dtype) if past_state is None else past_state
    padded = jnp.concatenate([jnp.asarray(past, input.dtype), input], axis=2)
    dtype = jnp.promote_types(input.dtype, jnp.float32)
    out = lax.conv_general_dilated(
        padded.astype(dtype),
        jnp.asarray(weight, dtype),
        (1,),
        "VALID",
        dimension_numbers=("NCH", "OIH", "NCH"),
        feature_group_count=channels,
    )
    if bias is not None:
        out = out + jnp.asarray(bias, dtype)[None, :, None]
    out = out.astype(input.dtype)
    if activation != "none":
        out = jax.nn.silu(out.astype(dtype)).astype(input.dtype)
    return out, padded[:, :, padded.shape[2] - (k - 1) :]


# ---------------------------------------------------------------- FlexAttention


def _flex_softmax_dtype(dtype, softmax_precision):
    if softmax_precision is not None:
        return _np_dtype(softmax_precision, "FlexAttention")
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
    scores = _scaled_scores(Q, _repeat_heads(K, heads, "FlexAttention"), scale).astype(dtype)
    probs = jax.nn.softmax(_modify(score_mod, scores, env, dtype), axis=-1)
    probs = _modify(prob_mod, probs, env, dtype)
    values = _repeat_heads(V, heads, "FlexAttention").astype(dtype)
    return jnp.matmul(probs, values).astype(V.dtype)
