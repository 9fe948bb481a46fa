"""LU with partial pivoting, rank-one Cholesky updates and tridiagonal solves.

`lu` and `cholesky_update` are unrolled over the columns of a static matrix (at most
`MAX_SIZE` steps): Slice, GatherElements, Where and elementwise arithmetic per step.
`tridiagonal_solve` is two ONNX Scans over the rows, LAPACK gtsv's elimination with
partial pivoting and then its back substitution, so its graph does not grow with n.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from jax import ShapeDtypeStruct

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.converters.jaxpr_export.unrolled import MAX_SIZE, slice_axis, static_size
from axonnx.errors import UnsupportedOpError


def _unsqueeze(t: Tracer, x: str, axis: int = -1) -> str:
    return t.op("Unsqueeze", [x, t.ints([axis])])


# LU (getrf)


def _interchange(t: Tracer, rows: str, p: str, r: int, width: int) -> tuple[str, str | None]:
    """Row `p` ([..., 1, 1] int64) of `rows` [..., r, width], and the rows after the first
    with the first put in row p's place ([..., r - 1, width]; None when r = 1): LAPACK's
    interchange of the pivot row with the first."""
    index = t.op("Expand", [p, t.ints([1, width])])
    chosen = t.op("GatherElements", [rows, index], axis=-2)
    if r == 1:
        return chosen, None
    at_p = t.op("Equal", [t.const(np.arange(r, dtype=np.int64).reshape(r, 1)), p])
    moved = t.op("Where", [at_p, slice_axis(t, rows, -2, 0, 1), rows])
    return chosen, slice_axis(t, moved, -2, 1, r)


def _eliminate(t: Tracer, j: int, pivot_row: str, below: str, n: int, dtype: np.dtype) -> str:
    """The rows `below` the pivot row of step `j` after it: column j holds the multipliers
    (times the pivot's reciprocal, none for a zero pivot, as getrf), the later columns
    lose their multiple of the pivot row."""
    pivot = slice_axis(t, pivot_row, -1, j, j + 1)
    is_zero = t.op("Equal", [pivot, t.const(0, dtype)])
    scale = t.op("Where", [is_zero, t.const(1, dtype), t.op("Reciprocal", [pivot])])
    multipliers = t.op("Mul", [slice_axis(t, below, -1, j, j + 1), scale])
    parts = [slice_axis(t, below, -1, 0, j), multipliers] if j else [multipliers]
    if j + 1 < n:
        update = t.op("Mul", [multipliers, slice_axis(t, pivot_row, -1, j + 1, n)])
        parts.append(t.op("Sub", [slice_axis(t, below, -1, j + 1, n), update]))
    return t.concat(parts, -1)


@rule(
    "lu",
    onnx=f"getrf's partial pivoting unrolled over the min(m, n) ≤ {MAX_SIZE} columns "
    "(ArgMax of Abs, GatherElements and Where for the row interchange, Reciprocal, Mul, "
    "Sub, Concat)",
)
def _lu(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    *batch, m, n = t.static(aval, "lu")
    k = min(m, n)
    if k > MAX_SIZE:
        raise UnsupportedOpError(
            f"{t.where}: lu of a {m}x{n} matrix takes {k} elimination steps; it is "
            f"unrolled, up to {MAX_SIZE}"
        )
    rest = args[0]
    order = t.const(np.broadcast_to(np.arange(m, dtype=np.int64).reshape(m, 1), (*batch, m, 1)))
    rows, indices, pivots = [], [], []
    for j in range(k):
        column = t.op("Abs", [slice_axis(t, rest, -1, j, j + 1)])
        p = t.op("ArgMax", [column], axis=-2, keepdims=1)  # the first largest, as i?amax
        pivots.append(t.op("Add", [p, t.const(j, np.int64)]))
        row, rest = _interchange(t, rest, p, m - j, n)
        index, order = _interchange(t, order, p, m - j, 1)
        rows.append(row)
        indices.append(index)
        if rest is not None:
            rest = _eliminate(t, j, row, rest, n, aval.dtype)
    if m > k:
        rows.append(rest)
        indices.append(order)
    pivot_dtype, permutation_dtype = (v.aval.dtype for v in eqn.outvars[1:])
    pivot_shape = t.ints([*batch, k])
    permutation_shape = t.ints([*batch, m])
    return [
        t.concat(rows, -2),
        t.cast(t.op("Reshape", [t.concat(pivots, -1), pivot_shape]), pivot_dtype),
        t.cast(t.op("Reshape", [t.concat(indices, -2), permutation_shape]), permutation_dtype),
    ]


# Rank-one Cholesky update


def _rotation(t: Tracer, x: str, y: str, dtype: np.dtype) -> tuple[str, str]:
    """(c, s) of the Givens rotation that zeroes y against x, scaled by max(|x|, |y|)
    first as lax.linalg's drotg; (1, 0) where y = 0."""
    ax, ay = t.op("Abs", [x]), t.op("Abs", [y])
    scale = t.op("Where", [t.op("Greater", [ax, ay]), ax, ay])
    xs, ys = t.op("Div", [x, scale]), t.op("Div", [y, scale])
    norm = t.op("Sqrt", [t.op("Add", [t.op("Mul", [xs, xs]), t.op("Mul", [ys, ys])])])
    inverse = t.op("Div", [t.const(1, dtype), norm])
    flat = t.op("Equal", [y, t.const(0, dtype)])
    c = t.op("Where", [flat, t.const(1, dtype), t.op("Mul", [xs, inverse])])
    s = t.op("Where", [flat, t.const(0, dtype), t.op("Mul", [t.op("Neg", [ys]), inverse])])
    return c, s


@rule(
    "cholesky_update",
    onnx=f"one Givens rotation per row of R against w, unrolled over n ≤ {MAX_SIZE} "
    "(Abs, Where, Div, Sqrt, Mul, Sub, Concat)",
)
def _cholesky_update(t: Tracer, eqn, args: list[str]) -> str:
    aval = eqn.invars[0].aval
    n = static_size(t, aval, "cholesky_update")
    r, w = args[0], _unsqueeze(t, args[1], -2)
    rows = []
    for k in range(n):
        row = slice_axis(t, r, -2, k, k + 1)
        c, s = _rotation(
            t, slice_axis(t, row, -1, k, k + 1), slice_axis(t, w, -1, k, k + 1), aval.dtype
        )
        rows.append(t.op("Sub", [t.op("Mul", [c, row]), t.op("Mul", [s, w])]))
        if k + 1 < n:
            w = t.op("Add", [t.op("Mul", [c, w]), t.op("Mul", [s, row])])
    return t.concat(rows, -2)


# Tridiagonal solve (gtsv)

Body = Callable[[Tracer, list[str]], list[str]]


def _gtsv_step(sub: Tracer, names: list[str], zero: str) -> list[str]:
    """One elimination step of gtsv on rows i (the carried d, du, b) and i + 1 (the
    scanned dl, d, du, b): row i + 1 next, then row i final (d, du, fill, b)."""
    d_i, du_i, b_i, dl_n, d_n, du_n, b_n = names
    swap = sub.op("Less", [sub.op("Abs", [d_i]), sub.op("Abs", [dl_n])])
    keep = sub.op("Div", [dl_n, d_i])
    turn = sub.op("Div", [d_i, dl_n])
    wide = _unsqueeze(sub, swap)

    def pick(cond: str, swapped: str, kept: str) -> str:
        return sub.op("Where", [cond, swapped, kept])

    def less(x: str, factor: str, y: str, rows: bool = False) -> str:
        return sub.op("Sub", [x, sub.op("Mul", [_unsqueeze(sub, factor) if rows else factor, y])])

    return [
        pick(swap, less(du_i, turn, d_n), less(d_n, keep, du_i)),
        pick(swap, sub.op("Mul", [sub.op("Neg", [turn]), du_n]), du_n),
        pick(wide, less(b_i, turn, b_n, rows=True), less(b_n, keep, b_i, rows=True)),
        pick(swap, dl_n, d_i),
        pick(swap, d_n, du_i),
        pick(swap, du_n, zero),
        pick(wide, b_n, b_i),
    ]


def _back_step(sub: Tracer, names: list[str]) -> list[str]:
    """x_i = (b_i - du_i x_{i+1} - fill_i x_{i+2}) / d_i, as gtsv's back substitution."""
    x1, x2, d, du, fill, b = names
    rest = sub.op("Sub", [b, sub.op("Mul", [_unsqueeze(sub, du), x1])])
    rest = sub.op("Sub", [rest, sub.op("Mul", [_unsqueeze(sub, fill), x2])])
    x = sub.op("Div", [rest, _unsqueeze(sub, d)])
    return [x, x1, x]


def _scan(
    t: Tracer, name: str, states: list, inputs: list, outs: list, body: Body, **attrs
) -> list[str]:
    """An ONNX Scan: `states` and `inputs` are (value, aval) pairs, `outs` the avals of
    the body's outputs (the states, then the scanned outputs), `body` maps the body's
    tracer and input names to its outputs."""
    pairs = states + inputs
    graph, _ = t.subgraph(
        name,
        [(f"{name}_in", aval) for _, aval in pairs],
        lambda sub, names: list(zip(body(sub, names), outs)),
    )
    values = [value for value, _ in pairs]
    return t.w.op("Scan", values, len(outs), body=graph, num_scan_inputs=len(inputs), **attrs)


def _gtsv_eliminate(
    t: Tracer, args: list[str], n: int, diag: ShapeDtypeStruct, row: ShapeDtypeStruct, zeros: str
) -> list[str]:
    """gtsv's elimination as a Scan over rows 1..n-1: the final (d, du, fill, b) of the
    upper factor, [..., n] (b [..., n, k])."""
    _, d, du, b = args
    axis, zero = len(diag.shape), t.const(0, diag.dtype)
    first = [
        (t.op("Gather", [x, t.const(0, np.int64)], axis=axis), a)
        for x, a in zip((d, du, b), (diag, diag, row))
    ]
    later = [(slice_axis(t, x, axis, 1, n), a) for x, a in zip(args, (diag, diag, diag, row))]
    out = _scan(
        t,
        "gtsv_eliminate",
        first,
        later,
        [diag, diag, row, diag, diag, diag, row],
        lambda sub, names: _gtsv_step(sub, names, zero),
        scan_input_axes=[axis] * 4,
        scan_output_axes=[axis] * 4,
    )
    last = [_unsqueeze(t, v, axis) for v in out[:3]]
    ends = [last[0], last[1], zeros, last[2]]
    return [t.concat([done, end], axis) for done, end in zip(out[3:], ends)]


@rule(
    "tridiagonal_solve",
    onnx="LAPACK gtsv: a Scan over the rows for the elimination with partial pivoting "
    "(Abs, Less, Div, Where), a reverse Scan for the back substitution; any n",
)
def _tridiagonal_solve(t: Tracer, eqn, args: list[str]) -> str:
    if eqn.params.get("perturb_singular"):
        raise UnsupportedOpError(
            f"{t.where}: tridiagonal_solve with perturb_singular=True; mapped: "
            "perturb_singular=False (LAPACK gtsv)"
        )
    b_aval = eqn.invars[3].aval
    *batch, n, k = t.static(b_aval, "tridiagonal_solve")
    dtype, axis = b_aval.dtype, len(batch)
    diag, row = ShapeDtypeStruct(tuple(batch), dtype), ShapeDtypeStruct((*batch, k), dtype)
    dl, d, du, b = args
    zeros = t.const(np.zeros((*batch, 1), dtype))
    if n == 1:
        factor = [d, zeros, zeros, b]
    else:  # gtsv reads du[..., :n-1] only
        du = t.concat([slice_axis(t, du, -1, 0, n - 1), zeros], -1)
        factor = _gtsv_eliminate(t, [dl, d, du, b], n, diag, row, zeros)
    start = t.const(np.zeros((*batch, k), dtype))
    x = _scan(
        t,
        "gtsv_substitute",
        [(start, row), (start, row)],
        list(zip(factor, [diag, diag, diag, row])),
        [row, row, row],
        _back_step,
        scan_input_axes=[axis] * 4,
        scan_input_directions=[1] * 4,
        scan_output_axes=[axis],
        scan_output_directions=[1],
    )[2]
    smallest = t.w.reduce("ReduceMin", t.op("Abs", [factor[0]]), [axis])
    singular = _unsqueeze(t, t.op("Equal", [smallest, t.const(0, dtype)]))
    return t.op("Where", [singular, t.const(np.nan, dtype), x])  # gtsv's info > 0
