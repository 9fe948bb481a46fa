"""ONNX import and export, and the cross-check against onnxruntime."""

from axonnx.converters import ops as _ops  # noqa: F401  (registers every op spec)
from axonnx.converters.onnx_export import export_onnx
from axonnx.converters.onnx_import import import_onnx, unsupported_ops
from axonnx.converters.validate import validate

__all__ = ["export_onnx", "import_onnx", "unsupported_ops", "validate"]
