"""Quantized matrix-product contrib ops of onnxruntime (domain `com.microsoft`):
MatMulNBits (block-quantized weights, as its weight-only quantizer and the GenAI model
builder write them), MatMulIntegerToFloat and DynamicQuantizeMatMul (from
`quantize_dynamic`), QGemm, QAttention and QEmbedLayerNormalization (QOperator format).

Integer products accumulate exactly in int32 and are rescaled in float32. MatMulNBits
dequantizes its weight, `(code - zero_point) * scale` per block of `block_size` along K,
and multiplies in the input's type (float32 at least), as onnxruntime's CPU kernel does
at its default accuracy level.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._integer_dot import integer_matmul
from axonnx.converters.ops.contrib_attention import self_attention
from axonnx.converters.ops.contrib_norm import (
    embeddings_sum,
    layer_norm_with_stats,
    mask_index_of,
    stats_dtype,
)
from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.ops.quantization import (
    dynamic_quantize_linear,
    requantize,
    shift_by_zero_point,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

# ---------------------------------------------------------------- MatMulNBits


def unpack_codes(packed, bits: int, count: int):
    """The first `count` `bits`-bit codes along the last axis of uint8 `packed`, lowest
    bits first within each byte, as int32."""
    per_byte = 8 // bits
    shifts = jnp.arange(per_byte, dtype=jnp.int32) * bits
    codes = (packed.astype(jnp.int32)[..., None] >> shifts) & ((1 << bits) - 1)
    codes = jnp.reshape(codes, (*packed.shape[:-1], packed.shape[-1] * per_byte))
    return codes[..., :count]


def dequantize_blocks(B, scales, zero_points, *, N: int, K: int, bits: int, block_size: int):
    """MatMulNBits' weight (N, K) as float: B (N, blocks, blob) codes, scales (N *
    blocks) or (N, blocks), zero points packed uint8 (N * ceil(blocks * bits / 8)) or
    of the scales' type (N * blocks); 2 ** (bits - 1) without."""
    op = "MatMulNBits"
    if bits not in (2, 4, 8):
        raise UnsupportedOpError(f"{op}: bits={bits} is not supported; supported are 2, 4, 8")
    blocks = -(-K // block_size)
    blob = block_size * bits // 8
    if tuple(B.shape) not in ((N, blocks, blob), (N, blocks * blob)):
        raise ShapeError(f"{op}: expected B of shape {(N, blocks, blob)}, got {B.shape}")
    codes = unpack_codes(jnp.reshape(B, (N, blocks, blob)), bits, block_size)
    scales = jnp.reshape(scales, (N, blocks))
    if zero_points is None:
        zero = jnp.asarray(2 ** (bits - 1), jnp.float32)
    elif jnp.issubdtype(zero_points.dtype, jnp.integer):
        per_row = -(-blocks * bits // 8)
        packed = jnp.reshape(zero_points, (N, per_row))
        zero = unpack_codes(packed, bits, blocks)[..., None].astype(jnp.float32)
    else:
        zero = jnp.reshape(zero_points, (N, blocks))[..., None].astype(jnp.float32)
    wide = jnp.promote_types(scales.dtype, jnp.float32)
    weight = (codes.astype(jnp.float32) - zero).astype(wide) * scales[..., None].astype(wide)
    return jnp.reshape(weight, (N, blocks * block_size))[:, :K]


@onnx_op("MatMulNBits", 1, domain=MS, weight_inputs=(2, 5))
def matmul_nbits(
    A,
    B,
    scales,
    zero_points=None,
    g_idx=None,
    bias=None,
    *,
    K=None,
    N=None,
    accuracy_level=0,
    bits=4,
    block_size=None,
    weight_prepacked=0,
):
    """com.microsoft MatMulNBits-1: `A @ dequantize(B)^T + bias` with B quantized to
    `bits` bits per block of `block_size` along K (see `dequantize_blocks`)."""
    if K is None or N is None or not block_size:
        raise InvalidModelError("MatMulNBits: the K, N and block_size attributes are required")
    if g_idx is not None or weight_prepacked:
        raise UnsupportedOpError("MatMulNBits: g_idx and prepacked weights are not supported")
    if block_size < 16 or block_size & (block_size - 1):
        raise InvalidModelError(
            f"MatMulNBits: block_size must be a power of 2 >= 16, got {block_size}"
        )
    if A.shape[-1] != K:
        raise ShapeError(f"MatMulNBits: A's last axis {A.shape[-1]} is not K={K}")
    weight = dequantize_blocks(B, scales, zero_points, N=N, K=K, bits=bits, block_size=block_size)
    dtype = jnp.promote_types(A.dtype, jnp.float32)
    y = jnp.matmul(A.astype(dtype), weight.T.astype(dtype))
    if bias is not None:
        y = y + bias.astype(dtype)
    return y.astype(A.dtype)


# ---------------------------------------------------------------- integer to float


def _columns(param):
    """A scale or zero point per tensor (scalar) or per column ((N,) or (1, N))."""
    param = jnp.asarray(param)
    return jnp.reshape(param, (-1,)) if param.size > 1 else jnp.reshape(param, ())


def _int_product(a, b, a_zero_point, b_zero_point):
    """`(a - a_zero_point) @ (b - b_zero_point)`, exactly in int32 (b's zero point per
    tensor or per column)."""
    zb = None if b_zero_point is None else _columns(b_zero_point)
    return integer_matmul(
        shift_by_zero_point(a, None if a_zero_point is None else jnp.reshape(a_zero_point, ())),
        shift_by_zero_point(b, zb),
    )


def _to_float(product, a_scale, b_scale, bias, dtype):
    scale = jnp.reshape(a_scale, ()).astype(jnp.float32) * _columns(b_scale).astype(jnp.float32)
    y = product.astype(jnp.float32) * scale
    if bias is not None:
        y = y + bias.astype(jnp.float32)
    return y.astype(dtype)


@onnx_op("MatMulIntegerToFloat", 1, domain=MS, weight_inputs=(6,))
def matmul_integer_to_float(
    A, B, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None
):
    """com.microsoft MatMulIntegerToFloat-1: `(A - a_zp) @ (B - b_zp) * a_scale *
    b_scale + bias` in the scales' type; B's scale and zero point per tensor or per
    column."""
    product = _int_product(A, B, a_zero_point, b_zero_point)
    return _to_float(product, a_scale, b_scale, bias, jnp.asarray(a_scale).dtype)


@onnx_op("DynamicQuantizeMatMul", 1, domain=MS, weight_inputs=(4,))
def dynamic_quantize_matmul(A, B, b_scale, b_zero_point=None, bias=None):
    """com.microsoft DynamicQuantizeMatMul-1: A quantized to uint8 as
    DynamicQuantizeLinear does, then MatMulIntegerToFloat with the quantized B."""
    a, a_scale, a_zero_point = dynamic_quantize_linear(A)
    product = _int_product(a, B, a_zero_point, b_zero_point)
    return _to_float(product, a_scale, b_scale, bias, A.dtype)


# ---------------------------------------------------------------- QGemm


@onnx_op("QGemm", 1, domain=MS)
def qgemm(
    A,
    a_scale,
    a_zero_point,
    B,
    b_scale,
    b_zero_point,
    C=None,
    y_scale=None,
    y_zero_point=None,
    *,
    alpha=1.0,
    transA=0,
    transB=0,
):
    """com.microsoft QGemm-1: `alpha * ((A - a_zp) @ (B - b_zp) + C) * a_scale *
    b_scale` (C int32, at the product's scale); quantized with `y_scale` and
    `y_zero_point` when given, else float. B's scale and zero point per tensor or per
    output column."""
    a = jnp.swapaxes(A, -1, -2) if transA else A
    b = jnp.swapaxes(B, -1, -2) if transB else B
    product = _int_product(a, b, a_zero_point, b_zero_point)
    if C is not None:
        product = product + jnp.asarray(C).astype(jnp.int32)
    multiplier = (
        jnp.float32(alpha)
        * jnp.reshape(a_scale, ()).astype(jnp.float32)
        * _columns(b_scale).astype(jnp.float32)
    )
    if y_scale is None:
        return (product.astype(jnp.float32) * multiplier).astype(jnp.asarray(a_scale).dtype)
    multiplier = multiplier / jnp.reshape(y_scale, ()).astype(jnp.float32)
    if y_zero_point is None:
        raise InvalidModelError("QGemm: y_zero_point is required with y_scale")
    zero = jnp.reshape(y_zero_point, ())
    return requantize(product, multiplier, zero, np.dtype(y_zero_point.dtype))


# ---------------------------------------------------------------- QAttention


@onnx_op("QAttention", 1, domain=MS, weight_inputs=(2,))
def qattention(
    input,  # noqa: A002
    weight,
    bias,
    input_scale,
    weight_scale,
    mask_index=None,
    input_zero_point=None,
    weight_zero_point=None,
    past=None,
    *,
    do_rotary=0,
    mask_filter_value=None,
    num_heads=None,
    past_present_share_buffer=0,
    scale=None,
    unidirectional=0,
):
    """com.microsoft QAttention-1: Attention whose Q, K, V projection is quantized:
    `(input - input_zp) @ (weight - weight_zp) * input_scale * weight_scale + bias`
    (weight's scale and zero point per tensor or per column), then as Attention."""
    if do_rotary or past_present_share_buffer:
        raise UnsupportedOpError(
            "QAttention: do_rotary and past_present_share_buffer are not supported"
        )
    if num_heads is None:
        raise InvalidModelError("QAttention: the num_heads attribute is required")
    if weight.shape[-1] % 3:
        raise ShapeError(f"QAttention: weight's last axis {weight.shape[-1]} is not 3 * hidden")
    product = _int_product(input, weight, input_zero_point, weight_zero_point)
    qkv = _to_float(product, input_scale, weight_scale, bias, jnp.asarray(bias).dtype)
    q, k, v = jnp.split(qkv, 3, axis=-1)
    attrs = {
        "num_heads": num_heads,
        "mask_filter_value": mask_filter_value,
        "unidirectional": unidirectional,
        "scale": scale,
    }
    return self_attention(q, k, v, mask_index, past, None, attrs, "QAttention")


# ---------------------------------------------------------------- QEmbedLayerNormalization


def _dequantized(x, scale, zero_point):
    if x is None:
        return None
    shifted = x.astype(jnp.float32) - jnp.reshape(zero_point, ()).astype(jnp.float32)
    return shifted * jnp.reshape(scale, ()).astype(jnp.float32)


@onnx_op("QEmbedLayerNormalization", 1, domain=MS)
def qembed_layer_normalization(
    input_ids,
    segment_ids,
    word_embedding_quant,
    position_embedding_quant,
    segment_embedding,
    gamma_quant,
    beta_quant,
    mask,
    word_embedding_scale,
    position_embedding_scale,
    segment_embedding_scale,
    gamma_scale,
    beta_scale,
    word_embedding_zero_point,
    position_embedding_zero_point,
    segment_embedding_zero_point,
    gamma_zero_point,
    beta_zero_point,
    *,
    epsilon=1e-12,
):
    """com.microsoft QEmbedLayerNormalization-1: EmbedLayerNormalization with its
    tables, gamma and beta quantized per tensor (dequantized first); outputs
    (layernorm_out, mask_index_out)."""
    if segment_embedding is not None and segment_embedding_scale is None:
        raise InvalidModelError("QEmbedLayerNormalization: segment_embedding needs its scale")
    word = _dequantized(word_embedding_quant, word_embedding_scale, word_embedding_zero_point)
    position = _dequantized(
        position_embedding_quant, position_embedding_scale, position_embedding_zero_point
    )
    segment = None
    if segment_embedding is not None:
        segment = _dequantized(
            segment_embedding, segment_embedding_scale, segment_embedding_zero_point
        )
    gamma = _dequantized(gamma_quant, gamma_scale, gamma_zero_point)
    beta = _dequantized(beta_quant, beta_scale, beta_zero_point)
    total = embeddings_sum(input_ids, segment_ids, word, position, segment, None)
    y, _, _ = layer_norm_with_stats(total, gamma, beta, 2, epsilon, stats_dtype(total))
    return y.astype(jnp.float32), mask_index_of(mask, input_ids)
