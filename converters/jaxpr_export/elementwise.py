"""Element-wise primitives: arithmetic, comparisons, logic, math functions, casts."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, elem, rule
from axonnx.errors import UnsupportedOpError

_BINARY = {
    "add": "Add",
    "add_any": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "max": "Max",
    "min": "Min",
    "pow": "Pow",
    "eq": "Equal",
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
}
_LOGIC = {"and": "And", "or": "Or", "xor": "Xor", "not": "Not"}
_UNARY = {
    "exp": "Exp",
    "log": "Log",
    "tanh": "Tanh",
    "logistic": "Sigmoid",
    "neg": "Neg",
    "abs": "Abs",
    "sqrt": "Sqrt",
    "erf": "Erf",
    "sin": "Sin",
    "cos": "Cos",
    "tan": "Tan",
    "asin": "Asin",
    "acos": "Acos",
    "atan": "Atan",
    "sinh": "Sinh",
    "cosh": "Cosh",
    "asinh": "Asinh",
    "acosh": "Acosh",
    "atanh": "Atanh",
    "floor": "Floor",
    "ceil": "Ceil",
    "sign": "Sign",
    "copy": "Identity",
    "stop_gradient": "Identity",
}


@rule(*_BINARY, onnx="the ONNX op of the same name (Add, Sub, Mul, Div, Max, Min, Pow, Equal, …)")
def _binary(t: Tracer, eqn, args: list[str]) -> str:
    return t.op(_BINARY[eqn.primitive.name], args)


@rule(*_UNARY, onnx="the ONNX op of the same name (Exp, Log, Sigmoid, Sin, Asinh, Floor, …)")
def _unary(t: Tracer, eqn, args: list[str]) -> str:
    return t.op(_UNARY[eqn.primitive.name], args)


@rule(*_LOGIC, onnx="And/Or/Xor/Not on booleans, BitwiseAnd/Or/Xor/Not on integers")
def _logic(t: Tracer, eqn, args: list[str]) -> str:
    op_type = _LOGIC[eqn.primitive.name]
    if eqn.invars[0].aval.dtype != np.bool_:
        op_type = "Bitwise" + op_type
    return t.op(op_type, args)


@rule("ne", onnx="Not(Equal)")
def _ne(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Not", [t.op("Equal", args)])


@rule("rem", onnx="Mod with fmod=1 (the sign of the dividend)")
def _rem(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Mod", args, fmod=1)


@rule("rsqrt", onnx="Reciprocal(Sqrt)")
def _rsqrt(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Reciprocal", [t.op("Sqrt", args)])


@rule("square", onnx="Mul(x, x)")
def _square(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Mul", [args[0], args[0]])


def _one(t: Tracer, eqn, value: float = 1.0) -> str:
    return t.const(value, eqn.invars[0].aval.dtype, "one")


def _corrected(t: Tracer, x: str, u: str, one: str, exact: str, ratio: tuple[str, str]) -> str:
    """`x` where `u` rounds to 1, `exact` where `u` is infinite, else x · ratio[0] /
    ratio[1]: Kahan's correction of log(1 + x) and exp(x) - 1 for the rounding of `u`."""
    value = t.op("Div", [t.op("Mul", [x, ratio[0]]), ratio[1]])
    value = t.op("Where", [t.op("IsInf", [u]), exact, value])
    return t.op("Where", [t.op("Equal", [u, one]), x, value])


def log1p(t: Tracer, x: str, dtype) -> str:
    """log(1 + x) of the `dtype` values `x`, accurate for small x (Kahan's correction)."""
    one = t.const(1, dtype, "one")
    u = t.op("Add", [x, one])
    log = t.op("Log", [u])
    return _corrected(t, x, u, one, log, (log, t.op("Sub", [u, one])))


@rule("log1p", onnx="Log(1 + x) · x / ((1 + x) - 1), x where 1 + x rounds to 1 (Kahan)")
def _log1p(t: Tracer, eqn, args: list[str]) -> str:
    return log1p(t, args[0], eqn.invars[0].aval.dtype)


@rule("expm1", onnx="(Exp(x) - 1) · x / Log(Exp(x)), x where Exp(x) rounds to 1 (Kahan)")
def _expm1(t: Tracer, eqn, args: list[str]) -> str:
    one = _one(t, eqn)
    u = t.op("Exp", args)
    less = t.op("Sub", [u, one])
    value = _corrected(t, args[0], u, one, u, (less, t.op("Log", [u])))
    return t.op("Where", [t.op("Equal", [u, t.const(0, eqn.invars[0].aval.dtype)]), less, value])


@rule("exp2", onnx="Pow(2, x)")
def _exp2(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Pow", [_one(t, eqn, 2.0), args[0]])


@rule("erfc", onnx="Sub(1, Erf(x))")
def _erfc(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Sub", [_one(t, eqn), t.op("Erf", args)])


@rule("cbrt", onnx="Sign(x) * Pow(Abs(x), 1/3)")
def _cbrt(t: Tracer, eqn, args: list[str]) -> str:
    root = t.op("Pow", [t.op("Abs", args), _one(t, eqn, 1 / 3)])
    return t.op("Mul", [t.op("Sign", args), root])


@rule("is_finite", onnx="Not(IsInf(x) or IsNaN(x))")
def _is_finite(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Not", [t.op("Or", [t.op("IsInf", args), t.op("IsNaN", args)])])


@rule("round", onnx="Round (to nearest even) or Sign(x)·Floor(|x| + 1/2) (away from zero)")
def _round(t: Tracer, eqn, args: list[str]) -> str:
    if int(eqn.params.get("rounding_method", 0)) == 1:
        return t.op("Round", args)
    half = t.op("Add", [t.op("Abs", args), _one(t, eqn, 0.5)])
    return t.op("Mul", [t.op("Sign", args), t.op("Floor", [half])])


@rule("atan2", onnx="Atan(y/x) with the quadrant fixed by Where")
def _atan2(t: Tracer, eqn, args: list[str]) -> str:
    y, x = args
    zero = _one(t, eqn, 0.0)
    safe = t.op("Where", [t.op("Equal", [x, zero]), _one(t, eqn), x])
    base = t.op("Atan", [t.op("Div", [y, safe])])
    pi = _one(t, eqn, np.pi)
    negative_x = t.op("Less", [x, zero])
    lower = t.op("Less", [y, zero])
    shift = t.op("Where", [lower, t.op("Neg", [pi]), pi])
    left = t.op("Add", [base, shift])
    on_axis = t.op("Where", [lower, _one(t, eqn, -np.pi / 2), _one(t, eqn, np.pi / 2)])
    on_axis = t.op("Where", [t.op("Equal", [y, zero]), zero, on_axis])
    result = t.op("Where", [negative_x, left, base])
    return t.op("Where", [t.op("Equal", [x, zero]), on_axis, result])


# Giles, "Approximating the erfinv function" (single precision), as XLA computes it.
_ERF_INV_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERF_INV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)  # fmt: skip


@rule("erf_inv", onnx="Giles' polynomial approximation (as XLA), ±inf at ±1")
def _erf_inv(t: Tracer, eqn, args: list[str]) -> str:
    (x,) = args
    one = _one(t, eqn)
    w = t.op("Neg", [t.op("Log", [t.op("Mul", [t.op("Sub", [one, x]), t.op("Add", [one, x])])])])
    central = _horner(t, eqn, _ERF_INV_CENTRAL, t.op("Sub", [w, _one(t, eqn, 2.5)]))
    tail = _horner(t, eqn, _ERF_INV_TAIL, t.op("Sub", [t.op("Sqrt", [w]), _one(t, eqn, 3.0)]))
    p = t.op("Where", [t.op("Less", [w, _one(t, eqn, 5.0)]), central, tail])
    result = t.op("Mul", [p, x])
    edge = t.op("Equal", [t.op("Abs", [x]), one])
    return t.op("Where", [edge, t.op("Mul", [x, _one(t, eqn, np.inf)]), result])


def _horner(t: Tracer, eqn, coefficients: tuple, w: str) -> str:
    p = _one(t, eqn, coefficients[0])
    for c in coefficients[1:]:
        p = t.op("Add", [t.op("Mul", [p, w]), _one(t, eqn, c)])
    return p


@rule("integer_pow", onnx="a chain of Mul (exponents 1 to 4), else Pow")
def _integer_pow(t: Tracer, eqn, args: list[str]) -> str:
    y = int(eqn.params["y"])
    if 1 <= y <= 4:
        result = args[0]
        for _ in range(y - 1):
            result = t.op("Mul", [result, args[0]])
        return result
    return t.op("Pow", [args[0], t.const(y, eqn.invars[0].aval.dtype, "exponent")])


@rule("convert_element_type", onnx="Cast")
def _convert(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Cast", args, to=elem(eqn.params["new_dtype"]))


@rule("reduce_precision", onnx="Cast to bfloat16/float16 and back (float32: Identity)")
def _reduce_precision(t: Tracer, eqn, args: list[str]) -> str:
    bits = (int(eqn.params["exponent_bits"]), int(eqn.params["mantissa_bits"]))
    narrow = {(8, 7): ml_dtypes.bfloat16, (5, 10): np.float16}.get(bits)
    dtype = eqn.invars[0].aval.dtype
    if bits == (np.finfo(dtype).nexp, np.finfo(dtype).nmant) or narrow is None and bits[1] > 23:
        return t.op("Identity", args)
    if narrow is None:
        raise UnsupportedOpError(
            f"{t.where}: reduce_precision to {bits} exponent/mantissa bits has no ONNX type; "
            "supported: (8, 7) bfloat16, (5, 10) float16"
        )
    return t.cast(t.cast(args[0], narrow), dtype)


@rule("select_n", onnx="Where (a chain of Where for more than two cases)")
def _select_n(t: Tracer, eqn, args: list[str]) -> str:
    predicate, *cases = args
    if eqn.invars[0].aval.dtype == np.bool_:
        return t.op("Where", [predicate, cases[1], cases[0]])
    index = t.cast(predicate, np.int64)
    result = cases[-1]
    for k in range(len(cases) - 2, -1, -1):
        chosen = t.op("Equal", [index, t.const(k, np.int64)])
        result = t.op("Where", [chosen, cases[k], result])
    return result


@rule("clamp", onnx="Max(Min(x, high), low)")
def _clamp(t: Tracer, eqn, args: list[str]) -> str:
    low, x, high = args
    return t.op("Max", [t.op("Min", [x, high]), low])


def _logical_shift(t: Tracer, eqn, x: str, y: str, direction: str) -> str:
    dtype = np.dtype(eqn.invars[0].aval.dtype)
    unsigned = np.dtype(f"uint{dtype.itemsize * 8}")
    shifted = t.op("BitShift", [t.cast(x, unsigned), t.cast(y, unsigned)], direction=direction)
    return t.cast(shifted, dtype)


@rule("shift_left", "shift_right_logical", onnx="BitShift on the unsigned reinterpretation")
def _shift(t: Tracer, eqn, args: list[str]) -> str:
    direction = "LEFT" if eqn.primitive.name == "shift_left" else "RIGHT"
    return _logical_shift(t, eqn, *args, direction)


@rule("shift_right_arithmetic", onnx="BitShift RIGHT, with ones shifted in for negatives")
def _shift_arithmetic(t: Tracer, eqn, args: list[str]) -> str:
    x, y = args
    plain = _logical_shift(t, eqn, x, y, "RIGHT")
    flipped = t.op("BitwiseNot", [_logical_shift(t, eqn, t.op("BitwiseNot", [x]), y, "RIGHT")])
    negative = t.op("Less", [x, t.const(0, eqn.invars[0].aval.dtype)])
    return t.op("Where", [negative, flipped, plain])
