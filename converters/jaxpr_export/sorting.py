"""Sorting: sort (one key, any number of operands: argsort is sort with an iota), top_k,
approx_top_k."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError


def _top(t: Tracer, x: str, dtype, k: int, axis: int, largest: bool) -> tuple[str, str]:
    keys = t.cast(x, np.int32) if dtype == np.bool_ else x
    values, indices = t.w.op(
        "TopK", [keys, t.ints([k])], 2, axis=axis, largest=int(largest), sorted=1
    )
    return (t.cast(values, np.bool_) if dtype == np.bool_ else values), indices


@rule("sort", onnx="TopK (k = the axis length, smallest first) + GatherElements of the operands")
def _sort(t: Tracer, eqn, args: list[str]) -> list[str]:
    if int(eqn.params["num_keys"]) != 1:
        raise UnsupportedOpError(
            f"{t.where}: sort with {eqn.params['num_keys']} keys has no mapping (supported: 1)"
        )
    axis = int(eqn.params["dimension"])
    n = eqn.invars[0].aval.shape[axis]
    if not isinstance(n, int):
        raise UnsupportedOpError(f"{t.where}: sort along the dynamic axis {axis} ({n})")
    values, indices = _top(t, args[0], eqn.invars[0].aval.dtype, n, axis, False)
    rest = [t.op("GatherElements", [a, indices], axis=axis) for a in args[1:]]
    return [values, *rest]


@rule("top_k", onnx="TopK (largest) + Cast of the indices")
def _top_k(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    axis = int(eqn.params.get("axis", aval.ndim - 1)) % aval.ndim
    values, indices = _top(t, args[0], aval.dtype, int(eqn.params["k"]), axis, True)
    return [values, t.cast(indices, eqn.outvars[1].aval.dtype)]


@rule("approx_top_k", onnx="TopK (exact) + Cast of the indices")
def _approx_top_k(t: Tracer, eqn, args: list[str]) -> list[str]:
    aval = eqn.invars[0].aval
    axis = int(eqn.params["reduction_dimension"]) % aval.ndim
    largest = bool(eqn.params["is_max_k"])
    values, indices = _top(t, args[0], aval.dtype, int(eqn.params["k"]), axis, largest)
    return [values, t.cast(indices, eqn.outvars[1].aval.dtype)]
