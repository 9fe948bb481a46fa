"""Greedy decoding with a KV cache through an imported decoder step.

The cache has a fixed size: `capacity` slots per layer, preallocated, so every decode
step has the same shapes and compiles once (the prompt's prefill compiles once per
prompt length). The decoder sees a past of `capacity` positions; `attention_mask`
marks which slots hold tokens (the masked-out ones are ignored by the attention) and
`position_ids` give the tokens' true positions. The step appends its key and value
after the past; they are written into the next free slot. The capacity defaults to
the next power of two that holds the prompt and the new tokens, so calls of similar
lengths share the compiled step.

A GroupQueryAttention decoder (onnxruntime GenAI's layout, `shared_buffer` in
`axonnx.decoder_layout`) keeps the same fixed-size cache as that op's shared past/present
buffer: the past is the `capacity` slots, the mask is (batch, capacity) with 1 on the
slots holding tokens (this step's included), so `total_sequence_length`, computed from
the mask's shape, stays `capacity` and `seqlens_k` (total length - 1) follows the
tokens; the op writes the new keys and values in place and its present is the next
step's cache.

Any other decoder without a `position_ids` input derives positions from the past's
length, which a fixed-size cache does not tell: such decoders are refused.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.decoder_layout import DecoderLayout, decoder_layout
from axonnx.engine import build
from axonnx.errors import InvalidModelError
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = ["Generated", "generate"]

MIN_CAPACITY = 16


@dataclass(frozen=True)
class Generated:
    """The result of `generate`.

    Attributes:
        tokens: the new token ids, (batch, max_new_tokens), int64.
        prefill_seconds: the prompt's step and the first decode step (each compiles on
            first use).
        decode_seconds: the other decode steps (`max_new_tokens - 2` of them).
    """

    tokens: np.ndarray
    prefill_seconds: float
    decode_seconds: float

    @property
    def tokens_per_second(self) -> float:
        """Decode throughput per sequence: the steps `decode_seconds` times, per second."""
        steps = self.tokens.shape[1] - 2
        return steps / self.decode_seconds if steps > 0 and self.decode_seconds else float("nan")


def generate(
    model: Node,
    state: ModelState,
    input_ids: np.ndarray,
    *,
    max_new_tokens: int,
    capacity: int | None = None,
) -> Generated:
    """Greedy decoding: feed the prompt, then `max_new_tokens - 1` times the token with
    the largest logit, through a decoder step with a fixed-size KV cache.

    Args:
        model: an imported decoder step (inputs `input_ids`, `attention_mask`,
            `position_ids`, the past key and value of each layer; outputs the logits and
            the present key and value of each layer; see `axonnx.decoder_layout`).
        state: its state.
        input_ids: the prompt, (batch, prompt_length) integers, or (prompt_length,).
        max_new_tokens: how many tokens to generate.
        capacity: cache slots (prompt and new tokens); default the next power of two.

    Returns:
        `Generated`, with `tokens` of shape (batch, max_new_tokens).

    >>> import axonnx as ax  # doctest: +SKIP
    >>> model, state = ax.import_onnx("llama_step.onnx")  # doctest: +SKIP
    >>> ax.generate(model, state, [1, 2, 3], max_new_tokens=8).tokens.shape  # doctest: +SKIP
    (1, 8)
    """
    prompt = _prompt(input_ids)
    layout = _layout(model)
    if layout.position_ids is None and not layout.shared_buffer:
        raise InvalidModelError(
            "generate: expected a decoder with a position_ids input; without it the step "
            "derives positions from the past's length, which a fixed-size cache does not "
            "give. Export the step with position_ids."
        )
    size = _capacity(prompt.shape[1] + max_new_tokens, capacity, max_new_tokens)
    step = _stepper(model, layout, size)
    start = time.perf_counter()
    positions = np.broadcast_to(np.arange(prompt.shape[1], dtype=np.int32), prompt.shape)
    token, cache = step(state, _empty_cache(layout, *prompt.shape[:1], size), prompt, positions)
    tokens = [token]
    for offset in range(prompt.shape[1], prompt.shape[1] + max_new_tokens - 1):
        if len(tokens) == 2:  # the prompt's step and the first decode step compile
            prefill, start = time.perf_counter() - start, time.perf_counter()
        token, cache = step(state, cache, token, np.full(token.shape, offset, np.int32))
        tokens.append(np.asarray(token))
    if len(tokens) <= 2:
        prefill, start = time.perf_counter() - start, time.perf_counter()
    result = np.concatenate([np.asarray(t) for t in tokens], axis=1).astype(np.int64)
    return Generated(result, prefill, time.perf_counter() - start)


def _prompt(input_ids) -> np.ndarray:
    prompt = np.asarray(input_ids)
    prompt = prompt[None] if prompt.ndim == 1 else prompt
    if prompt.ndim != 2 or prompt.shape[1] == 0 or prompt.dtype.kind not in "iu":
        raise InvalidModelError(
            f"generate: expected input_ids of shape (batch, prompt_length) with integers, "
            f"got shape {prompt.shape} of {prompt.dtype}."
        )
    return prompt.astype(np.int32)


def _capacity(needed: int, capacity: int | None, max_new_tokens: int) -> int:
    if max_new_tokens < 1:
        raise InvalidModelError(f"generate: expected max_new_tokens >= 1, got {max_new_tokens}.")
    if capacity is None:
        return max(MIN_CAPACITY, 1 << (needed - 1).bit_length())
    if capacity < needed:
        raise InvalidModelError(
            f"generate: expected a capacity of at least the prompt and the new tokens "
            f"({needed}), got {capacity}."
        )
    return capacity


def _empty_cache(layout: DecoderLayout, batch: int, capacity: int) -> tuple:
    """Zeroed (key, value) slots of every layer and the valid-slot mask (none valid)."""
    arrays = [
        np.zeros((batch, heads, capacity, head_dim), layout.cache_dtype)
        for heads, head_dim in layout.cache_shapes
        for _ in range(2)
    ]
    return jax.device_put((tuple(arrays), np.zeros((batch, capacity), np.int32)))


@functools.lru_cache(maxsize=16)
def _layout(model: Node) -> DecoderLayout:
    return decoder_layout(model)


@functools.lru_cache(maxsize=16)
def _stepper(model: Node, layout: DecoderLayout, capacity: int):
    """The jitted step: (state, cache, ids, positions) -> (next ids, new cache); one
    compilation for the decode steps, one per prompt length."""
    _, predict_fn = build(model)
    return jax.jit(functools.partial(_step, predict_fn, layout, capacity), donate_argnums=(1,))


def _step(predict_fn, layout: DecoderLayout, capacity: int, state, cache, ids, positions):
    """Run the decoder on `ids` at `positions` over the cache; write their keys and
    values into the slots at `positions` and return the greedy next tokens."""
    slots, valid = cache
    new = jnp.ones(ids.shape, valid.dtype)
    start = positions[0, 0]
    filled = jax.lax.dynamic_update_slice(valid, new, (0, start))
    feed = {
        layout.input_ids: ids,
        layout.attention_mask: filled if layout.shared_buffer else jnp.concatenate([valid, new], 1),
        **dict(zip(_flat(layout.past), slots, strict=True)),
    }
    if layout.position_ids is not None:
        feed[layout.position_ids] = positions
    outputs = predict_fn(state, feed)
    presents = [outputs[name] for name in _flat(layout.present)]
    if layout.shared_buffer:  # written in place by the op
        written = tuple(
            present.astype(slot.dtype) for present, slot in zip(presents, slots, strict=True)
        )
    else:
        written = tuple(
            jax.lax.dynamic_update_slice(slot, present[:, :, capacity:], (0, 0, start, 0))
            for present, slot in zip(presents, slots, strict=True)
        )
    token = jnp.argmax(outputs[layout.logits][:, -1], axis=-1).astype(jnp.int32)
    return token[:, None], (written, filled)


def _flat(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [name for pair in pairs for name in pair]
