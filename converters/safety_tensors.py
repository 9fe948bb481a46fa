"""Safety checks of one tensor: a known element type, dims >= 0, at most the element
limit, and as many bytes or values as the dims declare (see `axonnx.converters.safety`)."""

from __future__ import annotations

import math

import onnx

from axonnx.errors import InvalidModelError, ResourceLimitError

__all__ = ["check_sparse", "check_tensor", "declared_count", "tensor_bytes"]

_T = onnx.TensorProto
_PACKED_BITS = {_T.INT4: 4, _T.UINT4: 4, _T.FLOAT4E2M1: 4, _T.INT2: 2, _T.UINT2: 2}
_PACKED_BITS |= {_T.FLOAT6E2M3: 6, _T.FLOAT6E3M2: 6}
_PAIRS = {_T.COMPLEX64, _T.COMPLEX128}
_DATA_TYPES = frozenset(_T.DataType.values()) - {_T.UNDEFINED}


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


def check_sparse(sparse: onnx.SparseTensorProto, where: str, limit: int) -> None:
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
