"""Machinery shared by the recurrent layers and the ONNX recurrent ops.

Private to axonnx: `axonnx.layers.recurrent` (LSTM, GRU),
`axonnx.layers.conv_recurrent` (ConvLSTM) and `axonnx.converters.ops._recurrent_util`
(ONNX RNN) build on it. Sequences enter the time loop as (time, batch, ...) and run in
``lax.scan``; ``sequence_lengths`` follow ONNX ``sequence_lens`` semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "DIRECTIONS",
    "check_shape",
    "clamp",
    "compute_dtype",
    "initial",
    "lengths",
    "lstm_gates",
    "per_batch",
    "reverse_valid",
    "scan",
    "sequence",
    "split_bias",
]

# direction -> whether each of its directions runs reversed
DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}

Step = Callable[[tuple, jax.Array], tuple]

# time steps per iteration of the loop (`lax.scan`'s unroll), chosen by measurement
# through ax.predict (benchmarks/recurrent.py, T=128, hidden 32): 8 against 1 cuts the
# CPU time of the LSTM classifier at batch 8 by ~18% and of the GRU by ~35%; 2 and 4
# were in between, batch 1 within the noise
UNROLL = 8


# --- options ----------------------------------------------------------------


def check_shape(where: str, name: str, array: jax.Array, expected: tuple[int, ...]) -> None:
    """Raises ``ValueError`` unless ``array`` has shape ``expected``."""
    if tuple(array.shape) != tuple(expected):
        raise ValueError(f"{where}: expected {name} of shape {expected}, got {array.shape}.")


def compute_dtype(x: jax.Array) -> jnp.dtype:
    """The dtype computation runs in: that of ``x``, promoted to at least float32."""
    return jnp.promote_types(x.dtype, jnp.float32)


def split_bias(
    bias: jax.Array | None, prefix: tuple[int, ...], size: int, dtype: jnp.dtype
) -> list[jax.Array]:
    """ONNX bias (..., 2 * size) -> [input bias, hidden bias], zeros when None."""
    if bias is None:
        bias = jnp.zeros((*prefix, 2 * size), dtype)
    return jnp.split(jnp.asarray(bias, dtype), 2, axis=-1)


def initial(
    state: jax.Array | None, shape: tuple[int, ...], dtype: jnp.dtype, where: str, name: str
) -> jax.Array:
    """An initial state checked against ``shape`` and cast to ``dtype``; zeros when None."""
    if state is None:
        return jnp.zeros(shape, dtype)
    check_shape(where, name, state, shape)
    return jnp.asarray(state, dtype)


def clamp(x: jax.Array, clip: float | None) -> jax.Array:
    """Clips ``x`` to [-clip, clip]; unchanged when ``clip`` is None."""
    return x if clip is None else jnp.clip(x, -clip, clip)


# --- time loop ----------------------------------------------------------------


def per_batch(v: jax.Array, like: jax.Array) -> jax.Array:
    """Broadcasts a (batch,) array against ``like`` (batch, ...)."""
    return jnp.broadcast_to(jnp.reshape(v, v.shape + (1,) * (like.ndim - 1)), like.shape)


def reverse_valid(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverses each sequence of ``x`` (time, batch, ...) within its valid length."""
    t = jnp.arange(x.shape[0])[:, None]
    index = jnp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    index = jnp.reshape(index, index.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, jnp.broadcast_to(index, x.shape), axis=0)


def scan(
    step: Step,
    inputs: jax.Array,
    carry: tuple,
    lengths: jax.Array | None,
    reverse: bool,
    unroll: int = 1,
) -> tuple[jax.Array, tuple]:
    """Runs ``step(carry, x_t) -> carry`` over time, ONNX ``sequence_lens`` style.

    ``inputs`` is (time, batch, ...); ``carry[0]`` is the emitted hidden state. Steps
    at or past a sequence's length keep its carry and emit zeros; ``lengths=None``
    means every sequence is full, and the loop body then has no masks at all.
    ``unroll`` steps run per loop iteration (``lax.scan``'s ``unroll``).
    Returns (outputs (time, batch, ...), final carry).
    """
    if lengths is None:

        def plain(old, x_t):
            new = step(old, x_t)
            return new, new[0]

        final, outputs = lax.scan(plain, carry, inputs, reverse=reverse, unroll=unroll)
        return outputs, final
    valid = jnp.arange(inputs.shape[0])[:, None] < lengths[None, :]

    def body(old, step_inputs):
        x_t, v = step_inputs
        new = tuple(
            jnp.where(per_batch(v, n), n, o) for n, o in zip(step(old, x_t), old, strict=True)
        )
        return new, jnp.where(per_batch(v, new[0]), new[0], 0.0)

    if reverse:
        inputs = reverse_valid(inputs, lengths)
    final, outputs = lax.scan(body, carry, (inputs, valid), unroll=unroll)
    if reverse:
        outputs = reverse_valid(outputs, lengths)
    return outputs, final


def lengths(sequence_lengths: jax.Array | None, x: jax.Array, where: str) -> jax.Array | None:
    """Valid lengths (batch,) as int32 for ``x`` (batch, time, ...); None (every
    sequence full, no masking) when ``sequence_lengths`` is None."""
    if sequence_lengths is None:
        return None
    check_shape(where, "sequence_lengths", jnp.asarray(sequence_lengths), (x.shape[0],))
    return jnp.asarray(sequence_lengths, jnp.int32)


def sequence(
    x: jax.Array,
    input_kernel: jax.Array,
    input_bias: jax.Array,
    init: tuple[jax.Array, ...],
    make_step: Callable[[int], Step],
    *,
    direction: str,
    lengths: jax.Array | None,
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """Shared driver of ``lstm``, ``gru`` and the ONNX RNN over all directions.

    x: (batch, time, features); input_kernel: (dirs, features, k); input_bias: (dirs, k);
    init: tuple of (dirs, batch, hidden) states; ``make_step(d)`` is direction d's step.
    Returns outputs (batch, time, dirs, hidden) and the final states (dirs, batch, hidden).
    """
    outputs, finals = [], []
    # time-major before the projection: transposing the input (features wide) is cheaper
    # than transposing its projection (4 · hidden wide), and the dot stays a plain
    # matmul that XLA hands to its fast library (LSTM classifier, batch 8: 7.2 ms of
    # projection + 4.8 ms of transpose before); both directions share one matmul
    x = jnp.swapaxes(x, 0, 1)
    dirs, features, k = input_kernel.shape
    kernel = jnp.moveaxis(input_kernel, 0, 1).reshape(features, dirs * k)
    x_proj = jnp.matmul(x, kernel) + jnp.reshape(input_bias, (1, 1, dirs * k))
    for d, reverse in enumerate(DIRECTIONS[direction]):
        carry = tuple(s[d] for s in init)
        proj = x_proj if dirs == 1 else x_proj[..., d * k : (d + 1) * k]
        ys, final = scan(make_step(d), proj, carry, lengths, reverse, unroll=UNROLL)
        outputs.append(jnp.swapaxes(ys, 0, 1))
        finals.append(final)
    states = tuple(jnp.stack(s) for s in zip(*finals, strict=True))
    return jnp.stack(outputs, axis=2), states


# --- LSTM update ----------------------------------------------------------------


def lstm_gates(
    pre: jax.Array,
    c: jax.Array,
    *,
    activations: Sequence[Callable[[jax.Array], jax.Array]],
    clip: float | None,
    input_forget: bool,
    peephole: jax.Array | None,
) -> tuple[jax.Array, jax.Array]:
    """LSTM update from gate pre-activations ``pre`` (..., 4 * hidden) in order i, o, f, c.

    Returns the new ``(h, c)``; shared by ``lstm`` and ``conv_lstm``.
    """
    f, g, h = activations
    if peephole is None:  # i, o and f in one activation: one fused loop per step
        size = pre.shape[-1] // 4
        gates = f(clamp(pre[..., : 3 * size], clip))
        i, o, forget = jnp.split(gates, 3, axis=-1)
        forget = 1.0 - i if input_forget else forget
        c = forget * c + i * g(clamp(pre[..., 3 * size :], clip))
        return o * h(c), c
    i, o, forget, cand = jnp.split(pre, 4, axis=-1)
    p_i, p_o, p_f = jnp.split(peephole[None], 3, -1)
    i = f(clamp(i + p_i * c, clip))
    forget = 1.0 - i if input_forget else f(clamp(forget + p_f * c, clip))
    c = forget * c + i * g(clamp(cand, clip))
    o = f(clamp(o + p_o * c, clip))
    return o * h(c), c
