"""Special functions as float arithmetic: lgamma and digamma by XLA's own Lanczos
approximation (g = 7, eight terms) with Euler's reflection below 0.5."""

from __future__ import annotations

import math

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule

__all__ = ["Math", "digamma", "lgamma"]

_G = 7.0
_BASE = 0.99999999999980993227684700473478
_COEFFICIENTS = (
    676.520368121885098567009190444019,
    -1259.13921672240287047156078755283,
    771.3234287776530788486528258894,
    -176.61502916214059906584551354,
    12.507343278686904814458936853,
    -0.13857109526572011689554707,
    9.984369578019570859563e-6,
    1.50563273514931155834e-7,
)


class Math:
    """Element-wise arithmetic on ONNX names of one float dtype."""

    def __init__(self, t: Tracer, dtype):
        self.t, self.dtype = t, dtype

    def c(self, value: float) -> str:
        return self.t.const(value, self.dtype)

    def __getattr__(self, op_type: str):
        return lambda *args: self.t.op(
            op_type, [self.c(a) if isinstance(a, float) else a for a in args]
        )

    def where(self, cond: str, a: str, b: str) -> str:
        return self.t.op("Where", [cond, a, b])


def _lanczos(m: Math, x: str) -> tuple[str, ...]:
    """(reflect, z, the Lanczos sum, its derivative, log t, t) of XLA's Lgamma/Digamma for `x`."""
    reflect = m.Less(x, 0.5)
    z = m.where(reflect, m.Neg(x), m.Sub(x, 1.0))
    total, derivative = m.c(_BASE), m.c(0.0)
    for i, coefficient in enumerate(_COEFFICIENTS):
        term = m.Div(coefficient, m.Add(z, float(i + 1)))
        total = m.Add(total, term)
        derivative = m.Sub(derivative, m.Div(term, m.Add(z, float(i + 1))))
    t = m.Add(z, _G + 0.5)
    log_t = m.Add(math.log(_G + 0.5), m.Log(m.Add(m.Div(z, _G + 0.5), 1.0)))
    return reflect, z, total, derivative, log_t, t


@rule("lgamma", onnx="XLA's Lanczos approximation (g = 7) in Add/Div/Log, Sin for the reflection")
def _lgamma(t: Tracer, eqn, args: list[str]) -> str:
    return lgamma(Math(t, eqn.invars[0].aval.dtype), args[0])


def lgamma(m: Math, x: str) -> str:
    """log |Γ(x)| (XLA's Lanczos form, reflected below 0.5)."""
    reflect, z, total, _, log_t, big_t = _lanczos(m, x)
    power = m.Sub(m.Add(z, 0.5), m.Div(big_t, log_t))
    log_y = m.Add(m.Add(0.5 * math.log(2 * math.pi), m.Mul(power, log_t)), m.Log(total))
    magnitude = m.Abs(x)
    fraction = m.Sub(magnitude, m.Floor(magnitude))
    fraction = m.where(m.Greater(fraction, 0.5), m.Sub(1.0, fraction), fraction)
    denominator = m.Log(m.Sin(m.Mul(math.pi, fraction)))
    finite = m.Not(m.IsInf(denominator))
    reflection = m.where(
        finite, m.Sub(m.Sub(math.log(math.pi), denominator), log_y), m.Neg(denominator)
    )
    result = m.where(reflect, reflection, log_y)
    return m.where(m.IsInf(x), m.c(np.inf), result)


@rule("digamma", onnx="the derivative of XLA's Lanczos sum (g = 7), reflection by cot")
def _digamma(t: Tracer, eqn, args: list[str]) -> str:
    return digamma(Math(t, eqn.invars[0].aval.dtype), args[0])


def digamma(m: Math, x: str) -> str:
    """ψ(x) (the derivative of XLA's Lanczos form, NaN at the poles)."""
    reflect, _, total, derivative, log_t, big_t = _lanczos(m, x)
    y = m.Sub(m.Add(log_t, m.Div(derivative, total)), m.Div(_G, big_t))
    shifted = m.Add(x, m.Abs(m.Floor(m.Add(x, 0.5))))
    angle = m.Mul(math.pi, shifted)
    reflection = m.Sub(y, m.Div(m.Mul(math.pi, m.Cos(angle)), m.Sin(angle)))
    result = m.where(reflect, reflection, y)
    pole = m.And(m.LessOrEqual(x, 0.0), m.Equal(x, m.Floor(x)))
    return m.where(pole, m.c(np.nan), result)
