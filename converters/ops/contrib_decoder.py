"""Decoder contrib ops of onnxruntime (domain `com.microsoft`) as its GenAI model builder
and Optimum write them for LLaMA-style models: RotaryEmbedding and GroupQueryAttention
(grouped-query causal self-attention over a key/value cache).

GroupQueryAttention follows onnxruntime's CPU kernel: the cache is (batch, kv_heads,
cache_len, head_size); `seqlens_k[b]` is the index of sequence b's last valid token and
`total_sequence_length` the longest total length. A first prompt (sequence length equal
to the total) starts at position 0 in every row and ignores the past; later steps
append the new keys and values of row b at `seqlens_k[b] + 1 - sequence_length`.
Present caches are `max(total, past_len)` long, zero past what was written (as
onnxruntime gives them without a shared buffer). Query i of row b sees the keys up to
its own position, and with `local_window_size` W only the last W of them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._attention_util import merge_heads, repeat_heads, split_heads
from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.registry import onnx_op
from axonnx.errors import CompileTimeValueError, InvalidModelError, ShapeError, UnsupportedOpError


def rotate(x, cos, sin, interleaved):
    """Rotary embedding of the first `2 * cos.shape[-1]` features of `x` (..., seq,
    head_size); `cos`, `sin` broadcast to (..., seq, rotary_dim / 2). Interleaved pairs
    are (x[2i], x[2i+1]); otherwise (x[i], x[i + rotary_dim / 2])."""
    half = cos.shape[-1]
    rot, rest = x[..., : 2 * half], x[..., 2 * half :]
    cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        turned = jnp.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
        turned = jnp.reshape(turned, rot.shape)
    else:
        x1, x2 = rot[..., :half], rot[..., half:]
        turned = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return jnp.concatenate([turned, rest], axis=-1)


def _check_caches(cos_cache, sin_cache, head_size: int, op: str) -> None:
    if cos_cache.shape != sin_cache.shape or cos_cache.ndim not in (2, 3):
        raise ShapeError(
            f"{op}: expected cos_cache and sin_cache of one shape (max_seq, rotary_dim / 2), "
            f"got {cos_cache.shape} and {sin_cache.shape}"
        )
    if 2 * cos_cache.shape[-1] > head_size:
        raise ShapeError(
            f"{op}: rotary dimension {2 * cos_cache.shape[-1]} exceeds head size {head_size}"
        )


# ---------------------------------------------------------------- RotaryEmbedding


def _rotary_positions(position_ids, batch: int, seq: int):
    """(batch, seq) positions: given, or from a 1-element start offset."""
    if position_ids.ndim == 2:
        return jnp.broadcast_to(position_ids, (batch, seq))
    start = jnp.reshape(position_ids, (-1,))[0]
    return jnp.broadcast_to(start + jnp.arange(seq)[None, :], (batch, seq))


@onnx_op("RotaryEmbedding", 1, domain=MS)
def rotary_embedding(
    input,  # noqa: A002
    position_ids,
    cos_cache,
    sin_cache,
    *,
    interleaved=0,
    is_packed_batching=0,
    num_heads=0,
    rotary_embedding_dim=0,
    scale=1.0,
):
    """com.microsoft RotaryEmbedding-1: rotary position embedding of `input` (batch,
    seq, hidden) or (batch, heads, seq, head_size), at `position_ids` (batch, seq) or a
    start offset (1); caches (max_seq, rotary_dim / 2). With `rotary_embedding_dim`
    below the head size only the first features turn (3-D inputs then need
    `num_heads`)."""
    op = "RotaryEmbedding"
    if is_packed_batching:
        raise UnsupportedOpError(f"{op}: is_packed_batching=1 is not supported")
    if input.ndim == 4:
        x = input
    elif input.ndim == 3:
        if num_heads:
            heads = num_heads
        elif rotary_embedding_dim:
            raise InvalidModelError(f"{op}: num_heads is required with rotary_embedding_dim")
        else:
            heads = input.shape[-1] // (2 * cos_cache.shape[-1])
        x = split_heads(input, heads, op, "num_heads")
    else:
        raise ShapeError(f"{op}: expected a 3-D or 4-D input, got shape {input.shape}")
    if rotary_embedding_dim and cos_cache.ndim == 2:
        cos_cache = cos_cache[:, : rotary_embedding_dim // 2]
        sin_cache = sin_cache[:, : rotary_embedding_dim // 2]
    _check_caches(cos_cache, sin_cache, x.shape[-1], op)
    batch, _, seq, _ = x.shape
    if cos_cache.ndim == 3:  # already gathered per (batch, seq)
        cos, sin = cos_cache, sin_cache
    else:
        positions = _rotary_positions(position_ids, batch, seq)
        cos, sin = jnp.take(cos_cache, positions, axis=0), jnp.take(sin_cache, positions, axis=0)
    y = rotate(x, cos[:, None], sin[:, None], interleaved)
    return y if input.ndim == 4 else merge_heads(y)


# ---------------------------------------------------------------- GroupQueryAttention


def _static_int(value, what: str, op: str) -> int:
    try:
        return int(np.asarray(value).reshape(-1)[0])
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError) as error:
        raise CompileTimeValueError(
            f"{op}: {what} must be known while compiling (computed from shapes or constants)"
        ) from error


def _gqa_heads(query, key, value, num_heads: int, kv_num_heads: int):
    """Q (batch, heads, seq, size), K and V (batch, kv_heads, seq, size) from separate
    inputs or a packed query (batch, seq, (heads + 2 kv_heads) * size)."""
    op = "GroupQueryAttention"
    if key is None:
        hidden = query.shape[-1]
        if hidden % (num_heads + 2 * kv_num_heads):
            raise ShapeError(
                f"{op}: packed QKV width {hidden} is not divisible by num_heads + 2 * kv_num_heads"
            )
        size = hidden // (num_heads + 2 * kv_num_heads)
        query, key, value = jnp.split(
            query, [num_heads * size, (num_heads + kv_num_heads) * size], axis=-1
        )
    elif value is None:
        raise InvalidModelError(f"{op}: value is required with key")
    q = split_heads(query, num_heads, op, "num_heads")
    k = split_heads(key, kv_num_heads, op, "kv_num_heads")
    v = split_heads(value, kv_num_heads, op, "kv_num_heads")
    if k.shape[-1] != q.shape[-1] or v.shape != k.shape:
        raise ShapeError(f"{op}: query, key and value head sizes differ")
    return q, k, v


def _present(past, new, starts, length: int):
    """The cache of `length` positions: past entries before each row's start, the new
    ones from it, zeros after."""
    batch, heads, _, size = new.shape
    if past is None:
        base = jnp.zeros((batch, heads, length, size), new.dtype)
    else:
        past = past.astype(new.dtype)[:, :, :length]
        base = jnp.pad(past, ((0, 0), (0, 0), (0, length - past.shape[2]), (0, 0)))
        kept = jnp.arange(length)[None, :] < starts[:, None]
        base = jnp.where(kept[:, None, :, None], base, jnp.zeros((), new.dtype))
    write = jax.vmap(lambda b, n, s: jax.lax.dynamic_update_slice_in_dim(b, n, s, axis=1))
    return write(base, new, starts)


def _gqa_probs(scores, bias, allowed, softcap, sink):
    """Softmax over the allowed keys of the soft-capped scores plus `bias`; `sink` adds
    an extra logit (smooth softmax: 0, or the per-head `head_sink`) to the denominator."""
    if softcap:
        scores = softcap * jnp.tanh(scores / softcap)
    if bias is not None:
        scores = scores + bias.astype(scores.dtype)
    scores = jnp.where(allowed, scores, -jnp.inf)
    if sink is None:
        return jax.nn.softmax(scores, axis=-1)
    sink = jnp.broadcast_to(sink, (*scores.shape[:-1], 1)).astype(scores.dtype)
    return jax.nn.softmax(jnp.concatenate([scores, sink], axis=-1), axis=-1)[..., :-1]


@onnx_op("GroupQueryAttention", 1, domain=MS, static_inputs=(6,))
def group_query_attention(
    query,
    key=None,
    value=None,
    past_key=None,
    past_value=None,
    seqlens_k=None,
    total_sequence_length=None,
    cos_cache=None,
    sin_cache=None,
    position_ids=None,
    attention_bias=None,
    head_sink=None,
    k_scale=None,
    v_scale=None,
    q_norm_weight=None,
    k_norm_weight=None,
    *,
    causal=1,
    do_rotary=0,
    k_quant_type="NONE",
    kv_cache_bit_width=0,
    kv_num_heads=None,
    local_window_size=-1,
    num_heads=None,
    qk_norm_epsilon=1e-6,
    qk_output=0,
    rotary_interleaved=0,
    scale=0.0,
    sliding_window_cache=0,
    smooth_softmax=-1,
    softcap=0.0,
    v_quant_type="NONE",
):
    """com.microsoft GroupQueryAttention-1: causal grouped-query self-attention with a
    (batch, kv_heads, cache_len, head_size) key/value cache (see the module docstring),
    optional rotary embedding of Q and K (`do_rotary`, caches (max_seq, rotary_dim /
    2)), local window, soft cap, smooth softmax / head sink and an additive
    attention_bias; outputs (output (batch, seq, heads * head_size), present_key,
    present_value)."""
    op = "GroupQueryAttention"
    unsupported = {
        "k_quant_type": k_quant_type not in ("NONE", b"NONE"),
        "v_quant_type": v_quant_type not in ("NONE", b"NONE"),
        "kv_cache_bit_width": kv_cache_bit_width,
        "qk_output": qk_output,
        "q_norm_weight": q_norm_weight is not None or k_norm_weight is not None,
        "sliding_window_cache": sliding_window_cache,
        "causal": not causal,
    }
    for name, value_set in unsupported.items():
        if value_set:
            raise UnsupportedOpError(f"{op}: {name} is not supported")
    if num_heads is None or kv_num_heads is None:
        raise InvalidModelError(f"{op}: the num_heads and kv_num_heads attributes are required")
    if seqlens_k is None or total_sequence_length is None:
        raise InvalidModelError(f"{op}: seqlens_k and total_sequence_length are required")
    if (past_key is None) != (past_value is None):
        raise InvalidModelError(f"{op}: past_key and past_value go together")
    q, k, v = _gqa_heads(query, key, value, num_heads, kv_num_heads)
    batch, _, seq, size = q.shape
    total = _static_int(total_sequence_length, "total_sequence_length", op)
    past_len = 0 if past_key is None else past_key.shape[2]
    length = max(total, past_len)
    rows_total = jnp.reshape(seqlens_k, (-1,)).astype(jnp.int32) + 1
    starts = jnp.zeros_like(rows_total) if seq == total else rows_total - seq
    if do_rotary:
        if cos_cache is None or sin_cache is None:
            raise InvalidModelError(f"{op}: do_rotary=1 needs cos_cache and sin_cache")
        _check_caches(cos_cache, sin_cache, size, op)
        positions = starts[:, None] + jnp.arange(seq)[None, :]
        if position_ids is not None:
            positions = jnp.broadcast_to(position_ids, (batch, seq))
        cos = jnp.take(cos_cache, positions, axis=0)[:, None]
        sin = jnp.take(sin_cache, positions, axis=0)[:, None]
        q, k = rotate(q, cos, sin, rotary_interleaved), rotate(k, cos, sin, rotary_interleaved)
    present_key = _present(past_key, k, starts, length)
    present_value = _present(past_value, v, starts, length)
    dtype = jnp.promote_types(q.dtype, jnp.float32)
    keys = repeat_heads(present_key, num_heads, op).astype(dtype)
    values = repeat_heads(present_value, num_heads, op).astype(dtype)
    alpha = scale if scale else 1.0 / np.sqrt(size)
    scores = jnp.matmul(q.astype(dtype), jnp.swapaxes(keys, -1, -2)) * alpha
    position = (starts[:, None] + jnp.arange(seq)[None, :])[:, None, :, None]
    key_index = jnp.arange(length)[None, None, None, :]
    allowed = key_index <= position
    if local_window_size is not None and local_window_size > 0:
        allowed &= key_index > position - local_window_size
    sink = None
    if head_sink is not None:
        sink = jnp.reshape(head_sink, (1, num_heads, 1, 1))
    elif smooth_softmax == 1:
        sink = jnp.zeros((), dtype)
    probs = _gqa_probs(scores, attention_bias, allowed, softcap, sink)
    y = jnp.matmul(probs, values).astype(q.dtype)
    return merge_heads(y), present_key, present_value
