"""Reading a large ONNX file without copying its weights through protobuf.

`onnx.load` reads the whole file into `bytes` and parses it into a message that holds
a second copy of every weight; turning the weights into arrays copies them again. For
a model given as a path, `load_lazily` instead scans the protobuf wire format of
ModelProto → graph (field 7) → initializer (field 5), notes where each large
initializer's `raw_data` (field 9) lies in the file, and parses a re-encoded model
without those bytes (the small structure only). `FileWeights.array` then reads each
weight straight from the file into a 64-byte-aligned buffer, which `jax.device_put`
aliases on CPU instead of copying.

Only top-level initializers with one `raw_data` field of at least `MIN_BYTES` bytes,
a plain element type and no typed, external or segment fields are taken out; the rest
(subgraph initializers, small tensors, packed 4-bit types, …) stay in the proto. Each
taken tensor's declared dims × item size is checked against the scanned length
(`safety.check_model`). Anything unexpected in the wire format falls back to the
normal reader (`loading.load_model`), which reports malformed files.
"""

from __future__ import annotations

import mmap
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx

from axonnx.converters import safety
from axonnx.converters.loading import PROTOBUF_LIMIT, load_model, parse_model
from axonnx.errors import AxonnxError, InvalidModelError

__all__ = ["MIN_BYTES", "FileWeights", "load_lazily", "scan"]

MIN_BYTES = 16 * 1024
"""Smallest `raw_data` read lazily (smaller tensors stay in the proto; shape inference
keeps initializers up to 4 KiB, `value_types._SMALL`)."""

_T = onnx.TensorProto
_PLAIN = {_T.FLOAT, _T.DOUBLE, _T.FLOAT16, _T.BFLOAT16, _T.INT8, _T.INT16, _T.INT32}
_PLAIN |= {_T.INT64, _T.UINT8, _T.UINT16, _T.UINT32, _T.UINT64}
# TensorProto fields that make a tensor unsuitable: segment, the typed data fields,
# external_data, data_location.
_OTHER_DATA = {3, 4, 5, 6, 7, 10, 11, 13, 14}
_ALIGN = 64


class _Unexpected(Exception):
    """The wire format holds something the scanner does not handle."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Unexpected
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _fields(buf, pos: int, end: int):
    """Yield `(number, wire type, start, body, stop, value)` for each field in
    `buf[pos:end]`: `start` is where its key begins, `body:stop` its payload (for
    length-delimited fields), `value` the integer of a varint field."""
    while pos < end:
        start = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Unexpected
        value = None
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            body = pos
        elif wire == 2:
            length, body = _varint(buf, pos, end)
            pos = body + length
        elif wire == 1:
            body, pos = pos, pos + 8
        elif wire == 5:
            body, pos = pos, pos + 4
        else:  # groups (3, 4) and invalid wire types
            raise _Unexpected
        if pos > end:
            raise _Unexpected
        yield number, wire, start, body, pos, value


def _scan_tensor(buf, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """`(the tensor without raw_data, raw offset, raw length)`, or None to keep it whole."""
    raw, data_type = [], None
    for number, wire, start, body, stop, value in _fields(buf, pos, end):
        if number in _OTHER_DATA:
            return None
        if number == 9:
            if wire != 2:
                return None
            raw.append((start, body, stop))
        elif number == 2:
            if wire != 0:
                return None
            data_type = value
    if len(raw) != 1 or data_type not in _PLAIN:
        return None
    start, body, stop = raw[0]
    if stop - body < MIN_BYTES:
        return None
    return buf[pos:start] + buf[stop:end], body, stop - body


def _delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _scan_graph(buf, pos: int, end: int) -> tuple[bytes, list[tuple[int, int] | None]]:
    parts, spans, run = [], [], pos
    for number, wire, start, body, stop, _ in _fields(buf, pos, end):
        if number != 5:
            continue
        if wire != 2:
            raise _Unexpected
        found = _scan_tensor(buf, body, stop)
        if found is None:
            spans.append(None)
            continue
        stripped, offset, length = found
        spans.append((offset, length))
        parts.append(buf[run:start])
        parts.append(_delimited(5, stripped))
        run = stop
    parts.append(buf[run:end])
    return b"".join(parts), spans


def scan(buf) -> tuple[bytes, list[tuple[int, int] | None]]:
    """The serialized ModelProto in `buf` re-encoded without its large initializers'
    `raw_data`, and per top-level initializer (in order) the `(offset, length)` of the
    bytes taken out, or None for one left whole.

    Raises `ValueError` for wire contents the scanner does not handle.
    """
    parts, spans, run, graphs = [], [], 0, 0
    try:
        for number, wire, start, body, stop, _ in _fields(buf, 0, len(buf)):
            if number != 7:
                continue
            graphs += 1
            if wire != 2 or graphs > 1:
                raise _Unexpected
            graph, spans = _scan_graph(buf, body, stop)
            parts.append(buf[run:start])
            parts.append(_delimited(7, graph))
            run = stop
    except _Unexpected:
        raise ValueError("unexpected protobuf wire format") from None
    parts.append(buf[run : len(buf)])
    return b"".join(parts), spans


class FileWeights:
    """Initializers whose data is read from the model file on demand."""

    def __init__(self, path: Path, spans: Mapping[str, tuple[int, int]]):
        self.path, self.spans = path, dict(spans)

    def __contains__(self, name: object) -> bool:
        return name in self.spans

    def array(self, tensor: onnx.TensorProto) -> np.ndarray:
        """The tensor's value, read into a 64-byte-aligned array (that `jax.device_put`
        can use without a copy)."""
        offset, length = self.spans[tensor.name]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
        block = np.empty(length + _ALIGN, np.uint8)
        skip = -block.ctypes.data % _ALIGN
        data = block[skip : skip + length]
        with open(self.path, "rb") as file:
            file.seek(offset)
            view, done = memoryview(data), 0
            while done < length:
                got = file.readinto(view[done:])
                if not got:
                    raise InvalidModelError(
                        f"{self.path}: initializer {tensor.name!r}: the file ended before "
                        "its data (was it changed while loading?)"
                    )
                done += got
        return data.view(dtype).reshape(tuple(tensor.dims))


def load_lazily(
    source, *, max_elements: int | None = None
) -> tuple[onnx.ModelProto, FileWeights | None]:
    """`(checked ModelProto, FileWeights)` for a model file: the proto lacks the data of
    the initializers `FileWeights` holds (None when no initializer is large enough to
    leave in the file; the file is still read once). For bytes, protos, or files the
    scanner does not handle, `(loading.load_model(source), None)`. Raises as
    `load_model` does.
    """
    if sys.byteorder != "little" or not isinstance(source, (str, os.PathLike)):
        return load_model(source, max_elements=max_elements), None
    path = Path(source)
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0
    if not 0 < size <= PROTOBUF_LIMIT:
        return load_model(source, max_elements=max_elements), None
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            data, spans = scan(mm)
        except ValueError:
            data, spans = None, []
    if data is None:
        return load_model(source, max_elements=max_elements), None
    try:
        proto = parse_model(data, str(path))
    except InvalidModelError:
        return load_model(source, max_elements=max_elements), None
    tensors = proto.graph.initializer
    if len(tensors) != len(spans):
        return load_model(source, max_elements=max_elements), None
    taken = {tensors[i].name: span for i, span in enumerate(spans) if span is not None}
    try:
        safety.load_external_data(proto, path.parent, max_elements=max_elements)
        lengths = {name: length for name, (_, length) in taken.items()}
        safety.check_model(proto, max_elements=max_elements, raw_lengths=lengths)
    except AxonnxError as error:
        raise type(error)(f"{path}: {error}") from error
    return proto, (FileWeights(path, taken) if taken else None)
