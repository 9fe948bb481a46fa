"""The Hurwitz zeta function and polygamma: Cephes' Euler–Maclaurin form, unrolled (ten
direct terms, the integral and twelve Bernoulli corrections), in float arithmetic."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.special import Math, digamma, lgamma
from axonnx.converters.jaxpr_export.tracer import Tracer, rule

_TERMS = 9
_BERNOULLI = (
    12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
    7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
    -4.5979787224074726105e15, 1.8152105401943546773e17, -7.1661652561756670113e18,
)  # fmt: skip
"""(2j)! / B_2j, j = 1..12."""


def zeta(m: Math, x: str, q: str) -> str:
    """ζ(x, q) = Σ_k (q + k)^-x for x > 1, q > 0 (inf at x = 1, NaN below)."""
    total = m.c(0.0)
    for k in range(_TERMS + 1):
        total = m.Add(total, m.Pow(m.Add(q, float(k)), m.Neg(x)))
    w = m.Add(q, float(_TERMS))
    b = m.Pow(w, m.Neg(x))
    total = m.Add(total, m.Sub(m.Div(m.Mul(b, w), m.Sub(x, 1.0)), m.Mul(b, 0.5)))
    a, k = m.c(1.0), 0.0
    for coefficient in _BERNOULLI:
        a, b = m.Mul(a, m.Add(x, k)), m.Div(b, w)
        total = m.Add(total, m.Div(m.Mul(a, b), coefficient))
        a, b, k = m.Mul(a, m.Add(x, k + 1.0)), m.Div(b, w), k + 2.0
    total = m.where(m.Less(x, 1.0), m.c(np.nan), total)
    return m.where(m.Equal(x, 1.0), m.c(np.inf), total)


@rule("zeta", onnx="Euler–Maclaurin, unrolled: Pow/Add/Div (x > 1, q > 0)")
def _zeta(t: Tracer, eqn, args: list[str]) -> str:
    return zeta(Math(t, eqn.invars[0].aval.dtype), *args)


@rule("polygamma", onnx="(-1)^(n+1) n! ζ(n + 1, x) (Exp of lgamma for n!), digamma at n = 0")
def _polygamma(t: Tracer, eqn, args: list[str]) -> str:
    m = Math(t, eqn.invars[0].aval.dtype)
    n, x = args
    factorial = m.Exp(lgamma(m, m.Add(n, 1.0)))
    odd = m.Equal(t.op("Mod", [n, m.c(2.0)], fmod=1), m.c(1.0))
    sign = m.where(odd, m.c(1.0), m.c(-1.0))
    higher = m.Mul(m.Mul(sign, factorial), zeta(m, m.Add(n, 1.0), x))
    return m.where(m.Equal(n, 0.0), digamma(m, x), higher)
