"""Triangular solves, Cholesky factors and LU pivots as permutations, unrolled over
the rows (or columns) of a static matrix of at most `MAX_SIZE`: forward substitution
with Slice, MatMul, Div and Concat; the pivots' swaps with GatherElements and Where."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.converters.jaxpr_export.unrolled import (
    MAX_SIZE,
    flip,
    slice_axis,
    static_size,
    swap_last,
)


def _forward(t: Tracer, a: str, b: str, n: int, unit: bool) -> str:
    """x with a x = b, `a` lower triangular [..., n, n], `b` [..., n, k]."""
    rows: list[str] = []
    for i in range(n):
        value = slice_axis(t, b, -2, i, i + 1)
        if rows:
            known = t.concat(rows, -2)
            coefficients = slice_axis(t, slice_axis(t, a, -2, i, i + 1), -1, 0, i)
            value = t.op("Sub", [value, t.op("MatMul", [coefficients, known])])
        if not unit:
            pivot = slice_axis(t, slice_axis(t, a, -2, i, i + 1), -1, i, i + 1)
            value = t.op("Div", [value, pivot])
        rows.append(value)
    return t.concat(rows, -2)


@rule(
    "triangular_solve",
    onnx=f"forward substitution unrolled over the rows (Slice, MatMul, Div, Concat; "
    f"n ≤ {MAX_SIZE}), Transpose and reversing Slices for the other cases",
)
def _triangular_solve(t: Tracer, eqn, args: list[str]) -> str:
    p = eqn.params
    a, b = args
    ndim = eqn.invars[0].aval.ndim
    n = static_size(t, eqn.invars[0].aval, "triangular_solve")
    lower = bool(p["lower"])
    if p["transpose_a"]:
        a, lower = swap_last(t, a, ndim), not lower
    if not p["left_side"]:  # x a = b  <=>  a^T x^T = b^T
        a, b, lower = swap_last(t, a, ndim), swap_last(t, b, ndim), not lower
    if not lower:  # reversing rows and columns makes it lower
        a, b = flip(t, a, [ndim - 2, ndim - 1]), flip(t, b, [ndim - 2])
    x = _forward(t, a, b, n, bool(p["unit_diagonal"]))
    if not lower:
        x = flip(t, x, [ndim - 2])
    return x if p["left_side"] else swap_last(t, x, ndim)


@rule(
    "cholesky",
    onnx=f"the lower factor column by column (Slice, MatMul, Sqrt, Div, Concat; n ≤ {MAX_SIZE})",
)
def _cholesky(t: Tracer, eqn, args: list[str]) -> str:
    aval = eqn.invars[0].aval
    n = static_size(t, aval, "cholesky")
    a, dtype = args[0], aval.dtype
    columns: list[str] = []
    for j in range(n):
        v = slice_axis(t, a, -1, j, j + 1)
        if columns:
            done = t.concat(columns, -1)
            row = swap_last(t, slice_axis(t, done, -2, j, j + 1), aval.ndim)
            v = t.op("Sub", [v, t.op("MatMul", [done, row])])
        root = t.op("Sqrt", [slice_axis(t, v, -2, j, j + 1)])
        below = (np.arange(n) >= j).astype(dtype).reshape(n, 1)
        columns.append(t.op("Mul", [t.op("Div", [v, root]), t.const(below)]))
    return t.concat(columns, -1)


@rule(
    "lu_pivots_to_permutation",
    onnx="the row swaps unrolled over the pivots (GatherElements, Equal, Where)",
)
def _lu_pivots(t: Tracer, eqn, args: list[str]) -> str:
    aval = eqn.invars[0].aval
    k = t.static(aval, "lu_pivots_to_permutation")[-1]
    size = int(eqn.params["permutation_size"])
    dtype = eqn.outvars[0].aval.dtype
    positions = t.const(np.arange(size, dtype=dtype))
    shape = t.op("Concat", [t.op("Shape", [args[0]], end=-1), t.ints([size])], axis=0)
    permutation = t.op("Expand", [positions, shape])
    pivots = t.cast(args[0], dtype) if aval.dtype != dtype else args[0]
    for i in range(min(k, size)):
        j = slice_axis(t, pivots, -1, i, i + 1)
        at_i = slice_axis(t, permutation, -1, i, i + 1)
        at_j = t.op("GatherElements", [permutation, t.cast(j, np.int64)], axis=-1)
        swapped = t.op("Where", [t.op("Equal", [positions, j]), at_i, permutation])
        is_i = t.op("Equal", [positions, t.const(i, dtype)])
        permutation = t.op("Where", [is_i, at_j, swapped])
    return permutation
