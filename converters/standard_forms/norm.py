"""Standard forms of the normalization contrib ops (`converters/ops/contrib_norm.py`):
LayerNormalization-17 or its decomposition for the layer norms, RMSNormalization-23 or
its decomposition for the simplified (RMS) ones, Gather + Add for the embeddings."""

from __future__ import annotations

import numpy as np

from axonnx.converters.standard_forms._base import Call, standard_form

__all__ = ["layer_norm", "rms_norm"]


def _axes(c: Call, axis: int) -> list[int]:
    """The normalized axes `axis..-1`, negative (the rank is read only for axis >= 0)."""
    rank = c.rank(0) if axis >= 0 else -axis
    first = axis - rank if axis >= 0 else axis
    return list(range(first, 0))


def layer_norm(c: Call, x: str, gamma: str, beta: str | None, axis: int, epsilon: float):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta` over axes axis..-1; returns
    (y, mean, inv_std) with the reduced axes kept."""
    if c.opset >= 17:
        return c.ops("LayerNormalization", [x, gamma, beta], 3, axis=axis, epsilon=epsilon)
    axes = _axes(c, axis)
    mean = c.mean(x, axes)
    centered = c.op("Sub", x, mean)
    variance = c.mean(c.op("Mul", centered, centered), axes)
    inv_std = c.op("Reciprocal", c.op("Sqrt", c.op("Add", variance, c.scalar(epsilon, "eps"))))
    y = c.op("Mul", c.op("Mul", centered, inv_std), gamma)
    return (y if beta is None else c.op("Add", y, beta)), mean, inv_std


def rms_norm(c: Call, x: str, scale: str, axis: int, epsilon: float, inv_std: bool = False):
    """`x / sqrt(mean(x^2) + epsilon) * scale` over axes axis..-1; returns (y, inv_std
    (None when not asked for and RMSNormalization-23 writes it))."""
    if c.opset >= 23 and not inv_std:
        return c.op("RMSNormalization", x, scale, axis=axis, epsilon=epsilon), None
    square_mean = c.mean(c.op("Mul", x, x), _axes(c, axis))
    inverse = c.op("Reciprocal", c.op("Sqrt", c.op("Add", square_mean, c.scalar(epsilon, "eps"))))
    return c.op("Mul", c.op("Mul", x, inverse), scale), inverse


def _skip_sum(c: Call, x: str, skip: str, bias: str | None) -> str:
    total = c.op("Add", x, skip)
    return total if bias is None else c.op("Add", total, bias)


@standard_form("SkipLayerNormalization")
def skip_layer_normalization(c: Call, input, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):  # noqa: A002
    """Add (+ Add) then LayerNormalization."""
    total = _skip_sum(c, input, skip, bias)
    y, mean, inv_std = layer_norm(c, total, gamma, beta, -1, epsilon)
    return [y, mean, inv_std, total]


@standard_form("SkipSimplifiedLayerNormalization")
def skip_simplified_layer_normalization(c: Call, input, skip, gamma, bias=None, *, epsilon=1e-12):  # noqa: A002
    """Add (+ Add) then RMSNormalization; the mean output is zeros."""
    total = _skip_sum(c, input, skip, bias)
    y, inv_std = rms_norm(c, total, gamma, -1, epsilon, c.wants(1) or c.wants(2))
    mean = c.op("Mul", inv_std, c.scalar(0.0, "zero")) if c.wants(1) else None
    return [y, mean, inv_std, total]


@standard_form("LayerNormalization", domain="", version=1)
def layer_normalization_1(c: Call, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):  # noqa: N803
    """onnxruntime's LayerNormalization-1 (before opset 17): LayerNormalization-17 or
    its decomposition."""
    return list(layer_norm(c, X, Scale, B, axis, epsilon))


@standard_form("SimplifiedLayerNormalization", domain="", version=1)
def simplified_layer_normalization(c: Call, X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):  # noqa: N803
    """onnxruntime's SimplifiedLayerNormalization-1: RMSNormalization-23 or its
    decomposition."""
    return list(rms_norm(c, X, scale, axis, epsilon, c.wants(1)))


def embeddings_sum(c: Call, ids, segment_ids, word, position, segment, position_ids) -> str:
    """`word[ids] + position[positions] + segment[segment ids]`, positions 0..seq-1
    unless given."""
    positions = position_ids or c.unsqueeze(c.arange(ids, 1), [0])
    total = c.op("Add", c.op("Gather", word, ids), c.op("Gather", position, positions))
    if segment is not None and segment_ids is not None:
        total = c.op("Add", total, c.op("Gather", segment, segment_ids))
    return total


def mask_index(c: Call, mask: str | None, ids: str) -> str:
    """Per row, how many entries of the int32 mask equal 1 (zeros without a mask)."""
    if mask is None:
        return c.op("Expand", c.w.constant(np.zeros(1, np.int32), "zero"), c.dim(ids, 0))
    ones = c.op("Equal", mask, c.w.constant(np.ones((), np.int32), "one"))
    return c.w.reduce("ReduceSum", c.cast(ones, "int32"), [-1], keepdims=False)


@standard_form("EmbedLayerNormalization")
def embed_layer_normalization(
    c: Call,
    input_ids,
    segment_ids,
    word_embedding,
    position_embedding,
    segment_embedding,
    gamma,
    beta,
    mask=None,
    position_ids=None,
    *,
    epsilon=1e-12,
    mask_index_type=None,
):
    """Gathers + Adds, then LayerNormalization; the mask index by Equal + ReduceSum."""
    total = embeddings_sum(
        c,
        input_ids,
        segment_ids,
        word_embedding,
        position_embedding,
        segment_embedding,
        position_ids,
    )
    y, _, _ = layer_norm(c, total, gamma, beta, -1, epsilon)
    index = mask_index(c, mask, input_ids) if c.wants(1) else None
    return [y, index, total]
