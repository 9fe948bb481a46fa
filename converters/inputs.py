"""Inputs for running a model: generated from its input specs, or read from files."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from axonnx.errors import InvalidModelError

__all__ = ["graph_inputs", "make_inputs", "read_inputs"]

DEFAULT_DIM = 2
"""Size used for a symbolic dimension the caller did not bind."""


def graph_inputs(proto: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are not initializers (what a caller must feed)."""
    initializers = {t.name for t in proto.graph.initializer}
    return [i for i in proto.graph.input if i.name not in initializers]


def make_inputs(
    proto: onnx.ModelProto,
    *,
    dims: Mapping[str, int] | None = None,
    seed: int = 0,
    int_high: int | None = None,
) -> dict[str, np.ndarray]:
    """Random inputs matching the model's input specs.

    Symbolic dimensions take their size from `dims` (e.g. `{"batch": 2, "sequence": 16}`)
    or `DEFAULT_DIM`. Floats are standard normal. Integers lie in `[0, bound)`: the
    bound is the size of the table an input indexes (a Gather on an initializer: token
    ids below the vocabulary size), capped by `int_high`, else `int_high` or 10. Inputs
    named like a mask are all ones; booleans are random.
    """
    rng = np.random.default_rng(seed)
    dims = dict(dims or {})
    bounds = _index_bounds(proto)
    return {
        info.name: _random(info, dims, rng, _bound(bounds.get(info.name), int_high))
        for info in graph_inputs(proto)
    }


def _bound(table: int | None, int_high: int | None) -> int:
    candidates = [b for b in (table, int_high) if b is not None]
    return min(candidates) if candidates else 10


def _index_bounds(proto: onnx.ModelProto) -> dict[str, int]:
    """Input name → size of the initializer table it indexes through a Gather."""
    tables = {t.name: list(t.dims) for t in proto.graph.initializer}
    bounds: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[0] in tables:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            size = tables[node.input[0]][axis]
            bounds[node.input[1]] = min(size, bounds.get(node.input[1], size))
    return bounds


def _shape(info: onnx.ValueInfoProto, dims: Mapping[str, int]) -> tuple[int, ...]:
    shape = info.type.tensor_type.shape
    sizes = []
    for dim in shape.dim:
        if dim.HasField("dim_value"):
            sizes.append(int(dim.dim_value))
        else:
            sizes.append(int(dims.get(dim.dim_param, DEFAULT_DIM)))
    return tuple(sizes)


def _random(info: onnx.ValueInfoProto, dims, rng: np.random.Generator, int_high: int):
    if not info.type.HasField("tensor_type"):
        raise InvalidModelError(f"input {info.name!r}: only tensor inputs can be generated")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type)
    shape = _shape(info, dims)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        if "mask" in info.name.lower():
            return np.ones(shape, dtype)
        return rng.integers(0, int_high, shape).astype(dtype)
    if dtype.kind == "O":
        return np.array(rng.choice(["a", "b", "c"], shape), dtype=object)
    return rng.standard_normal(shape).astype(dtype)


def read_inputs(path: str | os.PathLike, proto: onnx.ModelProto | None = None) -> dict:
    """Inputs from an `.npz` file (no pickle), a `.pb` TensorProto file, or a folder of
    `input_N.pb` files (ONNX test-data layout, matched to the graph inputs in order)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
        return _named_tensors(files, proto)
    if path.suffix == ".pb":
        return _named_tensors([path], proto)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise InvalidModelError(f"{path}: not a readable .npz file of arrays ({error})") from error


def _named_tensors(files: list[Path], proto: onnx.ModelProto | None) -> dict[str, np.ndarray]:
    expected = [i.name for i in graph_inputs(proto)] if proto is not None else []
    arrays = {}
    for index, file in enumerate(files):
        tensor = onnx.TensorProto()
        try:
            tensor.ParseFromString(file.read_bytes())
        except Exception as error:  # protobuf's DecodeError
            raise InvalidModelError(f"{file}: not an ONNX TensorProto ({error})") from error
        name = tensor.name or (expected[index] if index < len(expected) else f"input_{index}")
        arrays[name] = numpy_helper.to_array(tensor)
    return arrays
