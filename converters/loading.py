"""Reading ONNX models and tensors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from axonnx.errors import InvalidModelError

__all__ = ["load_model", "tensor_to_array"]


def load_model(source: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """A `ModelProto` from a path, bytes or a `ModelProto`; `InvalidModelError` when
    the content is not an ONNX model."""
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, bytes):
        return _parse(source, "<bytes>")
    path = Path(source)
    if not path.is_file():
        raise InvalidModelError(f"{path}: no such file")
    proto = _parse(path.read_bytes(), str(path))
    if _uses_external_data(proto):
        onnx.external_data_helper.load_external_data_for_model(proto, str(path.parent))
    return proto


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as error:  # protobuf raises its own DecodeError type
        raise InvalidModelError(f"{where}: not an ONNX model ({error})") from error
    if not proto.HasField("graph"):
        raise InvalidModelError(f"{where}: not an ONNX model (no graph)")
    return proto


def _uses_external_data(proto: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)


def tensor_to_array(tensor: onnx.TensorProto) -> np.ndarray:
    """The NumPy value of a `TensorProto` (strings as object arrays)."""
    return numpy_helper.to_array(tensor)
