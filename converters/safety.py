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
from collections import deque
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx

from axonnx.errors import InvalidModelError, ResourceLimitError, UnsafeFileError

__all__ = [
    "MAX_ELEMENTS",
    "check_elements",
    "check_model",
    "element_limit",
    "load_external_data",
]

MAX_ELEMENTS = 2**32
"""Most elements one declared tensor (or graph input) may have: 4,294,967,296."""

_T = onnx.TensorProto
_A = onnx.AttributeProto
_PACKED_BITS = {_T.INT4: 4, _T.UINT4: 4, _T.FLOAT4E2M1: 4, _T.INT2: 2, _T.UINT2: 2}
_PACKED_BITS |= {_T.FLOAT6E2M3: 6, _T.FLOAT6E3M2: 6}
_PAIRS = {_T.COMPLEX64, _T.COMPLEX128}
_KNOWN_DOMAINS = {"": 2, "ai.onnx.ml": 3, "ai.onnx.training": 4}
_SINGLE_FIELDS = {_A.FLOAT: "f", _A.INT: "i", _A.STRING: "s", _A.TENSOR: "t", _A.GRAPH: "g"}
_SINGLE_FIELDS |= {_A.SPARSE_TENSOR: "sparse_tensor", _A.TYPE_PROTO: "tp"}
_DATA_TYPES = frozenset(_T.DataType.values()) - {_T.UNDEFINED}
_ATTRIBUTE_TYPES = frozenset(_A.AttributeType.values()) - {_A.UNDEFINED}


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
    `raw_data` was left in the file (`fast_reader`): their length is checked instead.
    Linear time, no recursion.
    """
    limit = element_limit(max_elements)
    opsets = _check_opsets(proto)
    stack: list[tuple[onnx.GraphProto, _Scope | None, str]] = [(proto.graph, None, "graph")]
    while stack:
        graph, outer, where = stack.pop()
        check = _GraphCheck(graph, outer, where, opsets, limit)
        check.raw_lengths = raw_lengths if outer is None else None
        stack.extend(check.run())


# ---------------------------------------------------------------- opsets


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
    _texts([entry.domain for entry in proto.opset_import], "model: opset_import")
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


# ---------------------------------------------------------------- tensors


def tensor_bytes(tensor: onnx.TensorProto, count: int) -> int:
    """How many bytes of raw data `count` elements of the tensor's type take."""
    bits = _PACKED_BITS.get(tensor.data_type)
    if bits is not None:
        return math.ceil(count * bits / 8)
    return count * onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize


def _typed_count(data_type: int, count: int) -> int:
    bits = _PACKED_BITS.get(data_type)
    if bits is not None and bits != 6:
        return math.ceil(count * bits / 8)
    return 2 * count if data_type in _PAIRS else count


def declared_count(tensor: onnx.TensorProto, where: str, limit: int) -> int:
    """The element count the dims declare; raises for negative dims or over `limit`."""
    if tensor.data_type not in _DATA_TYPES:
        raise InvalidModelError(f"{where}: unknown element type {tensor.data_type}")
    if any(d < 0 for d in tensor.dims):
        raise InvalidModelError(f"{where}: expected dims >= 0, got {list(tensor.dims)}")
    count = math.prod(tensor.dims)
    if count > limit:
        raise ResourceLimitError(
            f"{where}: declares {count:,} elements (dims {list(tensor.dims)}), more than "
            f"the limit of {limit:,}. For a file you trust, raise the limit with "
            "AXONNX_MAX_ELEMENTS or axonnx.converters.safety.MAX_ELEMENTS."
        )
    return count


def check_tensor(
    tensor: onnx.TensorProto, where: str, limit: int, raw_length: int | None = None
) -> None:
    """Raise unless the tensor's data is in the proto and fits its dims and type
    (`raw_length`: the length of raw data kept outside the proto)."""
    count = declared_count(tensor, where, limit)
    if tensor.HasField("segment"):
        raise InvalidModelError(f"{where}: segmented tensors are not supported")
    if tensor.data_location == _T.EXTERNAL:
        raise InvalidModelError(
            f"{where}: the data lives in an external file; load the model from its path "
            "so the file can be found and checked"
        )
    if raw_length is not None or tensor.HasField("raw_data"):
        _check_raw(tensor, where, count, raw_length)
        return
    field = onnx.helper.tensor_dtype_to_field(tensor.data_type)
    expected, actual = _typed_count(tensor.data_type, count), len(getattr(tensor, field))
    if actual != expected:
        raise InvalidModelError(
            f"{where}: dims {list(tensor.dims)} need {expected} values in {field}, got {actual}"
        )


def _check_raw(tensor: onnx.TensorProto, where: str, count: int, length: int | None = None) -> None:
    if tensor.data_type == _T.STRING:
        raise InvalidModelError(f"{where}: string tensors cannot use raw_data")
    expected = tensor_bytes(tensor, count)
    length = len(tensor.raw_data) if length is None else length
    if length != expected:
        raise InvalidModelError(
            f"{where}: dims {list(tensor.dims)} of type "
            f"{_T.DataType.Name(tensor.data_type)} need {expected} bytes of raw data, "
            f"got {length}"
        )


def _check_sparse(sparse: onnx.SparseTensorProto, where: str, limit: int) -> None:
    if any(d < 0 for d in sparse.dims):
        raise InvalidModelError(f"{where}: expected dims >= 0, got {list(sparse.dims)}")
    count = math.prod(sparse.dims)
    if count > limit:
        raise ResourceLimitError(
            f"{where}: declares a dense shape of {count:,} elements, more than the limit "
            f"of {limit:,}. For a file you trust, raise AXONNX_MAX_ELEMENTS."
        )
    check_tensor(sparse.values, f"{where} values", limit)
    check_tensor(sparse.indices, f"{where} indices", limit)


# ---------------------------------------------------------------- graphs


class _Scope:
    """The names a graph defines, chained to the scope of the graph enclosing it."""

    def __init__(self, names: set[str], parent: _Scope | None):
        self.names, self.parent = names, parent

    def __contains__(self, name: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


def _node_label(node: onnx.NodeProto) -> str:
    name = node.name or (node.output[0] if node.output else "")
    return f"node {name!r} ({node.op_type})"


class _GraphCheck:
    """The checks of one graph; `run` returns its subgraphs to check next."""

    def __init__(self, graph, outer: _Scope | None, where: str, opsets, limit: int):
        self.graph, self.outer, self.where = graph, outer, where
        self.opsets, self.limit = opsets, limit
        self.raw_lengths: Mapping[str, int] | None = None
        self.subgraphs: list[tuple[onnx.GraphProto, _Scope | None, str]] = []

    def run(self) -> list[tuple[onnx.GraphProto, _Scope | None, str]]:
        defined = self._declared()
        produced = self._produced(defined)
        scope = _Scope(defined | produced, self.outer)
        for node in self.graph.node:
            self._check_node(node, scope)
        self._check_order(defined)
        self._check_outputs(scope)
        return self.subgraphs

    def _declared(self) -> set[str]:
        graph, names = self.graph, set()
        inputs = [(v.name, "an input") for v in graph.input]
        tensors = [(t.name, "an initializer") for t in graph.initializer]
        sparse = [(s.values.name, "a sparse initializer") for s in graph.sparse_initializer]
        _texts([n for n, _ in [*inputs, *tensors, *sparse]], self.where)
        for name, kind in [*inputs, *tensors, *sparse]:
            if not name:
                raise InvalidModelError(f"{self.where}: {kind} has an empty name")
        _unique([n for n, _ in inputs], f"{self.where}: graph input")
        _unique([n for n, _ in tensors + sparse], f"{self.where}: initializer")
        for tensor in graph.initializer:
            where = f"{self.where}: initializer {tensor.name!r}"
            raw = (self.raw_lengths or {}).get(tensor.name)
            check_tensor(tensor, where, self.limit, raw)
        for item in graph.sparse_initializer:
            _check_sparse(
                item, f"{self.where}: sparse initializer {item.values.name!r}", self.limit
            )
        for value in graph.input:
            self._check_input_size(value)
        names.update(n for n, _ in [*inputs, *tensors, *sparse])
        return names

    def _check_input_size(self, value: onnx.ValueInfoProto) -> None:
        dims = value.type.tensor_type.shape.dim
        sizes = [d.dim_value for d in dims if d.HasField("dim_value")]
        if any(s < 0 for s in sizes):
            raise InvalidModelError(
                f"{self.where}: input {value.name!r}: expected dims >= 0, got {sizes}"
            )
        if math.prod(sizes) > self.limit:
            raise ResourceLimitError(
                f"{self.where}: input {value.name!r} declares {math.prod(sizes):,} elements "
                f"(dims {sizes}), more than the limit of {self.limit:,}. For a file you "
                "trust, raise AXONNX_MAX_ELEMENTS."
            )

    def _produced(self, defined: set[str]) -> set[str]:
        producer: dict[str, onnx.NodeProto] = {}
        for node in self.graph.node:
            for name in node.output:
                if not name:
                    continue
                if name in defined or name in producer:
                    first = _node_label(producer[name]) if name in producer else "the graph"
                    raise InvalidModelError(
                        f"{self.where}: {_node_label(node)}: output {name!r} is already "
                        f"defined by {first}; every value must be defined once"
                    )
                producer[name] = node
        return set(producer)

    def _check_node(self, node: onnx.NodeProto, scope: _Scope) -> None:
        attributes = [a.name for a in node.attribute]
        _texts([node.op_type, node.domain, node.name, *node.input, *node.output], self.where)
        _texts(attributes, self.where)
        label = f"{self.where}: {_node_label(node)}"
        if not node.op_type:
            raise InvalidModelError(f"{self.where}: a node has an empty op type")
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        if domain not in self.opsets:
            raise InvalidModelError(
                f"{label}: domain {domain or 'ai.onnx'!r} is not imported by the model "
                f"(opset_import has {sorted(self.opsets)}). Add it to opset_import."
            )
        for name in node.input:
            if name and name not in scope:
                raise InvalidModelError(
                    f"{label}: input {name!r} is not defined by any node, graph input "
                    "or initializer"
                )
        self._check_attributes(node, label, scope)

    def _check_attributes(self, node: onnx.NodeProto, label: str, scope: _Scope) -> None:
        names = [a.name for a in node.attribute]
        if "" in names:
            raise InvalidModelError(f"{label}: an attribute has an empty name")
        _unique(names, f"{label}: attribute")
        for attr in node.attribute:
            where = f"{label}: attribute {attr.name!r}"
            self._check_attribute(attr, where, scope)

    def _check_attribute(self, attr: onnx.AttributeProto, where: str, scope: _Scope) -> None:
        if attr.ref_attr_name:
            raise InvalidModelError(f"{where}: refers to a function attribute outside a function")
        if attr.type not in _ATTRIBUTE_TYPES:
            raise InvalidModelError(f"{where}: unknown attribute type {attr.type}")
        field = _SINGLE_FIELDS.get(attr.type)
        if field is not None and not attr.HasField(field):
            raise InvalidModelError(
                f"{where}: declared {_A.AttributeType.Name(attr.type)} but holds no value"
            )
        tensors = [attr.t] if attr.type == _A.TENSOR else list(attr.tensors)
        for tensor in tensors if attr.type in (_A.TENSOR, _A.TENSORS) else ():
            check_tensor(tensor, where, self.limit)
        sparse = [attr.sparse_tensor] if attr.type == _A.SPARSE_TENSOR else attr.sparse_tensors
        for item in sparse if attr.type in (_A.SPARSE_TENSOR, _A.SPARSE_TENSORS) else ():
            _check_sparse(item, where, self.limit)
        graphs = [attr.g] if attr.type == _A.GRAPH else list(attr.graphs)
        for graph in graphs if attr.type in (_A.GRAPH, _A.GRAPHS) else ():
            self.subgraphs.append((graph, scope, f"{where} (subgraph)"))

    def _check_order(self, defined: set[str]) -> None:
        available = _Scope(set(defined), self.outer)
        for node in self.graph.node:
            if any(n and n not in available for n in node.input):
                _raise_unordered(self.graph, defined, self.where)
            available.names.update(node.output)

    def _check_outputs(self, scope: _Scope) -> None:
        names = [o.name for o in self.graph.output]
        _texts(names, self.where)
        if "" in names:
            raise InvalidModelError(f"{self.where}: a graph output has an empty name")
        _unique(names, f"{self.where}: graph output")
        for name in names:
            if name not in scope:
                raise InvalidModelError(
                    f"{self.where}: output {name!r} is not defined by any node, input "
                    "or initializer"
                )


def _texts(names, where: str) -> None:
    """Protobuf hands back names that are not valid UTF-8 as bytes: refuse them."""
    for name in names:
        if not isinstance(name, str):
            raise InvalidModelError(f"{where}: name {name!r} is not valid UTF-8 text")


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidModelError(f"{what} {name!r} appears more than once")
        seen.add(name)


def _raise_unordered(graph: onnx.GraphProto, defined: set[str], where: str) -> None:
    """Kahn's algorithm over the graph's nodes: name a cycle if there is one, else say
    the nodes are out of order (ONNX requires topological order)."""
    producer = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    children: list[list[int]] = [[] for _ in graph.node]
    waiting = [0] * len(graph.node)
    for i, node in enumerate(graph.node):
        parents = {producer[n] for n in node.input if n in producer and n not in defined}
        waiting[i] = len(parents)
        for p in parents:
            children[p].append(i)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    done = 0
    while ready:
        i = ready.popleft()
        done += 1
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    stuck = [_node_label(graph.node[i]) for i, count in enumerate(waiting) if count > 0]
    if stuck:
        shown = ", ".join(stuck[:3]) + (f" and {len(stuck) - 3} more" if len(stuck) > 3 else "")
        raise InvalidModelError(f"{where}: the graph has a cycle through {shown}")
    raise InvalidModelError(
        f"{where}: nodes are not in topological order (ONNX requires every value to be "
        "defined before it is used). Sort the graph, e.g. with onnx.utils or onnxsim."
    )


# ---------------------------------------------------------------- external data


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
                label = f"{where}: {_node_label(node)}: attribute {attr.name!r}"
                if attr.HasField("t"):
                    yield attr.t, label
                yield from ((t, label) for t in attr.tensors)
                if attr.HasField("g"):
                    stack.append((attr.g, f"{label} (subgraph)"))
                stack.extend((g, f"{label} (subgraph)") for g in attr.graphs)
