"""Bit counting on integers: population_count and clz, written with ONNX's bit ops
(BitShift, BitwiseAnd/Or) on the unsigned integer of the same width."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule


def _unsigned(t: Tracer, name: str, dtype) -> tuple[str, type]:
    """`name` reinterpreted as the unsigned integer of its width (Cast keeps the bits)."""
    unsigned = np.dtype(f"uint{np.dtype(dtype).itemsize * 8}").type
    return (name if np.dtype(dtype) == unsigned else t.cast(name, unsigned)), unsigned


def _shift(t: Tracer, x: str, k: int, unsigned) -> str:
    return t.op("BitShift", [x, t.const(k, unsigned)], direction="RIGHT")


def _and(t: Tracer, x: str, mask: int, unsigned) -> str:
    return t.op("BitwiseAnd", [x, t.const(mask, unsigned)])


def _popcount(t: Tracer, x: str, unsigned) -> str:
    """The number of set bits of the unsigned `x` (SWAR: pairs, nibbles, bytes, then
    the bytes summed by shifts)."""
    width = np.dtype(unsigned).itemsize * 8
    ones = (1 << width) - 1
    for k, mask in [(1, 0x55), (2, 0x33), (4, 0x0F)]:
        mask = int.from_bytes(bytes([mask]) * (width // 8), "little") & ones
        high = _and(t, _shift(t, x, k, unsigned), mask, unsigned)
        x = t.op("Add", [_and(t, x, mask, unsigned), high])
    k = 8
    while k < width:
        x = t.op("Add", [x, _shift(t, x, k, unsigned)])
        k *= 2
    return _and(t, x, 0xFF, unsigned)


@rule("population_count", onnx="BitShift, BitwiseAnd and Add on the unsigned integer (SWAR)")
def _population_count(t: Tracer, eqn, args: list[str]) -> str:
    dtype = eqn.invars[0].aval.dtype
    x, unsigned = _unsigned(t, args[0], dtype)
    return t.cast(_popcount(t, x, unsigned), dtype)


@rule("clz", onnx="width − population_count of the bits smeared right (BitShift, BitwiseOr)")
def _clz(t: Tracer, eqn, args: list[str]) -> str:
    dtype = eqn.invars[0].aval.dtype
    x, unsigned = _unsigned(t, args[0], dtype)
    width = np.dtype(unsigned).itemsize * 8
    k = 1
    while k < width:
        x = t.op("BitwiseOr", [x, _shift(t, x, k, unsigned)])
        k *= 2
    bits = t.cast(_popcount(t, x, unsigned), dtype)
    return t.op("Sub", [t.const(width, dtype), bits])
