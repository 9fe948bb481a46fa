"""Quantization ONNX ops: linear (de)quantization per tensor, per axis or per block,
dynamic quantization, and the integer / quantized-linear matrix products and
convolutions.

Integer targets (int2/4/8/16, uint2/4/8/16) round half to even and saturate to the
target's range, with explicit arithmetic before the value takes the target type. Float8
targets follow the Cast spec's tables (`saturate=1` clamps to +-max, NaN stays NaN;
`saturate=0` overflows to NaN, or Inf for E5M2); float4 targets always saturate. Integer
matrix products and convolutions accumulate exactly in int32; rescaling to the output
runs in float32 (float64 for float64 scales).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import onnx

from axonnx.converters.ops._common import normalize_axis
from axonnx.converters.ops._elementwise_util import LOW_FLOATS, to_low_float
from axonnx.converters.ops._integer_dot import integer_matmul
from axonnx.converters.ops.nn_conv import conv
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

# ml_dtypes knows these, but XLA cannot convert to or from them.
_NOT_IN_XLA = frozenset({"float6_e2m3fn", "float6_e3m2fn"})


def _onnx_dtype(code: int, op: str, what: str) -> np.dtype:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidModelError(
            f"{op}: expected attribute {what} to be an ONNX TensorProto data type, got {code!r}."
        ) from error


def _is_int(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.integer)


def _xla_array(x) -> jax.Array:
    """`x` as a JAX array; float6 values (unknown to XLA) widen to float32 (exact)."""
    if isinstance(x, np.ndarray) and x.dtype.name in _NOT_IN_XLA:
        x = x.astype(np.float32)
    return jnp.asarray(x)


# ---------------------------------------------------------------- per-axis / blocked params


def _spread(param, what: str, *, shape: tuple[int, ...], axis: int, block_size: int, op: str):
    """A scale or zero point broadcastable to `shape`: a scalar (per tensor), a 1-D
    tensor along `axis` (per axis), or, with `block_size`, one value per block of
    `block_size` elements along `axis` (blocked; same rank as the input)."""
    param = jnp.asarray(param)
    if param.ndim == 0 or (param.ndim == 1 and param.size == 1):
        return param.reshape(())
    axis = normalize_axis(axis, len(shape))
    if not block_size:
        if param.shape != (shape[axis],):
            raise ShapeError(
                f"{op}: expected {what} of shape () or ({shape[axis]},) (input dimension "
                f"{axis}), got {param.shape}."
            )
        return param.reshape([-1 if i == axis else 1 for i in range(len(shape))])
    if block_size < 0:
        raise InvalidModelError(f"{op}: expected block_size >= 0, got {block_size}.")
    blocks = -(-shape[axis] // block_size)
    expected = (*shape[:axis], blocks, *shape[axis + 1 :])
    if param.shape != expected:
        raise ShapeError(
            f"{op}: expected {what} of shape {expected} for blocks of {block_size} along "
            f"axis {axis} of input shape {shape}, got {param.shape}."
        )
    param = jnp.repeat(param, block_size, axis=axis)
    return jax.lax.slice_in_dim(param, 0, shape[axis], axis=axis)


# ---------------------------------------------------------------- QuantizeLinear


def _quantized_dtype(y_zero_point, output_dtype: int) -> np.dtype:
    """The output type: the zero point's, else `output_dtype`, else uint8."""
    wanted = _onnx_dtype(output_dtype, "QuantizeLinear", "output_dtype") if output_dtype else None
    if y_zero_point is None:
        return wanted or np.dtype(np.uint8)
    dtype = np.dtype(y_zero_point.dtype)
    if wanted is not None and wanted != dtype:
        raise InvalidModelError(
            f"QuantizeLinear: expected output_dtype to match y_zero_point's type "
            f"{dtype.name}, got {wanted.name}."
        )
    return dtype


def saturate_to_int(y: jax.Array, zero_point: jax.Array | None, dtype: np.dtype) -> jax.Array:
    """round(y) + zero_point (round half to even), clipped to the range of integer type
    `dtype` (uint4: [0, 15], int2: [-2, 1], ...). NaN, undefined by the spec, gives 0.
    The clipped value becomes an int32 before it takes the (sub-byte) type `dtype`."""
    y = jnp.round(y)
    wide = jnp.float64 if y.dtype == jnp.float64 else jnp.float32
    y = y.astype(wide)
    if zero_point is not None:
        y = y + zero_point.astype(wide)
    info = ml_dtypes.iinfo(dtype)
    y = jnp.clip(y, int(info.min), int(info.max))
    return jnp.where(jnp.isnan(y), 0, y).astype(jnp.int32).astype(dtype)


def _to_float(y, zero_point, dtype: np.dtype, saturate: int):
    """`y` cast to a float8/float4 type (float4 adds the zero point, as onnx does)."""
    if dtype.name not in LOW_FLOATS:
        raise UnsupportedOpError(
            f"QuantizeLinear: output type {dtype.name} is not supported; supported "
            "are int2/4/8/16, uint2/4/8/16, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), float4e2m1."
        )
    if dtype == np.dtype(ml_dtypes.float4_e2m1fn) and zero_point is not None:
        y = y + zero_point.astype(y.dtype)
    return to_low_float(y, dtype, saturate=bool(saturate))


def _divide(x, y_scale, precision: int):
    if precision:
        dtype = _onnx_dtype(precision, "QuantizeLinear", "precision")
        return x.astype(dtype) / y_scale.astype(dtype)
    if y_scale.dtype == jnp.float8_e8m0fnu:
        y_scale = y_scale.astype(jnp.float32)
    if _is_int(x.dtype):
        x = x.astype(y_scale.dtype)
    return x / y_scale


@onnx_op("QuantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def quantize_linear(
    x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, precision=0, saturate=1
):
    """ONNX QuantizeLinear-10..28: `saturate(round(x / y_scale) + y_zero_point)`.

    Scale and zero point are per tensor (scalars), per axis (1-D along `axis`, 13+) or
    per block (`block_size` > 0, 21+). Attributes of newer versions default to the
    older behaviour.
    """
    x = jnp.asarray(x)
    dtype = _quantized_dtype(y_zero_point, output_dtype)
    spread = functools.partial(
        _spread, shape=x.shape, axis=axis, block_size=block_size, op="QuantizeLinear"
    )
    y = _divide(x, spread(y_scale, "y_scale"), precision)
    zero_point = None if y_zero_point is None else spread(y_zero_point, "y_zero_point")
    if _is_int(dtype):
        return saturate_to_int(y, zero_point, dtype)
    return _to_float(y, zero_point, dtype, saturate)


# ---------------------------------------------------------------- DequantizeLinear


@onnx_op("DequantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    """ONNX DequantizeLinear-10..28: `(x - x_zero_point) * x_scale`, computed in float32.

    The output has type `output_dtype` (23+) or else the scale's type. Float8/float4
    inputs ignore the zero point (it must be 0). Per tensor, per axis or per block as
    QuantizeLinear.
    """
    x = _xla_array(x)
    spread = functools.partial(
        _spread, shape=x.shape, axis=axis, block_size=block_size, op="DequantizeLinear"
    )
    scale = spread(x_scale, "x_scale")
    shifted = x.astype(jnp.float32)
    if x_zero_point is not None and _is_int(x.dtype):
        shifted = shifted - spread(x_zero_point, "x_zero_point").astype(jnp.float32)
    wide = jnp.float32 if scale.dtype == jnp.float8_e8m0fnu else scale.dtype
    y = shifted * scale.astype(jnp.promote_types(wide, jnp.float32))
    if output_dtype:
        return y.astype(_onnx_dtype(output_dtype, "DequantizeLinear", "output_dtype"))
    return y.astype(wide)


# ---------------------------------------------------------------- DynamicQuantizeLinear


@onnx_op("DynamicQuantizeLinear", 11)
def dynamic_quantize_linear(x):
    """ONNX DynamicQuantizeLinear-11: uint8 quantization with a scale and zero point
    from the range of `x` (widened to include 0). Returns `(y, y_scale, y_zero_point)`."""
    x = jnp.asarray(x)
    high = jnp.maximum(0, jnp.max(x)).astype(jnp.float32)
    low = jnp.minimum(0, jnp.min(x)).astype(jnp.float32)
    scale = jnp.where(high == low, 1.0, high - low).astype(jnp.float32) / 255
    zero_point = jnp.round(jnp.clip(-low / scale, 0, 255))
    y = jnp.clip(jnp.round(x / scale) + zero_point, 0, 255)
    return y.astype(jnp.uint8), scale.astype(x.dtype), zero_point.astype(jnp.uint8)


# ---------------------------------------------------------------- integer products


def _rows(param, x):
    """A 1-D per-row scale or zero point of matrix `x` (..., M, K) as (M, 1)."""
    param = jnp.asarray(param)
    if param.ndim == 1 and param.size > 1 and x.ndim >= 2:
        return param[:, None]
    return param


def _channels(param, rank: int, axis: int):
    """A 1-D per-channel scale or zero point placed on `axis` of a rank-`rank` tensor."""
    param = jnp.asarray(param)
    if param.ndim == 1 and param.size > 1:
        return param.reshape([-1 if i == axis else 1 for i in range(rank)])
    return param


def shift_by_zero_point(x: jax.Array, zero_point: jax.Array | None) -> jax.Array:
    """`x - zero_point` as exact int32."""
    x = jnp.asarray(x).astype(jnp.int32)
    return x if zero_point is None else x - jnp.asarray(zero_point).astype(jnp.int32)


def requantize(
    accumulated: jax.Array, multiplier: jax.Array, y_zero_point: jax.Array | None, dtype: np.dtype
) -> jax.Array:
    """`accumulated * multiplier + y_zero_point` rounded and saturated to `dtype`."""
    wide = jnp.promote_types(jnp.asarray(multiplier).dtype, jnp.float32)
    y = accumulated.astype(wide) * multiplier.astype(wide)
    if _is_int(dtype):
        return saturate_to_int(y, y_zero_point, dtype)
    return _to_float(y, y_zero_point, dtype, 1)


@onnx_op("QLinearMatMul", 10, 21)
def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """ONNX QLinearMatMul-10,21: quantized `a @ b` (int8/uint8, float8 from 21).

    Scales and zero points are scalars, per row of `a` ((M,) or (..., M, 1)) and per
    column of `b` ((N,) or (..., 1, N)); the output takes `y_zero_point`'s type.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    if _is_int(a.dtype) and _is_int(b.dtype):
        product = integer_matmul(
            shift_by_zero_point(a, _rows(a_zero_point, a)), shift_by_zero_point(b, b_zero_point)
        )
    else:
        real_a = a.astype(jnp.float32) - _rows(a_zero_point, a).astype(jnp.float32)
        real_b = b.astype(jnp.float32) - jnp.asarray(b_zero_point).astype(jnp.float32)
        product = jnp.matmul(real_a, real_b, precision=jax.lax.Precision.HIGHEST)
    multiplier = _rows(a_scale, a) * jnp.asarray(b_scale) / jnp.asarray(y_scale)
    return requantize(product, multiplier, jnp.asarray(y_zero_point), np.dtype(y_zero_point.dtype))


@onnx_op("ConvInteger", 10)
def conv_integer(
    x,
    w,
    x_zero_point=None,
    w_zero_point=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """ONNX ConvInteger-10: int32 Conv of `x - x_zero_point` and `w - w_zero_point`
    (w's zero point per tensor or per output channel (M,)); attributes as Conv."""
    w = jnp.asarray(w)
    return conv(
        shift_by_zero_point(x, x_zero_point),
        shift_by_zero_point(
            w, None if w_zero_point is None else _channels(w_zero_point, w.ndim, 0)
        ),
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )


@onnx_op("QLinearConv", 10)
def qlinear_conv(
    x,
    x_scale,
    x_zero_point,
    w,
    w_scale,
    w_zero_point,
    y_scale,
    y_zero_point,
    B=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """ONNX QLinearConv-10: quantized Conv (int8/uint8) with an optional int32 bias of
    scale `x_scale * w_scale`; w's scale and zero point per tensor or per output
    channel (M,); the output takes `y_zero_point`'s type."""
    accumulated = conv_integer(
        x,
        w,
        x_zero_point,
        w_zero_point,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    rank = accumulated.ndim
    if B is not None:
        accumulated = accumulated + _channels(jnp.asarray(B).astype(jnp.int32), rank, 1)
    multiplier = jnp.asarray(x_scale) * _channels(w_scale, rank, 1) / jnp.asarray(y_scale)
    dtype = np.dtype((x if y_zero_point is None else y_zero_point).dtype)
    zero_point = None if y_zero_point is None else jnp.asarray(y_zero_point)
    return requantize(accumulated, multiplier, zero_point, dtype)
