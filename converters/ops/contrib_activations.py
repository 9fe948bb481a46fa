"""Activation and fused element-wise / linear contrib ops of onnxruntime (domain
`com.microsoft`): Gelu, BiasGelu, FastGelu, QuickGelu, BiasSplitGelu, BiasAdd,
FusedMatMul, FusedConv and Trilu.

Gelu and BiasGelu are the exact (erf) GELU; FastGelu is the tanh approximation.
Biases and convolution / matrix weights are weights (trainable parameters).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops.contrib_schemas import MS
from axonnx.converters.ops.nn_conv import conv
from axonnx.converters.ops.shape import trilu as onnx_trilu
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError


def _erf_gelu(x):
    """`0.5 * x * (1 + erf(x / sqrt(2)))`, in at least float32."""
    wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return jax.nn.gelu(wide, approximate=False).astype(x.dtype)


def _biased(X, bias, op: str):
    if bias is None:
        return X
    if bias.ndim != 1 or bias.shape[0] != X.shape[-1]:
        raise ShapeError(f"{op}: expected a bias of shape ({X.shape[-1]},), got {bias.shape}")
    return X + bias.astype(X.dtype)


@onnx_op("Gelu", 1, domain=MS)
def gelu(X):
    """com.microsoft Gelu-1: the exact GELU, `0.5 * x * (1 + erf(x / sqrt(2)))`."""
    return _erf_gelu(X)


@onnx_op("BiasGelu", 1, domain=MS, weight_inputs=(1,))
def bias_gelu(A, B):
    """com.microsoft BiasGelu-1: the exact GELU of `A + B` (B a bias over the last axis)."""
    return _erf_gelu(_biased(A, B, "BiasGelu"))


@onnx_op("FastGelu", 1, domain=MS, weight_inputs=(1,))
def fast_gelu(X, bias=None):
    """com.microsoft FastGelu-1: the tanh approximation of GELU of `X + bias`,
    `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`."""
    x = _biased(X, bias, "FastGelu")
    wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return jax.nn.gelu(wide, approximate=True).astype(X.dtype)


@onnx_op("QuickGelu", 1, domain=MS)
def quick_gelu(X, *, alpha=1.702):
    """com.microsoft QuickGelu-1: `x * sigmoid(alpha * x)`."""
    wide = X.astype(jnp.promote_types(X.dtype, jnp.float32))
    return (wide * jax.nn.sigmoid(alpha * wide)).astype(X.dtype)


@onnx_op("BiasSplitGelu", 1, domain=MS, weight_inputs=(1,))
def bias_split_gelu(X, bias):
    """com.microsoft BiasSplitGelu-1 (Stable Diffusion's GEGLU): `X + bias` split in
    halves along the last axis, `left * gelu(right)`; X (batch, tokens, 2 * D)."""
    x = _biased(X, bias, "BiasSplitGelu")
    if x.shape[-1] % 2:
        raise ShapeError(f"BiasSplitGelu: expected an even last axis, got {x.shape}")
    left, right = jnp.split(x, 2, axis=-1)
    return left * _erf_gelu(right)


@onnx_op("BiasAdd", 1, domain=MS, weight_inputs=(1,))
def bias_add(X, bias, skip):
    """com.microsoft BiasAdd-1: `X + bias + skip` (bias over the last axis)."""
    return _biased(X, bias, "BiasAdd") + skip.astype(X.dtype)


def _matmul_layout(x, transposed: int, batch_transposed: int):
    """FusedMatMul's operand layout: `transBatch` moves axis 0 to just before the last
    axis (`[1, ..., n - 2, 0, n - 1]`), then `trans` swaps the last two axes."""
    order = list(range(x.ndim))
    if batch_transposed and x.ndim > 2:
        order = order[1:-1] + [0, order[-1]]
    if transposed and x.ndim > 1:
        order[-1], order[-2] = order[-2], order[-1]
    return jnp.transpose(x, order) if order != list(range(x.ndim)) else x


@onnx_op("FusedMatMul", 1, domain=MS, weight_inputs=(1,))
def fused_matmul(A, B, *, alpha=1.0, transA=0, transB=0, transBatchA=0, transBatchB=0):  # noqa: N803
    """com.microsoft FusedMatMul-1: `alpha * A' @ B'` with the operands transposed as
    `transA` / `transB` (last two axes) and `transBatchA` / `transBatchB` say."""
    y = jnp.matmul(_matmul_layout(A, transA, transBatchA), _matmul_layout(B, transB, transBatchB))
    return y if alpha == 1.0 else (y * alpha).astype(y.dtype)


def _activation(y, name: str | None, params):
    params = [float(p) for p in (params or ())]

    def param(index: int, default: float) -> float:
        return params[index] if len(params) > index else default

    if name in (None, "", "Identity"):
        return y
    if name == "Relu":
        return jax.nn.relu(y)
    if name == "Tanh":
        return jnp.tanh(y)
    if name == "Sigmoid":
        return jax.nn.sigmoid(y)
    if name == "LeakyRelu":
        return jnp.where(y >= 0, y, y * param(0, 0.01))
    if name == "Clip":
        return jnp.clip(y, param(0, -np.inf), param(1, np.inf))
    if name == "HardSigmoid":
        return jnp.clip(y * param(0, 0.2) + param(1, 0.5), 0, 1)
    raise UnsupportedOpError(
        f"FusedConv: activation {name!r} is not supported; supported are Relu, Tanh, "
        "Sigmoid, LeakyRelu, Clip and HardSigmoid"
    )


@onnx_op("FusedConv", 1, domain=MS, weight_inputs=(1, 2))
def fused_conv(
    X,
    W,
    B=None,
    Z=None,
    *,
    activation=None,
    activation_params=None,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """com.microsoft FusedConv-1: `activation(Conv(X, W, B) + Z)`, the activation one
    of Relu, Tanh, Sigmoid, LeakyRelu (alpha), Clip (min, max), HardSigmoid (alpha,
    beta) with its parameters in `activation_params`; Conv attributes as Conv."""
    if isinstance(activation, bytes):
        activation = activation.decode()
    y = conv(
        X,
        W,
        B,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    if Z is not None:
        if Z.shape != y.shape:
            raise InvalidModelError(f"FusedConv: expected Z of shape {y.shape}, got {Z.shape}")
        y = y + Z.astype(y.dtype)
    return _activation(y, activation, activation_params).astype(y.dtype)


@onnx_op("Trilu", 1, domain=MS, static_inputs=(1,))
def trilu(X, k=None, *, upper=1):
    """com.microsoft Trilu-1: ONNX Trilu-14 (the upper or lower triangle of the last
    two axes, offset by diagonal `k`)."""
    return onnx_trilu(X, k, upper=upper)
