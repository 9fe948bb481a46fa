"""Standard forms of onnxruntime's attention contrib ops
(`converters/ops/contrib_attention.py`): Attention and MultiHeadAttention as
Attention-23 at opset 23 and newer, else MatMul / Softmax / MatMul; the head split,
the additive mask and the attention core are shared with QAttention and
GroupQueryAttention."""

from __future__ import annotations

from axonnx.converters.onnx_writer import elem_type
from axonnx.converters.standard_forms._base import Call, standard_form

__all__ = ["attend", "mask_bias", "merge_heads", "split_heads", "stack_present"]

_FILTER = -10000.0


def split_heads(c: Call, x: str, heads: int) -> str:
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    split = c.op("Reshape", x, c.ints([0, 0, heads, -1], "heads_shape"))
    return c.op("Transpose", split, perm=[0, 2, 1, 3])


def merge_heads(c: Call, x: str) -> str:
    """(batch, heads, seq, size) -> (batch, seq, heads * size)."""
    moved = c.op("Transpose", x, perm=[0, 2, 1, 3])
    return c.op("Reshape", moved, c.ints([0, 0, -1], "merged_shape"))


def stack_present(c: Call, k: str, v: str) -> str:
    """Attention's present (2, batch, heads, total, size)."""
    return c.op("Concat", c.unsqueeze(k, [0]), c.unsqueeze(v, [0]), axis=0)


def mask_bias(c: Call, mask, rank: int, q: str, k: str, filter_value, causal) -> str | None:
    """onnxruntime's additive mask, broadcastable to (batch, heads, q_len, total), from a
    mask index of (batch) valid lengths, a (batch, total) or (batch, q_len, total) 0/1
    mask, and the causal limit (query i sees keys up to past_len + i)."""
    if mask is None and not causal:
        return None
    filtered = c.scalar(_FILTER if filter_value is None else filter_value, "filter")
    zero = c.scalar(0.0, "zero")
    future_fill = c.lowest()
    keys = c.arange(k, 2)
    bias = None
    if mask is None:
        pass
    elif rank == 1:
        lengths = c.unsqueeze(c.cast(mask, "int64"), [1])
        allowed = c.op("Less", c.unsqueeze(keys, [0]), lengths)
        bias = c.unsqueeze(c.op("Where", allowed, zero, filtered), [1, 2])
    elif rank in (2, 3):
        positive = c.op("Greater", c.cast(mask, "int64"), c.ints(0))
        bias = c.unsqueeze(c.op("Where", positive, zero, filtered), [1, 2] if rank == 2 else [1])
        future_fill = filtered if rank == 3 else future_fill
    else:
        raise c.fail(f"a mask of rank {rank} has no standard form")
    if causal:
        past_len = c.op("Sub", c.dim(k, 2), c.dim(q, 2))
        limit = c.op("Add", c.unsqueeze(c.arange(q, 2), [1]), past_len)
        future = c.op("Greater", c.unsqueeze(keys, [0]), limit)
        bias = c.op("Where", future, future_fill, bias or zero)
    return bias


def attend(c: Call, q, k, v, scale, *biases, groups: int = 1, scores: bool = False):
    """`softmax(scale q k^T + biases) v` of q (batch, heads, seq, size) and k, v (batch,
    heads / groups, total, size); returns (y (batch, heads, seq, size), the scaled and
    biased scores (when asked for, else None)). Attention-23 at opset 23 and newer."""
    given = [b for b in biases if b is not None]
    bias = given[0] if given else None
    for extra in given[1:]:
        bias = c.op("Add", bias, extra)
    if c.opset >= 23 and not scores:
        attributes = {"scale": float(scale)} if scale else {}
        if bias is not None:  # onnxruntime wants the mask's query axis in full
            full = c.op("Concat", c.ints([1, 1]), c.dim(q, 2), c.dim(k, 2), axis=0)
            bias = c.op("Expand", bias, full)
        return c.op("Attention", q, k, v, bias, **attributes), None
    if groups > 1:
        k, v = _repeat_heads(c, k, groups), _repeat_heads(c, v, groups)
    product = c.op("MatMul", q, c.op("Transpose", k, perm=[0, 1, 3, 2]))
    logits = c.op("Mul", product, _scale(c, q, scale))
    if bias is not None:
        logits = c.op("Add", logits, bias)
    probs = c.op("Softmax", logits, axis=-1 if c.opset >= 13 else 3)
    return c.op("MatMul", probs, v), logits


def _scale(c: Call, q: str, scale) -> str:
    if scale:
        return c.scalar(scale, "scale")
    size = c.op("Cast", c.dim(q, 3), to=elem_type(c.dtype))
    return c.op("Reciprocal", c.op("Sqrt", size))


def _repeat_heads(c: Call, x: str, groups: int) -> str:
    """(batch, kv_heads, total, size) -> (batch, kv_heads * groups, total, size), each
    head repeated `groups` times in a row."""
    wide = c.unsqueeze(x, [2])
    target = c.op("Concat", c.dims(x, 0, 2), c.ints([groups]), c.dims(x, 2, 4), axis=0)
    expanded = c.op("Expand", wide, target)
    merged = c.op("Concat", c.dims(x, 0, 1), c.ints([-1]), c.dims(x, 2, 4), axis=0)
    return c.op("Reshape", expanded, merged)


# ---------------------------------------------------------------- Attention


def _static_shape(c: Call, index: int) -> tuple:
    shape = c.node.parents[index].shape
    if shape is None or None in shape:
        value = c.value(c.names[index])
        shape = None if value is None else value.shape
    if shape is None:
        raise c.fail(f"the shape of input {index} is not known")
    return tuple(shape)


def self_attention(c: Call, q, k, v, mask_index, past, attention_bias, attrs: dict):
    """The core of Attention and QAttention after the projection: returns (output,
    present)."""
    heads = attrs["num_heads"]
    q, k, v = (split_heads(c, x, heads) for x in (q, k, v))
    if past is not None:
        k = c.op("Concat", c.op("Gather", past, c.ints(0), axis=0), k, axis=2)
        v = c.op("Concat", c.op("Gather", past, c.ints(1), axis=0), v, axis=2)
    rank = 0 if mask_index is None else c.rank(c.names.index(mask_index))
    bias = mask_bias(
        c, mask_index, rank, q, k, attrs.get("mask_filter_value"), attrs.get("unidirectional")
    )
    y, _ = attend(c, q, k, v, attrs.get("scale"), bias, attention_bias)
    present = stack_present(c, k, v) if c.wants(1) else None
    return [merge_heads(c, y), present]


@standard_form("Attention")
def attention(
    c: Call,
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
    """MatMul + Add, Split, then Attention-23 (or MatMul / Softmax / MatMul)."""
    if do_rotary or past_present_share_buffer:
        raise c.fail("do_rotary and past_present_share_buffer have no standard form")
    total = _static_shape(c, 1)[-1]
    sizes = list(qkv_hidden_sizes) if qkv_hidden_sizes else [total // 3] * 3
    qkv = c.op("MatMul", input, weights)
    if bias is not None:
        qkv = c.op("Add", qkv, bias)
    q, k, v = c.split(qkv, sizes)
    attrs = {
        "num_heads": num_heads,
        "mask_filter_value": mask_filter_value,
        "unidirectional": unidirectional,
        "scale": scale,
    }
    return self_attention(c, q, k, v, mask_index, past, attention_bias, attrs)


# ---------------------------------------------------------------- MultiHeadAttention


def _packed(c: Call, x: str, index: int, bias_parts: str | None):
    """Part `index` of a packed (batch, seq, heads, n, size) input as (batch, heads, seq,
    size), plus its bias part ((n, heads, 1, size) packed)."""
    part = c.op("Transpose", c.op("Gather", x, c.ints(index), axis=3), perm=[0, 2, 1, 3])
    if bias_parts is None:
        return part
    return c.op("Add", part, c.op("Gather", bias_parts, c.ints(index), axis=0))


def _bias_slice(c: Call, bias: str, hidden: str, start: int, end: int | None) -> str:
    """`bias[start * hidden : end * hidden]` for a run-time `hidden` (1-element)."""
    begin = c.op("Mul", hidden, c.ints([start]))
    stop = c.ints([2**62]) if end is None else c.op("Mul", hidden, c.ints([end]))
    return c.op("Slice", bias, begin, stop, c.ints([0]))


def _mha_inputs(c: Call, query, key, value, bias, heads: int):
    """Q, K, V (batch, heads, seq, size) from MultiHeadAttention's layouts, and whether
    K and V take the past."""
    if c.rank(0) == 5:
        parts = None if bias is None else c.op("Reshape", bias, c.ints([3, heads, 1, -1]))
        q, k, v = (_packed(c, query, i, parts) for i in range(3))
        return q, k, v, True
    if key is None:
        raise c.fail("key is required unless query packs Q, K and V")
    hidden = c.dim(query, -1)
    if bias is not None:
        query = c.op("Add", query, _bias_slice(c, bias, hidden, 0, 1))
    q = split_heads(c, query, heads)
    key_rank = c.rank(1)
    if key_rank == 5:
        parts = None
        if bias is not None:
            rest = _bias_slice(c, bias, hidden, 1, None)
            parts = c.op("Reshape", rest, c.ints([2, heads, 1, -1]))
        return q, _packed(c, key, 0, parts), _packed(c, key, 1, parts), True
    if key_rank == 4:
        return q, key, value, False
    if bias is not None:
        key = c.op("Add", key, _bias_slice(c, bias, hidden, 1, 2))
        value = c.op("Add", value, _bias_slice(c, bias, hidden, 2, None))
    return q, split_heads(c, key, heads), split_heads(c, value, heads), True


@standard_form("MultiHeadAttention")
def multi_head_attention(
    c: Call,
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
    """Head splits (Reshape / Transpose / Gather of packed inputs), Concat with the past,
    then Attention-23 (or MatMul / Softmax / MatMul)."""
    if cache_indirection is not None:
        raise c.fail("cache_indirection has no standard form")
    q, k, v, cacheable = _mha_inputs(c, query, key, value, bias, num_heads)
    if past_key is not None and cacheable:
        k = c.op("Concat", past_key, k, axis=2)
        v = c.op("Concat", past_value, v, axis=2)
    rank = 0 if key_padding_mask is None else c.rank(4)
    padding = mask_bias(c, key_padding_mask, rank, q, k, mask_filter_value, unidirectional)
    y, scores = attend(c, q, k, v, scale, padding, attention_bias, scores=c.wants(3))
    return [merge_heads(c, y), k, v, scores]
