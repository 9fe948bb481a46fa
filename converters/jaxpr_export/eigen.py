"""Symmetric eigendecompositions (eigh) and singular value decompositions (svd) of static
real matrices, by parallel cyclic Jacobi rotations in one ONNX Loop; Schur forms and
eigendecompositions (eig, complex results) of 1×1 matrices.

A sweep pairs every index with every other once, in the round-robin (circle) order: the
n indices (padded to an even count) sit in two rows of n/2 slots, slot k facing slot
n/2 + k, and between rounds every index but the first moves one slot along the circle.
The matrices are kept in the order of the slots, so one round rotates n/2 disjoint pairs
with elementwise ops on the two halves, and the move to the next round is one constant
Gather; after n - 1 rounds every index is back in place. The Loop ends after the first
sweep whose rotations were all negligible (|a_pq| ≤ ε‖A‖ for eigh, |a_pᵀa_q| ≤
√m ε ‖a_p‖‖a_q‖ for svd), or after `MAX_SWEEPS`.

- eigh: two-sided rotations of the symmetric matrix A ← JᵀAJ, V ← VJ.
- svd: one-sided (Hestenes) rotations W ← WJ, V ← VJ of the columns of the matrix (of
  its transpose when it is wide) until they are orthogonal; the singular values are
  their norms, the left vectors the normalised columns. Left vectors that the columns do
  not give (full_matrices, zero singular values) are the eigenvectors of I - UUᵀ for
  the eigenvalue 1.

Eigen- and singular vectors are unique only up to sign (and within repeated values), so
they match LAPACK's up to those choices. In float32 the rounding of the many rotations
adds up: errors grow like √(sweeps·n)·ε‖A‖ (eigh about 5 ε‖A‖ at n = 64; svd about
30 ε‖A‖, LAPACK about 1), while small singular values keep a high relative accuracy.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jax import ShapeDtypeStruct

from axonnx.converters.jaxpr_export.complex_pairs import PAIR_RULES, unrealified
from axonnx.converters.jaxpr_export.tracer import FLAG, Tracer, loop_inputs, rule
from axonnx.converters.jaxpr_export.unrolled import slice_axis, swap_last
from axonnx.errors import UnsupportedOpError

__all__ = ["MAX_ORDER", "MAX_SWEEPS"]

MAX_ORDER = 256
"""The largest n (eigh) or min(m, n) (svd). The graph does not grow with n, the run time
does: a sweep is n - 1 Loop iterations of O(n²) work (onnxruntime, one CPU core: about
0.2 s at n = 64, 1-3 s at 128, 15-20 s at 256)."""

MAX_SWEEPS = 40
"""Sweeps before the Loop stops without convergence (float32 needs about log2(n) + 4)."""

Round = Callable[[Tracer, list[str]], tuple[list[str], str]]
"""One round on the carried values: (the rotated values, the round's largest rotation)."""


def _float_dtype(t: Tracer, aval, what: str) -> np.dtype:
    dtype = np.dtype(aval.dtype)
    if dtype not in (np.float32, np.float64):
        raise UnsupportedOpError(
            f"{t.where}: {what} of {dtype} matrices has no mapping (supported: float32, float64)"
        )
    return dtype


def _order(t: Tracer, size: int, what: str) -> int:
    """`size` padded to an even count, checked against `MAX_ORDER`."""
    if not 0 < size <= MAX_ORDER:
        raise UnsupportedOpError(
            f"{t.where}: {what} of order {size}; Jacobi rotations are mapped for 1 to {MAX_ORDER}"
        )
    return size + size % 2


def circle(n: int) -> np.ndarray:
    """The Gather index that moves a slot-ordered axis of even length `n` to the next
    round: slot 0 stays, the others move one place along the circle 1..n/2-1, n-1..n/2."""
    h = n // 2
    ring = [*range(1, h), *range(n - 1, h - 1, -1)]
    index = np.arange(n)
    for here, there in zip(ring, ring[1:] + ring[:1]):
        index[there] = here
    return index


def rotation(t: Tracer, pp: str, qq: str, pq: str, dtype) -> tuple[tuple[str, str], str]:
    """((c, s), t) of the rotations that zero the pq entries of the 2x2 symmetric matrices
    [[pp, pq], [pq, qq]]: t = 2 pq sign(d) / (|d| + √(d² + 4 pq²)), d = qq - pp."""
    one, two = t.const(1, dtype), t.const(2, dtype)
    d = t.op("Sub", [qq, pp])
    twice = t.op("Mul", [pq, two])
    sign = t.op("Where", [t.op("Less", [d, t.const(0, dtype)]), t.const(-1, dtype), one])
    root = t.op("Sqrt", [t.op("Add", [t.op("Mul", [d, d]), t.op("Mul", [twice, twice])])])
    den = t.op("Add", [t.op("Abs", [d]), root])
    den = t.op("Where", [t.op("Equal", [den, t.const(0, dtype)]), one, den])
    tangent = t.op("Div", [t.op("Mul", [twice, sign]), den])
    c = t.op("Reciprocal", [t.op("Sqrt", [t.op("Add", [one, t.op("Mul", [tangent, tangent])])])])
    return (c, t.op("Mul", [tangent, c])), tangent


def rotate(t: Tracer, x: str, cs: tuple[str, str], axis: int, n: int) -> str:
    """`x`, slot-ordered along `axis` (-1 or -2, of even length `n`), with slots k and
    n/2 + k rotated: x_k ← c x_k - s x_(n/2+k), x_(n/2+k) ← s x_k + c x_(n/2+k)."""
    c, s = cs
    c2 = t.op("Concat", [c, c], axis=-1)
    s2 = t.op("Concat", [t.op("Neg", [s]), s], axis=-1)
    c2, s2 = (t.op("Unsqueeze", [v, t.ints([-3 - axis])]) for v in (c2, s2))
    swapped = t.op("Gather", [x, t.ints(np.roll(np.arange(n), n // 2))], axis=axis)
    return t.op("Add", [t.op("Mul", [x, c2]), t.op("Mul", [swapped, s2])])


def _move(t: Tracer, x: str, axes: list[int], n: int) -> str:
    """`x` moved to the next round's slots along `axes`."""
    index = t.ints(circle(n))
    for axis in axes:
        x = t.op("Gather", [x, index], axis=axis)
    return x


def _halves(t: Tracer, x: str, n: int) -> tuple[str, str]:
    """The first and the second half of the last axis (length `n`)."""
    return slice_axis(t, x, -1, 0, n // 2), slice_axis(t, x, -1, n // 2, n)


def _masked_sum(t: Tracer, x: str, y: str | np.ndarray, axis: int) -> str:
    """The sum of x * y along `axis` (`y` a name or a constant)."""
    y = t.const(y) if isinstance(y, np.ndarray) else y
    return t.w.reduce("ReduceSum", t.op("Mul", [x, y]), [axis], keepdims=False)


def _largest(t: Tracer, x: str, ndim: int) -> str:
    """The largest element of `x` (rank `ndim`), a scalar."""
    return t.w.reduce("ReduceMax", x, list(range(ndim)), keepdims=False)


def _sweeps(
    t: Tracer, values: list[str], avals: list, one_round: Round, n: int, tolerance: float
) -> list[str]:
    """`values` after Jacobi sweeps of `one_round` on an even order `n` (a Loop of n - 1
    iterations a sweep) until a sweep's rotations all measure at most `tolerance`."""
    per = n - 1
    dtype = np.dtype(avals[0].dtype)
    worst_aval = ShapeDtypeStruct((), dtype)

    def body(sub: Tracer, names: list[str]) -> list:
        i, _, *state, worst = names
        new, measure = one_round(sub, state)
        phase = sub.op("Mod", [i, sub.const(per, np.int64)])
        first = sub.op("Equal", [phase, sub.const(0, np.int64)])
        worst = sub.op("Where", [first, measure, sub.op("Max", [worst, measure])])
        going = sub.op("Not", [sub.op("Equal", [phase, sub.const(per - 1, np.int64)])])
        big = sub.op("Greater", [worst, sub.const(tolerance, dtype)])
        go = sub.op("Or", [going, big])
        return [(go, FLAG), *zip(new, avals), (worst, worst_aval)]

    graph, _ = t.subgraph("jacobi_round", loop_inputs([*avals, worst_aval]), body)
    trip = t.const(MAX_SWEEPS * per, np.int64, "sweeps")
    start = [*values, t.const(0, dtype)]
    return t.w.op("Loop", [trip, "", *start], len(start), body=graph)[:-1]


def _eye(t: Tracer, batch: tuple, n: int, dtype) -> str:
    return t.op("Expand", [t.const(np.eye(n, dtype=dtype)), t.shape((*batch, n, n))])


def _pad_to(t: Tracer, x: str, ndim: int, sizes: dict[int, int]) -> str:
    """`x` padded with zeros at the end of the axes in `sizes` (axis -> added length)."""
    if not any(sizes.values()):
        return x
    pads = [0] * (2 * ndim)
    for axis, added in sizes.items():
        pads[ndim + axis % ndim] = added
    return t.op("Pad", [x, t.ints(pads)])


def _sorted(t: Tracer, values: str, vectors: list[str], k: int, largest: bool) -> list[str]:
    """`values` [..., k] sorted and the columns of each of `vectors` in the same order."""
    values, order = t.w.op("TopK", [values, t.ints([k])], 2, axis=-1, largest=int(largest))
    order = t.op("Unsqueeze", [order, t.ints([-2])])
    return [values] + [
        t.op("GatherElements", [v, t.op("Expand", [order, t.op("Shape", [v])])], axis=-1)
        for v in vectors
    ]


def symmetric_eigen(t: Tracer, a: str, batch: tuple, size: int, dtype) -> tuple[str, str]:
    """(eigenvalues ascending [..., size], eigenvectors as columns [..., size, size]) of
    the symmetric matrices `a` [..., size, size]. The diagonal is carried as a vector,
    updated by ∓ t a_pq (more accurate than rotating it with the rows and columns)."""
    n = _order(t, size, "eigh")
    ndim = len(batch) + 2
    a = _pad_to(t, a, ndim, {-1: n - size, -2: n - size})
    eye = np.eye(n, dtype=dtype)
    squares = _masked_sum(t, a, a, -1)
    norm = t.op("Sqrt", [t.w.reduce("ReduceSum", squares, [-1], keepdims=True)])
    scale = t.op("Max", [norm, t.const(np.finfo(dtype).tiny, dtype)])
    paired = np.roll(eye, n // 2, axis=1)
    off_pairs = t.const(1 - eye - paired)

    def one_round(sub: Tracer, state: list[str]) -> tuple[list[str], str]:
        x, d, v = state
        pp, qq = _halves(sub, d, n)
        pq = _masked_sum(sub, slice_axis(sub, x, -2, 0, n // 2), paired[: n // 2], -1)
        cs, tangent = rotation(sub, pp, qq, pq, dtype)
        x = rotate(sub, rotate(sub, x, cs, -2, n), cs, -1, n)
        x = sub.op("Mul", [x, off_pairs])
        shift = sub.op("Mul", [tangent, pq])
        d = sub.op("Add", [d, sub.op("Concat", [sub.op("Neg", [shift]), shift], axis=-1)])
        measure = _largest(sub, sub.op("Div", [sub.op("Abs", [pq]), scale]), ndim - 1)
        v = rotate(sub, v, cs, -1, n)
        return [_move(sub, x, [-2, -1], n), _move(sub, d, [-1], n), _move(sub, v, [-1], n)], measure

    start = [
        t.op("Mul", [a, t.const(1 - eye)]),
        _masked_sum(t, a, eye, -1),
        _eye(t, batch, n, dtype),
    ]
    matrix, vector = (ShapeDtypeStruct((*batch, *tail), dtype) for tail in ((n, n), (n,)))
    eps = float(np.finfo(dtype).eps)
    _, d, v = _sweeps(t, start, [matrix, vector, matrix], one_round, n, eps)
    w = slice_axis(t, d, -1, 0, size)
    v = slice_axis(t, slice_axis(t, v, -1, 0, size), -2, 0, size)
    w, v = _sorted(t, w, [v], size, largest=False)
    return w, v


def _triangle(t: Tracer, a: str, n: int, ndim: int, lower: bool, dtype) -> str:
    """The symmetric matrix that the `lower` (or upper) triangle of `a` describes."""
    strict = np.tril(np.ones((n, n), dtype), -1)
    strict = strict if lower else strict.T
    part = t.op("Mul", [a, t.const(strict)])
    diagonal = t.op("Mul", [a, t.const(np.eye(n, dtype=dtype))])
    return t.op("Add", [t.op("Add", [part, swap_last(t, part, ndim)]), diagonal])


def _subset(t: Tracer, subset, k: int, values: str, vectors: list[tuple[str, int]]) -> list[str]:
    """`values` and `vectors` (each with the axis that indexes the values) restricted to
    the static index range `subset` of the sorted values."""
    if subset is None or tuple(subset) == (0, k):
        return [values, *(v for v, _ in vectors)]
    start, stop = (int(i) for i in subset)
    return [slice_axis(t, x, axis, start, stop) for x, axis in [(values, -1), *vectors]]


@rule(
    "eigh",
    onnx=f"parallel cyclic Jacobi rotations of the two halves (Loop over the rounds; Gather, "
    f"Mul, Add; n ≤ {MAX_ORDER}), TopK + GatherElements to sort",
)
def _eigh(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    dtype = _float_dtype(t, aval, "eigh")
    shape = t.static(aval, "eigh")
    n = shape[-1]
    a = _triangle(t, args[0], n, aval.ndim, bool(eqn.params["lower"]), dtype)
    w, v = symmetric_eigen(t, a, shape[:-2], n, dtype)
    w, v = _subset(t, eqn.params["subset_by_index"], n, w, [(v, -1)])
    return [v, w]


def _column_jacobi(t: Tracer, x: str, batch: tuple, rows: int, n: int, dtype) -> list[str]:
    """(W, V) with XV = W of orthogonal columns, V orthogonal: one-sided rotations of the
    n (even) columns of `x` [..., rows, n]."""

    def one_round(sub: Tracer, state: list[str]) -> tuple[list[str], str]:
        w, v = state
        pp, qq = _halves(sub, _masked_sum(sub, w, w, -2), n)
        left, right = (slice_axis(sub, w, -1, lo, hi) for lo, hi in ((0, n // 2), (n // 2, n)))
        pq = _masked_sum(sub, left, right, -2)
        cs, _ = rotation(sub, pp, qq, pq, dtype)
        norms = sub.op("Mul", [sub.op("Sqrt", [pp]), sub.op("Sqrt", [qq])])
        norms = sub.op("Max", [norms, sub.const(np.finfo(dtype).tiny, dtype)])
        measure = _largest(sub, sub.op("Div", [sub.op("Abs", [pq]), norms]), len(batch) + 1)
        w, v = (_move(sub, rotate(sub, y, cs, -1, n), [-1], n) for y in (w, v))
        return [w, v], measure

    avals = [ShapeDtypeStruct((*batch, size, n), dtype) for size in (rows, n)]
    tolerance = float(np.sqrt(rows) * np.finfo(dtype).eps)  # LAPACK's gesvj: √m ε
    return _sweeps(t, [x, _eye(t, batch, n, dtype)], avals, one_round, n, tolerance)


def _complete(t: Tracer, u: str, sigma: str, batch: tuple, rows: int, k: int, dtype) -> str:
    """The orthogonal [..., rows, rows] whose first k columns are those of `u` where
    `sigma` > 0; the others span the complement (eigenvalue 1 of I - UUᵀ)."""
    ndim = len(batch) + 2
    eye = t.const(np.eye(rows, dtype=dtype))
    projector = t.op("Sub", [eye, t.op("MatMul", [u, swap_last(t, u, ndim)])])
    _, basis = symmetric_eigen(t, projector, batch, rows, dtype)
    kept = t.op("Greater", [sigma, t.const(0, dtype)])
    kept = _pad_to(t, t.op("Unsqueeze", [kept, t.ints([-2])]), ndim, {-1: rows - k})
    return t.op("Where", [kept, _pad_to(t, u, ndim, {-1: rows - k}), basis])


def _left_vectors(t: Tracer, w: str, sigma: str, shape: tuple, full: bool, dtype) -> str:
    """The left vectors w / sigma of `w` [..., rows, k], completed to [..., rows, rows]
    when `full`; where a singular value is 0 (tested by an If), the complement's (for
    rows ≤ `MAX_ORDER`; beyond, such columns stay 0)."""
    *batch, rows, k = shape
    ndim = len(shape)
    positive = t.op("Greater", [sigma, t.const(0, dtype)])
    safe = t.op("Where", [positive, sigma, t.const(1, dtype)])
    u = t.op("Div", [w, t.op("Unsqueeze", [safe, t.ints([-2])])])
    if full and rows > k:
        if rows > MAX_ORDER:
            raise UnsupportedOpError(
                f"{t.where}: svd with full_matrices=True needs {rows - k} more left vectors, "
                f"from an eigh of order {rows} (mapped up to {MAX_ORDER}); use "
                "full_matrices=False"
            )
        return _complete(t, u, sigma, tuple(batch), rows, k, dtype)
    if rows > MAX_ORDER:
        return u

    def completed(sub: Tracer, _names: list[str]) -> list:
        whole = _complete(sub, u, sigma, tuple(batch), rows, k, dtype)
        return [(slice_axis(sub, whole, -1, 0, k), ShapeDtypeStruct(shape, dtype))]

    def kept(sub: Tracer, _names: list[str]) -> list:
        return [(sub.op("Identity", [u]), ShapeDtypeStruct(shape, dtype))]

    smallest = t.w.reduce("ReduceMin", sigma, list(range(ndim - 1)), keepdims=False)
    zero = t.op("Equal", [smallest, t.const(0, dtype)])
    then, _ = t.subgraph("complete", [], completed)
    other, _ = t.subgraph("as_is", [], kept)
    return t.op("If", [zero], then_branch=then, else_branch=other)


@rule(
    "svd",
    onnx=f"one-sided (Hestenes) parallel Jacobi rotations of the columns (Loop over the "
    f"rounds; Gather, Mul, ReduceSum; min(m, n) ≤ {MAX_ORDER}), TopK + GatherElements to "
    "sort, left vectors completed by the eigh form of I - UUᵀ",
)
def _svd(t: Tracer, eqn, args: list[str]) -> list[str]:
    p, aval = eqn.params, eqn.invars[0].aval
    dtype = _float_dtype(t, aval, "svd")
    *batch, m, n = t.static(aval, "svd")
    k, rows, wide = min(m, n), max(m, n), m < n
    even = _order(t, k, "svd")
    x = swap_last(t, args[0], aval.ndim) if wide else args[0]
    x = _pad_to(t, x, aval.ndim, {-1: even - k})
    w, v = _column_jacobi(t, x, tuple(batch), rows, even, dtype)
    sigma = t.op("Sqrt", [slice_axis(t, _masked_sum(t, w, w, -2), -1, 0, k)])
    w = slice_axis(t, w, -1, 0, k)
    v = slice_axis(t, slice_axis(t, v, -1, 0, k), -2, 0, k)
    sigma, w, v = _sorted(t, sigma, [w, v], k, largest=True)
    if not p["compute_uv"]:
        return _subset(t, p["subset_by_index"], k, sigma, [])
    long = _left_vectors(t, w, sigma, (*batch, rows, k), bool(p["full_matrices"]), dtype)
    u, vt = (v, swap_last(t, long, aval.ndim)) if wide else (long, swap_last(t, v, aval.ndim))
    return _subset(t, p["subset_by_index"], k, sigma, [(u, -1), (vt, -2)])


_DEFLATION = (
    "LAPACK {} orders the eigenvalues as its Francis QR iteration deflates them, which "
    "another algorithm does not reproduce"
)


@rule(
    "schur",
    onnx="1×1 matrices: T = A, Z = 1 (Identity, Expand); larger ones are refused: "
    + _DEFLATION.format("gees"),
)
def _schur(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    if t.static(aval, "schur")[-1] != 1 or eqn.params.get("select_callable") is not None:
        raise UnsupportedOpError(
            f"{t.where}: schur of a {aval.shape[-2]}x{aval.shape[-1]} matrix; mapped: 1x1 "
            f"({_DEFLATION.format('gees')}, with standardized 2x2 blocks)"
        )
    form = [t.op("Identity", args)]
    if eqn.params["compute_schur_vectors"]:
        form.append(t.op("Expand", [t.const(1, aval.dtype), t.op("Shape", args)]))
    return form


def _eig_pairs(eqn, a) -> list:
    """eig of 1×1 matrices as (re, im) pairs: w = a, and the unit eigenvectors 1."""
    if eqn.invars[0].aval.shape[-1] != 1:
        raise UnsupportedOpError(
            f"eig of a {eqn.invars[0].aval.shape[-1]}x{eqn.invars[0].aval.shape[-1]} matrix; "
            f"mapped: 1x1 ({_DEFLATION.format('geev')})"
        )
    zeros = jnp.zeros_like(a)
    vectors = [(jnp.ones_like(a), zeros)] * (len(eqn.outvars) - 1)
    return [(a[..., 0], zeros[..., 0]), *vectors]


PAIR_RULES["eig"] = _eig_pairs
rule(
    "eig",
    onnx="realified by export_function (complex results as float [..., 2]): 1×1 matrices: "
    "w = a, vl = vr = 1; larger ones are refused: " + _DEFLATION.format("geev"),
)(unrealified)
