"""Checks of an ONNX model before anything is allocated or executed.

A model read from the internet is untrusted. Before its tensors are turned into arrays
or its graph is converted, `check_model` verifies, in time linear in the model's size
and without recursion (a graph nested 10,000 levels deep is walked with a stack):

- opsets: every domain a node uses is imported; known domains (`ai.onnx`,
  `ai.onnx.ml`, …) at an opset this onnx release knows; an IR version it knows;
- tensors (initializers, attribute tensors, sparse tensors): a known element type,
  non-negative dims, at most `MAX_ELEMENTS` elements (override with the
  `AXONNX_MAX_ELEMENTS` environment variable or the `max_elements` argument), and
  exactly as many bytes or values as the dims declare;
- graphs and subgraphs: non-empty, unique names for inputs, outputs and initializers;
  each value produced once; every input defined (here or in an enclosing graph); no
  cycles; nodes in topological order; well-formed attributes.

`load_external_data` reads weights kept in files beside the model, after checking
that each location stays inside the model's folder (no absolute path, no `..`, no
symbolic link leading out), names a regular file, and that offset + length lie
inside it. The files are memory-mapped: only the bytes of each tensor are read.

`check_elements` bounds the values computed while a model runs that set a shape
(ConstantOfShape, Expand, Tile, Range, Resize): the ops call it on the concrete output
shape, before allocating, with the same limit and error as the initializers.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx

from axonnx.converters.safety_graphs import GraphCheck, Scope, node_label, texts
from axonnx.converters.safety_tensors import declared_count, tensor_bytes
from axonnx.errors import InvalidModelError, ResourceLimitError, UnsafeFileError

__all__ = [
    "MAX_ELEMENTS",
    "check_elements",
    "check_model",
    "element_limit",
    "load_external_data",
]

_T = onnx.TensorProto
_KNOWN_DOMAINS = {"": 2, "ai.onnx.ml": 3, "ai.onnx.training": 4}

MAX_ELEMENTS = 2**32
"""Most elements one declared tensor (or graph input) may have: 4,294,967,296."""


def element_limit(max_elements: int | None = None) -> int:
    """The element limit in force: `max_elements`, else `AXONNX_MAX_ELEMENTS`, else
    `MAX_ELEMENTS`."""
    if max_elements is not None:
        return int(max_elements)
    text = os.environ.get("AXONNX_MAX_ELEMENTS", "").strip()
    if not text:
        return MAX_ELEMENTS
    if not text.isdigit():
        raise ValueError(f"AXONNX_MAX_ELEMENTS: expected a whole number, got {text!r}")
    return int(text)


def check_elements(shape, where: str, max_elements: int | None = None) -> None:
    """Raise `ResourceLimitError` when an output of `shape`, computed while the model
    runs (a ConstantOfShape's shape input, Expand's target, Tile's repeats, Range's
    count, Resize's sizes), would have more elements than the limit (`element_limit`).

    Called by the ops on the concrete shape (shape inputs are static) before anything
    is allocated. Negative dims are left to the op's own error.
    """
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        return
    count, limit = math.prod(dims), element_limit(max_elements)
    if count > limit:
        raise ResourceLimitError(
            f"{where}: the output would have {count:,} elements (shape {dims}), more than "
            f"the limit of {limit:,}. For a model you trust, raise the limit with "
            "AXONNX_MAX_ELEMENTS or axonnx.converters.safety.MAX_ELEMENTS."
        )


def check_model(
    proto: onnx.ModelProto,
    *,
    max_elements: int | None = None,
    raw_lengths: Mapping[str, int] | None = None,
) -> None:
    """Raise `InvalidModelError`, `ResourceLimitError` or `UnsafeFileError` if `proto`
    is malformed or asks for too much; return None when it may be converted.

    Tensors must hold their data (call `load_external_data` first for models read
    from a path), except the top-level initializers named in `raw_lengths`, whose
    `raw_data` was left in the file (`file_weights`): their length is checked instead.
    Linear time, no recursion.
    """
    limit = element_limit(max_elements)
    opsets = _check_opsets(proto)
    stack: list[tuple[onnx.GraphProto, Scope | None, str]] = [(proto.graph, None, "graph")]
    while stack:
        graph, outer, where = stack.pop()
        check = GraphCheck(graph, outer, where, opsets, limit)
        check.raw_lengths = raw_lengths if outer is None else None
        stack.extend(check.run())


def _known_opsets() -> dict[str, int]:
    newest = onnx.helper.VERSION_TABLE[-1]
    known = {domain: newest[column] for domain, column in _KNOWN_DOMAINS.items()}
    known[""] = max(known[""], onnx.defs.onnx_opset_version())
    known["ai.onnx.preview.training"] = 1
    return known


def _check_opsets(proto: onnx.ModelProto) -> dict[str, int]:
    if proto.ir_version > onnx.IR_VERSION:
        raise InvalidModelError(
            f"model: IR version {proto.ir_version} is newer than this onnx release "
            f"supports ({onnx.IR_VERSION}). Upgrade onnx or re-export with an older IR."
        )
    known, opsets = _known_opsets(), {}
    texts([entry.domain for entry in proto.opset_import], "model: opset_import")
    for entry in proto.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        if domain in opsets and opsets[domain] != entry.version:
            raise InvalidModelError(
                f"model: domain {domain or 'ai.onnx'!r} is imported twice, at opsets "
                f"{opsets[domain]} and {entry.version}"
            )
        if entry.version < 1 or entry.version > known.get(domain, entry.version):
            raise InvalidModelError(
                f"model: opset {entry.version} of domain {domain or 'ai.onnx'!r} is not "
                f"supported: expected 1 to {known.get(domain, 'any')}. Re-export with an "
                "older opset."
            )
        opsets[domain] = entry.version
    return opsets


def _location_parts(location: str, where: str) -> tuple[str, ...]:
    if not location or "\x00" in location:
        raise UnsafeFileError(f"{where}: external data location {location!r} is not a file name")
    windows = PureWindowsPath(location)
    if PurePosixPath(location).is_absolute() or windows.drive or windows.root:
        raise UnsafeFileError(
            f"{where}: external data location {location!r} is an absolute path; only "
            "files inside the model's folder are read"
        )
    parts = tuple(p for p in location.replace("\\", "/").split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeFileError(
            f"{where}: external data location {location!r} leads out of the model's "
            "folder ('..'); only files inside it are read"
        )
    return parts


def _data_file(folder: Path, location: str, where: str) -> Path:
    """The checked path of an external data file inside `folder`."""
    parts = _location_parts(location, where)
    root = folder.resolve()
    path = root.joinpath(*parts)
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise UnsafeFileError(
            f"{where}: external data location {location!r} is a symbolic link leading "
            f"out of the model's folder (to {resolved}); only files inside it are read"
        )
    try:
        mode = resolved.stat().st_mode
    except OSError:
        raise InvalidModelError(
            f"{where}: external data file {location!r} does not exist beside the model"
        ) from None
    if not stat.S_ISREG(mode):
        raise UnsafeFileError(f"{where}: external data location {location!r} is not a file")
    return resolved


def _external_fields(tensor: onnx.TensorProto, where: str) -> dict[str, str]:
    fields = {entry.key: entry.value for entry in tensor.external_data}
    for key in ("offset", "length"):
        text = fields.get(key)
        if text is not None and not text.strip().isdigit():
            raise InvalidModelError(
                f"{where}: external data {key} must be a whole number >= 0, got {text!r}"
            )
    return fields


class _Files:
    """Memory maps of the external data files, opened once each."""

    def __init__(self):
        self.maps: dict[Path, np.ndarray] = {}

    def read(self, path: Path, offset: int, length: int) -> bytes:
        if length == 0:
            return b""
        if path not in self.maps:
            self.maps[path] = np.memmap(path, dtype=np.uint8, mode="r")
        return self.maps[path][offset : offset + length].tobytes()


def load_external_data(
    proto: onnx.ModelProto, folder: str | os.PathLike, *, max_elements: int | None = None
) -> None:
    """Read every tensor of `proto` stored in an external file (initializers and
    attribute tensors, subgraphs included) into the proto, after checking where the
    file is and that the bytes the tensor needs lie inside it.

    Raises `UnsafeFileError` for a location outside `folder`, `InvalidModelError` for a
    missing file or a range outside it, `ResourceLimitError` for too many elements.
    """
    limit, files, base = element_limit(max_elements), _Files(), Path(folder)
    for tensor, where in _all_tensors(proto.graph):
        if tensor.data_location != _T.EXTERNAL:
            continue
        fields = _external_fields(tensor, where)
        path = _data_file(base, fields.get("location", ""), where)
        offset = int(fields.get("offset", "0"))
        needed = _needed_bytes(tensor, where, limit)
        length = int(fields.get("length", str(needed)))
        _check_range(path, offset, length, needed, where)
        tensor.raw_data = files.read(path, offset, length)
        tensor.data_location = _T.DEFAULT
        del tensor.external_data[:]


def _needed_bytes(tensor: onnx.TensorProto, where: str, limit: int) -> int:
    count = declared_count(tensor, where, limit)
    if tensor.data_type == _T.STRING:
        raise InvalidModelError(f"{where}: string tensors cannot be stored externally")
    return tensor_bytes(tensor, count)


def _check_range(path: Path, offset: int, length: int, needed: int, where: str) -> None:
    if length != needed:
        raise InvalidModelError(
            f"{where}: external data length {length} does not match the {needed} bytes "
            "its dims and type need"
        )
    size = path.stat().st_size
    if offset + length > size:
        raise InvalidModelError(
            f"{where}: external data range [{offset}, {offset + length}) lies outside "
            f"{path.name} ({size} bytes)"
        )


def _all_tensors(graph: onnx.GraphProto):
    """Yield `(tensor, where)` for every tensor of `graph` and its subgraphs (a stack,
    not recursion)."""
    stack = [(graph, "graph")]
    while stack:
        current, where = stack.pop()
        for tensor in current.initializer:
            yield tensor, f"{where}: initializer {tensor.name!r}"
        for sparse in current.sparse_initializer:
            yield sparse.values, f"{where}: sparse initializer {sparse.values.name!r}"
            yield sparse.indices, f"{where}: sparse initializer {sparse.values.name!r} indices"
        for node in current.node:
            for attr in node.attribute:
                label = f"{where}: {node_label(node)}: attribute {attr.name!r}"
                if attr.HasField("t"):
                    yield attr.t, label
                yield from ((t, label) for t in attr.tensors)
                if attr.HasField("g"):
                    stack.append((attr.g, f"{label} (subgraph)"))
                stack.extend((g, f"{label} (subgraph)") for g in attr.graphs)
