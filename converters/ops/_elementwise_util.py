"""Helpers of the element-wise op family: casts between ONNX data types, bit
reinterpretation, and the 2-D flattening of the opset < 13 softmax family."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from onnx import TensorProto

from axonnx.converters.ops._common import normalize_axis
from axonnx.errors import InvalidModelError, UnsupportedOpError

__all__ = [
    "LOW_FLOATS",
    "bitcast",
    "cast",
    "flattened",
    "is_strings",
    "lax_binary",
    "to_low_float",
]


class _LowFloat(NamedTuple):
    """An ONNX float8 / float4 format, as its spec describes it."""

    mantissa: int  # mantissa bits
    min_exponent: int  # exponent of the smallest normal value
    max: float  # largest finite value
    has_inf: bool  # E5M2 only: overflow goes to +-Inf when not saturating
    has_negative_zero: bool  # the FNUZ formats have none (-0 is +0)
    always_saturates: bool  # float4: no NaN nor Inf, out-of-range values saturate


# The Cast spec's float8 tables (onnx.ai/onnx/technical/float8.html) and float4.md.
_LOW_FLOATS = {
    "float8_e4m3fn": _LowFloat(3, -6, 448.0, False, True, False),
    "float8_e4m3fnuz": _LowFloat(3, -7, 240.0, False, False, False),
    "float8_e5m2": _LowFloat(2, -14, 57344.0, True, True, False),
    "float8_e5m2fnuz": _LowFloat(2, -15, 57344.0, False, False, False),
    "float4_e2m1fn": _LowFloat(1, 0, 6.0, False, True, True),
}
LOW_FLOATS = frozenset(_LOW_FLOATS)  # the names of the float8 / float4 dtypes above
# Two's complement (or unsigned) sub-byte integers: name -> (bits, signed).
_SMALL_INTS = {"int4": (4, True), "uint4": (4, False), "int2": (2, True), "uint2": (2, False)}
# ml_dtypes and jax.numpy know these, but XLA cannot convert to or from them.
_NOT_IN_XLA = frozenset({"float6_e2m3fn", "float6_e3m2fn"})
_E8M0_ROUND_MODES = ("up", "down", "nearest")


def is_strings(x: Any) -> bool:
    """Whether `x` is a string tensor (a NumPy object or unicode array)."""
    return isinstance(x, np.ndarray) and x.dtype.kind in "OUS"


def lax_binary(fn: Callable, a: Any, b: Any) -> jax.Array:
    """`fn(a, b)` for a `jax.lax` binary op, after NumPy broadcasting."""
    a, b = jnp.broadcast_arrays(a, b)
    return fn(a, b)


def flattened(fn: Callable, x: Any, axis: int) -> jax.Array:
    """`fn` applied along the last axis of `x` seen as a 2-D matrix split at `axis`
    (the opset < 13 semantics of Softmax, LogSoftmax and Hardmax)."""
    x = jnp.asarray(x)
    axis = normalize_axis(axis, x.ndim)
    rows, cols = math.prod(x.shape[:axis]), math.prod(x.shape[axis:])
    return fn(x.reshape(rows, cols)).reshape(x.shape)


def onnx_dtype(to: int, op: str) -> np.dtype:
    """The NumPy dtype of ONNX data type `to` (TensorProto enum)."""
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(to))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidModelError(
            f"{op}: expected attribute 'to' to be an ONNX TensorProto data type, got {to!r}."
        ) from error


def _jax_dtype(dtype: np.dtype, op: str) -> np.dtype:
    """`dtype` as JAX holds it (64-bit types narrow without x64)."""
    if dtype.name in _NOT_IN_XLA or not hasattr(jnp, dtype.name):
        raise UnsupportedOpError(
            f"{op}: data type {dtype.name} is not supported by JAX; supported are the "
            "standard numeric types, bool, string, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, "
            "e8m0), float4e2m1, int4/uint4 and int2/uint2."
        )
    return jax.dtypes.canonicalize_dtype(dtype)


def cast(x: Any, to: int, *, saturate: int = 1, round_mode: str = "up", op: str = "Cast") -> Any:
    """`x` converted to ONNX data type `to` with ONNX Cast semantics.

    Float8 / float4 and int4 / uint4 / int2 / uint2 targets follow the spec's rules with
    explicit arithmetic (see `to_low_float` and `_to_small_int`), not a library's cast.
    """
    if to == TensorProto.STRING:
        return _to_strings(x, op)
    dtype = onnx_dtype(to, op)
    if is_strings(x):
        x = _parse_strings(x, dtype)
    elif isinstance(x, np.ndarray) and x.dtype.name in _NOT_IN_XLA:
        x = x.astype(np.float32)  # exact: float6 values are float32 values
    if to == TensorProto.FLOAT8E8M0:
        return _to_e8m0(x, bool(saturate), round_mode, op)
    target = _jax_dtype(dtype, op)
    x = jnp.asarray(x)
    if target.name in _LOW_FLOATS:
        return to_low_float(x, target, saturate=bool(saturate))
    if target.name in _SMALL_INTS:
        return _to_small_int(x, target)
    return x.astype(target)


def _wide_float(x: jax.Array) -> jax.Array:
    """`x` as float32 (or float64 when it already is), exact for every narrower float type
    and for integers up to 2**24 (the largest float8 value is 57344)."""
    return x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)


def _pow2(k: jax.Array, dtype) -> jax.Array:
    """Exactly 2.0**k in float `dtype` (float32 or float64), for k in its normal range."""
    if dtype == jnp.float64:
        bits = (k.astype(jnp.int64) + 1023) << 52
        return jax.lax.bitcast_convert_type(bits, jnp.float64)
    return jax.lax.bitcast_convert_type((k.astype(jnp.int32) + 127) << 23, jnp.float32)


def _exponent(x: jax.Array) -> jax.Array:
    """floor(log2(|x|)) of a float32/float64 `x` from its exponent bits (below -126
    for zeros and subnormals, above 127 for Inf and NaN)."""
    if x.dtype == jnp.float64:
        bits = jax.lax.bitcast_convert_type(x, jnp.uint64)
        return ((bits >> 52) & 0x7FF).astype(jnp.int32) - 1023
    bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
    return ((bits >> 23) & 0xFF).astype(jnp.int32) - 127


def to_low_float(x: Any, target: Any, *, saturate: bool = True) -> jax.Array:
    """`x` as a float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) or float4 (E2M1) array, by the
    Cast spec's tables (QuantizeLinear refers to them):

    - finite values round to nearest, ties to even, to the target's mantissa width
      (subnormals included); [x] denotes that rounded value;
    - saturate: +-Inf and |[x]| > max give +-max; NaN gives NaN;
    - not saturating: +-Inf and |[x]| > max give +-Inf for E5M2, NaN for the others;
    - -0 (and negatives rounding to 0) stay -0, except in the FNUZ types (+0);
    - float4 E2M1 always saturates and has no NaN: NaN gives +6 (float4.md).

    The value is computed in float32 (float64 for float64 inputs) with exact power-of-two
    scaling and `round`; the final conversion only ever sees values the target represents
    exactly (or NaN / Inf where it has them).
    """
    spec = _LOW_FLOATS[np.dtype(target).name]
    x = _wide_float(jnp.asarray(x))
    magnitude = jnp.abs(x)
    exponent = jnp.clip(_exponent(magnitude), spec.min_exponent, 1024) - spec.mantissa
    exponent = jnp.minimum(exponent, 126 if x.dtype == jnp.float32 else 1022)
    scaled = magnitude * _pow2(-exponent, x.dtype)  # exact: a power-of-two scaling
    rounded = jnp.round(scaled) * _pow2(exponent, x.dtype)  # ties to even; Inf past float32
    saturate = saturate or spec.always_saturates
    overflow = rounded > spec.max  # Inf inputs included, NaN not
    if saturate:
        limited = jnp.where(overflow, spec.max, rounded)
    else:
        limited = jnp.where(overflow, jnp.inf if spec.has_inf else jnp.nan, rounded)
    y = jnp.where(jnp.signbit(x), -limited, limited)
    if not spec.has_negative_zero:
        y = jnp.where(y == 0, 0.0, y).astype(x.dtype)
    # NaN stays NaN (its sign too, -NaN -> -NaN where the type has one); float4.md: +6
    y = jnp.where(jnp.isnan(x), spec.max if spec.always_saturates else x, y).astype(x.dtype)
    return y.astype(target)


def _to_small_int(x: jax.Array, target: Any) -> jax.Array:
    """`x` as int4 / uint4 / int2 / uint2.

    Floats round to the nearest integer, ties to even, then keep the target's low bits
    ("rounding to the nearest-even integer and truncating", int4.md and int2.md; the
    Cast spec leaves float -> fixed point undefined out of range); integers keep their
    low bits (two's complement, the spec's fixed point rule: 20 -> int4 4, -9 -> 7).
    NaN and +-Inf give 0 (undefined by the spec). The result is computed as in-range
    int32 values before the conversion to the sub-byte type.
    """
    bits, signed = _SMALL_INTS[np.dtype(target).name]
    modulus = 1 << bits
    if x.dtype == np.bool_:
        low = x.astype(jnp.int32)
    elif jnp.issubdtype(x.dtype, jnp.integer):
        if jnp.iinfo(x.dtype).bits < 8:
            x = x.astype(jnp.int8 if jnp.issubdtype(x.dtype, jnp.signedinteger) else jnp.uint8)
        low = jnp.bitwise_and(x, modulus - 1).astype(jnp.int32)
    else:
        rounded = jnp.round(_wide_float(x))
        # exact in floating point: dividing by a power of two, floor, and an integer result
        wrapped = rounded - modulus * jnp.floor(rounded / modulus)
        low = jnp.where(jnp.isfinite(wrapped), wrapped, 0).astype(jnp.int32)
    if signed:
        low = jnp.where(low >= modulus // 2, low - modulus, low)
    return low.astype(target)


def _to_strings(x: Any, op: str) -> np.ndarray:
    if isinstance(x, jax.core.Tracer):
        raise UnsupportedOpError(
            f"{op}: casting to STRING needs the input's value while the model is compiled, "
            "but it depends on run-time data. Feed it as a constant, or cast outside the model."
        )
    return np.asarray(x).astype(np.str_).astype(object)


def _parse_strings(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Numbers written in strings ("3.14", "1e-5", "INF", "-inf", "NaN", "100")."""
    integer = np.issubdtype(dtype, np.integer)
    values = [_parse_number(s, integer) for s in np.asarray(x).ravel()]
    parsed = np.array(values, dtype=np.int64 if integer else np.float64)
    return parsed.reshape(np.shape(x))


def _parse_number(text: Any, integer: bool) -> int | float:
    text = (text.decode() if isinstance(text, bytes) else str(text)).strip()
    if integer:
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    return float(text)


def _to_e8m0(x: Any, saturate: bool, round_mode: str, op: str) -> jax.Array:
    """float8e8m0 (exponent-only) encoding of `x`, by the Cast spec's table where it
    specifies the result, else as onnx.numpy_helper.to_float8e8m0 (which generated the
    backend data). Negative values are undefined; the magnitude is used.

    - saturate + up (the default): NaN -> NaN, Inf and x > E8M0_MAX -> E8M0_MAX,
      0 <= x < E8M0_MIN -> E8M0_MIN (2**-127, bits 0), others round away from zero;
    - not saturating + nearest: NaN, Inf, 0, x > E8M0_MAX and x < E8M0_MIN -> NaN, others
      round to nearest (ties up);
    - other combinations: the exponent bits, rounded by `round_mode` (up: any fraction;
      nearest: the guard bit), and with `saturate` no rounding past E8M0_MAX.
    """
    if round_mode not in _E8M0_ROUND_MODES:
        raise UnsupportedOpError(
            f"{op}: expected round_mode in {_E8M0_ROUND_MODES}, got {round_mode!r}."
        )
    bits = jax.lax.bitcast_convert_type(jnp.asarray(x).astype(jnp.float32), jnp.uint32)
    exponent = (bits >> 23) & 0xFF
    fraction = bits & 0x7FFFFF
    special = exponent == 0xFF
    if round_mode == "up":
        round_up = fraction > 0
    elif round_mode == "nearest":
        guard, rest = (bits & 0x400000) > 0, (bits & 0x3FFFFF) > 0
        round_up = guard & (rest | (exponent > 0))
    else:
        round_up = jnp.zeros(bits.shape, bool)
    round_up &= ~special
    if saturate:
        round_up &= exponent != 0xFE
    encoded = jnp.where(special, 0xFF, exponent + round_up.astype(jnp.uint32))
    infinite = special & (fraction == 0)
    if saturate and round_mode == "up":
        # zero and subnormals: 2**-127 up to and including 2**-127 itself, else 2**-126
        encoded = jnp.where(exponent == 0, (fraction > 0x400000).astype(jnp.uint32), encoded)
        encoded = jnp.where(infinite, 0xFE, encoded)
    elif not saturate and round_mode == "nearest":
        below = (exponent == 0) & (fraction < 0x400000)  # 0 and x < 2**-127
        above = (exponent == 0xFE) & (fraction > 0)  # x > 2**127 (Inf is special)
        encoded = jnp.where(below | above, 0xFF, encoded)
    return jax.lax.bitcast_convert_type(encoded.astype(jnp.uint8), jnp.float8_e8m0fnu)


def _bits(dtype: np.dtype) -> int:
    if dtype == np.bool_:
        return 8
    if jnp.issubdtype(dtype, jnp.integer):
        return jnp.iinfo(dtype).bits
    return jnp.finfo(dtype).bits


def bitcast(x: Any, to: int, op: str = "BitCast") -> jax.Array:
    """The bits of `x` reinterpreted as ONNX data type `to` (same bit width)."""
    if to == TensorProto.STRING or is_strings(x):
        raise InvalidModelError(f"{op}: expected a non-string input and 'to', got a string type.")
    target = _jax_dtype(onnx_dtype(to, op), op)
    x = jnp.asarray(x)
    if _bits(x.dtype) != _bits(target):
        raise InvalidModelError(
            f"{op}: expected 'to' with the bit width of the input ({x.dtype.name}, "
            f"{_bits(x.dtype)} bits), got {target.name} ({_bits(target)} bits)."
        )
    if x.dtype == np.bool_:
        return x.astype(target)
    if target == np.bool_:
        return x != 0
    return jax.lax.bitcast_convert_type(x, target)
