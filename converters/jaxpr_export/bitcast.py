"""Reinterpreting float bits: bitcast_convert_type (ONNX BitCast, opset 26) and
nextafter, a ±1 step of the float's bits as an integer of the same width."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, elem, rule
from axonnx.errors import UnsupportedOpError

BITCAST_OPSET = 26


def _bitcast(t: Tracer, name: str, source, target, what: str) -> str:
    if np.dtype(source).itemsize != np.dtype(target).itemsize:
        raise UnsupportedOpError(
            f"{t.where}: {what} from {np.dtype(source)} to {np.dtype(target)} changes the "
            "width; ONNX BitCast keeps it (mapped: equal widths)"
        )
    if t.w.opset < BITCAST_OPSET:
        raise UnsupportedOpError(
            f"{t.where}: {what} needs ONNX BitCast (opset {BITCAST_OPSET}), exporting at "
            f"opset {t.w.opset}"
        )
    return t.op("BitCast", [name], to=elem(target))


@rule("bitcast_convert_type", onnx=f"BitCast (opset {BITCAST_OPSET}; equal widths)")
def _bitcast_convert(t: Tracer, eqn, args: list[str]) -> str:
    source, target = eqn.invars[0].aval.dtype, eqn.outvars[0].aval.dtype
    return _bitcast(t, args[0], source, target, "bitcast_convert_type")


@rule(
    "nextafter",
    onnx=f"BitCast (opset {BITCAST_OPSET}) to the integer of the same width, ±1, "
    "zero and NaN by Where",
)
def _nextafter(t: Tracer, eqn, args: list[str]) -> str:
    dtype = eqn.invars[0].aval.dtype
    integer = np.dtype(f"int{np.dtype(dtype).itemsize * 8}").type
    a, b = (_bitcast(t, x, dtype, integer, "nextafter") for x in args)
    sign = np.iinfo(integer).min
    magnitude = [t.op("BitwiseAnd", [x, t.const(~sign, integer)]) for x in (a, b)]
    signs = [t.op("BitwiseAnd", [x, t.const(sign, integer)]) for x in (a, b)]
    toward_zero = t.op(
        "Or",
        [
            t.op("Not", [t.op("Equal", signs)]),
            t.op("Greater", magnitude),
        ],
    )
    one = t.const(1, integer)
    step = t.op("Where", [toward_zero, t.op("Sub", [a, one]), t.op("Add", [a, one])])
    from_zero = t.op("BitwiseOr", [signs[1], one])
    zero = t.op("Equal", [magnitude[0], t.const(0, integer)])
    bits = t.op("Where", [zero, from_zero, step])
    result = _bitcast(t, bits, integer, dtype, "nextafter")
    x, y = args
    same = t.op("Equal", [x, y])
    result = t.op("Where", [same, y, result])
    nan = t.op("Or", [t.op("IsNaN", [x]), t.op("IsNaN", [y])])
    return t.op("Where", [nan, t.op("Add", [x, y]), result])
