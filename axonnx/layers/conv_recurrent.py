"""Convolutional LSTM layers over sequences of channels-last frames (ONNX gate order)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from axonnx.layers import _recurrent_core as core

__all__ = ["conv_lstm", "conv_lstm_cell"]


def _conv_same(x: jax.Array, kernel: jax.Array, strides: int | Sequence[int]) -> jax.Array:
    """Channels-last convolution with "SAME" padding; kernel (*window, in, out)."""
    n = x.ndim - 2
    strides = (strides,) * n if isinstance(strides, int) else tuple(strides)
    spatial = tuple(range(1, n + 1))
    numbers = lax.ConvDimensionNumbers(
        lhs_spec=(0, n + 1, *spatial), rhs_spec=(n + 1, n, *range(n)), out_spec=(0, n + 1, *spatial)
    )
    return lax.conv_general_dilated(x, kernel, strides, "SAME", dimension_numbers=numbers)


def _conv_input(x, input_kernel, bias, strides):
    """Input projection ``conv(x) + bias`` of (batch, *spatial, channels) frames."""
    y = _conv_same(x, input_kernel, strides)
    if bias is None:
        return y
    return y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,)).astype(y.dtype)


def _conv_lstm_step(carry, x_proj, *, hidden_kernel):
    h, c = carry
    pre = x_proj + _conv_same(h, hidden_kernel, 1)
    activations = (jax.nn.sigmoid, jnp.tanh, jnp.tanh)
    return core.lstm_gates(
        pre, c, activations=activations, clip=None, input_forget=False, peephole=None
    )


def conv_lstm_cell(
    x: jax.Array,
    hidden_state: jax.Array,
    cell_state: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
) -> tuple[jax.Array, jax.Array]:
    """One convolutional LSTM step (channels last, "SAME" padding, gates i, o, f, c).

    Gate pre-activations are ``conv(x, input_kernel) + conv(h, hidden_kernel) + bias``;
    the update is the LSTM one with sigmoid / tanh / tanh.

    Args:
        x: (batch, *spatial, channels).
        hidden_state: (batch, *out_spatial, hidden), out_spatial = ceil(spatial / strides).
        cell_state: same shape as ``hidden_state``.
        input_kernel: (*window, channels, 4 * hidden).
        hidden_kernel: (*window, hidden, 4 * hidden).
        bias: (4 * hidden,) or None.
        strides: strides of the input convolution.

    Returns:
        ``(h, c)``, each (batch, *out_spatial, hidden) with the dtype of ``x``.

    >>> x, h = jnp.ones((2, 8, 8, 3)), jnp.zeros((2, 8, 8, 4))
    >>> h, c = conv_lstm_cell(x, h, h, jnp.ones((3, 3, 3, 16)), jnp.ones((3, 3, 4, 16)))
    >>> h.shape
    (2, 8, 8, 4)
    """
    dtype = core.compute_dtype(x)
    x_proj = _conv_input(x.astype(dtype), input_kernel.astype(dtype), bias, strides)
    carry = (hidden_state.astype(dtype), cell_state.astype(dtype))
    h, c = _conv_lstm_step(carry, x_proj, hidden_kernel=hidden_kernel.astype(dtype))
    return h.astype(x.dtype), c.astype(x.dtype)


def conv_lstm(
    x: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    hidden_state: jax.Array | None = None,
    cell_state: jax.Array | None = None,
    strides: int | Sequence[int] = 1,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Convolutional LSTM over a sequence of frames (channels last).

    Args:
        x: (batch, time, *spatial, channels).
        input_kernel: (*window, channels, 4 * hidden), gates i, o, f, c.
        hidden_kernel: (*window, hidden, 4 * hidden).
        bias: (4 * hidden,) or None.
        hidden_state: initial h, (batch, *out_spatial, hidden); zeros when None.
        cell_state: initial c, same shape; zeros when None.
        strides: strides of the input convolution.

    Returns:
        ``(outputs, (h_n, c_n))``: outputs (batch, time, *out_spatial, hidden) and final
        states (batch, *out_spatial, hidden), with the dtype of ``x``.

    >>> x = jnp.ones((2, 5, 8, 8, 3))
    >>> y, (h, c) = conv_lstm(x, jnp.ones((3, 3, 3, 16)), jnp.ones((3, 3, 4, 16)))
    >>> y.shape
    (2, 5, 8, 8, 4)
    """
    dtype = core.compute_dtype(x)
    batch, time = x.shape[:2]
    frames = jnp.reshape(x.astype(dtype), (batch * time, *x.shape[2:]))
    x_proj = _conv_input(frames, input_kernel.astype(dtype), bias, strides)
    x_proj = jnp.swapaxes(jnp.reshape(x_proj, (batch, time, *x_proj.shape[1:])), 0, 1)
    state_shape = (batch, *x_proj.shape[2:-1], hidden_kernel.shape[-2])
    init = (
        core.initial(hidden_state, state_shape, dtype, "conv_lstm", "hidden_state"),
        core.initial(cell_state, state_shape, dtype, "conv_lstm", "cell_state"),
    )
    step = partial(_conv_lstm_step, hidden_kernel=hidden_kernel.astype(dtype))
    outputs, (h_n, c_n) = core.scan(step, x_proj, init, core.lengths(None, x, "conv_lstm"), False)
    outputs = jnp.swapaxes(outputs, 0, 1)
    return outputs.astype(x.dtype), (h_n.astype(x.dtype), c_n.astype(x.dtype))
