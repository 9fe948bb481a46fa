"""Activation ONNX ops: ReLU and its variants, sigmoids, GELU, Swish and the softmax family."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from axonnx import activations
from axonnx.converters.ops._elementwise_util import flattened
from axonnx.converters.registry import onnx_op
from axonnx.errors import UnsupportedOpError

# ---------------------------------------------------------------- activations


@onnx_op("Relu", 6, 13, 14)
def relu(X):
    """ONNX Relu-6..14: max(X, 0)."""
    return activations.relu(X)


@onnx_op("LeakyRelu", 6, 16)
def leaky_relu(X, *, alpha=0.009999999776482582):
    """ONNX LeakyRelu-6..16: X, or alpha * X where X < 0."""
    return activations.leaky_relu(X, alpha=alpha)


@onnx_op("PRelu", 7, 9, 16, weight_inputs=(1,))
def prelu(X, slope):
    """ONNX PRelu-7..16: X, or slope * X where X < 0 (slope broadcasts)."""
    return jnp.where(X < 0, X * slope, X)


@onnx_op("PRelu", 6, weight_inputs=(1,))
def prelu_per_channel(X, slope):
    """ONNX PRelu-6: like PRelu-7, but a 1-D slope with one value per channel applies
    along axis 1 (legacy broadcasting, as PyTorch's old exporter wrote it)."""
    if slope.ndim == 1 and X.ndim > 2 and slope.shape[0] == X.shape[1]:
        slope = slope.reshape((-1,) + (1,) * (X.ndim - 2))
    return prelu(X, slope)


@onnx_op("ThresholdedRelu", 10, 22)
def thresholded_relu(X, *, alpha=1.0):
    """ONNX ThresholdedRelu-10..22: X where X > alpha, else 0."""
    return jnp.where(X > alpha, X, jnp.zeros((), X.dtype))


@onnx_op("Elu", 6, 22)
def elu(X, *, alpha=1.0):
    """ONNX Elu-6..22: X, or alpha * (exp(X) - 1) where X <= 0."""
    return activations.elu(X, alpha=alpha)


@onnx_op("Celu", 12, 28)
def celu(X, *, alpha=1.0):
    """ONNX Celu-12..28: max(0, X) + min(0, alpha * (exp(X / alpha) - 1))."""
    return activations.celu(X, alpha=alpha)


@onnx_op("Selu", 6, 22)
def selu(X, *, alpha=1.6732631921768188, gamma=1.0507010221481323):
    """ONNX Selu-6..22: gamma * Elu(X, alpha)."""
    return activations.selu(X, alpha=alpha, gamma=gamma)


@onnx_op("Sigmoid", 6, 13)
def sigmoid(X):
    """ONNX Sigmoid-6..13: 1 / (1 + exp(-X))."""
    return activations.sigmoid(X)


@onnx_op("HardSigmoid", 6, 22)
def hard_sigmoid(X, *, alpha=0.20000000298023224, beta=0.5):
    """ONNX HardSigmoid-6..22: max(0, min(1, alpha * X + beta))."""
    return activations.hard_sigmoid(X, alpha=alpha, beta=beta)


@onnx_op("HardSwish", 14, 22)
def hard_swish(X):
    """ONNX HardSwish-14..22: X * HardSigmoid(X, alpha=1/6, beta=0.5)."""
    return activations.hard_silu(X)


@onnx_op("Tanh", 6, 13)
def tanh(input):
    """ONNX Tanh-6..13."""
    return activations.tanh(input)


@onnx_op("Softplus", 1, 22)
def softplus(X):
    """ONNX Softplus-1..22: log(1 + exp(X))."""
    return activations.softplus(X)


@onnx_op("Softsign", 1, 22)
def softsign(input):
    """ONNX Softsign-1..22: input / (1 + |input|)."""
    return activations.softsign(input)


@onnx_op("Mish", 18, 22)
def mish(X):
    """ONNX Mish-18..22: X * tanh(softplus(X))."""
    return activations.mish(X)


def _swish(x, alpha):
    return x * activations.sigmoid(alpha * x)


@onnx_op("Swish", 24)
def swish(X, *, alpha=1.0):
    """ONNX Swish-24: X * sigmoid(alpha * X)."""
    return _swish(X, alpha)


@onnx_op("SwiGLU", 28)
def swiglu(A, B, *, alpha=1.0):
    """ONNX SwiGLU-28: Swish(A, alpha) * B (A and B of one shape)."""
    return _swish(A, alpha) * B


@onnx_op("Gelu", 20)
def gelu(X, *, approximate="none"):
    """ONNX Gelu-20: X * Phi(X), exact (`"none"`) or with the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise UnsupportedOpError(
            f"Gelu: expected attribute approximate 'none' or 'tanh', got {approximate!r}."
        )
    return activations.gelu(X, approximate=approximate == "tanh")


@onnx_op("Shrink", 9)
def shrink(input, *, bias=0.0, lambd=0.5):
    """ONNX Shrink-9: input -/+ bias outside [-lambd, lambd], else 0."""
    x = jnp.asarray(input)
    shrunk = jnp.where(x > lambd, x - bias, jnp.where(x < -lambd, x + bias, 0))
    return shrunk.astype(x.dtype)


# ---------------------------------------------------------------- softmax family


def _hardmax(x, axis=-1):
    return jax.nn.one_hot(jnp.argmax(x, axis=axis), x.shape[axis], axis=axis, dtype=x.dtype)


@onnx_op("Softmax", 1, 11)
def softmax_1(input, *, axis=1):
    """ONNX Softmax-1..11: softmax over the input flattened to 2-D at `axis`."""
    return flattened(activations.softmax, input, axis)


@onnx_op("Softmax", 13)
def softmax(input, *, axis=-1):
    """ONNX Softmax-13: softmax along `axis`."""
    return activations.softmax(input, axis=axis)


@onnx_op("LogSoftmax", 1, 11)
def log_softmax_1(input, *, axis=1):
    """ONNX LogSoftmax-1..11: log-softmax over the input flattened to 2-D at `axis`."""
    return flattened(activations.log_softmax, input, axis)


@onnx_op("LogSoftmax", 13)
def log_softmax(input, *, axis=-1):
    """ONNX LogSoftmax-13: log-softmax along `axis`."""
    return activations.log_softmax(input, axis=axis)


@onnx_op("Hardmax", 1, 11)
def hardmax_1(input, *, axis=1):
    """ONNX Hardmax-1..11: one-hot of the first maximum, input flattened to 2-D at `axis`."""
    return flattened(_hardmax, input, axis)


@onnx_op("Hardmax", 13)
def hardmax(input, *, axis=-1):
    """ONNX Hardmax-13: one-hot of the first maximum along `axis`."""
    return _hardmax(jnp.asarray(input), axis)
