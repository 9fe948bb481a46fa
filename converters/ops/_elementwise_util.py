"""Helpers of the element-wise op family: casts between ONNX data types, bit
reinterpretation, and the 2-D flattening of the opset < 13 softmax family."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto

from axonnx.converters.ops._common import normalize_axis
from axonnx.errors import InvalidModelError, UnsupportedOpError

__all__ = ["bitcast", "cast", "flattened", "is_strings", "lax_binary"]

_SATURATING_FLOAT8 = frozenset(
    {
        TensorProto.FLOAT8E4M3FN,
        TensorProto.FLOAT8E4M3FNUZ,
        TensorProto.FLOAT8E5M2,
        TensorProto.FLOAT8E5M2FNUZ,
    }
)
_SUB_BYTE_INTS = frozenset(
    np.dtype(t) for t in (ml_dtypes.int4, ml_dtypes.uint4, ml_dtypes.int2, ml_dtypes.uint2)
)
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
    """`x` converted to ONNX data type `to` with ONNX Cast semantics."""
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
    if to in _SATURATING_FLOAT8 and saturate:
        info = ml_dtypes.finfo(target)
        x = jnp.clip(_wide_float(x), float(info.min), float(info.max))
    elif target in _SUB_BYTE_INTS and not _is_integral(x):
        x = x.astype(jnp.int32)  # wraps out-of-range values, as ml_dtypes (XLA saturates)
    return x.astype(target)


def _is_integral(x: jax.Array) -> bool:
    return jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == np.bool_


def _wide_float(x: jax.Array) -> jax.Array:
    """`x` as float32 (or float64 when it already is), exact for every narrower type."""
    return x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)


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
    """float8e8m0 (exponent-only) encoding of `x`, as onnx.numpy_helper.to_float8e8m0."""
    if round_mode not in _E8M0_ROUND_MODES:
        raise UnsupportedOpError(
            f"{op}: expected round_mode in {_E8M0_ROUND_MODES}, got {round_mode!r}."
        )
    bits = jax.lax.bitcast_convert_type(jnp.asarray(x).astype(jnp.float32), jnp.uint32)
    exponent = (bits >> 23) & 0xFF
    special = exponent == 0xFF
    if round_mode == "up":
        round_up = (bits & 0x7FFFFF) > 0
    elif round_mode == "nearest":
        guard, rest = (bits & 0x400000) > 0, (bits & 0x3FFFFF) > 0
        round_up = guard & (rest | (exponent > 0))
    else:
        round_up = jnp.zeros(bits.shape, bool)
    round_up &= ~special
    if saturate:
        round_up &= exponent != 0xFE
    encoded = jnp.where(special, 0xFF, exponent + round_up.astype(jnp.uint32))
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
