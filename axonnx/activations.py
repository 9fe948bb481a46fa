"""Activation functions: pure functions on JAX arrays.

Every function maps an array of shape ``(*shape)`` to an array of the same
dtype. Element-wise activations keep the shape; ``softmax`` and
``log_softmax`` keep it and normalise along ``axis``; ``log_sumexp`` reduces
``axis``. Options are keyword-only and, where ONNX has the op, carry the ONNX
attribute name and default so that ONNX import/export maps onto them one to one.

Functions that ``jax.nn`` already provides with ONNX semantics are re-exported
unchanged (their docstrings are jax's); the others are thin wrappers.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "celu",
    "elu",
    "exp",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "log_sumexp",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

# Re-exported from jax: same semantics as the ONNX op where one exists
# (Exp, Identity, HardSwish, Mish, Relu, Sigmoid, Softplus, Softsign, Tanh).
exp = jnp.exp
hard_silu = jax.nn.hard_silu  # ONNX HardSwish: x * max(0, min(1, x / 6 + 0.5)).
hard_tanh = jax.nn.hard_tanh
linear = jax.nn.identity
log_sigmoid = jax.nn.log_sigmoid
mish = jax.nn.mish
relu = jax.nn.relu
relu6 = jax.nn.relu6
sigmoid = jax.nn.sigmoid
silu = jax.nn.silu
softplus = jax.nn.softplus
softsign = jax.nn.soft_sign
tanh = jax.nn.tanh

# ONNX Selu defaults: the float32 values of the constants of Klambauer et al. (2017).
SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875


def celu(x: ArrayLike, *, alpha: float = 1.0) -> jax.Array:
    """Continuously differentiable ELU (ONNX ``Celu``).

    ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        x: Input of any shape ``(*shape)``.
        alpha: Scale of the negative part; must be non-zero.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> celu(jnp.array([0.0, 1.0]))
    Array([0., 1.], dtype=float32)
    """
    return jax.nn.celu(x, alpha)


def elu(x: ArrayLike, *, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit (ONNX ``Elu``).

    ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        x: Input of any shape ``(*shape)``.
        alpha: Scale of the negative part.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> elu(jnp.array([0.0, 2.0]))
    Array([0., 2.], dtype=float32)
    """
    return jax.nn.elu(x, alpha)


def gelu(x: ArrayLike, *, approximate: bool = False) -> jax.Array:
    """Gaussian error linear unit (ONNX ``Gelu``, opset 20).

    Exact: ``x * Phi(x)`` with ``Phi`` the standard normal CDF. With
    ``approximate=True`` (ONNX ``approximate="tanh"``):
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``.

    Unlike ``jax.nn.gelu``, the default is the exact form, as in ONNX.

    Args:
        x: Input of any shape ``(*shape)``.
        approximate: Use the tanh approximation.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> gelu(jnp.array([0.0, 1.0])).shape
    (2,)
    """
    return jax.nn.gelu(x, approximate=approximate)


def hard_sigmoid(x: ArrayLike, *, alpha: float = 0.2, beta: float = 0.5) -> jax.Array:
    """Piecewise-linear sigmoid (ONNX ``HardSigmoid``).

    ``max(0, min(1, alpha * x + beta))``. The ONNX defaults differ from
    ``jax.nn.hard_sigmoid``, which is ``alpha=1/6, beta=0.5``.

    Args:
        x: Input of any shape ``(*shape)``.
        alpha: Slope.
        beta: Offset.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> hard_sigmoid(jnp.array([-5.0, 0.0, 5.0]))
    Array([0. , 0.5, 1. ], dtype=float32)
    """
    return jnp.clip(alpha * jnp.asarray(x) + beta, 0, 1)


def leaky_relu(x: ArrayLike, *, alpha: float = 0.01) -> jax.Array:
    """Leaky rectified linear unit (ONNX ``LeakyRelu``).

    ``x`` for ``x >= 0``, ``alpha * x`` otherwise.

    Args:
        x: Input of any shape ``(*shape)``.
        alpha: Slope of the negative part.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> leaky_relu(jnp.array([-2.0, 3.0]), alpha=0.5)
    Array([-1.,  3.], dtype=float32)
    """
    return jax.nn.leaky_relu(x, negative_slope=alpha)


def log_softmax(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """Logarithm of ``softmax`` along one axis (ONNX ``LogSoftmax``, opset >= 13).

    ``x - log(sum(exp(x), axis, keepdims=True))``, computed stably.

    Args:
        x: Input of shape ``(*shape)`` with rank >= 1.
        axis: Axis to normalise over.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> log_softmax(jnp.zeros((2, 4))).shape
    (2, 4)
    """
    return jax.nn.log_softmax(x, axis=axis)


def log_sumexp(x: ArrayLike, *, axis: int = -1, keepdims: bool = True) -> jax.Array:
    """Log of the sum of exponentials along one axis (ONNX ``ReduceLogSumExp``).

    ``log(sum(exp(x), axis))``, computed stably. As in ONNX, the reduced axis
    is kept (with size 1) by default, so the result broadcasts against ``x``.

    Args:
        x: Input of shape ``(*shape)`` with rank >= 1.
        axis: Axis to reduce.
        keepdims: Keep the reduced axis with size 1.

    Returns:
        Array of the dtype of ``x``; shape ``(*shape)`` with ``shape[axis]``
        replaced by 1, or removed when ``keepdims=False``.

    >>> log_sumexp(jnp.zeros((2, 4))).shape
    (2, 1)
    """
    return jax.nn.logsumexp(x, axis=axis, keepdims=keepdims)


def selu(x: ArrayLike, *, alpha: float = SELU_ALPHA, gamma: float = SELU_GAMMA) -> jax.Array:
    """Scaled exponential linear unit (ONNX ``Selu``).

    ``gamma * x`` for ``x > 0``, ``gamma * alpha * (exp(x) - 1)`` otherwise.
    The defaults are ONNX's (the self-normalising constants in float32).

    Args:
        x: Input of any shape ``(*shape)``.
        alpha: Scale of the negative part before ``gamma``.
        gamma: Overall scale.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> selu(jnp.array([0.0, 1.0]), gamma=2.0)
    Array([0., 2.], dtype=float32)
    """
    return gamma * jax.nn.elu(x, alpha)


def softmax(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """Normalised exponential along one axis (ONNX ``Softmax``, opset >= 13).

    ``exp(x) / sum(exp(x), axis, keepdims=True)``, computed stably.

    Args:
        x: Input of shape ``(*shape)`` with rank >= 1.
        axis: Axis to normalise over; the result sums to 1 along it.

    Returns:
        Array of shape ``(*shape)`` and the dtype of ``x``.

    >>> softmax(jnp.zeros((1, 4)))
    Array([[0.25, 0.25, 0.25, 0.25]], dtype=float32)
    """
    return jax.nn.softmax(x, axis=axis)
