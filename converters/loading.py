"""Reading ONNX models and tensors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from axonnx.converters import safety
from axonnx.errors import AxonnxError, InvalidModelError

__all__ = ["PROTOBUF_LIMIT", "load_model", "parse_model", "tensor_to_array"]


def load_model(
    source: str | os.PathLike | bytes | onnx.ModelProto, *, max_elements: int | None = None
) -> onnx.ModelProto:
    """A checked `ModelProto` from a path, bytes or a `ModelProto`.

    External data is read only from files inside the model's folder, and the model is
    checked (`axonnx.converters.safety.check_model`) before anything is allocated.
    `max_elements` bounds the elements of any one declared tensor.

    Raises:
        InvalidModelError: the content is not a well-formed ONNX model.
        UnsafeFileError: external data outside the model's folder.
        ResourceLimitError: a tensor declares more than `max_elements` elements.
    """
    if isinstance(source, onnx.ModelProto):
        return _checked(source, "<model>", max_elements)
    if isinstance(source, bytes):
        return _checked(parse_model(source, "<bytes>"), "<bytes>", max_elements)
    path = Path(source)
    if not path.is_file():
        raise InvalidModelError(f"{path}: no such file")
    if path.stat().st_size > PROTOBUF_LIMIT:
        raise InvalidModelError(f"{path}: larger than 2 GiB, so not an ONNX protobuf")
    proto = parse_model(path.read_bytes(), str(path))
    try:
        safety.load_external_data(proto, path.parent, max_elements=max_elements)
    except AxonnxError as error:
        raise type(error)(f"{path}: {error}") from error
    return _checked(proto, str(path), max_elements)


PROTOBUF_LIMIT = 2**31
"""Protobuf messages cannot be larger: a bigger file keeps its weights outside."""


def _checked(proto: onnx.ModelProto, where: str, max_elements: int | None) -> onnx.ModelProto:
    try:
        safety.check_model(proto, max_elements=max_elements)
    except AxonnxError as error:
        raise type(error)(f"{where}: {error}") from error
    return proto


def parse_model(data: bytes, where: str) -> onnx.ModelProto:
    """The `ModelProto` in `data` (unchecked); `InvalidModelError` naming `where` if none."""
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as error:  # protobuf raises its own DecodeError type
        raise InvalidModelError(f"{where}: not an ONNX model ({error})") from error
    if not proto.HasField("graph"):
        raise InvalidModelError(f"{where}: not an ONNX model (no graph)")
    return proto


def tensor_to_array(tensor: onnx.TensorProto) -> np.ndarray:
    """The NumPy value of a `TensorProto` (strings as object arrays)."""
    return numpy_helper.to_array(tensor)
