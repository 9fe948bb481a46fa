"""Incomplete gamma and beta functions: igamma, igammac, igamma_grad_a and
regularized_incomplete_beta, by the iterations JAX runs (jax/_src/lax/special.py), each
an ONNX Loop.

P(a, x) = x^a e^-x / Γ(a + 1) Σ_n x^n / ((a + 1)…(a + n)) is summed below x = max(1, a);
above it Q(a, x) = 1 - P comes from its continued fraction (at most 2000 steps), with the
convergents rescaled by eps when they grow past 1/eps (which side x = a and x = 1 take
differs by primitive, as in JAX). igamma_grad_a carries dP/da along either. I_x(a, b) is
Lentz's continued fraction (DLMF 8.17.22; 199 steps at most in float32, 599 in float64)
after the swap I_x(a, b) = 1 - I_{1-x}(b, a) where x >= (a + 1)/(a + b + 2).

Each iteration is a Loop that runs while some element has not converged (and the cap is
not reached); converged elements are frozen by Where, as in JAX, so the steps taken are
JAX's for every argument. Unrolling instead needs a term count that grows with a (the
series near x = a takes about 5 √a terms: 41 at a = 50, 160 at a = 1000), so a fixed
count is right only over a chosen domain, for a graph several times larger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from jax import ShapeDtypeStruct

from axonnx.converters.jaxpr_export.elementwise import log1p
from axonnx.converters.jaxpr_export.special import Math, digamma, lgamma
from axonnx.converters.jaxpr_export.tracer import FLAG, Tracer, loop_inputs, rule

__all__ = ["Field", "betainc", "igamma", "igamma_grad_a", "igammac"]

Step = Callable[["Field", str, list[str]], tuple[str, list[str]]]
"""(arithmetic in the Loop body, the 0-based iteration number, the carried values) →
(the condition to go on, the new carried values)."""

_GAMMA_STEPS = 2000


class Field(Math):
    """Element-wise arithmetic on ONNX names of one float dtype and one broadcast `shape`,
    with Loops whose carried values have that shape."""

    def __init__(self, t: Tracer, dtype: Any, shape: tuple):
        super().__init__(t, dtype)
        self.shape = shape

    def full(self, value: float, like: str) -> str:
        """`value` at the shape of `like`."""
        return self.t.op("Expand", [self.c(value), self.Shape(like)])

    def any(self, mask: str) -> str:
        """Whether some element of the boolean `mask` is true (a scalar)."""
        count = self.t.op("ReduceMax", [self.t.cast(mask, np.int32)], keepdims=0)
        return self.t.cast(count, np.bool_)

    def loop(self, go: str, init: list[str], masks: int, step: Step, cap: int | None) -> list:
        """The values `init` (the first `masks` of them boolean) after a Loop of `step`,
        entered if `go` and run while its condition holds, at most `cap` times."""
        kinds = [np.bool_] * masks + [self.dtype] * (len(init) - masks)
        avals = [ShapeDtypeStruct(self.shape, kind) for kind in kinds]

        def body(sub: Tracer, names: list[str]) -> list:
            again, new = step(Field(sub, self.dtype, self.shape), names[0], names[2:])
            return list(zip([again, *new], [FLAG, *avals]))

        graph, _ = self.t.subgraph("incomplete_body", loop_inputs(avals), body)
        trip = "" if cap is None else self.t.const(cap, np.int64, "cap")
        return self.t.w.op("Loop", [trip, go, *init], len(init), body=graph)

    def until_converged(self, enabled: str, init: list[str], step: Step, cap: int | None):
        """`init` after iterating `step` (whose condition is per element) on the `enabled`
        elements until each has converged: converged elements keep their values."""

        def masked(f: Field, i: str, state: list[str]) -> tuple[str, list[str]]:
            on, *old = state
            unconverged, new = step(f, i, old)
            on_next = f.And(on, unconverged)
            return f.any(on_next), [on_next, *[f.where(on, n, o) for n, o in zip(new, old)]]

        return self.loop(self.any(enabled), [enabled, *init], 1, masked, cap)[1:]

    def any_of(self, *masks: str) -> str:
        """The element-wise Or of `masks`."""
        result = masks[0]
        for mask in masks[1:]:
            result = self.Or(result, mask)
        return result


def _eps(f: Field) -> float:
    return float(np.finfo(f.dtype).eps)


def _gamma_prefix(f: Field, a: str, x: str) -> tuple[str, str]:
    """(x^a e^-x / Γ(a), whether its log underflows)."""
    log_ax = f.Sub(f.Sub(f.Mul(a, f.Log(x)), x), lgamma(f, a))
    underflow = f.Less(log_ax, float(-np.log(np.finfo(f.dtype).max)))
    return f.Exp(log_ax), underflow


def _series(f: Field, ax: str, a: str, x: str, enabled: str, derivative: bool) -> str:
    """P(a, x) (or dP/da) by the power series, on the `enabled` elements."""
    eps = _eps(f)

    def step(s: Field, _i: str, state: list[str]) -> tuple[str, list[str]]:
        r, c, ans, *grads = state
        r = s.Add(r, 1.0)
        ratio = s.Div(x, r)
        if derivative:
            dc_da, dans_da = grads
            dc_da = s.Sub(s.Mul(dc_da, ratio), s.Div(s.Mul(c, x), s.Mul(r, r)))
            grads = [dc_da, s.Add(dans_da, dc_da)]
        c = s.Mul(c, ratio)
        ans = s.Add(ans, c)
        test = s.Abs(s.Div(*grads)) if derivative else s.Div(c, ans)
        return s.Greater(test, eps), [r, c, ans, *grads]

    one, zero = f.full(1.0, x), f.full(0.0, x)
    init = [a, one, one] + [zero, zero] * derivative
    _, _, ans, *grads = f.until_converged(enabled, init, step, None)
    if not derivative:
        return f.Div(f.Mul(ans, ax), a)
    d_log_ax = f.Sub(f.Log(x), digamma(f, f.Add(a, 1.0)))
    return f.Div(f.Mul(ax, f.Add(f.Mul(ans, d_log_ax), grads[1])), a)


def _convergent(s: Field, z: str, yc: str, c: str, last: str, before: str, grads: list) -> list:
    """The next numerator (or denominator) of Q's continued fraction, and its d/da."""
    value = s.Sub(s.Mul(last, z), s.Mul(before, yc))
    if not grads:
        return [value]
    d_last, d_before = grads
    d_value = s.Add(s.Sub(s.Sub(s.Mul(d_last, z), last), s.Mul(d_before, yc)), s.Mul(before, c))
    return [value, d_value]


def _fraction_step(derivative: bool, eps: float) -> Step:
    """One step of Q's continued fraction on (ans, y, z, p_{k-1}, q_{k-1}, p_{k-2}, q_{k-2},
    [dp_{k-1}, dq_{k-1}, dp_{k-2}, dq_{k-2}, d ans])."""

    def step(s: Field, i: str, state: list[str]) -> tuple[str, list[str]]:
        ans, y, z, pkm1, qkm1, pkm2, qkm2, *grads = state
        c = s.t.cast(s.t.op("Add", [i, s.t.const(1, np.int64)]), s.dtype)
        y, z = s.Add(y, 1.0), s.Add(z, 2.0)
        yc = s.Mul(y, c)
        g = grads[:4] if derivative else []
        pk, *dpk = _convergent(s, z, yc, c, pkm1, pkm2, g[0::2])
        qk, *dqk = _convergent(s, z, yc, c, qkm1, qkm2, g[1::2])
        nonzero = s.Not(s.Equal(qk, 0.0))
        r = s.Div(pk, qk)
        change = s.where(nonzero, s.Abs(s.Div(s.Sub(ans, r), r)), s.c(1.0))
        ans = s.where(nonzero, r, ans)
        rest = []
        if derivative:
            d_ans = s.where(nonzero, s.Div(s.Sub(dpk[0], s.Mul(ans, dqk[0])), qk), grads[4])
            change = s.where(nonzero, s.Abs(s.Sub(d_ans, grads[4])), s.c(1.0))
            rest = [dpk[0], dqk[0], g[0], g[1], d_ans]
        rescale = s.Greater(s.Abs(pk), 1.0 / eps)
        scaled = [s.where(rescale, s.Mul(v, eps), v) for v in [pk, qk, pkm1, qkm1, *rest[:4]]]
        return s.Greater(change, eps), [ans, y, z, *scaled, *rest[4:]]

    return step


def _fraction(f: Field, ax: str, a: str, x: str, enabled: str, derivative: bool) -> str:
    """Q(a, x) (or dQ/da) by its continued fraction, on the `enabled` elements."""
    y = f.Sub(f.full(1.0, x), a)
    z = f.Add(f.Add(x, y), 1.0)
    pkm1, qkm1 = f.Add(x, 1.0), f.Mul(z, x)
    ans = f.Div(pkm1, qkm1)
    init = [ans, y, z, pkm1, qkm1, f.full(1.0, x), x]
    if derivative:
        zero = f.full(0.0, x)
        d_qkm1 = f.Neg(x)
        d_ans = f.Div(f.Sub(zero, f.Mul(ans, d_qkm1)), qkm1)
        init += [zero, d_qkm1, zero, zero, d_ans]
    step = _fraction_step(derivative, _eps(f))
    values = f.until_converged(enabled, init, step, _GAMMA_STEPS)
    if not derivative:
        return f.Mul(values[0], ax)
    d_log_ax = f.Sub(f.Log(x), digamma(f, a))
    return f.Mul(ax, f.Add(f.Mul(values[0], d_log_ax), values[-1]))


def _gamma_cases(f: Field, a: str, x: str) -> tuple[str, str, str, str]:
    """P's and Q's special arguments: (NaN: x < 0, a < 0, a = x = 0 or a NaN argument;
    x = 0; x = inf; a = 0)."""
    x_zero, a_zero = f.Equal(x, 0.0), f.Equal(a, 0.0)
    is_nan = f.Or(f.IsNaN(a), f.IsNaN(x))
    domain = f.any_of(f.Less(x, 0.0), f.Less(a, 0.0), f.And(a_zero, x_zero), is_nan)
    return domain, x_zero, f.Equal(x, f.c(np.inf)), a_zero


def igamma(f: Field, a: str, x: str) -> str:
    """P(a, x); 0 at x = 0, 1 at x = inf, NaN for x < 0, a < 0, a = x = 0 or NaN."""
    domain, x_zero, x_inf, _ = _gamma_cases(f, a, x)
    fraction = f.And(f.GreaterOrEqual(x, 1.0), f.Greater(x, a))
    ax, underflow = _gamma_prefix(f, a, x)
    enabled = f.Not(f.any_of(x_zero, domain, underflow, x_inf))
    q = _fraction(f, ax, a, x, f.And(enabled, fraction), False)
    p = _series(f, ax, a, x, f.And(enabled, f.Not(fraction)), False)
    out = f.where(fraction, f.Sub(1.0, q), p)
    out = f.where(x_zero, f.c(0.0), out)
    out = f.where(x_inf, f.c(1.0), out)
    return f.where(domain, f.c(np.nan), out)


def igammac(f: Field, a: str, x: str) -> str:
    """Q(a, x) = 1 - P(a, x); 0 at x = inf or a = 0, NaN where P is NaN."""
    domain, _, x_inf, a_zero = _gamma_cases(f, a, x)
    series = f.Or(f.Less(x, 1.0), f.Less(x, a))
    ax, underflow = _gamma_prefix(f, a, x)
    enabled = f.Not(f.any_of(domain, underflow, x_inf, a_zero))
    p = _series(f, ax, a, x, f.And(enabled, series), False)
    q = _fraction(f, ax, a, x, f.And(enabled, f.Not(series)), False)
    out = f.where(series, f.Sub(1.0, p), q)
    out = f.where(f.Or(x_inf, a_zero), f.c(0.0), out)
    return f.where(domain, f.c(np.nan), out)


def igamma_grad_a(f: Field, a: str, x: str) -> str:
    """dP(a, x)/da; 0 at x = 0, NaN for x < 0, a <= 0 or NaN."""
    is_nan, x_zero = f.Or(f.IsNaN(a), f.IsNaN(x)), f.Equal(x, 0.0)
    domain = f.Or(f.Less(x, 0.0), f.LessOrEqual(a, 0.0))
    fraction = f.And(f.Greater(x, 1.0), f.Greater(x, a))
    ax, underflow = _gamma_prefix(f, a, x)
    enabled = f.Not(f.any_of(x_zero, domain, underflow, is_nan))
    dq = _fraction(f, ax, a, x, f.And(enabled, fraction), True)
    dp = _series(f, ax, a, x, f.And(enabled, f.Not(fraction)), True)
    out = f.where(fraction, f.Neg(dq), dp)
    out = f.where(x_zero, f.c(0.0), out)
    return f.where(f.Or(domain, is_nan), f.c(np.nan), out)


def _beta_numerator(f: Field, k: str, a: str, b: str, x: str) -> str:
    """The k-th partial numerator of I_x(a, b)'s continued fraction (k >= 1, DLMF 8.17.23)."""
    t = f.t
    is_even = t.op("Equal", [t.op("Mod", [k, t.const(2, np.int64)]), t.const(0, np.int64)])
    half = t.op("Div", [t.op("Sub", [k, t.const(1, np.int64)]), t.const(2, np.int64)])
    m = t.cast(half, f.dtype)
    a_2m = f.Add(a, f.Mul(2.0, m))
    first = f.Div(f.Mul(f.Neg(f.Add(a, b)), x), f.Add(a, 1.0))
    even = f.Div(
        f.Mul(f.Mul(f.Neg(f.Add(a, m)), f.Add(f.Add(a, b), m)), x),
        f.Mul(a_2m, f.Add(a_2m, 1.0)),
    )
    even = f.where(f.Equal(m, 0.0), first, even)
    odd = f.Div(f.Mul(f.Mul(m, f.Sub(b, m)), x), f.Mul(f.Sub(a_2m, 1.0), a_2m))
    numerator = f.where(is_even, even, odd)
    return f.where(t.op("Equal", [k, t.const(1, np.int64)]), f.c(1.0), numerator)


def _lentz(f: Field, a: str, b: str, x: str) -> str:
    """I_x(a, b)'s continued fraction 1/(1 + d1/(1 + d2/…)) by Lentz's method: every element
    steps until all ratios are within eps/2 of 1 (or the cap)."""
    small = float(np.finfo(f.dtype).eps / 2)

    def off_zero(s: Field, v: str) -> str:
        return s.where(s.Less(s.Abs(v), small), s.c(small), v)

    def step(s: Field, i: str, state: list[str]) -> tuple[str, list[str]]:
        c, d, h = state
        k = s.t.op("Add", [i, s.t.const(1, np.int64)])
        numerator = _beta_numerator(s, k, a, b, x)
        c = off_zero(s, s.Add(s.Div(numerator, c), 1.0))
        d = s.Reciprocal(off_zero(s, s.Add(s.Mul(numerator, d), 1.0)))
        delta = s.Mul(c, d)
        unconverged = s.GreaterOrEqual(s.Abs(s.Sub(delta, 1.0)), small)
        return s.any(unconverged), [c, d, s.Mul(h, delta)]

    start = f.full(small, x)
    cap = 199 if f.dtype == np.float32 else 599
    return f.loop(f.t.const(True, np.bool_), [start, f.full(0.0, x), start], 0, step, cap)[2]


def betainc(f: Field, a: str, b: str, x: str) -> str:
    """I_x(a, b); 0 or 1 at the ends and where a or b is 0 or inf, NaN outside a, b >= 0,
    0 <= x <= 1."""
    a_zero = f.Or(f.Equal(a, 0.0), f.Equal(b, f.c(np.inf)))
    b_zero = f.Or(f.Equal(b, 0.0), f.Equal(a, f.c(np.inf)))
    x_zero, x_one = f.Equal(x, 0.0), f.Equal(x, 1.0)
    is_nan = f.any_of(f.IsNaN(a), f.IsNaN(b), f.IsNaN(x))
    zero = f.Or(f.And(b_zero, f.Not(x_one)), f.And(a_zero, x_zero))
    one = f.Or(f.And(a_zero, f.Not(x_zero)), f.And(b_zero, x_one))
    outside = f.any_of(f.Less(a, 0.0), f.Less(b, 0.0), f.Less(x, 0.0), f.Greater(x, 1.0))
    nan = f.any_of(outside, f.And(a_zero, b_zero), is_nan)
    direct = f.Less(x, f.Div(f.Add(a, 1.0), f.Add(f.Add(a, b), 2.0)))
    a, b, x = f.where(direct, a, b), f.where(direct, b, a), f.where(direct, x, f.Sub(1.0, x))
    fraction = _lentz(f, a, b, x)
    log_beta_b = f.Sub(lgamma(f, b), lgamma(f, f.Add(a, b)))
    log_beta = f.Add(lgamma(f, a), log_beta_b)
    log_rest = log1p(f.t, f.Neg(x), f.dtype)
    tiny = f.Exp(f.Sub(f.Mul(log_rest, b), log_beta_b))
    usual = f.Div(f.Exp(f.Sub(f.Add(f.Mul(f.Log(x), a), f.Mul(log_rest, b)), log_beta)), a)
    factor = f.where(f.Less(a, float(np.finfo(f.dtype).tiny * 2)), tiny, usual)
    result = f.Mul(fraction, factor)
    result = f.where(direct, result, f.Sub(1.0, result))
    result = f.where(zero, f.c(0.0), result)
    result = f.where(one, f.c(1.0), result)
    return f.where(nan, f.c(np.nan), result)


def _elementwise(t: Tracer, eqn, args: list[str], function: Callable[..., str]) -> str:
    """`function` on the arguments broadcast to the output's shape, in float32 for float16
    and bfloat16 (as JAX does)."""
    out = eqn.outvars[0].aval
    dtype = np.float32 if np.dtype(out.dtype).itemsize < 4 else np.dtype(out.dtype)
    args = [t.cast(n, dtype) if v.aval.dtype != dtype else n for v, n in zip(eqn.invars, args)]
    full = args[0]
    for name in args[1:]:
        full = t.op("Expand", [full, t.op("Shape", [name])])
    values = [
        t.op("Expand", [name, t.op("Shape", [full])]) if var.aval.shape != out.shape else name
        for var, name in zip(eqn.invars, args)
    ]
    result = function(Field(t, dtype, tuple(out.shape)), *values)
    return result if out.dtype == dtype else t.cast(result, out.dtype)


_LOOP = "an ONNX Loop while some element has not converged"


@rule(
    "igamma",
    onnx=f"series (x < 1 or x <= a) or 1 - continued fraction (2000 steps at most), each {_LOOP}",
)
def _igamma(t: Tracer, eqn, args: list[str]) -> str:
    return _elementwise(t, eqn, args, igamma)


@rule(
    "igammac",
    onnx=f"1 - series (x < 1 or x < a) or continued fraction (2000 steps at most), each {_LOOP}",
)
def _igammac(t: Tracer, eqn, args: list[str]) -> str:
    return _elementwise(t, eqn, args, igammac)


@rule(
    "igamma_grad_a", onnx=f"d/da carried along igamma's series or continued fraction, each {_LOOP}"
)
def _igamma_grad_a(t: Tracer, eqn, args: list[str]) -> str:
    return _elementwise(t, eqn, args, igamma_grad_a)


@rule(
    "regularized_incomplete_beta",
    onnx=f"Lentz's continued fraction after the symmetry swap, {_LOOP} (199 steps at most)",
)
def _betainc(t: Tracer, eqn, args: list[str]) -> str:
    return _elementwise(t, eqn, args, betainc)
