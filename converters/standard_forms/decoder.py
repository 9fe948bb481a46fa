"""Standard forms of the decoder contrib ops (`converters/ops/contrib_decoder.py`):
RotaryEmbedding as RotaryEmbedding-23 or its decomposition (Slice, Mul, Concat), and
GroupQueryAttention as the cache update (Pad, GatherElements, Where), the causal mask
and Attention-23 (or MatMul / Softmax / MatMul over repeated key/value heads)."""

from __future__ import annotations

from axonnx.converters.standard_forms._base import Call, standard_form
from axonnx.converters.standard_forms.attention import attend, merge_heads, split_heads

__all__ = ["rotary"]


def _cache_half(c: Call, index: int) -> int:
    value = c.value(c.names[index])
    shape = c.node.parents[index].shape if value is None else value.shape
    if shape is None or shape[-1] is None:
        raise c.fail(f"the shape of the cos / sin cache (input {index}) is not known")
    return int(shape[-1])


def _rotate(c: Call, x: str, cos: str, sin: str, half: int, interleaved) -> str:
    """Rotary embedding of the first `2 * half` features of `x` (..., seq, size), cos and
    sin broadcasting to (..., seq, half)."""
    rot, rest = c.slice(x, 0, 2 * half, -1), c.slice(x, 2 * half, None, -1)
    if interleaved:
        x1, x2 = c.slice(rot, 0, None, -1, 2), c.slice(rot, 1, None, -1, 2)
    else:
        x1, x2 = c.slice(rot, 0, half, -1), c.slice(rot, half, None, -1)
    first = c.op("Sub", c.op("Mul", x1, cos), c.op("Mul", x2, sin))
    second = c.op("Add", c.op("Mul", x2, cos), c.op("Mul", x1, sin))
    if interleaved:
        pairs = c.op("Concat", c.unsqueeze(first, [-1]), c.unsqueeze(second, [-1]), axis=-1)
        turned = c.op("Reshape", pairs, c.op("Shape", rot))
    else:
        turned = c.op("Concat", first, second, axis=-1)
    return c.op("Concat", turned, rest, axis=-1)


def rotary(c: Call, x: str, cos_cache: str, sin_cache: str, positions: str, half: int, interleaved):
    """Rotary embedding of x (batch, heads, seq, size) at int64 `positions` (batch, seq)
    with caches (max_seq, half): RotaryEmbedding-23, else Gather + the rotation."""
    if c.opset >= 23:
        attributes = {"interleaved": int(interleaved), "rotary_embedding_dim": 2 * half}
        return c.op("RotaryEmbedding", x, cos_cache, sin_cache, positions, **attributes)
    cos = c.unsqueeze(c.op("Gather", cos_cache, positions), [1])
    sin = c.unsqueeze(c.op("Gather", sin_cache, positions), [1])
    return _rotate(c, x, cos, sin, half, interleaved)


def _positions_of(c: Call, position_ids: str, x: str) -> str:
    """(batch, seq) int64 positions from RotaryEmbedding's position_ids: given, or a
    start offset (1 element)."""
    if c.rank(1) == 2:
        return c.cast(position_ids, "int64")
    start = c.op("Reshape", c.cast(position_ids, "int64"), c.ints([1]))
    steps = c.unsqueeze(c.op("Add", c.arange(x, 2), start), [0])
    return c.op("Expand", steps, _batch_seq(c, x))


def _batch_seq(c: Call, x: str) -> str:
    """(batch, seq) of x (batch, heads, seq, size)."""
    return c.op("Concat", c.dim(x, 0), c.dim(x, 2), axis=0)


@standard_form("RotaryEmbedding")
def rotary_embedding(
    c: Call,
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
    """RotaryEmbedding-23 (opset 23 and newer), else Gather of the caches, Slice, Mul,
    Concat; a 3-D input is split into heads around it."""
    if is_packed_batching:
        raise c.fail("is_packed_batching=1 has no standard form")
    half = rotary_embedding_dim // 2 if rotary_embedding_dim else _cache_half(c, 2)
    if rotary_embedding_dim:
        cos_cache, sin_cache = c.slice(cos_cache, 0, half, -1), c.slice(sin_cache, 0, half, -1)
    three_d = c.rank(0) == 3
    x = input
    if three_d:
        shape = [0, 0, num_heads, -1] if num_heads else [0, 0, -1, 2 * half]
        x = c.op("Transpose", c.op("Reshape", input, c.ints(shape)), perm=[0, 2, 1, 3])
    if c.value(cos_cache) is not None and c.value(cos_cache).ndim == 3:
        raise c.fail("per-position (3-D) cos / sin caches have no standard form yet")
    y = rotary(c, x, cos_cache, sin_cache, _positions_of(c, position_ids, x), half, interleaved)
    return merge_heads(c, y) if three_d else y


# ---------------------------------------------------------------- GroupQueryAttention


def _packed_qkv(c: Call, query: str, heads: int, kv_heads: int):
    """Q, K, V from a packed (batch, seq, (heads + 2 kv_heads) * size) query."""
    unit = c.op("Div", c.dim(query, -1), c.ints([heads + 2 * kv_heads]))
    bounds = [c.op("Mul", unit, c.ints([n])) for n in (heads, heads + kv_heads)]
    end = c.ints([2**62])
    starts, stops = [c.ints([0]), *bounds], [*bounds, end]
    return [c.op("Slice", query, a, b, c.ints([-1])) for a, b in zip(starts, stops, strict=True)]


def _present(c: Call, past: str | None, new: str, starts: str, length: str) -> str:
    """The (batch, kv_heads, length, size) cache: the past before each row's start, the
    new entries from it, zeros after."""
    t = c.unsqueeze(c.op("Range", c.ints(0), c.to_scalar(length), c.ints(1)), [0])
    relative = c.op("Sub", t, c.unsqueeze(starts, [1]))
    seq = c.dim(new, 2)
    is_new = c.op("And", c.op("GreaterOrEqual", relative, c.ints(0)), c.op("Less", relative, seq))
    index = c.op("Max", c.op("Min", relative, c.op("Sub", seq, c.ints([1]))), c.ints(0))
    shape = c.op("Concat", c.dims(new, 0, 2), length, c.dims(new, 3, 4), axis=0)
    gathered = c.op(
        "GatherElements", new, c.op("Expand", c.unsqueeze(index, [1, 3]), shape), axis=2
    )
    zero = c.scalar(0.0, "zero")
    present = c.op("Where", c.unsqueeze(is_new, [1, 3]), gathered, zero)
    if past is None:
        return present
    grow = c.op("Sub", length, c.dim(past, 2))
    pads = c.op("Concat", c.ints([0] * 6), grow, c.ints([0]), axis=0)
    padded = c.op("Pad", past, pads)
    kept = c.unsqueeze(c.op("Less", t, c.unsqueeze(starts, [1])), [1, 3])
    return c.op("Where", kept, padded, present)


def _causal_bias(c: Call, positions: str, length: str, window) -> str:
    """(batch, 1, seq, length): 0 where a query at `positions` (batch, seq) sees the key,
    the lowest float elsewhere (keys after it, or before its local window)."""
    keys = c.unsqueeze(c.op("Range", c.ints(0), c.to_scalar(length), c.ints(1)), [0, 1])
    position = c.unsqueeze(positions, [2])
    allowed = c.op("LessOrEqual", keys, position)
    if window is not None and window > 0:
        recent = c.op("Greater", keys, c.op("Sub", position, c.ints(window)))
        allowed = c.op("And", allowed, recent)
    bias = c.op("Where", allowed, c.scalar(0.0, "zero"), c.lowest())
    return c.unsqueeze(bias, [1])


def _row_starts(c: Call, q: str, seqlens_k: str, total: str) -> str:
    """Where each row's new tokens start: 0 for a first prompt (sequence length equal
    to the total), else `seqlens_k + 1 - sequence_length`."""
    rows_total = c.op("Add", c.cast(c.op("Reshape", seqlens_k, c.ints([-1])), "int64"), c.ints(1))
    seq = c.dim(q, 2)
    prompt = c.op("Equal", seq, total)
    return c.op("Where", prompt, c.ints(0), c.op("Sub", rows_total, seq))


@standard_form("GroupQueryAttention")
def group_query_attention(
    c: Call,
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
    """Head splits, rotary embedding, the present caches (Pad, GatherElements, Where),
    the causal mask, then Attention-23 (or MatMul / Softmax / MatMul over repeated
    key/value heads)."""
    unsupported = {
        "quantized caches": k_quant_type != "NONE" or v_quant_type != "NONE" or kv_cache_bit_width,
        "qk_output": qk_output,
        "q / k norms": q_norm_weight is not None or k_norm_weight is not None,
        "sliding_window_cache": sliding_window_cache,
        "causal=0": not causal,
        "a head sink or smooth softmax": head_sink is not None or smooth_softmax == 1,
        "softcap": softcap,
    }
    for name, given in unsupported.items():
        if given:
            raise c.fail(f"{name} has no standard form")
    if key is None:
        query, key, value = _packed_qkv(c, query, num_heads, kv_num_heads)
    q = split_heads(c, query, num_heads)
    k, v = split_heads(c, key, kv_num_heads), split_heads(c, value, kv_num_heads)
    total = c.op("Reshape", c.cast(total_sequence_length, "int64"), c.ints([1]))
    length = total if past_key is None else c.op("Max", total, c.dim(past_key, 2))
    starts = _row_starts(c, q, seqlens_k, total)
    positions = c.op("Add", c.unsqueeze(starts, [1]), c.unsqueeze(c.arange(q, 2), [0]))
    if do_rotary:
        half = _cache_half(c, 7)
        turn = position_ids and c.cast(position_ids, "int64") or positions
        q = rotary(c, q, cos_cache, sin_cache, turn, half, rotary_interleaved)
        k = rotary(c, k, cos_cache, sin_cache, turn, half, rotary_interleaved)
    present_key = _present(c, past_key, k, starts, length)
    present_value = _present(c, past_value, v, starts, length)
    bias = _causal_bias(c, positions, length, local_window_size)
    groups = num_heads // kv_num_heads
    y, _ = attend(c, q, present_key, present_value, scale, bias, attention_bias, groups=groups)
    return [merge_heads(c, y), present_key, present_value]
