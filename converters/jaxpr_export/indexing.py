"""Indexing: gather, scatter (replace, add, mul, min, max), dynamic_slice,
dynamic_update_slice.

XLA's gather and scatter address windows of the operand. Both are written on the
flattened operand: each element's linear index is the window start's (from the
indices, clamped or checked) plus the element's offset in the window (a constant),
then one ONNX `Gather` (axis 0) or `ScatterND` (with its reduction) does the work. A
scatter window that XLA drops (out of bounds) is sent to one extra trailing element,
cut off afterwards.
"""

from __future__ import annotations

import numpy as np
from jax import lax

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError

_CLIP = (lax.GatherScatterMode.CLIP, lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def _strides(shape: tuple) -> np.ndarray:
    return np.array([int(np.prod(shape[a + 1 :])) for a in range(len(shape))], np.int64)


def _starts(t: Tracer, indices: str, ishape: tuple, operand: tuple, window: tuple, spec) -> tuple:
    """(linear start of each window [*batch], in-bounds mask or None) from the index
    tensor (index vector last) and spec = (start_index_map, operand_batching_dims,
    indices_batching_dims, clip)."""
    index_map, operand_batching, indices_batching, clip = spec
    batch = ishape[:-1]
    strides = _strides(operand)
    idx = t.cast(indices, np.int64)
    linear, valid = None, None
    for k, dim in enumerate(index_map):
        start = t.op("Gather", [idx, t.const(k, np.int64)], axis=len(ishape) - 1)
        high = t.const(operand[dim] - window[dim], np.int64)
        inside = t.op("And", [t.op("GreaterOrEqual", [start, t.const(0, np.int64)]),
                              t.op("LessOrEqual", [start, high])])  # fmt: skip
        valid = inside if valid is None else t.op("And", [valid, inside])
        start = t.op("Min", [t.op("Max", [start, t.const(0, np.int64)]), high])
        term = t.op("Mul", [start, t.const(strides[dim], np.int64)])
        linear = term if linear is None else t.op("Add", [linear, term])
    offset = np.zeros(batch, np.int64)
    for dim, axis in zip(operand_batching, indices_batching):
        iota = np.arange(batch[axis]).reshape([-1 if a == axis else 1 for a in range(len(batch))])
        offset = offset + iota * strides[dim]
    if linear is None:
        linear = t.const(offset, np.int64, "start")
    elif offset.any():
        linear = t.op("Add", [linear, t.const(offset, np.int64, "start")])
    return linear, None if clip else valid


def _elements(t: Tracer, linear: str, batch: tuple, operand: tuple, window: tuple) -> str:
    """Linear indices [*batch, *window] of every element of every window."""
    grids = np.meshgrid(*[np.arange(w) for w in window], indexing="ij")
    offsets = sum((g * s for g, s in zip(grids, _strides(operand))), np.zeros(window, np.int64))
    axes = list(range(len(batch), len(batch) + len(window)))
    spread = t.op("Unsqueeze", [linear, t.ints(axes)]) if axes else linear
    return t.op("Add", [spread, t.const(offsets, np.int64, "offsets")])


@rule("gather", onnx="Gather on the flattened operand (linear indices of each window element)")
def _gather(t: Tracer, eqn, args: list[str]) -> str:
    dn, window = eqn.params["dimension_numbers"], tuple(eqn.params["slice_sizes"])
    if eqn.invars[1].aval.ndim == 1 and not dn.operand_batching_dims:
        return _gather_one_window(t, eqn, args, dn, window)
    operand, indices = (t.static(v.aval, "gather") for v in eqn.invars)
    clip = eqn.params["mode"] in _CLIP
    spec = (dn.start_index_map, dn.operand_batching_dims, dn.start_indices_batching_dims, clip)
    linear, valid = _starts(t, args[1], indices, operand, window, spec)
    batch = indices[:-1]
    flat = t.op("Reshape", [args[0], t.ints([-1])])
    out = t.op("Gather", [flat, _elements(t, linear, batch, operand, window)], axis=0)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept = [w for a, w in enumerate(window) if a not in dropped]
    out = t.op("Reshape", [out, t.ints((*batch, *kept))])
    out = _to_output_layout(t, out, len(batch), tuple(dn.offset_dims))
    if valid is None:
        return out
    mask = t.op("Unsqueeze", [valid, t.ints(dn.offset_dims)]) if dn.offset_dims else valid
    dtype = np.dtype(eqn.outvars[0].aval.dtype)
    if dtype == np.bool_:  # onnxruntime has no boolean Where
        fill = t.const(_fill(eqn), np.int32, "fill")
        return t.cast(t.op("Where", [mask, t.cast(out, np.int32), fill]), np.bool_)
    return t.op("Where", [mask, out, t.const(_fill(eqn), dtype, "fill")])


def _gather_one_window(t: Tracer, eqn, args: list[str], dn, window: tuple) -> str:
    """A gather of one window (an index vector, no batch): a Slice from the clamped
    start, then Squeeze of the collapsed axes; dynamic axes must be taken whole."""
    operand = tuple(eqn.invars[0].aval.shape)
    idx = t.cast(args[1], np.int64)
    starts, ends, valid = [], [], None
    for axis, size in enumerate(operand):
        if axis in dn.start_index_map:
            t.static(eqn.invars[0].aval.update(shape=(size,)), "gather along a dynamic axis")
            k = dn.start_index_map.index(axis)
            start = t.op("Gather", [idx, t.ints([k])], axis=0)
            high = t.ints([size - window[axis]])
            inside = t.op("And", [t.op("GreaterOrEqual", [start, t.ints([0])]),
                                  t.op("LessOrEqual", [start, high])])  # fmt: skip
            valid = inside if valid is None else t.op("And", [valid, inside])
            start = t.op("Min", [t.op("Max", [start, t.ints([0])]), high])
            starts.append(start)
            ends.append(t.op("Add", [start, t.ints([window[axis]])]))
        else:
            starts.append(t.ints([0]))
            ends.append(t.ints([window[axis] if isinstance(window[axis], int) else _END]))
    out = t.op("Slice", [args[0], t.op("Concat", starts, axis=0), t.op("Concat", ends, axis=0)])
    if dn.collapsed_slice_dims:
        out = t.op("Squeeze", [out, t.ints(dn.collapsed_slice_dims)])
    if valid is None or eqn.params["mode"] in _CLIP:
        return out
    dtype = np.dtype(eqn.outvars[0].aval.dtype)
    mask = t.op("Reshape", [valid, t.ints([])])
    if dtype == np.bool_:
        fill = t.const(_fill(eqn), np.int32, "fill")
        return t.cast(t.op("Where", [mask, t.cast(out, np.int32), fill]), np.bool_)
    return t.op("Where", [mask, out, t.const(_fill(eqn), dtype, "fill")])


_END = int(np.iinfo(np.int64).max)


def _to_output_layout(t: Tracer, out: str, nb: int, offset_dims: tuple) -> str:
    rank = nb + len(offset_dims)
    batch_axes = iter(range(nb))
    perm = [
        nb + offset_dims.index(p) if p in offset_dims else next(batch_axes) for p in range(rank)
    ]
    return out if perm == list(range(rank)) else t.op("Transpose", [out], perm=perm)


def _fill(eqn) -> object:
    value, dtype = eqn.params.get("fill_value"), np.dtype(eqn.outvars[0].aval.dtype)
    if value is not None:
        return value
    if np.issubdtype(dtype, np.inexact):
        return np.nan
    if dtype == np.bool_:
        return True
    return np.iinfo(dtype).min if np.issubdtype(dtype, np.signedinteger) else np.iinfo(dtype).max


_REDUCTIONS = {
    "scatter": "none",
    "scatter-add": "add",
    "scatter-mul": "mul",
    "scatter-min": "min",
    "scatter-max": "max",
    "scatter-sub": "add",
}


@rule(*_REDUCTIONS, onnx="ScatterND (reduction none/add/mul/min/max) on the flattened operand")
def _scatter(t: Tracer, eqn, args: list[str]) -> str:
    operand, indices, updates = (t.static(v.aval, "scatter") for v in eqn.invars)
    dn, name = eqn.params["dimension_numbers"], eqn.primitive.name
    window_dims = tuple(dn.update_window_dims)
    scatter_dims = [a for a in range(len(updates)) if a not in window_dims]
    hidden = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window, sizes = [], iter(updates[a] for a in window_dims)
    for a in range(len(operand)):
        window.append(1 if a in hidden else next(sizes))
    clip = eqn.params["mode"] in _CLIP
    spec = (dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
            dn.scatter_indices_batching_dims, clip)  # fmt: skip
    linear, valid = _starts(t, args[1], indices, operand, tuple(window), spec)
    elements = _elements(t, linear, indices[:-1], operand, tuple(window))
    if valid is not None:  # dropped windows write to one extra element
        axes = list(range(len(indices) - 1, len(indices) - 1 + len(window)))
        mask = t.op("Unsqueeze", [valid, t.ints(axes)]) if axes else valid
        spare = t.const(int(np.prod(operand)), np.int64, "spare")
        elements = t.op("Where", [mask, elements, spare])
    elements = t.op("Reshape", [elements, t.ints([-1, 1])])
    values = args[2]
    if scatter_dims + list(window_dims) != list(range(len(updates))):
        values = t.op("Transpose", [values], perm=scatter_dims + list(window_dims))
    if "sub" in name:
        values = t.op("Neg", [values])
    values = t.op("Reshape", [values, t.ints([-1])])
    return _scatter_flat(t, eqn, args[0], elements, values, operand, _REDUCTIONS[name])


def _scatter_flat(t: Tracer, eqn, data: str, elements: str, values: str, shape, reduction: str):
    needs = 18 if reduction in ("min", "max") else 16 if reduction != "none" else 13
    if t.w.opset < needs:
        raise UnsupportedOpError(
            f"{t.where}: {eqn.primitive.name} needs ScatterND with reduction={reduction!r} "
            f"(opset {needs}), exporting at opset {t.w.opset}; export at opset >= {needs}"
        )
    flat = t.op("Reshape", [data, t.ints([-1])])
    spare = t.const(np.zeros(1, eqn.invars[0].aval.dtype), hint="spare")
    flat = t.op("Concat", [flat, spare], axis=0)
    attrs = {"reduction": reduction} if reduction != "none" else {}
    out = t.op("ScatterND", [flat, elements, values], **attrs)
    total = int(np.prod(shape))
    out = t.op("Slice", [out, t.ints([0]), t.ints([total]), t.ints([0])])
    return t.op("Reshape", [out, t.ints(shape)])


def _clamped_starts(t: Tracer, starts: list[str], operand: tuple, window: tuple) -> list[str]:
    clamped = []
    for start, n, w in zip(starts, operand, window):
        s = t.cast(start, np.int64)
        clamped.append(
            t.op("Min", [t.op("Max", [s, t.const(0, np.int64)]), t.const(n - w, np.int64)])
        )
    return clamped


def _linear(t: Tracer, starts: list[str], operand: tuple) -> str:
    terms = [t.op("Mul", [s, t.const(k, np.int64)]) for s, k in zip(starts, _strides(operand))]
    linear = terms[0] if terms else t.const(0, np.int64)
    for term in terms[1:]:
        linear = t.op("Add", [linear, term])
    return linear


@rule("dynamic_slice", onnx="Slice from the clamped start indices")
def _dynamic_slice(t: Tracer, eqn, args: list[str]) -> str:
    operand = t.static(eqn.invars[0].aval, "dynamic_slice")
    window = tuple(eqn.params["slice_sizes"])
    starts = [
        t.op("Unsqueeze", [s, t.ints([0])]) for s in _clamped_starts(t, args[1:], operand, window)
    ]
    begin = t.op("Concat", starts, axis=0)
    end = t.op("Add", [begin, t.ints(window)])
    return t.op("Slice", [args[0], begin, end, t.ints(range(len(operand)))])


@rule("dynamic_update_slice", onnx="ScatterND of the update's elements at the clamped start")
def _dynamic_update_slice(t: Tracer, eqn, args: list[str]) -> str:
    operand = t.static(eqn.invars[0].aval, "dynamic_update_slice")
    window = t.static(eqn.invars[1].aval, "dynamic_update_slice")
    linear = _linear(t, _clamped_starts(t, args[2:], operand, window), operand)
    elements = t.op("Reshape", [_elements(t, linear, (), operand, window), t.ints([-1, 1])])
    values = t.op("Reshape", [args[1], t.ints([-1])])
    return _scatter_flat(t, eqn, args[0], elements, values, operand, "none")
