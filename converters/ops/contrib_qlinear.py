"""Quantized-linear elementwise, pooling and concatenation contrib ops of onnxruntime
(domain `com.microsoft`), as `quantize_static` writes them in its QOperator format:
QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool,
QLinearAveragePool and QLinearConcat.

Each computes on the real values `(q - zero_point) * scale` and quantizes the result
(round half to even, saturate to the int8/uint8 type), with the scale ratios folded
as onnxruntime's MLAS kernels fold them. onnxruntime computes the ratios and sums in
float32 in its own order, so an output may land one quantization step away from
axonnx's where the real value sits on a rounding boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.ops.nn_pool import average_pool
from axonnx.converters.ops.quantization import saturate_to_int
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError


def _scalar(value, default=0):
    """A per-tensor scale or zero point as a float32 scalar (`default` when absent)."""
    if value is None:
        return jnp.float32(default)
    value = jnp.asarray(value)
    if value.size != 1:
        raise ShapeError(
            f"expected a per-tensor (1-element) scale or zero point, got {value.shape}"
        )
    return jnp.reshape(value, ()).astype(jnp.float32)


def _real(x, scale, zero_point):
    return (x.astype(jnp.float32) - _scalar(zero_point)) * _scalar(scale)


def _quantize(y, scale, zero_point, like):
    """`y / scale + zero_point`, rounded and saturated to the type of `like`."""
    dtype = np.dtype((like if zero_point is None else zero_point).dtype)
    return saturate_to_int(y / _scalar(scale), _scalar(zero_point), dtype)


@onnx_op("QLinearAdd", 1, domain=MS)
def qlinear_add(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    """com.microsoft QLinearAdd-1: quantized `A + B` (broadcasting)."""
    c_scale = _scalar(C_scale)
    y = (A.astype(jnp.float32) - _scalar(A_zero_point)) * (_scalar(A_scale) / c_scale)
    y = y + (B.astype(jnp.float32) - _scalar(B_zero_point)) * (_scalar(B_scale) / c_scale)
    dtype = np.dtype((A if C_zero_point is None else C_zero_point).dtype)
    return saturate_to_int(y, _scalar(C_zero_point), dtype)


@onnx_op("QLinearMul", 1, domain=MS)
def qlinear_mul(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    """com.microsoft QLinearMul-1: quantized `A * B` (broadcasting)."""
    ratio = _scalar(A_scale) * _scalar(B_scale) / _scalar(C_scale)
    a = A.astype(jnp.float32) - _scalar(A_zero_point)
    y = a * (B.astype(jnp.float32) - _scalar(B_zero_point)) * ratio
    dtype = np.dtype((A if C_zero_point is None else C_zero_point).dtype)
    return saturate_to_int(y, _scalar(C_zero_point), dtype)


@onnx_op("QLinearSigmoid", 1, domain=MS)
def qlinear_sigmoid(X, X_scale, X_zero_point=None, Y_scale=None, Y_zero_point=None):
    """com.microsoft QLinearSigmoid-1: quantized sigmoid."""
    return _quantize(jax.nn.sigmoid(_real(X, X_scale, X_zero_point)), Y_scale, Y_zero_point, X)


@onnx_op("QLinearLeakyRelu", 1, domain=MS)
def qlinear_leaky_relu(
    X, X_scale, X_zero_point=None, Y_scale=None, Y_zero_point=None, *, alpha=0.01
):
    """com.microsoft QLinearLeakyRelu-1: quantized leaky ReLU."""
    real = _real(X, X_scale, X_zero_point)
    y = jnp.where(real >= 0, real, jnp.float32(alpha) * real)
    return _quantize(y, Y_scale, Y_zero_point, X)


def _channels_first(X, channels_last: int):
    return jnp.moveaxis(X, -1, 1) if channels_last else X


@onnx_op("QLinearGlobalAveragePool", 1, domain=MS)
def qlinear_global_average_pool(
    X, x_scale, x_zero_point, y_scale, y_zero_point, *, channels_last=0
):
    """com.microsoft QLinearGlobalAveragePool-1: quantized mean over the spatial axes
    (NCHW..., or channels last), kept as size-1 axes; the sum is exact in int32."""
    spatial = tuple(range(1, X.ndim - 1)) if channels_last else tuple(range(2, X.ndim))
    count = int(np.prod([X.shape[a] for a in spatial]))
    total = jnp.sum(X.astype(jnp.int32), axis=spatial, keepdims=True)
    shifted = total.astype(jnp.float32) - _scalar(x_zero_point) * count
    y = shifted * (_scalar(x_scale) / (_scalar(y_scale) * count))
    dtype = np.dtype((X if y_zero_point is None else y_zero_point).dtype)
    return saturate_to_int(y, _scalar(y_zero_point), dtype)


@onnx_op("QLinearAveragePool", 1, domain=MS)
def qlinear_average_pool(
    X,
    x_scale,
    x_zero_point=None,
    y_scale=None,
    y_zero_point=None,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    channels_last=0,
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """com.microsoft QLinearAveragePool-1: AveragePool of the real values, quantized."""
    if kernel_shape is None:
        raise InvalidModelError("QLinearAveragePool: the kernel_shape attribute is required")
    real = _channels_first(_real(X, x_scale, x_zero_point), channels_last)
    pooled = average_pool(
        real,
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    pooled = jnp.moveaxis(pooled, 1, -1) if channels_last else pooled
    return _quantize(pooled, y_scale, y_zero_point, X)


@onnx_op("QLinearConcat", 1, domain=MS)
def qlinear_concat(Y_scale, Y_zero_point, *inputs, axis=None):
    """com.microsoft QLinearConcat-1: inputs given as (tensor, scale, zero point)
    triples, each requantized to (Y_scale, Y_zero_point), concatenated on `axis`."""
    if axis is None:
        raise InvalidModelError("QLinearConcat: the axis attribute is required")
    if not inputs or len(inputs) % 3:
        raise InvalidModelError(
            "QLinearConcat: expected inputs as (tensor, scale, zero point) triples, "
            f"got {len(inputs)} inputs"
        )
    parts = [
        _quantize(_real(x, scale, zero_point), Y_scale, Y_zero_point, x)
        for x, scale, zero_point in zip(inputs[::3], inputs[1::3], inputs[2::3], strict=True)
    ]
    return jnp.concatenate(parts, axis=axis)
