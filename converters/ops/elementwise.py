"""Element-wise ONNX ops."""

import jax.numpy as jnp

from axonnx.converters.registry import onnx_op


@onnx_op("Relu", 6, 13, 14)
def relu(X):
    return jnp.maximum(X, jnp.zeros((), X.dtype))


@onnx_op("Add", 7, 13, 14)
def add(A, B):
    return A + B
