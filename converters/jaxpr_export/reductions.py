"""Reductions over axes: sums, products, extrema, logic, arg-extrema."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError

_REDUCE = {
    "reduce_sum": "ReduceSum",
    "reduce_max": "ReduceMax",
    "reduce_min": "ReduceMin",
    "reduce_prod": "ReduceProd",
}


@rule(*_REDUCE, onnx="ReduceSum, ReduceMax, ReduceMin, ReduceProd (keepdims=0)")
def _reduce(t: Tracer, eqn, args: list[str]) -> str:
    axes = [int(a) for a in eqn.params["axes"]]
    if not axes:
        return t.op("Identity", args)
    return t.w.reduce(_REDUCE[eqn.primitive.name], args[0], axes, keepdims=False)


@rule("reduce_and", "reduce_or", onnx="ReduceMin / ReduceMax of the booleans as int32")
def _reduce_logic(t: Tracer, eqn, args: list[str]) -> str:
    op_type = "ReduceMin" if eqn.primitive.name == "reduce_and" else "ReduceMax"
    axes = [int(a) for a in eqn.params["axes"]]
    reduced = t.w.reduce(op_type, t.cast(args[0], np.int32), axes, keepdims=False)
    return t.cast(reduced, np.bool_)


@rule("reduce_xor", onnx="Mod(ReduceSum of the booleans as int32, 2)")
def _reduce_xor(t: Tracer, eqn, args: list[str]) -> str:
    axes = [int(a) for a in eqn.params["axes"]]
    total = t.w.reduce("ReduceSum", t.cast(args[0], np.int32), axes, keepdims=False)
    return t.cast(t.op("Mod", [total, t.const(2, np.int32)]), np.bool_)


@rule("argmax", "argmin", onnx="ArgMax / ArgMin (keepdims=0) + Cast")
def _argmax(t: Tracer, eqn, args: list[str]) -> str:
    op_type = "ArgMax" if eqn.primitive.name == "argmax" else "ArgMin"
    (axis,) = eqn.params["axes"]
    index = t.op(op_type, args, axis=int(axis), keepdims=0)
    return t.cast(index, eqn.params["index_dtype"])


_MONOIDS = {"add": "ReduceSum", "mul": "ReduceProd", "max": "ReduceMax", "min": "ReduceMin"}
_COMBINE = {"add": "Add", "mul": "Mul", "max": "Max", "min": "Min"}


@rule("reduce", onnx="ReduceSum/Prod/Max/Min per operand when each output is add/mul/max/min")
def _reduce_generic(t: Tracer, eqn, args: list[str]) -> list[str]:
    inner = eqn.params["jaxpr"]
    jaxpr = getattr(inner, "jaxpr", inner)
    n = len(args) // 2
    producers = {id(v): e for e in jaxpr.eqns for v in e.outvars}
    axes = [int(a) for a in eqn.params["dimensions"]]
    results = []
    for k, out in enumerate(jaxpr.outvars):
        e = producers.get(id(out))
        operands = {id(v) for v in e.invars} if e is not None else set()
        wanted = {id(jaxpr.invars[k]), id(jaxpr.invars[k + n])}
        if e is None or e.primitive.name not in _MONOIDS or operands != wanted:
            raise UnsupportedOpError(f"{t.where}: reduce whose computation is not add/mul/max/min")
        reduced = t.w.reduce(_MONOIDS[e.primitive.name], args[k], axes, keepdims=False)
        results.append(t.op(_COMBINE[e.primitive.name], [reduced, args[k + n]]))
    return results
