"""Cast ONNX ops: Cast, CastLike and BitCast between ONNX data types (strings included).

Casts to int4/uint4/int2/uint2, float8 and float4 follow the spec's rounding, saturation
and wrap-around rules with explicit arithmetic (`_elementwise_util.cast`), so results do
not depend on how a library (ml_dtypes, XLA) casts out-of-range values.
"""

from __future__ import annotations

import numpy as np
import onnx

from axonnx.converters.ops._elementwise_util import bitcast, cast, is_strings
from axonnx.converters.registry import onnx_op


@onnx_op("Cast", 6, 9, 13)
def cast_6(input, *, to=None):
    """ONNX Cast-6..13: convert to data type `to` (float8 targets saturate)."""
    return cast(input, to)


@onnx_op("Cast", 19, 21, 23)
def cast_19(input, *, saturate=1, to=None):
    """ONNX Cast-19..23: `saturate` clamps float8 targets instead of overflowing."""
    return cast(input, to, saturate=saturate)


@onnx_op("Cast", 24, 25, 28)
def cast_24(input, *, round_mode="up", saturate=1, to=None):
    """ONNX Cast-24..28: `round_mode` picks the rounding to float8e8m0."""
    return cast(input, to, saturate=saturate, round_mode=round_mode)


def _dtype_code(target_type) -> int:
    if is_strings(target_type):
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(target_type.dtype))


@onnx_op("CastLike", 15)
def cast_like_15(input, target_type):
    """ONNX CastLike-15: convert to the data type of `target_type`."""
    return cast(input, _dtype_code(target_type), op="CastLike")


@onnx_op("CastLike", 19, 21, 23)
def cast_like_19(input, target_type, *, saturate=1):
    """ONNX CastLike-19..23: with Cast's `saturate`."""
    return cast(input, _dtype_code(target_type), saturate=saturate, op="CastLike")


@onnx_op("CastLike", 24, 25)
def cast_like_24(input, target_type, *, round_mode="up", saturate=1):
    """ONNX CastLike-24..25: with Cast's `saturate` and `round_mode`."""
    return cast(
        input, _dtype_code(target_type), saturate=saturate, round_mode=round_mode, op="CastLike"
    )


@onnx_op("BitCast", 26)
def bit_cast(input, *, to=None):
    """ONNX BitCast-26: reinterpret the bits as data type `to` of the same width."""
    return bitcast(input, to)
