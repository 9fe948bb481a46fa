"""Tests of mixed precision: `ax.policy` and `ax.apply_policy`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axonnx as ax
from axonnx.plan import plan


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _mlp():
    x = ax.input("x", shape=(None, 8))
    return x.dense(16, activation="relu").dense(4, activation="softmax")


def _cnn():
    x = ax.input("img", shape=(None, 6, 6, 2))
    return x.conv(4, 3).batch_norm().relu().global_avg_pool().dense(3)


def _dtype_by_layer(model, state, data, mode="inference"):
    """Output dtype of every layer, from a run that keeps intermediate values."""
    from axonnx.compiler import run

    laid_out = plan(model)
    _, _, kept = run(laid_out, state, data, mode=mode, keep=lambda n: True)
    return {
        laid_out.names[i]: np.dtype(v.dtype).name for i, v in kept.items() if hasattr(v, "dtype")
    }


def test_policy_defaults_and_text():
    assert ax.policy("float32", "bfloat16") == ax.Policy("float32", "bfloat16", "float32")
    assert ax.policy("bfloat16") == ax.Policy("bfloat16", "bfloat16", "bfloat16")
    assert ax.policy("float16", output="float32").output == "float32"
    assert str(ax.policy("float32", "float16")) == "p=f32 c=f16 o=f32"
    with pytest.raises(TypeError):
        ax.policy("not_a_dtype")


@pytest.mark.parametrize("compute", ["bfloat16", "float16"])
def test_compute_policy_keeps_f32_params_and_output(compute):
    model = _mlp()
    mixed = ax.apply_policy(model, ax.policy("float32", compute))
    state = ax.init(mixed)
    for leaf in jax.tree_util.tree_leaves(state.params):
        assert leaf.dtype == jnp.float32
    data = _data(5, 8)
    out = ax.predict(mixed, state, data)
    assert out.dtype == jnp.float32
    reference = ax.predict(model, ax.init(model), data)
    np.testing.assert_allclose(out, reference, atol=2e-2, rtol=5e-2)
    assert not np.array_equal(out, reference)  # the math really ran in low precision


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_full_low_precision_policy(dtype):
    model = _mlp()
    low = ax.apply_policy(model, ax.policy(dtype))
    state = ax.init(low)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(state.params)} == {jnp.dtype(dtype)}
    data = _data(5, 8)
    out = ax.predict(low, state, data)
    assert out.dtype == jnp.dtype(dtype)
    reference = ax.predict(
        model,
        ax.init(model, jax.tree_util.tree_map(lambda v: np.asarray(v, np.float32), state.params)),
        data,
    )
    np.testing.assert_allclose(np.asarray(out, np.float32), reference, atol=3e-2, rtol=5e-2)


def test_intermediate_dtypes_follow_policy():
    model = _mlp()
    mixed = ax.apply_policy(model, ax.policy("float32", "bfloat16", "bfloat16"))
    dtypes = _dtype_by_layer(mixed, ax.init(mixed), _data(2, 8))
    assert dtypes["x"] == "float32"  # inputs keep their dtype
    assert {dtypes[k] for k in ("dense_0", "relu_0", "dense_1", "softmax_0")} == {"bfloat16"}


def test_only_selects_layers_by_name_and_op():
    model = _mlp()
    by_name = ax.apply_policy(model, ax.policy("bfloat16"), only=["dense_1"])
    state = ax.init(by_name)
    assert state.params["dense_0"]["kernel"].dtype == jnp.float32
    assert state.params["dense_1"]["kernel"].dtype == jnp.bfloat16
    dtypes = _dtype_by_layer(by_name, state, _data(2, 8))
    assert dtypes["dense_0"] == dtypes["relu_0"] == "float32"
    assert dtypes["dense_1"] == "bfloat16"
    by_op = ax.apply_policy(model, ax.policy("float32", "float16"), only=["relu"])
    laid_out = plan(by_op)
    policies = {laid_out.names[n.id]: n.policy for n in laid_out.order}
    assert policies["relu_0"] == ax.policy("float32", "float16")
    assert policies["dense_0"] is None and policies["dense_1"] is None


def test_apply_policy_leaves_original_model_unchanged():
    model = _mlp()
    ax.apply_policy(model, ax.policy("bfloat16"))
    assert all(n.policy is None for n in plan(model).order)
    state = ax.init(model)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(state.params)} == {
        jnp.dtype(jnp.float32)
    }


def test_policy_shown_in_summary():
    text = ax.summary(ax.apply_policy(_mlp(), ax.policy("float32", "bfloat16")))
    assert "p=f32 c=bf16 o=f32" in text
    assert f"Total Parameters Memory: {4 * (8 * 16 + 16 + 16 * 4 + 4)} bytes" in text
    half = ax.summary(ax.apply_policy(_mlp(), ax.policy("float16")))
    assert f"Total Parameters Memory: {2 * (8 * 16 + 16 + 16 * 4 + 4)} bytes" in half


def test_cnn_with_batch_norm_in_bf16_compute():
    model = _cnn()
    mixed = ax.apply_policy(model, ax.policy("float32", "bfloat16"))
    state = ax.init(mixed)
    data = _data(4, 6, 6, 2)
    out = ax.predict(mixed, state, data)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, ax.predict(model, ax.init(model), data), atol=5e-2, rtol=5e-2)
    init_fn, predict_fn = ax.build(mixed, mode="train")
    _, new_state = predict_fn(state, data)
    for leaf in jax.tree_util.tree_leaves(new_state):
        assert leaf.dtype == jnp.float32  # running statistics stay in the params dtype


def test_grad_through_mixed_precision_is_f32():
    mixed = ax.apply_policy(_mlp(), ax.policy("float32", "bfloat16"))
    init_fn, predict_fn = ax.build(mixed)
    state = init_fn()
    data = _data(4, 8)

    def loss(params):
        return jnp.mean(predict_fn(state._replace(params=params), data) ** 2)

    grads = jax.jit(jax.grad(loss))(state.params)
    assert {g.dtype for g in jax.tree_util.tree_leaves(grads)} == {jnp.dtype(jnp.float32)}
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))


def test_cast_floats_casts_only_floating_arrays():
    from axonnx.policy import cast_floats

    tree = {"w": np.linspace(0, 1, 5, dtype=np.float32), "n": np.arange(3), "tag": "x"}
    cast = cast_floats(tree, "bfloat16")
    assert cast["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(cast["w"], np.float32), tree["w"].astype(jnp.bfloat16).astype(np.float32)
    )
    assert cast["n"] is tree["n"] and cast["tag"] == "x"
