"""Private helpers of the recurrent ops: ONNX activation lists, layouts and a simple RNN.

ONNX recurrent ops are sequence-major by default (`layout=0`): X is (seq, batch, in),
Y is (seq, dirs, batch, hidden) and the states are (dirs, batch, hidden). `layout=1`
makes them batch-major: X (batch, seq, in), Y (batch, seq, dirs, hidden), states
(batch, dirs, hidden). The functional layers in `axonnx.layers.recurrent` take
(batch, time, features) and return Y as (batch, time, dirs, hidden) with states
(dirs, batch, hidden), so only transposes are needed around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp

from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError
from axonnx.layers import _recurrent_core as core

__all__: list[str] = []

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}

# name -> (function of (x, alpha, beta), default alpha, default beta); None: unused.
_ACTIVATIONS: dict[str, tuple[Callable, float | None, float | None]] = {
    "relu": (lambda x, a, b: jax.nn.relu(x), None, None),
    "tanh": (lambda x, a, b: jnp.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: jax.nn.sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: jnp.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: jnp.where(x > a, x, 0.0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * jnp.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: jnp.clip(a * x + b, 0.0, 1.0), 0.2, 0.5),
    "elu": (lambda x, a, b: jnp.where(x >= 0, x, a * (jnp.exp(x) - 1.0)), 1.0, None),
    "softsign": (lambda x, a, b: jax.nn.soft_sign(x), None, None),
    "softplus": (lambda x, a, b: jax.nn.softplus(x), None, None),
}


def num_directions(op: str, direction: str, W) -> int:
    """The number of directions; checks `direction` and W's first axis."""
    if direction not in DIRECTIONS:
        raise InvalidModelError(
            f"{op}: expected direction in {sorted(DIRECTIONS)}, got {direction!r}"
        )
    dirs = DIRECTIONS[direction]
    if W.shape[0] != dirs:
        raise ShapeError(
            f"{op}: expected W with {dirs} direction(s) on axis 0 for direction="
            f"{direction!r}, got shape {tuple(W.shape)}"
        )
    return dirs


def check_hidden_size(op: str, R, hidden_size: int | None) -> int:
    """The hidden size read from R (dirs, gates * hidden, hidden), checked against the
    `hidden_size` attribute when given."""
    hidden = R.shape[-1]
    if hidden_size is not None and int(hidden_size) != hidden:
        raise ShapeError(f"{op}: hidden_size={hidden_size} but R has shape {tuple(R.shape)}")
    return hidden


def activations(
    op: str,
    names: Sequence[str],
    alphas: Sequence[float] | None,
    betas: Sequence[float] | None,
    per: int,
    dirs: int,
) -> list[Callable]:
    """ONNX `activations` (with `activation_alpha`/`activation_beta`) as `per * dirs`
    callables. Alphas and betas are consumed in order by the activations that take them
    (as onnxruntime does); a list of `per` names serves every direction."""
    alphas, betas = list(alphas or ()), list(betas or ())
    fns = []
    for name in names:
        entry = _ACTIVATIONS.get(name.lower())
        if entry is None:
            raise UnsupportedOpError(
                f"{op}: expected activations among {sorted(_ACTIVATIONS)}, got {name!r}"
            )
        fn, alpha, beta = entry
        alpha = alphas.pop(0) if alpha is not None and alphas else alpha
        beta = betas.pop(0) if beta is not None and betas else beta
        fns.append(partial(_apply, fn, alpha, beta))
    if len(fns) == per:
        fns = fns * dirs
    if len(fns) < per * dirs:
        raise InvalidModelError(
            f"{op}: expected {per} activations per direction ({per * dirs}), got {list(names)}"
        )
    return fns[: per * dirs]


def _apply(fn: Callable, alpha, beta, x):
    return fn(x, alpha, beta)


def batch_major(X, layout: int):
    """X (or Y) from the ONNX layout to batch-major (swap the first two axes)."""
    return X if layout else jnp.swapaxes(X, 0, 1)


def state_in(state, layout: int):
    """An initial state from the ONNX layout to (dirs, batch, hidden); None stays None."""
    if state is None or not layout:
        return state
    return jnp.swapaxes(state, 0, 1)


def y_out(Y, layout: int):
    """Y from the layers' (batch, time, dirs, hidden) to the ONNX layout."""
    return Y if layout else jnp.transpose(Y, (1, 2, 0, 3))


def state_out(state, layout: int):
    """A final state from (dirs, batch, hidden) to the ONNX layout."""
    return jnp.swapaxes(state, 0, 1) if layout else state


def _rnn_step(carry, x_proj, *, hidden_kernel, activation, clip):
    (h,) = carry
    return (activation(core.clamp(x_proj + h @ hidden_kernel, clip)),)


def simple_rnn(
    x,
    input_kernel,
    hidden_kernel,
    bias,
    *,
    hidden_state,
    sequence_lengths,
    direction,
    activations,
    clip,
):
    """Elman RNN over (batch, time, features): `h' = f(x W + h R + Wb + Rb)`, the ONNX
    RNN, with the same conventions as `axonnx.layers.lstm` (kernels (dirs, in, hidden),
    `activations` one callable per direction).

    Returns `(outputs (batch, time, dirs, hidden), h_n (dirs, batch, hidden))`.
    """
    dtype = core.compute_dtype(x)
    dirs, hidden = hidden_kernel.shape[0], hidden_kernel.shape[-1]
    input_bias, hidden_bias = core.split_bias(bias, (dirs,), hidden, dtype)
    if hidden_state is None:
        hidden_state = jnp.zeros((dirs, x.shape[0], hidden), dtype)

    def make_step(d):
        return partial(
            _rnn_step,
            hidden_kernel=hidden_kernel[d].astype(dtype),
            activation=activations[d],
            clip=clip,
        )

    outputs, (h_n,) = core.sequence(
        x.astype(dtype),
        input_kernel.astype(dtype),
        input_bias + hidden_bias,
        (jnp.asarray(hidden_state, dtype),),
        make_step,
        direction=direction,
        lengths=core.lengths(sequence_lengths, x, "RNN"),
    )
    return outputs.astype(x.dtype), h_n.astype(x.dtype)
