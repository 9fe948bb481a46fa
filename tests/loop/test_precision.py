"""Mixed precision: bf16 and f16 compute policies, dynamic loss scaling that skips steps."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axonnx as ax
from axonnx.loop import DynamicScale

MODEL = ax.input("x", shape=(None, 4)).dense(16, activation="relu").dense(1)


def _batches(n=6):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32))[:, None]
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 8 * n, 8)]


def test_dynamic_scale_rules():
    s = DynamicScale.create(8.0)
    overflow = s.adjust(jnp.asarray(False))
    assert float(overflow.scale) == 4.0 and int(overflow.good_steps) == 0
    grown = DynamicScale(jnp.float32(8.0), jnp.int32(1)).adjust(jnp.asarray(True), period=2)
    assert float(grown.scale) == 16.0 and int(grown.good_steps) == 0
    kept = s.adjust(jnp.asarray(True), period=2)
    assert float(kept.scale) == 8.0 and int(kept.good_steps) == 1


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_training_follows_float32(dtype):
    batches, initial = _batches(), ax.init(MODEL)
    scale = 2.0**8 if dtype == "float16" else "auto"  # 2^15 would overflow (and skip) step 1
    loop = ax.Loop.trainer(
        MODEL, "mean_squared_error", optax.sgd(0.05), compute_dtype=dtype, loss_scale=scale
    )
    reference = ax.Loop.trainer(MODEL, "mean_squared_error", optax.sgd(0.05))
    # one step: the update is the float32 update within half-precision rounding
    half = loop.run(batches[:1], initial_state=initial, progress=False)
    full = reference.run(batches[:1], initial_state=initial, progress=False)
    assert half.params["dense_0"]["kernel"].dtype == jnp.float32  # master weights stay f32
    delta = lambda s: jax.tree.map(lambda a, b: a - b, s.params, initial.params)  # noqa: E731
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=0.05, atol=2e-3),
        delta(half),
        delta(full),
    )
    # and it trains
    _, state = loop.run(
        batches, epochs=5, initial_state=initial, progress=False, return_loop_state=True
    )
    assert (state.carry.loss_scale is not None) == (dtype == "float16")
    assert state.history[-1]["loss"] < 0.5 * state.history[0]["loss"]


def test_float16_overflow_skips_the_step_and_halves_the_scale():
    batches = _batches(n=3)
    initial = ax.init(MODEL)
    loop = ax.Loop.trainer(
        MODEL,
        "mean_squared_error",
        optax.sgd(1e-2),
        compute_dtype="float16",
        loss_scale=2.0**40,  # scaled float16 gradients overflow to Inf
    )
    state, loop_state = loop.run(
        batches[:1], initial_state=initial, progress=False, return_loop_state=True
    )
    jax.tree.map(np.testing.assert_array_equal, state.params, initial.params)  # skipped
    assert float(loop_state.carry.loss_scale.scale) == 2.0**39
    assert int(loop_state.carry.step) == 1 and loop_state.status == "running"

    # enough halvings later (2^40 → below ~2^16), steps go through
    state, loop_state = loop.run(
        batches * 10, initial_state=initial, progress=False, return_loop_state=True
    )
    assert float(loop_state.carry.loss_scale.scale) < 2.0**20
    assert not np.array_equal(
        state.params["dense_0"]["kernel"], initial.params["dense_0"]["kernel"]
    )
