"""Shape primitives: reshape, transpose, broadcasts, slices, pads, concatenation, iota."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError

__all__ = ["dilate", "pad_or_crop", "reverse"]

_END = int(np.iinfo(np.int64).max)
_BEGIN = int(np.iinfo(np.int64).min)


@rule("reshape", onnx="Reshape")
def _reshape(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Reshape", [args[0], t.shape(tuple(eqn.params["new_sizes"]), reshape=True)])


@rule("transpose", onnx="Transpose")
def _transpose(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Transpose", args, perm=[int(p) for p in eqn.params["permutation"]])


@rule("broadcast_in_dim", onnx="Unsqueeze + Expand")
def _broadcast_in_dim(t: Tracer, eqn, args: list[str]) -> str:
    shape, kept = tuple(eqn.params["shape"]), eqn.params["broadcast_dimensions"]
    new = [a for a in range(len(shape)) if a not in kept]
    x = args[0]
    if new:
        x = t.op("Unsqueeze", [x, t.ints(new)])
    if tuple(eqn.invars[0].aval.shape) == tuple(shape[a] for a in kept) and not [
        shape[a] for a in new if shape[a] != 1
    ]:
        return x
    return t.op("Expand", [x, t.shape(shape)])


@rule("squeeze", onnx="Squeeze")
def _squeeze(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Squeeze", [args[0], t.ints(eqn.params["dimensions"])])


@rule("concatenate", onnx="Concat")
def _concatenate(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Concat", args, axis=int(eqn.params["dimension"]))


@rule("slice", onnx="Slice")
def _slice(t: Tracer, eqn, args: list[str]) -> str:
    starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
    steps = eqn.params["strides"] or (1,) * len(starts)
    sizes = eqn.invars[0].aval.shape
    # A slice to the end of a dynamic axis ends at "past the end" (INT64_MAX).
    ends = [_END if not isinstance(e, int) and e == n else e for e, n in zip(limits, sizes)]
    bounds = [t.shape(tuple(starts)), t.shape(tuple(ends))]
    return t.op("Slice", [args[0], *bounds, t.ints(range(len(starts))), t.ints(steps)])


@rule("pad", onnx="Pad (interior padding: Unsqueeze + Pad + Reshape; negative: Slice)")
def _pad(t: Tracer, eqn, args: list[str]) -> str:
    config = eqn.params["padding_config"]
    x, shape = args[0], tuple(eqn.invars[0].aval.shape)
    interior = [int(i) for _, _, i in config]
    if any(interior):
        x, shape = dilate(t, x, shape, [i + 1 for i in interior], args[1])
    return pad_or_crop(t, x, shape, [(lo, hi) for lo, hi, _ in config], args[1])


def pad_or_crop(t: Tracer, x: str, shape: tuple, pads: list, value: str | None = None) -> str:
    """`x` padded by the positive (low, high) amounts and cropped by the negative ones."""
    positive = [max(int(p), 0) for pair in zip(*pads) for p in pair]
    if any(positive):
        extra = [value] if value is not None else []
        x = t.op("Pad", [x, t.ints([max(int(lo), 0) for lo, _ in pads] +
                                    [max(int(hi), 0) for _, hi in pads]), *extra])  # fmt: skip
    cropped = [a for a, (lo, hi) in enumerate(pads) if lo < 0 or hi < 0]
    if not cropped:
        return x
    padded = [n + max(int(lo), 0) + max(int(hi), 0) for n, (lo, hi) in zip(shape, pads)]
    starts = [max(-int(pads[a][0]), 0) for a in cropped]
    ends = [padded[a] - max(-int(pads[a][1]), 0) for a in cropped]
    return t.op("Slice", [x, t.ints(starts), t.ints(ends), t.ints(cropped)])


def dilate(
    t: Tracer, x: str, shape: tuple, factors: list[int], value: str | None = None
) -> tuple[str, tuple]:
    """Insert `factor - 1` values (zeros by default) between the elements of each axis;
    returns the new value and shape."""
    for axis, factor in enumerate(factors):
        if factor == 1 or shape[axis] == 0:
            continue
        if not isinstance(shape[axis], int):
            raise UnsupportedOpError(f"{t.where}: interior padding of a dynamic axis")
        x = t.op("Unsqueeze", [x, t.ints([axis + 1])])
        pads = [0] * (len(shape) + 1) * 2
        pads[len(shape) + 1 + axis + 1] = factor - 1
        x = t.op("Pad", [x, t.ints(pads), *([value] if value is not None else [])])
        merged = (*shape[:axis], shape[axis] * factor, *shape[axis + 1 :])
        x = t.op("Reshape", [x, t.shape(merged, reshape=True)])
        size = (shape[axis] - 1) * factor + 1
        x = t.op("Slice", [x, t.ints([0]), t.ints([size]), t.ints([axis])])
        shape = (*shape[:axis], size, *shape[axis + 1 :])
    return x, shape


@rule("rev", onnx="Slice with step -1")
def _rev(t: Tracer, eqn, args: list[str]) -> str:
    return reverse(t, args[0], [int(a) for a in eqn.params["dimensions"]])


def reverse(t: Tracer, x: str, axes: list[int]) -> str:
    """`x` reversed along `axes`."""
    if not axes:
        return x
    n = len(axes)
    return t.op(
        "Slice", [x, t.ints([-1] * n), t.ints([_BEGIN] * n), t.ints(axes), t.ints([-1] * n)]
    )


@rule("iota", onnx="a constant")
def _iota(t: Tracer, eqn, args: list[str]) -> str:
    shape, axis = t.static(eqn.outvars[0].aval, "iota"), int(eqn.params["dimension"])
    values = np.arange(shape[axis], dtype=eqn.params["dtype"])
    values = np.broadcast_to(
        values.reshape([-1 if a == axis else 1 for a in range(len(shape))]), shape
    )
    return t.w.constant(np.ascontiguousarray(values), "iota")


@rule("split", onnx="Split")
def _split(t: Tracer, eqn, args: list[str]) -> list[str]:
    sizes = t.ints(eqn.params["sizes"])
    return t.w.op("Split", [args[0], sizes], len(eqn.params["sizes"]), axis=int(eqn.params["axis"]))


@rule("empty", "empty2", onnx="a constant of zeros (XLA leaves the values undefined)")
def _empty(t: Tracer, eqn, args: list[str]) -> str:
    aval = eqn.outvars[0].aval
    return t.const(np.zeros(t.static(aval, eqn.primitive.name), aval.dtype), hint="empty")


@rule("stack", onnx="Unsqueeze of each operand + Concat")
def _stack(t: Tracer, eqn, args: list[str]) -> str:
    axis = int(eqn.params["axis"])
    parts = [t.op("Unsqueeze", [a, t.ints([axis])]) for a in args]
    return t.concat(parts, axis)
