"""Standard forms of the quantized matrix contrib ops (`converters/ops/contrib_quant.py`):
MatMulNBits as blocked DequantizeLinear (int4 / uint4 / int8 / uint8, opset 21) +
MatMul, else a float dequantization + MatMul; the integer-to-float products, QGemm,
QAttention and QEmbedLayerNormalization in QDQ form (DequantizeLinear + float ops)."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from axonnx.converters.standard_forms._base import Call, standard_form
from axonnx.converters.standard_forms.attention import self_attention
from axonnx.converters.standard_forms.norm import embeddings_sum, layer_norm, mask_index

__all__ = ["dequantized", "unpack_codes"]

_BLOCKED_TYPES = {(4, False): ml_dtypes.int4, (4, True): ml_dtypes.uint4}


def unpack_codes(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The first `count` `bits`-bit codes along the last axis of uint8 `packed`, lowest
    bits first within each byte (as MatMulNBits packs them), as uint8."""
    per_byte = 8 // bits
    shifts = np.arange(per_byte, dtype=np.uint8) * bits
    codes = (packed[..., None] >> shifts) & ((1 << bits) - 1)
    return codes.reshape(*packed.shape[:-1], -1)[..., :count]


def _constant(c: Call, name: str | None, what: str) -> np.ndarray:
    value = c.value(name)
    if value is None:
        raise c.fail(f"{what} must be an initializer")
    return np.asarray(value)


def _codes(c: Call, B: str, N: int, K: int, bits: int, block_size: int) -> np.ndarray:
    """The (N, blocks * block_size) unpacked codes of B."""
    packed = _constant(c, B, "B")
    blocks = -(-K // block_size)
    packed = packed.reshape(N, blocks, block_size * bits // 8)
    return unpack_codes(packed, bits, block_size).reshape(N, -1)


def _zero_codes(c: Call, zero_points: str, N: int, blocks: int, bits: int) -> np.ndarray:
    """Packed integer zero points unpacked to (N, blocks)."""
    packed = _constant(c, zero_points, "zero_points").reshape(N, -1)
    return unpack_codes(packed, bits, blocks)


def _blocked_weight(c: Call, B, scales, zero_points, N, K, bits, block_size) -> str:
    """The (K, N) float weight: DequantizeLinear of int4 / uint4 / int8 / uint8 codes
    blocked along K (the scales transposed to (blocks, N) in the graph)."""
    codes = _codes(c, B, N, K, bits, block_size)[:, :K].T
    blocks = -(-K // block_size)
    column_scales = c.op("Transpose", c.op("Reshape", scales, c.ints([N, blocks])), perm=[1, 0])
    inputs = [None, column_scales]
    if zero_points is None:  # the implicit zero point 2 ** (bits - 1): signed codes
        signed = codes.astype(np.int16) - 2 ** (bits - 1)
        dtype = _BLOCKED_TYPES.get((bits, False), np.int8)
        inputs[0] = c.w.constant(signed.astype(dtype), f"{B}_blocked")
    else:
        dtype = _BLOCKED_TYPES.get((bits, True), np.uint8)
        inputs[0] = c.w.constant(codes.astype(dtype), f"{B}_blocked")
        zero = _zero_codes(c, zero_points, N, blocks, bits).T.astype(dtype)
        inputs.append(c.w.constant(zero, f"{zero_points}_blocked"))
    return c.op("DequantizeLinear", *inputs, axis=0, block_size=block_size)


def _float_weight(c: Call, B, scales, zero_points, N, K, bits, block_size) -> str:
    """The (K, N) float weight dequantized with float ops (any bits, float zero points,
    opsets before 21)."""
    blocks = -(-K // block_size)
    codes = _codes(c, B, N, K, bits, block_size).reshape(N, blocks, block_size)
    values = c.cast(c.w.constant(codes.astype(np.uint8), f"{B}_codes"), c.dtype)
    if zero_points is None:
        zero = c.scalar(2 ** (bits - 1), "zero")
    elif np.issubdtype(_constant(c, zero_points, "zero_points").dtype, np.integer):
        zero = c.w.constant(
            _zero_codes(c, zero_points, N, blocks, bits)[..., None].astype(c.dtype), "zero"
        )
    else:
        zero = c.op("Reshape", zero_points, c.ints([N, blocks, 1]))
    scaled = c.op("Mul", c.op("Sub", values, zero), c.op("Reshape", scales, c.ints([N, blocks, 1])))
    flat = c.slice(c.op("Reshape", scaled, c.ints([N, blocks * block_size])), 0, K, 1)
    return c.op("Transpose", flat, perm=[1, 0])


@standard_form("MatMulNBits")
def matmul_nbits(
    c: Call,
    A,
    B,
    scales,
    zero_points=None,
    g_idx=None,
    bias=None,
    *,
    K=None,  # noqa: N803
    N=None,  # noqa: N803
    accuracy_level=0,
    bits=4,
    block_size=None,
    weight_prepacked=0,
):
    """Blocked DequantizeLinear (opset 21, int4 / uint4 / int8 / uint8) + MatMul (+ Add);
    2-bit weights, float zero points and older opsets dequantize with float ops."""
    if g_idx is not None or weight_prepacked:
        raise c.fail("g_idx and prepacked weights have no standard form")
    float_zero = zero_points is not None and not np.issubdtype(
        _constant(c, zero_points, "zero_points").dtype, np.integer
    )
    blocked = c.opset >= 21 and bits in (4, 8) and not float_zero
    write = _blocked_weight if blocked else _float_weight
    y = c.op("MatMul", A, write(c, B, scales, zero_points, N, K, bits, block_size))
    return y if bias is None else c.op("Add", y, bias)


def dequantized(c: Call, x: str, scale: str, zero_point: str | None, axis: int = 1) -> str:
    """DequantizeLinear of `x`, per tensor, or per column (`axis`) when the scale has
    several entries."""
    value = c.value(scale)
    per_axis = value is not None and np.size(value) > 1
    if not per_axis and value is not None and np.ndim(value):
        scale = c.op("Reshape", scale, c.ints([], "scalar_shape"))
        if zero_point is not None:
            zero_point = c.op("Reshape", zero_point, c.ints([], "scalar_shape"))
    if per_axis:
        return c.op("DequantizeLinear", x, scale, zero_point, axis=axis)
    return c.op("DequantizeLinear", x, scale, zero_point)


def _quantized_product(c: Call, a, b, a_scale, b_scale, a_zero_point, b_zero_point, bias):
    real = c.op(
        "MatMul", dequantized(c, a, a_scale, a_zero_point), dequantized(c, b, b_scale, b_zero_point)
    )
    return real if bias is None else c.op("Add", real, bias)


@standard_form("MatMulIntegerToFloat")
def matmul_integer_to_float(
    c: Call, A, B, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None
):
    """DequantizeLinear of A and B (per column), MatMul (+ Add)."""
    return _quantized_product(c, A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)


@standard_form("DynamicQuantizeMatMul")
def dynamic_quantize_matmul(c: Call, A, B, b_scale, b_zero_point=None, bias=None):
    """DynamicQuantizeLinear of A, DequantizeLinear of both, MatMul (+ Add)."""
    a, a_scale, a_zero_point = c.ops("DynamicQuantizeLinear", [A], 3)
    return _quantized_product(c, a, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)


@standard_form("QGemm")
def qgemm(
    c: Call,
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
    transA=0,  # noqa: N803
    transB=0,  # noqa: N803
):
    """DequantizeLinear of A, B and C (int32, at scale a_scale * b_scale), Gemm
    (beta = alpha), then QuantizeLinear when y_scale is given."""
    a = dequantized(c, A, a_scale, a_zero_point)
    b = dequantized(c, B, b_scale, b_zero_point, axis=0 if transB else 1)
    bias = None
    if C is not None:
        scalar_a = c.op("Reshape", a_scale, c.ints([], "scalar_shape"))
        product_scale = c.op("Mul", scalar_a, b_scale)
        if np.size(c.value(b_scale)) > 1:
            bias = c.op("DequantizeLinear", C, product_scale, axis=0)
        else:
            product_scale = c.op("Reshape", product_scale, c.ints([], "scalar_shape"))
            bias = c.op("DequantizeLinear", C, product_scale)
    y = c.op(
        "Gemm", a, b, bias, alpha=float(alpha), beta=float(alpha), transA=transA, transB=transB
    )
    if y_scale is None:
        return y
    return c.op("QuantizeLinear", y, y_scale, y_zero_point)


@standard_form("QAttention")
def qattention(
    c: Call,
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
    """DequantizeLinear of input and weight, MatMul + Add, then as Attention."""
    if do_rotary or past_present_share_buffer:
        raise c.fail("do_rotary and past_present_share_buffer have no standard form")
    qkv = _quantized_product(
        c, input, weight, input_scale, weight_scale, input_zero_point, weight_zero_point, bias
    )
    q, k, v = c.ops("Split", [qkv], 3, axis=-1, **({"num_outputs": 3} if c.opset >= 18 else {}))
    attrs = {
        "num_heads": num_heads,
        "mask_filter_value": mask_filter_value,
        "unidirectional": unidirectional,
        "scale": scale,
    }
    return self_attention(c, q, k, v, mask_index, past, None, attrs)


@standard_form("QEmbedLayerNormalization")
def qembed_layer_normalization(
    c: Call,
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
    """DequantizeLinear of the tables, gamma and beta, then as EmbedLayerNormalization."""
    word = dequantized(c, word_embedding_quant, word_embedding_scale, word_embedding_zero_point)
    position = dequantized(
        c, position_embedding_quant, position_embedding_scale, position_embedding_zero_point
    )
    segment = None
    if segment_embedding is not None:
        segment = dequantized(
            c, segment_embedding, segment_embedding_scale, segment_embedding_zero_point
        )
    gamma = dequantized(c, gamma_quant, gamma_scale, gamma_zero_point)
    beta = dequantized(c, beta_quant, beta_scale, beta_zero_point)
    total = embeddings_sum(c, input_ids, segment_ids, word, position, segment, None)
    y, _, _ = layer_norm(c, total, gamma, beta, -1, epsilon)
    return [y, mask_index(c, mask, input_ids) if c.wants(1) else None]
