"""Householder reflections as LAPACK applies them, unrolled over the columns of a static
[..., m, n] matrix (m, n at most `MAX_SIZE`): qr (geqrf, or geqp3 with column pivoting,
then orgqr), householder_product (orgqr), hessenberg (gehrd) and tridiagonal (sytrd).

Each reflector is dlarfg's H = I - tau v vᵀ of a column (alpha, x): beta = -sign(alpha)
||(alpha, x)||, tau = (beta - alpha) / beta, v = (1, x / (alpha - beta)), and H = I (tau
= 0, beta = alpha) where x is zero. The matrices are carried whole: v is zero above its
leading 1, so MatMul with it touches only the trailing rows (or columns); constant column
masks keep the finished columns, and Where writes each column's packed (R or H, beta,
reflector) values. The steps are LAPACK's unblocked ones (dgeqr2, dlaqp2, dorg2r, dgehd2,
dsytd2): the blocked forms LAPACK takes for larger matrices differ only in rounding.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from axonnx.converters.jaxpr_export.special import Math
from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.converters.jaxpr_export.unrolled import MAX_SIZE, flip, slice_axis, swap_last
from axonnx.errors import UnsupportedOpError

__all__ = ["Matrices"]


class Matrices(Math):
    """Element-wise arithmetic and reflector steps on [*batch, rows, cols] ONNX values of
    one float dtype (`rows` is fixed, `cols` varies)."""

    def __init__(self, t: Tracer, dtype: Any, batch: tuple[int, ...], rows: int):
        super().__init__(t, dtype)
        self.batch, self.rows = batch, rows
        self.index = np.arange(rows).reshape(rows, 1)

    def mask(self, values: np.ndarray) -> str:
        """A boolean constant (a [rows, 1] or [1, cols] pattern)."""
        return self.t.const(values, np.bool_)

    def swap(self, x: str) -> str:
        """`x` with its last two axes swapped."""
        return swap_last(self.t, x, len(self.batch) + 2)

    def column(self, x: str, j: int) -> str:
        """Column j of `x`, [*batch, rows, 1]."""
        return slice_axis(self.t, x, -1, j, j + 1)

    def vector(self, items: list[str]) -> str:
        """The [*batch, 1, 1] values `items` as one [*batch, len(items)] vector."""
        if not items:
            return self.t.const(np.zeros((*self.batch, 0), self.dtype))
        joined = self.t.concat(items, -1)
        return self.t.op("Squeeze", [joined, self.t.ints([-2])])

    def reflector(self, column: str, start: int) -> tuple[str, str, str]:
        """dlarfg of rows start.. of `column` [*batch, rows, 1]: (v, tau, beta), v zero
        above `start` and 1 at it, tau and beta [*batch, 1, 1]."""
        alpha = slice_axis(self.t, column, -2, start, start + 1)
        x = self.Mul(column, self.t.const(self.index > start, self.dtype))
        squares = self.t.w.reduce("ReduceSumSquare", x, [-2])
        norm = self.Sqrt(self.Add(self.Mul(alpha, alpha), squares))
        plain = self.Equal(squares, 0.0)
        beta = self.where(plain, alpha, self.where(self.Less(alpha, 0.0), norm, self.Neg(norm)))
        tau = self.where(plain, self.c(0.0), self.Div(self.Sub(beta, alpha), beta))
        scale = self.where(plain, self.c(0.0), self.Reciprocal(self.Sub(alpha, beta)))
        v = self.Add(self.Mul(x, scale), self.t.const(self.index == start, self.dtype))
        return v, tau, beta

    def left(self, a: str, v: str, tau: str, cols: int, after: int) -> str:
        """H a on the columns of `a` [*batch, rows, cols] after column `after`:
        a - v (tau vᵀ a) there."""
        w = self.MatMul(self.swap(v), a)
        w = self.where(self.mask(_across(cols) > after), w, self.c(0.0))
        return self.Sub(a, self.Mul(v, self.Mul(tau, w)))

    def right(self, a: str, v: str, tau: str) -> str:
        """a H: a - (a v) (tau vᵀ)."""
        return self.Sub(a, self.Mul(self.MatMul(a, v), self.Mul(tau, self.swap(v))))

    def store(self, a: str, cols: int, j: int, column: str) -> str:
        """`a` [*batch, rows, cols] with its column j replaced by `column`."""
        return self.where(self.mask(_across(cols) == j), column, a)

    def packed(self, column: str, start: int, v: str, beta: str) -> str:
        """`column`'s rows above `start`, then beta, then the reflector below."""
        below = self.where(self.mask(self.index == start), beta, v)
        return self.where(self.mask(self.index < start), column, below)


def _across(cols: int) -> np.ndarray:
    """The column positions 0 … cols - 1 as a [1, cols] row."""
    return np.arange(cols).reshape(1, cols)


class _Norms(NamedTuple):
    """geqp3's column norms (partial, and at their last computation) and column order,
    each [*batch, 1, cols]."""

    partial: str
    exact: str
    order: str


def _matrix(t: Tracer, aval: Any, what: str) -> tuple[tuple[int, ...], int, int]:
    """(batch, rows, cols) of the static real [*batch, rows, cols] matrix `aval`."""
    *batch, rows, cols = t.static(aval, what)
    if max(rows, cols) > MAX_SIZE:
        raise UnsupportedOpError(
            f"{t.where}: {what} of a {rows}x{cols} matrix; it is unrolled, up to {MAX_SIZE} "
            "rows and columns"
        )
    if np.issubdtype(aval.dtype, np.complexfloating):
        raise UnsupportedOpError(
            f"{t.where}: {what} of {aval.dtype}: onnxruntime has no complex tensors; "
            "real float matrices are mapped"
        )
    return tuple(batch), rows, cols


def _geqrf(mx: Matrices, a: str, cols: int, pivoting: bool) -> tuple[str, list[str], str | None]:
    """geqrf (geqp3 with `pivoting`) of `a` [*batch, rows, cols]: R on and above the
    diagonal with the reflectors below, their taus, and the column order (or None)."""
    norms = _norms(mx, a, cols) if pivoting else None
    k = min(mx.rows, cols)
    taus = []
    for j in range(k):
        if norms is not None:
            a, norms = _pivot(mx, a, norms, j, cols)
        column = mx.column(a, j)
        v, tau, beta = mx.reflector(column, j)
        if j + 1 < k:  # later, tau = 0 or no columns are left
            a = mx.left(a, v, tau, cols, j)
        a = mx.store(a, cols, j, mx.packed(column, j, v, beta))
        if norms is not None and j + 1 < k:
            norms = _downdate(mx, a, norms, j, cols)
        taus.append(tau)
    return a, taus, None if norms is None else norms.order


def _norms(mx: Matrices, a: str, cols: int) -> _Norms:
    """The column norms of `a` and the identity order."""
    norms = mx.Sqrt(mx.t.w.reduce("ReduceSumSquare", a, [-2]))
    order = mx.t.op("Expand", [mx.t.const(_across(cols)), mx.t.ints([*mx.batch, 1, cols])])
    return _Norms(norms, norms, order)


def _pivot(mx: Matrices, a: str, norms: _Norms, j: int, cols: int) -> tuple[str, _Norms]:
    """dlaqp2's pivot: column j swapped with the first remaining one of largest norm."""
    positions = _across(cols)
    remaining = mx.where(mx.mask(positions >= j), norms.partial, mx.c(-1.0))
    p = mx.t.op("ArgMax", [remaining], axis=-1, keepdims=1)
    at = (mx.mask(positions == j), mx.Equal(mx.t.const(positions), p))
    swapped = [_swap(mx, x, j, p, at, 1) for x in norms]
    return _swap(mx, a, j, p, at, mx.rows), _Norms(*swapped)


def _swap(mx: Matrices, x: str, j: int, p: str, at: tuple[str, str], rows: int) -> str:
    """`x` [*batch, rows, cols] with its columns j and p swapped (`at`: where they are)."""
    spread = mx.t.op("Expand", [p, mx.t.ints([*mx.batch, rows, 1])])
    moved = mx.t.op("GatherElements", [x, spread], axis=-1)
    return mx.where(at[0], moved, mx.where(at[1], mx.column(x, j), x))


def _downdate(mx: Matrices, a: str, norms: _Norms, j: int, cols: int) -> _Norms:
    """dlaqp2's update of the remaining columns' norms after step j, recomputed from the
    rows below j where cancellation leaves the partial norm inaccurate."""
    ratio = mx.Div(mx.Abs(slice_axis(mx.t, a, -2, j, j + 1)), norms.partial)
    shrink = mx.Max(mx.Sub(1.0, mx.Mul(ratio, ratio)), 0.0)
    drift = mx.Div(norms.partial, norms.exact)
    tolerance = float(np.sqrt(np.finfo(mx.dtype).eps / 2))  # sqrt of LAPACK's eps
    stale = mx.LessOrEqual(mx.Mul(shrink, mx.Mul(drift, drift)), tolerance)
    below = mx.Mul(a, mx.t.const(mx.index > j, mx.dtype))
    fresh = mx.Sqrt(mx.t.w.reduce("ReduceSumSquare", below, [-2]))
    live = mx.And(mx.mask(_across(cols) > j), mx.Not(mx.Equal(norms.partial, 0.0)))
    partial = mx.where(stale, fresh, mx.Mul(norms.partial, mx.Sqrt(shrink)))
    return _Norms(
        mx.where(live, partial, norms.partial),
        mx.where(mx.And(live, stale), fresh, norms.exact),
        norms.order,
    )


def _orgqr(mx: Matrices, a: str, taus: list[str], cols: int) -> str:
    """orgqr: the first `cols` columns of H_0 … H_(k-1), the reflectors below the diagonal
    of a's first k = len(taus) columns."""
    shape = mx.t.ints([*mx.batch, mx.rows, cols])
    q = mx.t.op("Expand", [mx.t.const(np.eye(mx.rows, cols, dtype=mx.dtype)), shape])
    for i in reversed(range(len(taus))):
        unit = mx.t.const(mx.index == i, mx.dtype)
        v = mx.where(mx.mask(mx.index > i), mx.column(a, i), unit)
        if i + 1 < cols:
            q = mx.left(q, v, taus[i], cols, i)
        q = mx.store(q, cols, i, mx.Sub(unit, mx.Mul(taus[i], v)))
    return q


def _gehrd(mx: Matrices, a: str, n: int) -> tuple[str, list[str]]:
    """gehrd: H on and above the first subdiagonal, the reflectors below; the taus."""
    taus = []
    for i in range(n - 1):
        column = mx.column(a, i)
        v, tau, beta = mx.reflector(column, i + 1)
        if i + 2 < n:  # the last tau is 0
            a = mx.left(mx.right(a, v, tau), v, tau, n, i)
        a = mx.store(a, n, i, mx.packed(column, i + 1, v, beta))
        taus.append(tau)
    return a, taus


def _sytrd(mx: Matrices, a: str, n: int) -> tuple[str, list[str], list[str]]:
    """sytrd (lower) of the symmetric matrix in the lower triangle of `a`: the tridiagonal
    matrix on and below the diagonal with the reflectors below, the subdiagonal and taus
    (the strict upper triangle is garbage)."""
    s = mx.where(mx.mask(np.tril(np.ones((n, n), bool))), a, mx.swap(a))
    betas, taus = [], []
    for i in range(n - 1):
        column = mx.column(s, i)
        v, tau, beta = mx.reflector(column, i + 1)
        if i + 2 < n:
            s = _symmetric_update(mx, s, v, tau, i)
        s = mx.store(s, n, i, mx.packed(column, i + 1, v, beta))
        betas.append(beta)
        taus.append(tau)
    return s, betas, taus


def _symmetric_update(mx: Matrices, s: str, v: str, tau: str, i: int) -> str:
    """dsytd2's H s H: s - v wᵀ - w vᵀ, w = x - (tau / 2) (xᵀ v) v, x = s (tau v) below row i."""
    x = mx.where(mx.mask(mx.index > i), mx.MatMul(s, mx.Mul(tau, v)), mx.c(0.0))
    w = mx.Add(x, mx.Mul(mx.Mul(mx.Mul(-0.5, tau), mx.MatMul(mx.swap(x), v)), v))
    return mx.Sub(s, mx.Add(mx.Mul(v, mx.swap(w)), mx.Mul(w, mx.swap(v))))


@rule(
    "qr",
    onnx=f"geqrf (or geqp3: ArgMax, GatherElements) then orgqr, unrolled over the columns "
    f"(MatMul, ReduceSumSquare, Sqrt, Where; m, n ≤ {MAX_SIZE})",
)
def _qr(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    batch, rows, cols = _matrix(t, aval, "qr")
    mx = Matrices(t, aval.dtype, batch, rows)
    packed, taus, order = _geqrf(mx, args[0], cols, bool(eqn.params["pivoting"]))
    k = rows if eqn.params["full_matrices"] else min(rows, cols)
    q = _orgqr(mx, packed, taus, k)
    r = packed if k == rows else slice_axis(t, packed, -2, 0, k)
    r = mx.where(mx.mask(np.triu(np.ones((k, cols), bool))), r, mx.c(0.0))
    if order is None:
        return [q, r]
    return [q, r, t.cast(t.op("Squeeze", [order, t.ints([-2])]), eqn.outvars[2].aval.dtype)]


@rule(
    "householder_product",
    onnx=f"orgqr unrolled over the reflectors (MatMul, Mul, Where; m, n ≤ {MAX_SIZE})",
)
def _householder_product(t: Tracer, eqn, args: list[str]) -> str:
    aval = eqn.invars[0].aval
    batch, rows, cols = _matrix(t, aval, "householder_product")
    k = eqn.invars[1].aval.shape[-1]
    taus = [
        t.op("Unsqueeze", [slice_axis(t, args[1], -1, i, i + 1), t.ints([-1])]) for i in range(k)
    ]
    return _orgqr(Matrices(t, aval.dtype, batch, rows), args[0], taus, cols)


@rule(
    "hessenberg",
    onnx=f"gehrd unrolled over the columns (MatMul, ReduceSumSquare, Sqrt, Where; n ≤ {MAX_SIZE})",
)
def _hessenberg(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    batch, n, _ = _matrix(t, aval, "hessenberg")
    mx = Matrices(t, aval.dtype, batch, n)
    a, taus = _gehrd(mx, args[0], n)
    return [a, mx.vector(taus)]


@rule(
    "tridiagonal",
    onnx=f"sytrd unrolled over the columns (MatMul, ReduceSumSquare, Sqrt, Where; n ≤ "
    f"{MAX_SIZE}), reversing Slices for the upper triangle",
)
def _tridiagonal(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    batch, n, _ = _matrix(t, aval, "tridiagonal")
    mx = Matrices(t, aval.dtype, batch, n)
    lower = bool(eqn.params["lower"])
    a = args[0] if lower else flip(t, args[0], [-2, -1])  # the upper triangle, made lower
    s, betas, taus = _sytrd(mx, a, n)
    packed = mx.where(mx.mask(np.triu(np.ones((n, n), bool), 1)), a, s)
    d = t.w.reduce("ReduceSum", mx.Mul(s, t.const(np.eye(n, dtype=aval.dtype))), [-1], False)
    outputs = [packed, d, mx.vector(betas), mx.vector(taus)]
    if lower:
        return outputs
    return [flip(t, outputs[0], [-2, -1]), *(flip(t, x, [-1]) for x in outputs[1:])]
