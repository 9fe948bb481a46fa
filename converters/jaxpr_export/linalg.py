"""Contractions: dot_general with any dimension numbers, symmetric_product and
ragged_dot_general."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError


@rule("dot_general", onnx="Einsum (any contracting and batch dimensions) + Cast")
def _dot_general(t: Tracer, eqn, args: list[str]) -> str:
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.invars[0].aval.ndim, eqn.invars[1].aval.ndim
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    left = [next(letters) for _ in range(lhs)]
    right = [next(letters) for _ in range(rhs)]
    for a, b in [*zip(lc, rc), *zip(lb, rb)]:
        right[b] = left[a]
    batch = [left[a] for a in lb]
    free = [left[a] for a in range(lhs) if a not in lc and a not in lb]
    free += [right[b] for b in range(rhs) if b not in rc and b not in rb]
    equation = f"{''.join(left)},{''.join(right)}->{''.join(batch + free)}"
    dtypes = {eqn.invars[0].aval.dtype, eqn.invars[1].aval.dtype}
    out = eqn.outvars[0].aval.dtype
    if len(dtypes) > 1:
        args = [t.cast(a, out) for a in args]
    result = t.op("Einsum", args, equation=equation)
    return result if out in dtypes and len(dtypes) == 1 else t.cast(result, out)


@rule("symmetric_product", onnx="alpha · Einsum(a aᵀ) + beta · c (Mul, Add)")
def _symmetric_product(t: Tracer, eqn, args: list[str]) -> str:
    a, c = args
    dtype = eqn.outvars[0].aval.dtype
    product = t.op("Einsum", [a, a], equation="...ik,...jk->...ij")
    alpha = t.op("Mul", [product, t.const(eqn.params["alpha"], dtype)])
    return t.op("Add", [alpha, t.op("Mul", [c, t.const(eqn.params["beta"], dtype)])])


_RAGGED = (((1,), (1,)), ((), ()))


@rule(
    "ragged_dot_general",
    onnx="dense: Einsum of lhs, every group's rhs and a row-in-group mask (CumSum, "
    "comparisons); the ragged_dot form [m, k] × [g, k, n]",
)
def _ragged_dot(t: Tracer, eqn, args: list[str]) -> str:
    numbers = eqn.params["ragged_dot_dimension_numbers"]
    form = (
        tuple(tuple(map(tuple, pair)) for pair in numbers.dot_dimension_numbers),
        tuple(numbers.lhs_ragged_dimensions),
        tuple(numbers.rhs_group_dimensions),
    )
    if form != (_RAGGED, (0,), (0,)) or eqn.params.get("group_offset") is not None:
        raise UnsupportedOpError(
            f"{t.where}: ragged_dot_general with {numbers}; mapped: ragged_dot's "
            "[m, k] × [g, k, n] form"
        )
    lhs, rhs, sizes = args
    m = t.static(eqn.invars[0].aval, "ragged_dot_general")[0]
    sizes = t.cast(sizes, np.int64)
    ends = t.op("CumSum", [sizes, t.ints([0])])
    starts = t.op("Sub", [ends, sizes])
    rows = t.const(np.arange(m, dtype=np.int64).reshape(m, 1))
    inside = t.op("And", [t.op("GreaterOrEqual", [rows, starts]), t.op("Less", [rows, ends])])
    dtype = eqn.outvars[0].aval.dtype
    if eqn.invars[0].aval.dtype != dtype:
        lhs, rhs = t.cast(lhs, dtype), t.cast(rhs, dtype)
    mask = t.cast(inside, dtype)
    return t.op("Einsum", [lhs, rhs, mask], equation="mk,gkn,mg->mn")
