"""Windowed reductions (pooling) and their derivatives: reduce_window_max/min/sum,
select_and_scatter_add (the gradient of max pooling), select_and_gather_add (its
forward derivative).

ONNX pools the trailing axes of [N, C, …]: the axes a window leaves alone are moved to
the front and merged into N, the others are pooled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axonnx.converters.jaxpr_export.shapes import dilate, pad_or_crop
from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError


@dataclass(frozen=True)
class _Window:
    shape: tuple
    size: tuple
    strides: tuple
    pads: tuple
    dilation: tuple

    @property
    def pooled(self) -> list[int]:
        return [a for a in range(len(self.shape)) if self._moves(a)]

    def _moves(self, a: int) -> bool:
        trivial = self.size[a] == self.strides[a] == self.dilation[a] == 1
        return not (trivial and tuple(self.pads[a]) == (0, 0))

    @property
    def perm(self) -> list[int]:
        pooled = self.pooled
        return [a for a in range(len(self.shape)) if a not in pooled] + pooled

    def out_shape(self) -> tuple:
        out = []
        for n, k, s, (lo, hi), d in zip(
            self.shape, self.size, self.strides, self.pads, self.dilation
        ):
            out.append((n + lo + hi - (k - 1) * d - 1) // s + 1)
        return tuple(out)

    def attrs(self) -> dict:
        p = self.pooled
        return {
            "kernel_shape": [int(self.size[a]) for a in p],
            "strides": [int(self.strides[a]) for a in p],
            "pads": [int(self.pads[a][0]) for a in p] + [int(self.pads[a][1]) for a in p],
            "dilations": [int(self.dilation[a]) for a in p],
        }


def _window(t: Tracer, eqn, x_var, pads=None, dilation=None) -> _Window:
    p = eqn.params
    shape = t.static(x_var.aval, eqn.primitive.name)
    pads = tuple(tuple(int(v) for v in pair) for pair in (pads or p["padding"]))
    dilation = tuple(dilation or p.get("window_dilation") or (1,) * len(shape))
    window = _Window(
        shape, tuple(p["window_dimensions"]), tuple(p["window_strides"]), pads, dilation
    )
    if len(window.pooled) > 3:
        raise UnsupportedOpError(
            f"{t.where}: {eqn.primitive.name} over {len(window.pooled)} axes; ONNX pools at most 3"
        )
    return window


def _to_pool(t: Tracer, x: str, shape: tuple, window: _Window) -> str:
    """[..] → [N, 1, *pooled] in the window's axis order."""
    moved = t.op("Transpose", [x], perm=window.perm)
    pooled = [shape[a] for a in window.pooled]
    return t.op("Reshape", [moved, t.ints([-1, 1, *pooled])])


def _from_pool(t: Tracer, y: str, shape: tuple, window: _Window) -> str:
    """[N, 1, *pooled] → the original axis order, `shape` being the result's."""
    perm = window.perm
    y = t.op("Reshape", [y, t.ints([shape[a] for a in perm])])
    return t.op("Transpose", [y], perm=[int(i) for i in np.argsort(perm)])


def _prepared(t: Tracer, eqn, x: str, fill: float) -> tuple[str, _Window]:
    """`x` with base dilation and negative padding applied; the window that remains."""
    p, var = eqn.params, eqn.invars[0]
    shape = t.static(var.aval, eqn.primitive.name)
    base = p.get("base_dilation") or (1,) * len(shape)
    if any(b != 1 for b in base):
        x, shape = dilate(t, x, shape, list(base), t.const(fill, var.aval.dtype, "fill"))
    pads = [tuple(int(v) for v in pair) for pair in p["padding"]]
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        x = pad_or_crop(t, x, shape, [(min(lo, 0), min(hi, 0)) for lo, hi in pads])
        shape = tuple(n + min(lo, 0) + min(hi, 0) for n, (lo, hi) in zip(shape, pads))
        pads = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    window = _window(t, eqn, var, pads)
    return x, _Window(shape, window.size, window.strides, window.pads, window.dilation)


@rule("reduce_window_max", "reduce_window_min", onnx="MaxPool (min: Neg, MaxPool, Neg)")
def _reduce_window_max(t: Tracer, eqn, args: list[str]) -> str:
    negate = eqn.primitive.name == "reduce_window_min"
    x = t.op("Neg", args) if negate else args[0]
    x, window = _prepared(t, eqn, x, -np.inf)
    if not window.pooled:
        return t.op("Identity", [x])
    y = t.op("MaxPool", [_to_pool(t, x, window.shape, window)], **window.attrs())
    y = _from_pool(t, y, window.out_shape(), window)
    return t.op("Neg", [y]) if negate else y


@rule("reduce_window_sum", onnx="Conv with a kernel of ones (pads, strides, dilations)")
def _reduce_window_sum(t: Tracer, eqn, args: list[str]) -> str:
    x, window = _prepared(t, eqn, args[0], 0.0)
    if not window.pooled:
        return t.op("Identity", [x])
    attrs = window.attrs()
    ones = t.const(np.ones([1, 1, *attrs.pop("kernel_shape")]), eqn.invars[0].aval.dtype, "ones")
    y = t.op("Conv", [_to_pool(t, x, window.shape, window), ones], **attrs)
    return _from_pool(t, y, window.out_shape(), window)


_MONOIDS = {"add": "reduce_window_sum", "max": "reduce_window_max", "min": "reduce_window_min"}


@rule("reduce_window", onnx="as reduce_window_sum/max/min when its computation is add/max/min")
def _reduce_window(t: Tracer, eqn, args: list[str]) -> str:
    inner = eqn.params["jaxpr"]
    inner = getattr(inner, "jaxpr", inner)
    kinds = [e.primitive.name for e in inner.eqns]
    if len(args) != 2 or len(kinds) != 1 or kinds[0] not in _MONOIDS:
        raise UnsupportedOpError(f"{t.where}: reduce_window computing {kinds} has no mapping")
    simple = eqn.replace(invars=eqn.invars[:1]) if hasattr(eqn, "replace") else eqn
    fn = {"reduce_window_sum": _reduce_window_sum, "reduce_window_max": _reduce_window_max,
          "reduce_window_min": _reduce_window_max}[_MONOIDS[kinds[0]]]  # fmt: skip
    return fn(t, simple, args[:1])


def _selected(t: Tracer, eqn, operand: str, operand_var) -> tuple[str, _Window, tuple]:
    """MaxPool's indices (into the pooled layout) of the window elements `select_prim`
    chooses; also the window and the operand's shape."""
    if str(eqn.params["select_prim"]) not in ("ge", "gt", "le", "lt"):
        raise UnsupportedOpError(
            f"{t.where}: select_prim {eqn.params['select_prim']} has no mapping"
        )
    if any(d != 1 for d in eqn.params.get("base_dilation") or ()):
        raise UnsupportedOpError(f"{t.where}: {eqn.primitive.name} with base dilation")
    window = _window(t, eqn, operand_var)
    if any(lo < 0 or hi < 0 for lo, hi in window.pads):
        raise UnsupportedOpError(f"{t.where}: {eqn.primitive.name} with negative padding")
    if str(eqn.params["select_prim"]) in ("le", "lt"):
        operand = t.op("Neg", [operand])
    pooled = _to_pool(t, operand, window.shape, window)
    _, indices = t.w.op("MaxPool", [pooled], 2, **window.attrs())
    return indices, window, window.shape


@rule("select_and_scatter_add", onnx="MaxPool's Indices + ScatterND (add) of the source")
def _select_and_scatter_add(t: Tracer, eqn, args: list[str]) -> str:
    source, operand = args
    indices, window, shape = _selected(t, eqn, operand, eqn.invars[1])
    if not window.pooled:
        return t.op("Identity", [source])
    values = t.op("Reshape", [_to_pool(t, source, window.out_shape(), window), t.ints([-1])])
    zeros = t.const(np.zeros(int(np.prod(shape))), eqn.invars[0].aval.dtype, "zeros")
    where = t.op("Reshape", [indices, t.ints([-1, 1])])
    flat = t.op("ScatterND", [zeros, where, values], reduction="add")
    return _from_pool(t, flat, shape, window)


@rule("select_and_gather_add", onnx="MaxPool's Indices + Gather of the tangent")
def _select_and_gather_add(t: Tracer, eqn, args: list[str]) -> str:
    tangent, operand = args
    indices, window, shape = _selected(t, eqn, operand, eqn.invars[1])
    if not window.pooled:
        return t.op("Identity", [tangent])
    flat = t.op("Reshape", [_to_pool(t, tangent, shape, window), t.ints([-1])])
    picked = t.op("Gather", [flat, indices], axis=0)
    return _from_pool(t, picked, window.out_shape(), window)
