"""The axonnx error family: every error a user can cause derives from `AxonnxError`."""

from __future__ import annotations

__all__ = [
    "AxonnxError",
    "CompileTimeValueError",
    "DeviceUnavailableError",
    "InvalidModelError",
    "LayerError",
    "ResourceLimitError",
    "ShapeError",
    "UnsafeFileError",
    "UnsupportedOpError",
]


class AxonnxError(Exception):
    """Base class of the errors axonnx raises for bad models, inputs and files."""


class ShapeError(AxonnxError, ValueError):
    """A layer received inputs whose shapes do not fit it."""


class CompileTimeValueError(ShapeError):
    """An op needs a value (a shape, a trip count) while compiling, but it depends on
    run-time data under `jax.jit`; imported models then run eagerly instead."""


class InvalidModelError(AxonnxError, ValueError):
    """A model (graph, ONNX file or saved model) is malformed."""


class UnsupportedOpError(AxonnxError, NotImplementedError):
    """One or more ONNX operators (domain, op type, opset) have no implementation."""


class UnsafeFileError(AxonnxError, ValueError):
    """A file asks for something unsafe: a path outside its folder, pickle, code to import."""


class LayerError(AxonnxError):
    """An op failed while a layer ran; the message names the layer and its op."""


class ResourceLimitError(AxonnxError, ValueError):
    """A file declares more than axonnx will allocate (e.g. a tensor of 10^12 elements)."""


class DeviceUnavailableError(AxonnxError, RuntimeError):
    """The accelerator asked for is not available (no GPU, or no CUDA build)."""
