"""Normalization contrib ops of onnxruntime (domain `com.microsoft`, plus the two it adds
to the default domain at since-version 1), as its transformer optimizer and model
builders write them: SkipLayerNormalization, SkipSimplifiedLayerNormalization,
LayerNormalization-1, SimplifiedLayerNormalization and EmbedLayerNormalization.

Statistics are computed in at least float32 (as onnxruntime's CPU kernels do); the
per-row mean and inverse standard deviation outputs keep the normalized axes as size-1
axes. Gamma, beta, biases and embedding tables are weights (trainable parameters).
"""

from __future__ import annotations

import jax.numpy as jnp
import onnx
from jax import lax

from axonnx.converters.ops._common import normalize_axis
from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.registry import onnx_op
from axonnx.errors import ShapeError


def stats_dtype(x: jnp.ndarray, stash_type: int = 1) -> jnp.dtype:
    """The statistics dtype: at least float32, and the stash type when it is wider."""
    stash = onnx.helper.tensor_dtype_to_np_dtype(int(stash_type))
    return jnp.promote_types(jnp.promote_types(x.dtype, jnp.float32), stash)


def layer_norm_with_stats(
    x: jnp.ndarray,
    gamma: jnp.ndarray,
    beta: jnp.ndarray | None,
    first: int,
    epsilon: float,
    dtype: jnp.dtype,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta` over axes first..-1, in `dtype`;
    returns (y, mean, inv_std) with the reduced axes kept."""
    axes = tuple(range(first, x.ndim))
    wide = x.astype(dtype)
    mean = jnp.mean(wide, axis=axes, keepdims=True)
    centered = wide - mean
    inv_std = lax.rsqrt(jnp.mean(jnp.square(centered), axis=axes, keepdims=True) + epsilon)
    y = centered * inv_std * gamma.astype(dtype)
    return (y if beta is None else y + beta.astype(dtype)), mean, inv_std


def _rms_norm(x, gamma, first: int, epsilon: float, dtype):
    """`x / sqrt(mean(x^2) + epsilon) * gamma` over axes first..-1, in `dtype`; returns
    (y, inv_std) with the reduced axes kept."""
    axes = tuple(range(first, x.ndim))
    wide = x.astype(dtype)
    inv_std = lax.rsqrt(jnp.mean(jnp.square(wide), axis=axes, keepdims=True) + epsilon)
    return wide * inv_std * gamma.astype(dtype), inv_std


def _skip_sum(input, skip, bias, op: str):  # noqa: A002
    """`input + skip (+ bias)`; skip may be broadcast over the leading axes."""
    hidden = input.shape[-1]
    if skip.shape[-1] != hidden or (bias is not None and bias.shape[-1] != hidden):
        raise ShapeError(
            f"{op}: expected skip and bias with last axis {hidden}, got {skip.shape}"
            f"{'' if bias is None else f' and {bias.shape}'}"
        )
    total = input + jnp.broadcast_to(skip, input.shape).astype(input.dtype)
    return total if bias is None else total + bias.astype(input.dtype)


@onnx_op("SkipLayerNormalization", 1, domain=MS, weight_inputs=(2, 3, 4))
def skip_layer_normalization(input, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):  # noqa: A002
    """com.microsoft SkipLayerNormalization-1: layer norm of `input + skip + bias` over
    the last axis; outputs (output, mean, inv_std_var, input_skip_bias_sum)."""
    total = _skip_sum(input, skip, bias, "SkipLayerNormalization")
    y, mean, inv_std = layer_norm_with_stats(
        total, gamma, beta, total.ndim - 1, epsilon, stats_dtype(total)
    )
    return y.astype(input.dtype), mean.astype(jnp.float32), inv_std.astype(jnp.float32), total


@onnx_op("SkipSimplifiedLayerNormalization", 1, domain=MS, weight_inputs=(2, 3))
def skip_simplified_layer_normalization(input, skip, gamma, bias=None, *, epsilon=1e-12):  # noqa: A002
    """com.microsoft SkipSimplifiedLayerNormalization-1: RMS norm of `input + skip +
    bias` over the last axis; outputs (output, mean (zeros: an RMS norm has none),
    inv_std_var, input_skip_bias_sum)."""
    total = _skip_sum(input, skip, bias, "SkipSimplifiedLayerNormalization")
    y, inv_std = _rms_norm(total, gamma, total.ndim - 1, epsilon, stats_dtype(total))
    inv_std = inv_std.astype(jnp.float32)
    return y.astype(input.dtype), jnp.zeros_like(inv_std), inv_std, total


@onnx_op("LayerNormalization", 1, weight_inputs=(1, 2))
def layer_normalization_1(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """onnxruntime's LayerNormalization-1 (default domain, for opsets before 17): as
    LayerNormalization-17, but Y takes Scale's type and Mean, InvStdDev the stash type
    (float32 by default, also for float64 inputs); outputs (Y, Mean, InvStdDev)."""
    dtype = stats_dtype(X, stash_type)
    y, mean, inv_std = layer_norm_with_stats(
        X, Scale, B, normalize_axis(axis, X.ndim), epsilon, dtype
    )
    stash = onnx.helper.tensor_dtype_to_np_dtype(int(stash_type))
    return y.astype(Scale.dtype), mean.astype(stash), inv_std.astype(stash)


@onnx_op("SimplifiedLayerNormalization", 1, weight_inputs=(1,))
def simplified_layer_normalization(X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """onnxruntime's SimplifiedLayerNormalization-1 (default domain): RMS norm over
    axes axis..-1, `X / sqrt(mean(X^2) + epsilon) * scale`; outputs (Y, inv_std_var)."""
    dtype = stats_dtype(X, stash_type)
    y, inv_std = _rms_norm(X, scale, normalize_axis(axis, X.ndim), epsilon, dtype)
    stash = onnx.helper.tensor_dtype_to_np_dtype(int(stash_type))
    return y.astype(scale.dtype), inv_std.astype(stash)


def embeddings_sum(input_ids, segment_ids, word, position, segment, position_ids):
    """`word[ids] + position[positions] + segment[segment ids]` (batch, seq, hidden);
    positions are 0..seq-1 unless `position_ids` ((1, seq) or (batch, seq)) are given."""
    if input_ids.ndim != 2:
        raise ShapeError(f"EmbedLayerNormalization: expected 2-D input_ids, got {input_ids.shape}")
    seq = input_ids.shape[1]
    positions = jnp.arange(seq)[None, :] if position_ids is None else position_ids
    total = jnp.take(word, input_ids, axis=0) + jnp.take(position, positions, axis=0)
    if segment is not None and segment_ids is not None:
        total = total + jnp.take(segment, segment_ids, axis=0)
    return total


def mask_index_of(mask, input_ids):
    """The 1-D mask index: per row, how many mask entries equal 1 (zeros without mask)."""
    if mask is None:
        return jnp.zeros(input_ids.shape[:1], jnp.int32)
    return jnp.sum(mask == 1, axis=-1).astype(jnp.int32)


@onnx_op("EmbedLayerNormalization", 1, domain=MS, weight_inputs=(2, 3, 4, 5, 6))
def embed_layer_normalization(
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
    """com.microsoft EmbedLayerNormalization-1: layer norm of the word + position
    (+ segment) embeddings; outputs (output, mask_index, embedding_sum)."""
    total = embeddings_sum(
        input_ids, segment_ids, word_embedding, position_embedding, segment_embedding, position_ids
    )
    y, _, _ = layer_norm_with_stats(total, gamma, beta, 2, epsilon, stats_dtype(total))
    return y.astype(total.dtype), mask_index_of(mask, input_ids), total
