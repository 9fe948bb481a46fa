"""Cumulative primitives along one axis: cumsum, cumprod, cummax, cummin, cumlogsumexp."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule


@rule("cumsum", onnx="CumSum")
def _cumsum(t: Tracer, eqn, args: list[str]) -> str:
    axis = t.const(int(eqn.params["axis"]), np.int64, "axis")
    return t.op("CumSum", [args[0], axis], reverse=int(bool(eqn.params.get("reverse"))))


_TRIANGLE = {
    "cumprod": ("ReduceProd", 1.0),
    "cummax": ("ReduceMax", -np.inf),
    "cummin": ("ReduceMin", np.inf),
}


@rule(*_TRIANGLE, onnx="Where over a triangular mask (n × n along the axis) + ReduceProd/Max/Min")
def _triangle(t: Tracer, eqn, args: list[str]) -> str:
    op_type, neutral = _TRIANGLE[eqn.primitive.name]
    dtype = eqn.invars[0].aval.dtype
    if np.issubdtype(dtype, np.integer) and not np.isfinite(neutral):
        info = np.iinfo(dtype)
        neutral = info.min if neutral < 0 else info.max
    axis = int(eqn.params["axis"])
    spread, mask = _spread(t, eqn, args[0], axis)
    filled = t.op("Where", [mask, spread, t.const(neutral, dtype, "neutral")])
    return t.w.reduce(op_type, filled, [axis + 1], keepdims=False)


@rule("cumlogsumexp", onnx="Log(CumSum(Exp(x - max))) + max")
def _cumlogsumexp(t: Tracer, eqn, args: list[str]) -> str:
    axis = int(eqn.params["axis"])
    peak = t.w.reduce("ReduceMax", args[0], [axis], keepdims=True)
    shifted = t.op("Exp", [t.op("Sub", [args[0], peak])])
    total = t.op("CumSum", [shifted, t.const(axis, np.int64, "axis")],
                 reverse=int(bool(eqn.params.get("reverse"))))  # fmt: skip
    return t.op("Add", [t.op("Log", [total]), peak])


def _spread(t: Tracer, eqn, x: str, axis: int) -> tuple[str, str]:
    """`x` repeated along a new axis `axis` (out index i, in index j at `axis + 1`) and
    the mask of the j that contribute to position i."""
    shape = t.static(eqn.invars[0].aval, eqn.primitive.name)
    n = shape[axis]
    spread = t.op("Unsqueeze", [x, t.ints([axis])])
    spread = t.op("Expand", [spread, t.ints((*shape[:axis], n, *shape[axis:]))])
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    mask = (j >= i) if eqn.params.get("reverse") else (j <= i)
    mask = mask.reshape((n, n) + (1,) * (len(shape) - axis - 1))
    return spread, t.const(mask, np.bool_, "mask")
