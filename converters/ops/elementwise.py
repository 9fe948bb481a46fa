"""Element-wise ONNX ops: arithmetic, math functions, comparison, logic and bitwise.

Binary ops follow NumPy broadcasting. Integer `Div` truncates toward zero (as C);
integer `Mod` follows the sign of the divisor unless `fmod=1`. String tensors (Equal,
Where) are NumPy object arrays, handled with NumPy while their values are known.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from axonnx import activations
from axonnx.converters.ops._elementwise_util import is_strings, lax_binary
from axonnx.converters.registry import onnx_op
from axonnx.errors import UnsupportedOpError

_FLT_MAX = 3.4028234663852886e38


def _is_int(x) -> bool:
    return jnp.issubdtype(x.dtype, jnp.integer)


# ---------------------------------------------------------------- arithmetic


@onnx_op("Add", 7, 13, 14)
def add(A, B):
    """ONNX Add-7..14: A + B."""
    return A + B


@onnx_op("Sub", 7, 13, 14)
def sub(A, B):
    """ONNX Sub-7..14: A - B."""
    return A - B


@onnx_op("Mul", 7, 13, 14)
def mul(A, B):
    """ONNX Mul-7..14: A * B."""
    return A * B


@onnx_op("Div", 7, 13, 14)
def div(A, B):
    """ONNX Div-7..14: A / B; integers truncate toward zero (as C)."""
    if _is_int(A):
        return lax_binary(jax.lax.div, A, B)
    return A / B


@onnx_op("Mod", 10, 13, 28)
def mod(A, B, *, fmod=0):
    """ONNX Mod-10..28: remainder with the sign of B (`fmod=0`) or of A (`fmod=1`)."""
    if fmod:
        return lax_binary(jax.lax.rem, A, B)
    return jnp.remainder(A, B)


@onnx_op("Pow", 7, 12, 13, 15)
def pow_(X, Y):
    """ONNX Pow-7..15: X ** Y, of X's type (Y may have another numeric type)."""
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    if _is_int(X) and not _is_int(Y):
        return jnp.power(X.astype(Y.dtype), Y).astype(X.dtype)
    if _is_int(Y) or _is_int(X):
        return jnp.power(X, Y.astype(X.dtype))
    return jnp.power(X, Y).astype(X.dtype)


@onnx_op("Neg", 6, 13)
def neg(X):
    """ONNX Neg-6..13: -X."""
    return jnp.negative(X)


@onnx_op("Abs", 6, 13)
def abs_(X):
    """ONNX Abs-6..13: |X|."""
    return jnp.abs(X)


@onnx_op("Sign", 9, 13)
def sign(input):
    """ONNX Sign-9..13: -1, 0 or 1 by the sign of the input."""
    return jnp.sign(input)


@onnx_op("Reciprocal", 6, 13)
def reciprocal(X):
    """ONNX Reciprocal-6..13: 1 / X."""
    return jnp.reciprocal(X)


@onnx_op("Ceil", 6, 13)
def ceil(X):
    """ONNX Ceil-6..13: round up."""
    return jnp.ceil(X)


@onnx_op("Floor", 6, 13)
def floor(X):
    """ONNX Floor-6..13: round down."""
    return jnp.floor(X)


@onnx_op("Round", 11, 22)
def round_(X):
    """ONNX Round-11..22: round to the nearest integer, halves to even."""
    return jnp.round(X)


@onnx_op("Clip", 6)
def clip_6(input, *, max=_FLT_MAX, min=-_FLT_MAX):
    """ONNX Clip-6: bounds given as attributes."""
    return jnp.clip(input, min, max)


@onnx_op("Clip", 11, 12, 13)
def clip(input, min=None, max=None):
    """ONNX Clip-11..13: bounds given as optional scalar inputs; min > max gives max."""
    return jnp.clip(input, min, max)


def _variadic(fn, inputs):
    return functools.reduce(fn, inputs)


@onnx_op("Max", 6, 8, 12, 13)
def max_(*data_0):
    """ONNX Max-6..13: element-wise maximum of the inputs."""
    return _variadic(jnp.maximum, data_0)


@onnx_op("Min", 6, 8, 12, 13)
def min_(*data_0):
    """ONNX Min-6..13: element-wise minimum of the inputs."""
    return _variadic(jnp.minimum, data_0)


@onnx_op("Sum", 6, 8, 13)
def sum_(*data_0):
    """ONNX Sum-6..13: element-wise sum of the inputs."""
    return _variadic(jnp.add, data_0)


@onnx_op("Mean", 6, 8, 13)
def mean(*data_0):
    """ONNX Mean-6..13: element-wise mean of the inputs."""
    total = _variadic(jnp.add, data_0)
    return (total / len(data_0)).astype(total.dtype)


# ---------------------------------------------------------------- math functions


@onnx_op("Sqrt", 6, 13)
def sqrt(X):
    """ONNX Sqrt-6..13: square root."""
    return jnp.sqrt(X)


@onnx_op("Exp", 6, 13)
def exp(input):
    """ONNX Exp-6..13: e ** input."""
    return activations.exp(input)


@onnx_op("Log", 6, 13)
def log(input):
    """ONNX Log-6..13: natural logarithm."""
    return jnp.log(input)


@onnx_op("Erf", 9, 13)
def erf(input):
    """ONNX Erf-9..13: the error function."""
    return jax.lax.erf(jnp.asarray(input))


@onnx_op("Sin", 7, 22)
def sin(input):
    """ONNX Sin-7..22."""
    return jnp.sin(input)


@onnx_op("Cos", 7, 22)
def cos(input):
    """ONNX Cos-7..22."""
    return jnp.cos(input)


@onnx_op("Tan", 7, 22)
def tan(input):
    """ONNX Tan-7..22."""
    return jnp.tan(input)


@onnx_op("Asin", 7, 22)
def asin(input):
    """ONNX Asin-7..22."""
    return jnp.arcsin(input)


@onnx_op("Acos", 7, 22)
def acos(input):
    """ONNX Acos-7..22."""
    return jnp.arccos(input)


@onnx_op("Atan", 7, 22)
def atan(input):
    """ONNX Atan-7..22."""
    return jnp.arctan(input)


@onnx_op("Sinh", 9, 22)
def sinh(input):
    """ONNX Sinh-9..22."""
    return jnp.sinh(input)


@onnx_op("Cosh", 9, 22)
def cosh(input):
    """ONNX Cosh-9..22."""
    return jnp.cosh(input)


@onnx_op("Asinh", 9, 22)
def asinh(input):
    """ONNX Asinh-9..22."""
    return jnp.arcsinh(input)


@onnx_op("Acosh", 9, 22)
def acosh(input):
    """ONNX Acosh-9..22."""
    return jnp.arccosh(input)


@onnx_op("Atanh", 9, 22)
def atanh(input):
    """ONNX Atanh-9..22."""
    return jnp.arctanh(input)


@onnx_op("IsNaN", 9, 13, 20)
def isnan(X):
    """ONNX IsNaN-9..20: true where X is NaN."""
    return jnp.isnan(X)


@onnx_op("IsInf", 10, 20)
def isinf(X, *, detect_negative=1, detect_positive=1):
    """ONNX IsInf-10..20: true where X is +inf / -inf (each selectable)."""
    X = jnp.asarray(X)
    positive = (X == jnp.inf) if detect_positive else jnp.zeros(X.shape, bool)
    negative = (X == -jnp.inf) if detect_negative else jnp.zeros(X.shape, bool)
    return positive | negative


# ---------------------------------------------------------------- comparison


def _compare(fn, A, B):
    if is_strings(A) or is_strings(B):
        return getattr(np, fn.__name__)(np.asarray(A), np.asarray(B)).astype(bool)
    return fn(A, B)


@onnx_op("Equal", 7, 11, 13, 19)
def equal(A, B):
    """ONNX Equal-7..19: A == B (numbers, bools or strings)."""
    return _compare(jnp.equal, A, B)


@onnx_op("Greater", 7, 9, 13)
def greater(A, B):
    """ONNX Greater-7..13: A > B."""
    return jnp.greater(A, B)


@onnx_op("GreaterOrEqual", 12, 16)
def greater_or_equal(A, B):
    """ONNX GreaterOrEqual-12..16: A >= B."""
    return jnp.greater_equal(A, B)


@onnx_op("Less", 7, 9, 13)
def less(A, B):
    """ONNX Less-7..13: A < B."""
    return jnp.less(A, B)


@onnx_op("LessOrEqual", 12, 16)
def less_or_equal(A, B):
    """ONNX LessOrEqual-12..16: A <= B."""
    return jnp.less_equal(A, B)


@onnx_op("Where", 9, 16)
def where(condition, X, Y):
    """ONNX Where-9..16: X where condition is true, else Y (numbers or strings)."""
    if is_strings(X) or is_strings(Y):
        if isinstance(condition, jax.core.Tracer):
            raise UnsupportedOpError(
                "Where: choosing between strings needs the condition while the model is "
                "compiled, but it depends on run-time data. Feed the condition as a constant."
            )
        return np.where(np.asarray(condition), X, Y)
    return jnp.where(condition, X, Y)


# ---------------------------------------------------------------- logic and bits


@onnx_op("And", 7)
def and_(A, B):
    """ONNX And-7: logical and."""
    return jnp.logical_and(A, B)


@onnx_op("Or", 7)
def or_(A, B):
    """ONNX Or-7: logical or."""
    return jnp.logical_or(A, B)


@onnx_op("Xor", 7)
def xor(A, B):
    """ONNX Xor-7: logical exclusive or."""
    return jnp.logical_xor(A, B)


@onnx_op("Not", 1)
def not_(X):
    """ONNX Not-1: logical negation."""
    return jnp.logical_not(X)


@onnx_op("BitwiseAnd", 18)
def bitwise_and(A, B):
    """ONNX BitwiseAnd-18."""
    return jnp.bitwise_and(A, B)


@onnx_op("BitwiseOr", 18)
def bitwise_or(A, B):
    """ONNX BitwiseOr-18."""
    return jnp.bitwise_or(A, B)


@onnx_op("BitwiseXor", 18)
def bitwise_xor(A, B):
    """ONNX BitwiseXor-18."""
    return jnp.bitwise_xor(A, B)


@onnx_op("BitwiseNot", 18)
def bitwise_not(X):
    """ONNX BitwiseNot-18: flip every bit."""
    return jnp.bitwise_not(X)


@onnx_op("BitShift", 11, 28)
def bit_shift(X, Y, *, direction=None):
    """ONNX BitShift-11..28: shift X by Y bits; right shifts of signed types extend
    the sign; shifts by a negative amount or by >= the bit width give the sign fill."""
    X, Y = jnp.broadcast_arrays(X, Y)
    if direction == "LEFT":
        shifted, fill = jax.lax.shift_left(X, Y), jnp.zeros_like(X)
    elif direction == "RIGHT":
        signed = jnp.issubdtype(X.dtype, jnp.signedinteger)
        shift = jax.lax.shift_right_arithmetic if signed else jax.lax.shift_right_logical
        shifted, fill = shift(X, Y), jnp.where(X < 0, -1, 0).astype(X.dtype)
    else:
        raise UnsupportedOpError(
            f"BitShift: expected attribute direction 'LEFT' or 'RIGHT', got {direction!r}."
        )
    valid = (Y >= 0) & (Y < jnp.iinfo(X.dtype).bits)
    return jnp.where(valid, shifted, fill)
