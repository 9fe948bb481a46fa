"""Contractions: dot_general with any dimension numbers."""

from __future__ import annotations

from axonnx.converters.jaxpr_export.tracer import Tracer, rule


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
