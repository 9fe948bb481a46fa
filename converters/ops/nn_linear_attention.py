"""Stateful sequence ops of opset 27: LinearAttention (linear, gated, delta and
gated-delta update rules over a per-head state) and CausalConvWithState."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.converters.ops._attention_util import (
    merge_heads,
    split_heads,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_UPDATE_RULES = ("linear", "gated", "delta", "gated_delta")


def _per_head(x, heads: int, op: str, what: str):
    """Decay/beta (batch, seq, heads * n) -> (seq, batch, heads, n), float32."""
    if x.ndim != 3 or x.shape[-1] % heads and x.shape[-1] != 1:
        raise ShapeError(f"{op}: {what} of shape {x.shape} does not fit {heads} heads")
    batch, seq, last = x.shape
    groups = heads if last % heads == 0 else 1
    x = jnp.reshape(x, (batch, seq, groups, last // groups))
    return jnp.swapaxes(x, 0, 1).astype(jnp.float32)


def _check_rule(update_rule, decay, beta):
    if update_rule not in _UPDATE_RULES:
        raise UnsupportedOpError(
            f"LinearAttention: expected update_rule in {_UPDATE_RULES}, got {update_rule!r}"
        )
    gated, delta = "gated" in update_rule, "delta" in update_rule
    if gated != (decay is not None) or delta != (beta is not None):
        raise InvalidModelError(
            f"LinearAttention: update_rule {update_rule!r} needs decay: {gated}, "
            f"beta: {delta}; got decay: {decay is not None}, beta: {beta is not None}"
        )


def _linear_attention_step(state, inputs, *, group: int, scale: float):
    """One token: decay, delta correction, write `k v^T`, read `scale * q^T S`."""
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    if "decay" in inputs:
        state = state * jnp.exp(inputs["decay"])[..., None]
    if "beta" in inputs:
        v = inputs["beta"] * (v - jnp.einsum("bhdm,bhd->bhm", state, k))
    state = state + k[..., :, None] * v[..., None, :]
    read = jnp.repeat(state, group, axis=1) if group > 1 else state
    return state, scale * jnp.einsum("bhd,bhdm->bhm", q, read)


@onnx_op("LinearAttention", 27)
def linear_attention(
    query,
    key,
    value,
    past_state=None,
    decay=None,
    beta=None,
    *,
    chunk_size=64,
    kv_num_heads=None,
    q_num_heads=None,
    scale=0.0,
    update_rule="gated_delta",
):
    """ONNX LinearAttention-27: the linear / gated / delta / gated-delta recurrence over
    tokens (a `lax.scan` in float32; `chunk_size` is only a tuning hint); inputs
    (batch, seq, heads * size), state (batch, kv_heads, d_k, d_v); outputs
    (output, present_state)."""
    _check_rule(update_rule, decay, beta)
    op = "LinearAttention"

    def time_major(x, heads, what):
        return jnp.transpose(split_heads(x, heads, op, what), (2, 0, 1, 3)).astype(jnp.float32)

    inputs = {
        "q": time_major(query, q_num_heads, "q_num_heads"),
        "k": time_major(key, kv_num_heads, "kv_num_heads"),
        "v": time_major(value, kv_num_heads, "kv_num_heads"),
    }
    if decay is not None:
        inputs["decay"] = _per_head(decay, kv_num_heads, op, "decay")
    if beta is not None:
        inputs["beta"] = _per_head(beta, kv_num_heads, op, "beta")
    _, batch, _, d_k = inputs["k"].shape
    shape = (batch, kv_num_heads, d_k, inputs["v"].shape[-1])
    state = jnp.zeros(shape, jnp.float32) if past_state is None else past_state.astype(jnp.float32)
    step_scale = float(scale) if scale else 1.0 / float(np.sqrt(inputs["q"].shape[-1]))
    step = partial(_linear_attention_step, group=q_num_heads // kv_num_heads, scale=step_scale)
    state, outputs = lax.scan(step, state, inputs)
    output = merge_heads(jnp.transpose(outputs, (1, 2, 0, 3))).astype(query.dtype)
    state_dtype = query.dtype if past_state is None else past_state.dtype
    return output, state.astype(state_dtype)


@onnx_op("CausalConvWithState", 27)
def causal_conv_with_state(input, weight, bias=None, past_state=None, *, activation="none"):  # noqa: A002
    """ONNX CausalConvWithState-27: depthwise causal 1-D convolution of input
    (batch, channels, length) with weight (channels, 1, k), left-padded by `past_state`
    (batch, channels, k - 1) or zeros, optionally followed by SiLU; outputs
    (output, present_state = the last k - 1 padded positions)."""
    if activation not in ("none", "silu", "swish"):
        raise UnsupportedOpError(
            f"CausalConvWithState: expected activation none, silu or swish, got {activation!r}"
        )
    batch, channels, _ = input.shape
    k = weight.shape[2]
    past = jnp.zeros((batch, channels, k - 1), input.dtype) if past_state is None else past_state
    padded = jnp.concatenate([jnp.asarray(past, input.dtype), input], axis=2)
    dtype = jnp.promote_types(input.dtype, jnp.float32)
    out = lax.conv_general_dilated(
        padded.astype(dtype),
        jnp.asarray(weight, dtype),
        (1,),
        "VALID",
        dimension_numbers=("NCH", "OIH", "NCH"),
        feature_group_count=channels,
    )
    if bias is not None:
        out = out + jnp.asarray(bias, dtype)[None, :, None]
    out = out.astype(input.dtype)
    if activation != "none":
        out = jax.nn.silu(out.astype(dtype)).astype(input.dtype)
    return out, padded[:, :, padded.shape[2] - (k - 1) :]
