"""Recurrent ONNX ops: RNN, LSTM and GRU (every since-version from 7).

They run on the functional layers `axonnx.layers.lstm` / `gru` (batch-major, ONNX gate
order, kernels stored transposed: `input_kernel = W^T`, `hidden_kernel = R^T`,
`bias = B`), with transposes for ONNX's sequence-major `layout=0`. The time loop is a
`lax.scan`; `sequence_lens` masks steps past each sequence's end (zeros in Y, the
state kept). Activations take ONNX names with `activation_alpha`/`activation_beta`
consumed in order by the activations that use them. Computation is in at least float32.
W, R and B are weights.
"""

from __future__ import annotations

import jax.numpy as jnp

from axonnx import layers
from axonnx.converters.ops._recurrent_util import (
    activations as onnx_activations,
)
from axonnx.converters.ops._recurrent_util import (
    batch_major,
    check_hidden_size,
    num_directions,
    simple_rnn,
    state_in,
    state_out,
    y_out,
)
from axonnx.converters.registry import onnx_op

_WEIGHTS = (1, 2, 3)


def _kernels(W, R):
    """ONNX W (dirs, G*hidden, in) and R (dirs, G*hidden, hidden) as layer kernels."""
    return jnp.swapaxes(W, 1, 2), jnp.swapaxes(R, 1, 2)


@onnx_op("RNN", 7, 14, 22, weight_inputs=_WEIGHTS)
def rnn(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=("Tanh", "Tanh"),
    clip=None,
    direction="forward",
    hidden_size=None,
    layout=0,
):
    """ONNX RNN-7..22: `H = f(X W^T + H R^T + Wb + Rb)`; outputs (Y, Y_h)."""
    dirs = num_directions("RNN", direction, W)
    check_hidden_size("RNN", R, hidden_size)
    input_kernel, hidden_kernel = _kernels(W, R)
    y, h = simple_rnn(
        batch_major(X, layout),
        input_kernel,
        hidden_kernel,
        B,
        hidden_state=state_in(initial_h, layout),
        sequence_lengths=sequence_lens,
        direction=direction,
        activations=onnx_activations(
            "RNN", activations, activation_alpha, activation_beta, 1, dirs
        ),
        clip=clip,
    )
    return y_out(y, layout), state_out(h, layout)


@onnx_op("LSTM", 7, 14, 22, weight_inputs=_WEIGHTS)
def lstm(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    initial_c=None,
    P=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    input_forget=0,
    layout=0,
):
    """ONNX LSTM-7..22: gates i, o, f, c with optional peepholes P and coupled input
    and forget gates; outputs (Y, Y_h, Y_c)."""
    dirs = num_directions("LSTM", direction, W)
    check_hidden_size("LSTM", R, hidden_size)
    input_kernel, hidden_kernel = _kernels(W, R)
    y, (h, c) = layers.lstm(
        batch_major(X, layout),
        input_kernel,
        hidden_kernel,
        B,
        hidden_state=state_in(initial_h, layout),
        cell_state=state_in(initial_c, layout),
        sequence_lengths=sequence_lens,
        direction=direction,
        activations=onnx_activations(
            "LSTM",
            activations or ("Sigmoid", "Tanh", "Tanh"),
            activation_alpha,
            activation_beta,
            3,
            dirs,
        ),
        clip=clip,
        input_forget=bool(input_forget),
        peephole=P,
    )
    return y_out(y, layout), state_out(h, layout), state_out(c, layout)


@onnx_op("GRU", 7, 14, 22, weight_inputs=_WEIGHTS)
def gru(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    layout=0,
    linear_before_reset=0,
):
    """ONNX GRU-7..22: gates z, r, h, the reset gate before or after the hidden
    projection (`linear_before_reset`); outputs (Y, Y_h)."""
    dirs = num_directions("GRU", direction, W)
    check_hidden_size("GRU", R, hidden_size)
    input_kernel, hidden_kernel = _kernels(W, R)
    y, h = layers.gru(
        batch_major(X, layout),
        input_kernel,
        hidden_kernel,
        B,
        hidden_state=state_in(initial_h, layout),
        sequence_lengths=sequence_lens,
        direction=direction,
        activations=onnx_activations(
            "GRU",
            activations or ("Sigmoid", "Tanh"),
            activation_alpha,
            activation_beta,
            2,
            dirs,
        ),
        clip=clip,
        linear_before_reset=bool(linear_before_reset),
    )
    return y_out(y, layout), state_out(h, layout)
