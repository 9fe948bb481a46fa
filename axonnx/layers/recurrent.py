"""Recurrent layers: LSTM and GRU with ONNX semantics (ConvLSTM: ``conv_recurrent``).

Gates are stored in ONNX order (LSTM: i, o, f, c; GRU: z, r, h) and kernels in
dense layout (in, out), so ONNX weights import with transposes only:
``input_kernel = W.transpose(0, 2, 1)``, ``hidden_kernel = R.transpose(0, 2, 1)``,
``bias = B``. Sequences are (batch, time, features); time runs in ``lax.scan``.
Computation happens in at least float32 and results are cast back to the dtype
of ``x``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp

from axonnx.layers import _recurrent_core as core

__all__ = ["lstm", "lstm_cell", "gru", "gru_cell"]

Activation = str | Callable[[jax.Array], jax.Array]

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "hardsigmoid": lambda x: jnp.clip(0.2 * x + 0.5, 0.0, 1.0),  # ONNX defaults
    "softsign": jax.nn.soft_sign,
    "softplus": jax.nn.softplus,
    "elu": jax.nn.elu,
    "leakyrelu": jax.nn.leaky_relu,
}
_LSTM_ACTIVATIONS = ("sigmoid", "tanh", "tanh")
_GRU_ACTIVATIONS = ("sigmoid", "tanh")


# --- options ----------------------------------------------------------------


def _activation(name: Activation, where: str) -> Callable[[jax.Array], jax.Array]:
    """Resolves an activation given as a callable or a name ("tanh", "HardSigmoid", ...)."""
    if callable(name):
        return name
    fn = _ACTIVATIONS.get(name.lower().replace("_", ""))
    if fn is None:
        raise ValueError(
            f"{where}: expected an activation in {sorted(_ACTIVATIONS)} or a callable, "
            f"got {name!r}."
        )
    return fn


def _per_direction(activations: Sequence[Activation], per: int, num_dirs: int, where: str):
    """Splits ``activations`` (``per`` names, or ``per`` for each direction as in ONNX)."""
    acts = [_activation(a, where) for a in activations]
    if len(acts) == per:
        return [tuple(acts)] * num_dirs
    if len(acts) == per * num_dirs:
        return [tuple(acts[d * per : (d + 1) * per]) for d in range(num_dirs)]
    raise ValueError(
        f"{where}: expected {per} activations (or {per * num_dirs}, one set per "
        f"direction), got {len(acts)}."
    )


def _num_directions(direction: str, input_kernel: jax.Array, where: str) -> int:
    if direction not in core.DIRECTIONS:
        raise ValueError(
            f"{where}: expected direction in {sorted(core.DIRECTIONS)}, got {direction!r}."
        )
    num_dirs = len(core.DIRECTIONS[direction])
    if input_kernel.ndim != 3 or input_kernel.shape[0] != num_dirs:
        raise ValueError(
            f"{where}: expected input_kernel of shape ({num_dirs}, features, gates * hidden) "
            f"for direction={direction!r}, got {input_kernel.shape}."
        )
    return num_dirs


def _kernels(where, x, input_kernel, hidden_kernel, gates: int, direction: str):
    """Checks the kernels of ``lstm`` / ``gru``; returns (compute dtype, directions, hidden)."""
    num_dirs = _num_directions(direction, input_kernel, where)
    hidden = hidden_kernel.shape[1]
    core.check_shape(where, "hidden_kernel", hidden_kernel, (num_dirs, hidden, gates * hidden))
    return core.compute_dtype(x), num_dirs, hidden


# --- LSTM ---------------------------------------------------------------------


def _lstm_step(carry, x_proj, *, hidden_kernel, **gate_options):
    h, c = carry
    return core.lstm_gates(x_proj + h @ hidden_kernel, c, **gate_options)


def lstm_cell(
    x: jax.Array,
    hidden_state: jax.Array,
    cell_state: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    activations: Sequence[Activation] = _LSTM_ACTIVATIONS,
    clip: float | None = None,
    input_forget: bool = False,
    peephole: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """One LSTM step (ONNX equations, gate order i, o, f, c).

    Args:
        x: (batch, features).
        hidden_state: (batch, hidden).
        cell_state: (batch, hidden).
        input_kernel: (features, 4 * hidden).
        hidden_kernel: (hidden, 4 * hidden).
        bias: (8 * hidden,), the input bias then the hidden bias (ONNX ``B``), or None.
        activations: (f, g, h) as names or callables; see ``lstm``.
        clip: if set, gate pre-activations are clipped to [-clip, clip].
        input_forget: couple the forget gate to the input gate (f = 1 - i).
        peephole: (3 * hidden,) peephole weights in order i, o, f, or None.

    Returns:
        ``(h, c)``, each (batch, hidden) with the dtype of ``x``.

    >>> x, h = jnp.ones((2, 3)), jnp.zeros((2, 4))
    >>> h, c = lstm_cell(x, h, h, jnp.ones((3, 16)), jnp.ones((4, 16)))
    >>> h.shape
    (2, 4)
    """
    dtype = core.compute_dtype(x)
    input_bias, hidden_bias = core.split_bias(bias, (), input_kernel.shape[-1], dtype)
    x_proj = x.astype(dtype) @ input_kernel.astype(dtype) + (input_bias + hidden_bias)[None]
    h, c = _lstm_step(
        (hidden_state.astype(dtype), cell_state.astype(dtype)),
        x_proj,
        hidden_kernel=hidden_kernel.astype(dtype),
        activations=_per_direction(activations, 3, 1, "lstm_cell")[0],
        clip=clip,
        input_forget=input_forget,
        peephole=None if peephole is None else peephole.astype(dtype),
    )
    return h.astype(x.dtype), c.astype(x.dtype)


def lstm(
    x: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    hidden_state: jax.Array | None = None,
    cell_state: jax.Array | None = None,
    sequence_lengths: jax.Array | None = None,
    direction: str = "forward",
    activations: Sequence[Activation] = _LSTM_ACTIVATIONS,
    clip: float | None = None,
    input_forget: bool = False,
    peephole: jax.Array | None = None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Long short-term memory over a sequence (ONNX ``LSTM``, batch-major).

    ``i = f(x Wi + h Ri + Pi * c + bi)``, ``f = f(x Wf + h Rf + Pf * c + bf)``,
    ``c' = f * c + i * g(x Wc + h Rc + bc)``, ``o = f(x Wo + h Ro + Po * c' + bo)``,
    ``h' = o * h(c')``.

    Args:
        x: (batch, time, features).
        input_kernel: (num_directions, features, 4 * hidden), gates i, o, f, c.
        hidden_kernel: (num_directions, hidden, 4 * hidden).
        bias: (num_directions, 8 * hidden), ONNX ``Wb`` then ``Rb``; None for zeros.
        hidden_state: initial h, (num_directions, batch, hidden); zeros when None.
        cell_state: initial c, (num_directions, batch, hidden); zeros when None.
        sequence_lengths: (batch,) valid lengths; later steps output zeros and do not
            change the state; the reverse direction starts at each sequence's end.
        direction: "forward", "reverse" or "bidirectional" (num_directions = 2).
        activations: (f, g, h) names ("sigmoid", "tanh", "relu", "hard_sigmoid" with
            ONNX's alpha=0.2 and beta=0.5, "softsign", "softplus", "elu", "leaky_relu")
            or callables; 6 entries give each direction its own, as in ONNX.
        clip: if set, gate pre-activations are clipped to [-clip, clip].
        input_forget: couple the forget gate to the input gate (f = 1 - i).
        peephole: (num_directions, 3 * hidden) in order i, o, f, or None.

    Returns:
        ``(outputs, (h_n, c_n))``: outputs (batch, time, num_directions, hidden) and
        final states (num_directions, batch, hidden), all with the dtype of ``x``.

    >>> x = jnp.ones((2, 5, 3))
    >>> y, (h, c) = lstm(x, jnp.ones((1, 3, 16)), jnp.ones((1, 4, 16)))
    >>> y.shape, h.shape
    ((2, 5, 1, 4), (1, 2, 4))
    """
    dtype, num_dirs, hidden = _kernels("lstm", x, input_kernel, hidden_kernel, 4, direction)
    state_shape = (num_dirs, x.shape[0], hidden)
    init = (
        core.initial(hidden_state, state_shape, dtype, "lstm", "hidden_state"),
        core.initial(cell_state, state_shape, dtype, "lstm", "cell_state"),
    )
    input_bias, hidden_bias = core.split_bias(bias, (num_dirs,), 4 * hidden, dtype)
    acts = _per_direction(activations, 3, num_dirs, "lstm")

    def make_step(d):
        return partial(
            _lstm_step,
            hidden_kernel=hidden_kernel[d].astype(dtype),
            activations=acts[d],
            clip=clip,
            input_forget=input_forget,
            peephole=None if peephole is None else peephole[d].astype(dtype),
        )

    outputs, (h_n, c_n) = core.sequence(
        x.astype(dtype),
        input_kernel.astype(dtype),
        input_bias + hidden_bias,
        init,
        make_step,
        direction=direction,
        lengths=core.lengths(sequence_lengths, x, "lstm"),
    )
    return outputs.astype(x.dtype), (h_n.astype(x.dtype), c_n.astype(x.dtype))


# --- GRU ----------------------------------------------------------------------


def _gru_step(carry, x_proj, *, hidden_kernel, hidden_bias, activations, clip, linear_before_reset):
    """GRU update; ``x_proj`` (batch, 3 * hidden) already holds ``x W + Wb``, order z, r, h.

    One matmul with ``h`` a step (two without ``linear_before_reset``, whose candidate
    needs ``r * h`` first), and z and r in one activation."""
    (h,) = carry
    f, g = activations
    size = h.shape[-1]
    if linear_before_reset:
        h_proj = h @ hidden_kernel + hidden_bias[None]
        h_zr, h_h = h_proj[:, : 2 * size], h_proj[:, 2 * size :]
    else:
        h_zr = h @ hidden_kernel[:, : 2 * size] + hidden_bias[None, : 2 * size]
    z, r = jnp.split(f(core.clamp(x_proj[:, : 2 * size] + h_zr, clip)), 2, axis=-1)
    if linear_before_reset:
        h_h = r * h_h
    else:
        h_h = (r * h) @ hidden_kernel[:, 2 * size :] + hidden_bias[None, 2 * size :]
    candidate = g(core.clamp(x_proj[:, 2 * size :] + h_h, clip))
    return ((1.0 - z) * candidate + z * h,)


def gru_cell(
    x: jax.Array,
    hidden_state: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    activations: Sequence[Activation] = _GRU_ACTIVATIONS,
    clip: float | None = None,
    linear_before_reset: bool = False,
) -> jax.Array:
    """One GRU step (ONNX equations, gate order z, r, h).

    Args:
        x: (batch, features).
        hidden_state: (batch, hidden).
        input_kernel: (features, 3 * hidden).
        hidden_kernel: (hidden, 3 * hidden).
        bias: (6 * hidden,), the input bias then the hidden bias (ONNX ``B``), or None.
        activations: (f, g) as names or callables; see ``lstm``.
        clip: if set, gate pre-activations are clipped to [-clip, clip].
        linear_before_reset: apply the reset gate after the hidden projection (ONNX).

    Returns:
        The new hidden state (batch, hidden) with the dtype of ``x``.

    >>> x, h = jnp.ones((2, 3)), jnp.zeros((2, 4))
    >>> gru_cell(x, h, jnp.ones((3, 12)), jnp.ones((4, 12))).shape
    (2, 4)
    """
    dtype = core.compute_dtype(x)
    input_bias, hidden_bias = core.split_bias(bias, (), input_kernel.shape[-1], dtype)
    (h,) = _gru_step(
        (hidden_state.astype(dtype),),
        x.astype(dtype) @ input_kernel.astype(dtype) + input_bias[None],
        hidden_kernel=hidden_kernel.astype(dtype),
        hidden_bias=hidden_bias,
        activations=_per_direction(activations, 2, 1, "gru_cell")[0],
        clip=clip,
        linear_before_reset=linear_before_reset,
    )
    return h.astype(x.dtype)


def gru(
    x: jax.Array,
    input_kernel: jax.Array,
    hidden_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    hidden_state: jax.Array | None = None,
    sequence_lengths: jax.Array | None = None,
    direction: str = "forward",
    activations: Sequence[Activation] = _GRU_ACTIVATIONS,
    clip: float | None = None,
    linear_before_reset: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """Gated recurrent unit over a sequence (ONNX ``GRU``, batch-major).

    ``z = f(x Wz + h Rz + bz)``, ``r = f(x Wr + h Rr + br)``,
    ``n = g(x Wh + (r * h) Rh + bh)`` (or ``g(x Wh + r * (h Rh + Rbh) + Wbh)`` with
    ``linear_before_reset``), ``h' = (1 - z) * n + z * h``.

    Args:
        x: (batch, time, features).
        input_kernel: (num_directions, features, 3 * hidden), gates z, r, h.
        hidden_kernel: (num_directions, hidden, 3 * hidden).
        bias: (num_directions, 6 * hidden), ONNX ``Wb`` then ``Rb``; None for zeros.
        hidden_state: initial h, (num_directions, batch, hidden); zeros when None.
        sequence_lengths: (batch,) valid lengths, as in ``lstm``.
        direction: "forward", "reverse" or "bidirectional" (num_directions = 2).
        activations: (f, g) names or callables (see ``lstm``); 4 entries give each
            direction its own.
        clip: if set, gate pre-activations are clipped to [-clip, clip].
        linear_before_reset: apply the reset gate after the hidden projection (ONNX).

    Returns:
        ``(outputs, h_n)``: outputs (batch, time, num_directions, hidden) and the final
        state (num_directions, batch, hidden), with the dtype of ``x``.

    >>> x = jnp.ones((2, 5, 3))
    >>> y, h = gru(x, jnp.ones((1, 3, 12)), jnp.ones((1, 4, 12)))
    >>> y.shape, h.shape
    ((2, 5, 1, 4), (1, 2, 4))
    """
    dtype, num_dirs, hidden = _kernels("gru", x, input_kernel, hidden_kernel, 3, direction)
    init = (
        core.initial(hidden_state, (num_dirs, x.shape[0], hidden), dtype, "gru", "hidden_state"),
    )
    input_bias, hidden_bias = core.split_bias(bias, (num_dirs,), 3 * hidden, dtype)
    acts = _per_direction(activations, 2, num_dirs, "gru")

    def make_step(d):
        return partial(
            _gru_step,
            hidden_kernel=hidden_kernel[d].astype(dtype),
            hidden_bias=hidden_bias[d],
            activations=acts[d],
            clip=clip,
            linear_before_reset=linear_before_reset,
        )

    outputs, (h_n,) = core.sequence(
        x.astype(dtype),
        input_kernel.astype(dtype),
        input_bias,
        init,
        make_step,
        direction=direction,
        lengths=core.lengths(sequence_lengths, x, "gru"),
    )
    return outputs.astype(x.dtype), h_n.astype(x.dtype)
