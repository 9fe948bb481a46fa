"""ONNX ops: shape and layout (Shape, Reshape, Slice, Pad, Concat, Split, …).

Shape-like inputs (Reshape's shape, Slice's starts, Pad's pads, …) are static: they
must be known when the model is compiled. `Shape` and `Size` return NumPy arrays
computed from the static shape, so shape arithmetic folds while tracing.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.converters.ops._common import int64, normalize_axis, static
from axonnx.converters.ops._shape_util import axes_list, backend, ints, slice_of
from axonnx.converters.registry import onnx_op
from axonnx.converters.safety import check_elements
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_LATEST = (21, 23, 24, 25)


# --- shape queries and constants -------------------------------------------------------


@onnx_op("Shape", 1, 13, 15, 19, *_LATEST)
def shape(data, *, end=None, start=0):
    """ONNX Shape-1..25: the dimensions `start:end` of `data` as int64 `(k,)`."""
    dims = np.shape(data)
    rank = len(dims)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
    return np.asarray(dims[start:end], dtype=int64()).reshape(-1)


@onnx_op("Size", 1, 13, 19, *_LATEST)
def size(data):
    """ONNX Size-1..25: the number of elements of `data` as an int64 scalar."""
    return np.asarray(np.size(data), dtype=int64())


@onnx_op("Constant", 1, 9, 11, 12, 13, 19, *_LATEST)
def constant(
    *,
    sparse_value=None,
    value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
    value_string=None,
    value_strings=None,
):
    """ONNX Constant-1..25: the tensor given by exactly one `value*` attribute."""
    given = {
        "value": None if value is None else np.asarray(value),
        "sparse_value": None if sparse_value is None else _sparse_to_dense(sparse_value),
        "value_float": None if value_float is None else np.float32(value_float),
        "value_floats": None if value_floats is None else np.asarray(value_floats, np.float32),
        "value_int": None if value_int is None else np.asarray(value_int, int64()),
        "value_ints": None if value_ints is None else np.asarray(value_ints, int64()),
        "value_string": None if value_string is None else np.asarray(value_string, object),
        "value_strings": None if value_strings is None else np.asarray(value_strings, object),
    }
    present = [v for v in given.values() if v is not None]
    if len(present) != 1:
        names = [k for k, v in given.items() if v is not None]
        raise InvalidModelError(f"Constant: expected exactly one value attribute, got {names}")
    return np.asarray(present[0])


def _sparse_to_dense(sparse: onnx.SparseTensorProto) -> np.ndarray:
    values = onnx.numpy_helper.to_array(sparse.values)
    indices = onnx.numpy_helper.to_array(sparse.indices).astype(np.int64)
    dense = np.zeros(tuple(sparse.dims), values.dtype)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(tuple(indices.T), dense.shape)
    dense.reshape(-1)[indices] = values
    return dense


@onnx_op("ConstantOfShape", 9, 20, *_LATEST, static_inputs=(0,))
def constant_of_shape(input, *, value=None):
    """ONNX ConstantOfShape-9..25: a tensor of shape `input` filled with `value[0]`
    (float32 zero by default)."""
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    dims = tuple(ints(input, "ConstantOfShape input"))
    check_elements(dims, "ConstantOfShape")
    return np.full(dims, fill[0], fill.dtype)


@onnx_op("Identity", 1, 13, 14, 16, 19, *_LATEST)
def identity(input):
    """ONNX Identity-1..25: `input` unchanged (tensors, sequences and optionals)."""
    return input


@onnx_op("EyeLike", 9, 22)
def eye_like(input, *, dtype=None, k=0):
    """ONNX EyeLike-9..22: a matrix shaped like the 2-D `input` with ones on diagonal `k`."""
    if np.ndim(input) != 2:
        raise ShapeError(f"EyeLike: expected a 2-D input, got shape {np.shape(input)}")
    out = np.dtype(input.dtype) if dtype is None else onnx.helper.tensor_dtype_to_np_dtype(dtype)
    return np.eye(*np.shape(input), k=k, dtype=out)


@onnx_op("Range", 11, static_inputs=(0, 1, 2))
def range_11(start, limit, delta):
    """ONNX Range-11: `start, start+delta, …` up to `limit` (exclusive), shape `(n,)`."""
    return range_27(start, limit, delta, stash_type=None)


@onnx_op("Range", 27, static_inputs=(0, 1, 2))
def range_27(start, limit, delta, *, stash_type=1):
    """ONNX Range-27: as Range-11; float16/bfloat16 are computed in `stash_type`."""
    start, limit, delta = (static(v, "Range input") for v in (start, limit, delta))
    dtype = start.dtype
    stash = {1: np.float32, 11: np.float64}.get(stash_type, np.float64)
    compute = stash if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize == 2 else None
    first, stop, step = start.item(), limit.item(), delta.item()
    if step == 0:
        raise InvalidModelError("Range: expected a non-zero delta, got 0")
    count = max(math.ceil((stop - first) / step), 0)
    check_elements((count,), "Range")
    values = np.asarray(first, compute) + np.arange(count, dtype=compute or dtype) * step
    return np.asarray(values).astype(dtype)


# --- reshaping -------------------------------------------------------------------------


@onnx_op("Reshape", 5, 13, 14, 19, *_LATEST, static_inputs=(1,))
def reshape(data, shape, *, allowzero=0):
    """ONNX Reshape-5..25: `data` in the static `shape`; 0 copies the input dimension
    (unless `allowzero`), -1 is inferred."""
    dims = ints(shape, "Reshape shape")
    if not allowzero:
        dims = [np.shape(data)[i] if d == 0 else d for i, d in enumerate(dims)]
    known = math.prod(d for d in dims if d != -1)
    if dims.count(-1) > 1 or (-1 in dims and known == 0 and np.size(data)):
        raise ShapeError(
            f"Reshape: cannot infer the -1 in shape {dims} for input shape {np.shape(data)}"
        )
    if -1 in dims:
        dims[dims.index(-1)] = np.size(data) // known if known else 0
    if math.prod(dims) != np.size(data):
        raise ShapeError(f"Reshape: cannot reshape input of shape {np.shape(data)} to {dims}")
    return backend(data).reshape(data, dims)


@onnx_op("Flatten", 1, 9, 11, 13, *_LATEST)
def flatten(input, *, axis=1):
    """ONNX Flatten-1..25: `input` as a matrix `(prod(dims[:axis]), prod(dims[axis:]))`."""
    dims = np.shape(input)
    if not -len(dims) <= axis <= len(dims):
        raise ShapeError(f"Flatten: axis {axis} is out of range for rank {len(dims)}")
    axis = axis + len(dims) if axis < 0 else axis
    return backend(input).reshape(input, (math.prod(dims[:axis]), math.prod(dims[axis:])))


@onnx_op("Squeeze", 1, 11)
def squeeze_11(data, *, axes=None):
    """ONNX Squeeze-1/11: remove the size-1 dimensions `axes` (attribute; all if absent)."""
    return squeeze(data, axes)


@onnx_op("Squeeze", 13, *_LATEST, static_inputs=(1,))
def squeeze(data, axes=None):
    """ONNX Squeeze-13..25: remove the size-1 dimensions `axes` (all if absent)."""
    dims = np.shape(data)
    if axes is None:
        return backend(data).reshape(data, [d for d in dims if d != 1])
    drop = axes_list(axes, len(dims), "Squeeze axes")
    if any(dims[a] != 1 for a in drop):
        raise ShapeError(f"Squeeze: expected size-1 dimensions at axes {drop}, got shape {dims}")
    return backend(data).reshape(data, [d for i, d in enumerate(dims) if i not in drop])


@onnx_op("Unsqueeze", 1, 11)
def unsqueeze_11(data, *, axes=None):
    """ONNX Unsqueeze-1/11: insert size-1 dimensions at `axes` (attribute) of the output."""
    if axes is None:
        raise InvalidModelError("Unsqueeze: the attribute axes is required before opset 13")
    return unsqueeze(data, axes)


@onnx_op("Unsqueeze", 13, *_LATEST, static_inputs=(1,))
def unsqueeze(data, axes):
    """ONNX Unsqueeze-13..25: insert size-1 dimensions at `axes` of the output."""
    dims = list(np.shape(data))
    new = sorted(axes_list(axes, len(dims) + len(ints(axes, "Unsqueeze axes")), "Unsqueeze axes"))
    for a in new:
        dims.insert(a, 1)
    return backend(data).reshape(data, dims)


@onnx_op("Transpose", 1, 13, *_LATEST)
def transpose(data, *, perm=None):
    """ONNX Transpose-1..25: permute the axes of `data` (reverse them by default)."""
    return backend(data).transpose(data, None if perm is None else tuple(perm))


@onnx_op("Expand", 8, 13, static_inputs=(1,))
def expand(input, shape):
    """ONNX Expand-8/13: broadcast `input` with the static `shape` (NumPy rules)."""
    target = tuple(ints(shape, "Expand shape"))
    try:
        out = np.broadcast_shapes(np.shape(input), target)
    except ValueError as error:
        raise ShapeError(f"Expand: cannot broadcast shape {np.shape(input)} to {target}") from error
    check_elements(out, "Expand")
    return backend(input).broadcast_to(input, out)


@onnx_op("Tile", 6, 13, static_inputs=(1,))
def tile(input, repeats):
    """ONNX Tile-6/13: `input` repeated `repeats[i]` times along each axis i."""
    reps = ints(repeats, "Tile repeats")
    if len(reps) != np.ndim(input):
        raise ShapeError(f"Tile: expected {np.ndim(input)} repeats, got {reps}")
    check_elements([d * r for d, r in zip(np.shape(input), reps, strict=True)], "Tile")
    return backend(input).tile(input, reps)


# --- joining and slicing ---------------------------------------------------------------


@onnx_op("Concat", 4, 11, 13)
def concat(*inputs, axis=None):
    """ONNX Concat-4..13: join `inputs` along `axis`."""
    if axis is None:
        raise InvalidModelError("Concat: the attribute axis is required")
    axis = normalize_axis(axis, np.ndim(inputs[0]))
    return backend(inputs[0]).concatenate(inputs, axis=axis)


def _split(input, sizes, count, axis, op) -> tuple:
    dim = np.shape(input)[normalize_axis(axis, np.ndim(input))]
    if sizes is None:
        if not count:
            raise UnsupportedOpError(
                f"{op}: splitting into equal parts needs the number of outputs; give the "
                "split sizes (the importer does not pass the node's output count)"
            )
        chunk = -(-dim // count)
        sizes = [chunk] * (count - 1) + [dim - chunk * (count - 1)]
    if sum(sizes) != dim or min(sizes) < 0:
        raise ShapeError(f"{op}: split sizes {sizes} do not add up to dimension {dim}")
    return tuple(backend(input).split(input, np.cumsum(sizes)[:-1].tolist(), axis=axis))


@onnx_op("Split", 2, 11)
def split_11(input, *, axis=0, split=None, num_outputs=None):
    """ONNX Split-2/11: parts of `input` along `axis` with sizes `split` (attribute)."""
    return _split(input, None if split is None else list(split), num_outputs, axis, "Split")


@onnx_op("Split", 13, 18, static_inputs=(1,))
def split(input, split=None, *, axis=0, num_outputs=None):
    """ONNX Split-13/18: parts of `input` along `axis`, sized by the `split` input or
    `num_outputs` equal parts (the last one smaller)."""
    sizes = None if split is None else ints(split, "Split split")
    return _split(input, sizes, num_outputs, axis, "Split")


@onnx_op("Slice", 1)
def slice_1(data, *, axes=None, ends=None, starts=None):
    """ONNX Slice-1: `data[starts:ends]` along `axes` (attributes)."""
    return slice_(data, starts, ends, axes)


@onnx_op("Slice", 10, 11, 13, static_inputs=(1, 2, 3, 4))
def slice_(data, starts, ends, axes=None, steps=None):
    """ONNX Slice-10..13: `data[starts:ends:steps]` along `axes`, clamped to the bounds."""
    starts, ends = ints(starts, "Slice starts"), ints(ends, "Slice ends")
    dims = np.shape(data)
    axes = list(range(len(starts))) if axes is None else axes_list(axes, len(dims), "Slice axes")
    steps = [1] * len(starts) if steps is None else ints(steps, "Slice steps")
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise InvalidModelError(
            f"Slice: expected starts, ends, axes, steps of equal length, "
            f"got {starts}, {ends}, {axes}, {steps}"
        )
    index = [slice(None)] * len(dims)
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        index[axis] = slice_of(start, end, step, dims[axis])
    return data[tuple(index)]


# --- padding and cropping --------------------------------------------------------------

_PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _pad(data, pads, value, axes, mode):
    if mode not in _PAD_MODES:
        raise UnsupportedOpError(f"Pad: mode {mode!r} is not supported; use one of {_PAD_MODES}")
    dims = np.shape(data)
    axes = list(range(len(dims))) if axes is None else axes_list(axes, len(dims), "Pad axes")
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"Pad: expected {2 * len(axes)} pads, got {pads}")
    widths = [(0, 0)] * len(dims)
    for i, axis in enumerate(axes):
        widths[axis] = (pads[i], pads[i + len(axes)])
    crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for d, (b, e) in zip(dims, widths, strict=True))
    data = data[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    if mode != "constant":
        return jnp.pad(data, widths, mode=mode)
    fill = 0 if value is None else jnp.asarray(value, data.dtype).reshape(())
    return jnp.pad(data, widths, constant_values=fill)


@onnx_op("Pad", 2)
def pad_2(data, *, mode="constant", pads=None, value=0.0):
    """ONNX Pad-2: pad (negative: crop) `data` by the `pads` attribute."""
    return _pad(data, list(pads), value, None, mode)


@onnx_op("Pad", 11, 13, 18, 19, *_LATEST, static_inputs=(1, 3))
def pad(data, pads, constant_value=None, axes=None, *, mode="constant"):
    """ONNX Pad-11..25: pad (negative: crop) `data` by `[begin…, end…]` over `axes`
    in mode constant, reflect, edge or wrap."""
    return _pad(data, ints(pads, "Pad pads"), constant_value, axes, mode)


@onnx_op("CenterCropPad", 18, static_inputs=(1,))
def center_crop_pad(input_data, shape, *, axes=None):
    """ONNX CenterCropPad-18: crop or zero-pad `axes` to `shape`, keeping the centre."""
    dims = np.shape(input_data)
    axes = list(range(len(dims))) if axes is None else axes_list(axes, len(dims), "axes")
    target = ints(shape, "CenterCropPad shape")
    if len(target) != len(axes):
        raise ShapeError(f"CenterCropPad: expected {len(axes)} sizes in shape, got {target}")
    pads = [0] * (2 * len(dims))
    for axis, size in zip(axes, target, strict=True):
        pads[axis] = (size - dims[axis]) // 2 if size > dims[axis] else -((dims[axis] - size) // 2)
        pads[axis + len(dims)] = size - dims[axis] - pads[axis]
    return _pad(input_data, pads, None, None, "constant")


# --- layout ----------------------------------------------------------------------------


@onnx_op("Trilu", 14, static_inputs=(1,))
def trilu(input, k=None, *, upper=1):
    """ONNX Trilu-14: the upper (or lower) triangle of the last two axes above diagonal `k`."""
    k = 0 if k is None else int(static(k, "Trilu k"))
    return jnp.triu(input, k) if upper else jnp.tril(input, k)


def _blocks(input, blocksize, mode, op) -> tuple[int, ...]:
    if np.ndim(input) != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W), got shape {np.shape(input)}")
    if not blocksize or blocksize < 1:
        raise InvalidModelError(f"{op}: expected a positive blocksize attribute, got {blocksize}")
    if mode not in ("DCR", "CRD"):
        raise UnsupportedOpError(f"{op}: mode {mode!r} is not supported; use 'DCR' or 'CRD'")
    return np.shape(input)


@onnx_op("DepthToSpace", 1, 11, 13, 28)
def depth_to_space(input, *, blocksize=None, mode="DCR"):
    """ONNX DepthToSpace-1..28: `(N, C, H, W)` → `(N, C/b², H·b, W·b)`."""
    n, c, h, w = _blocks(input, blocksize, mode, "DepthToSpace")
    b = blocksize
    if mode == "DCR":
        x = jnp.reshape(input, (n, b, b, c // b**2, h, w)).transpose(0, 3, 4, 1, 5, 2)
    else:
        x = jnp.reshape(input, (n, c // b**2, b, b, h, w)).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // b**2, h * b, w * b)


@onnx_op("SpaceToDepth", 1, 13, 28)
def space_to_depth(input, *, blocksize=None, mode="DCR"):
    """ONNX SpaceToDepth-1..28: `(N, C, H, W)` → `(N, C·b², H/b, W/b)`."""
    n, c, h, w = _blocks(input, blocksize, mode, "SpaceToDepth")
    b = blocksize
    x = jnp.reshape(input, (n, c, h // b, b, w // b, b))
    x = x.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else x.transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * b**2, h // b, w // b)
