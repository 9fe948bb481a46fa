"""Tests of the compiler: init, predict, modes, JAX transformations, custom layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import axonnx as ax


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _mlp(name=None):
    x = ax.input("x", shape=(None, 4))
    return x.dense(5, activation="relu", name=name).dense(3, activation="softmax")


def _np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _leaves_equal(a, b):
    flat_a, tree_a = jax.tree_util.tree_flatten(a)
    flat_b, tree_b = jax.tree_util.tree_flatten(b)
    return tree_a == tree_b and all(
        np.array_equal(u, v) for u, v in zip(flat_a, flat_b, strict=True)
    )


# ---------------------------------------------------------------- init


def test_init_is_deterministic_per_seed():
    model = _mlp()
    assert _leaves_equal(ax.init(model), ax.init(model))
    assert _leaves_equal(ax.init(model, seed=3), ax.init(model, seed=3))
    first, other = ax.init(model, seed=0).params, ax.init(model, seed=1).params
    assert not np.array_equal(first["dense_0"]["kernel"], other["dense_0"]["kernel"])


def test_init_depends_on_layer_name_not_on_other_layers():
    x = ax.input("x", shape=(None, 4))
    small = x.dense(4).dense(4)
    large = x.dense(4).dense(4).dense(4).dense(2)
    p_small, p_large = ax.init(small).params, ax.init(large).params
    for layer in ("dense_0", "dense_1"):
        for name in ("kernel", "bias"):
            np.testing.assert_array_equal(p_small[layer][name], p_large[layer][name])
    # Layers of one shape with different names get different values.
    assert not np.array_equal(p_large["dense_1"]["kernel"], p_large["dense_2"]["kernel"])


def test_init_of_named_layer_is_independent_of_position():
    x = ax.input("x", shape=(None, 4))
    alone = x.dense(3, name="head")
    deeper = x.dense(4).dense(4, name="mid").dense(3, name="head")
    np.testing.assert_array_equal(
        ax.init(alone).params["head"]["kernel"], ax.init(deeper).params["head"]["kernel"]
    )


def test_init_statistics_follow_the_initializer():
    model = ax.input("x", shape=(None, 200)).dense(300)
    kernel = np.asarray(ax.init(model).params["dense_0"]["kernel"])
    limit = np.sqrt(6 / (200 + 300))  # Glorot uniform
    assert kernel.shape == (200, 300) and kernel.dtype == np.float32
    assert np.abs(kernel).max() <= limit
    np.testing.assert_allclose(kernel.var(), limit**2 / 3, rtol=0.05)
    np.testing.assert_array_equal(ax.init(model).params["dense_0"]["bias"], np.zeros(300))


def test_initial_values_override_by_layer():
    model = _mlp()
    kernel = np.arange(20, dtype=np.float32).reshape(4, 5)
    state = ax.init(model, {"dense_0": {"kernel": kernel}})
    np.testing.assert_array_equal(state.params["dense_0"]["kernel"], kernel)
    fresh = ax.init(model)
    np.testing.assert_array_equal(
        state.params["dense_1"]["kernel"], fresh.params["dense_1"]["kernel"]
    )


def test_initial_values_by_namespace():
    body = ax.namespace(ax.input("x", shape=(None, 4)).dense(3), "body")
    model = body.dense(2)
    kernel = np.ones((4, 3), np.float32)
    state = ax.init(model, initial={"body": {"dense_0": {"kernel": kernel}}})
    # Generated names are numbered over the whole graph, namespaces included.
    assert set(state.params) == {"body", "dense_1"}
    assert set(state.params["body"]) == {"dense_0"}
    np.testing.assert_array_equal(state.params["body"]["dense_0"]["kernel"], kernel)
    assert state.params["dense_1"]["kernel"].shape == (3, 2)


def test_same_user_name_in_two_namespaces():
    x = ax.input("x", shape=(None, 2))
    a = ax.namespace(x.dense(2, name="proj"), "a")
    b = ax.namespace(x.dense(2, name="proj"), "b")
    params = ax.init(ax.add(a, b)).params
    assert set(params) == {"a", "b"}
    assert not np.array_equal(params["a"]["proj"]["kernel"], params["b"]["proj"]["kernel"])


def test_initial_value_shape_mismatch_names_layer():
    with pytest.raises(
        ax.ShapeError,
        match=r"dense_0 \(dense\): expected initial value of "
        r"'kernel' with shape \(4, 5\), got \(5, 4\)",
    ):
        ax.init(_mlp(), {"dense_0": {"kernel": np.zeros((5, 4), np.float32)}})


def test_nested_namespaces():
    inner = ax.namespace(ax.input("x", shape=(None, 2)).dense(2), "inner")
    outer = ax.namespace(inner.dense(2), "outer")
    params = ax.init(outer).params
    assert set(params) == {"outer"}
    assert set(params["outer"]) == {"inner", "dense_1"}
    assert set(params["outer"]["inner"]["dense_0"]) == {"kernel", "bias"}


def test_predict_uses_namespaced_params():
    body = ax.namespace(ax.input("x", shape=(None, 2)).dense(2, use_bias=False), "body")
    state = ax.init(body, {"body": {"dense_0": {"kernel": np.eye(2, dtype=np.float32) * 3}}})
    data = _data(4, 2)
    np.testing.assert_allclose(ax.predict(body, state, data), data * 3, rtol=1e-6)


# ---------------------------------------------------------------- predictions vs NumPy


def test_mlp_matches_numpy():
    model = _mlp()
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    data = _data(6, 4)
    p = jax.tree_util.tree_map(np.asarray, state.params)
    hidden = np.maximum(data @ p["dense_0"]["kernel"] + p["dense_0"]["bias"], 0)
    expected = _np_softmax(hidden @ p["dense_1"]["kernel"] + p["dense_1"]["bias"])
    np.testing.assert_allclose(predict_fn(state, data), expected, rtol=1e-5, atol=1e-6)


def test_predict_with_custom_params_matches_numpy():
    model = _mlp()
    rng = np.random.default_rng(1)
    given = {
        "dense_0": {"kernel": rng.normal(size=(4, 5)), "bias": rng.normal(size=5)},
        "dense_1": {"kernel": rng.normal(size=(5, 3)), "bias": rng.normal(size=3)},
    }
    state = ax.init(model, given)
    data = _data(3, 4)
    hidden = np.maximum(data @ given["dense_0"]["kernel"] + given["dense_0"]["bias"], 0)
    expected = _np_softmax(hidden @ given["dense_1"]["kernel"] + given["dense_1"]["bias"])
    np.testing.assert_allclose(ax.predict(model, state, data), expected, rtol=1e-4, atol=1e-6)


def test_predict_on_other_batch_sizes():
    model = _mlp()
    state = ax.init(model)
    for batch in (1, 7):
        assert ax.predict(model, state, _data(batch, 4)).shape == (batch, 3)


# ---------------------------------------------------------------- inputs


def _two_inputs():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 2))
    return ax.concatenate([a.dense(2, use_bias=False), b])


def test_multi_input_dict_and_tuple():
    model = _two_inputs()
    state = ax.init(model)
    da, db = _data(4, 3), _data(4, 2, seed=1)
    kernel = np.asarray(state.params["dense_0"]["kernel"])
    expected = np.concatenate([da @ kernel, db], -1)
    by_dict = ax.predict(model, state, {"a": da, "b": db})
    by_tuple = ax.predict(model, state, (da, db))
    np.testing.assert_allclose(by_dict, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(by_dict, by_tuple)


def test_missing_and_extra_inputs():
    model = _two_inputs()
    state = ax.init(model)
    with pytest.raises(ax.InvalidModelError, match=r"missing inputs \['b'\]"):
        ax.predict(model, state, {"a": _data(1, 3)})
    with pytest.raises(ax.InvalidModelError, match="the model has 2 inputs"):
        ax.predict(model, state, (_data(1, 3),))


def test_input_shape_mismatch_names_input():
    model = _mlp()
    with pytest.raises(ax.ShapeError, match=r"input 'x': expected shape \(None, 4\), got \(2, 5\)"):
        ax.build(model)[1](ax.init(model), _data(2, 5))
    with pytest.raises(ax.ShapeError, match=r"input 'x'.*got \(4,\)"):
        ax.build(model)[1](ax.init(model), _data(4))


# ---------------------------------------------------------------- structure


def test_container_outputs_nest():
    x = ax.input("x", shape=(None, 3))
    model = ax.container({"same": x, "pair": (x.relu(), x.tanh())})
    data = _data(2, 3)
    out = ax.predict(model, ax.init(model), data)
    np.testing.assert_array_equal(out["same"], data)
    np.testing.assert_array_equal(out["pair"][0], np.maximum(data, 0))
    np.testing.assert_allclose(out["pair"][1], np.tanh(data), rtol=1e-6)


def test_split_and_getitem_of_container():
    x = ax.input("x", shape=(None, 4))
    left, right = x.split(2)
    box = ax.container({"l": left, "r": right})
    model = ax.subtract(box["r"], box["l"])
    data = _data(3, 4)
    np.testing.assert_array_equal(
        ax.predict(model, ax.init(model), data), data[:, 2:] - data[:, :2]
    )


def _mean_positive(x):
    return jnp.mean(x) > 0


def test_cond_on_data():
    x = ax.input("x", shape=(None, 2))
    model = ax.cond(ax.layer(_mean_positive, [x]), x.exp(), x.relu())
    state = ax.init(model)
    up, down = np.array([[1.0, 2.0]], np.float32), np.array([[-1.0, 0.5]], np.float32)
    predict = jax.jit(ax.build(model)[1])
    np.testing.assert_allclose(predict(state, up), np.exp(up), rtol=1e-6)
    np.testing.assert_array_equal(predict(state, down), np.maximum(down, 0))


def test_constant_in_graph():
    x = ax.input("x", shape=(None, 3))
    offset = ax.constant(np.array([1.0, 2.0, 3.0], np.float32))
    model = ax.layer(_add_vector, [x, offset])
    data = _data(2, 3)
    np.testing.assert_allclose(ax.predict(model, ax.init(model), data), data + [1, 2, 3])


def _add_vector(x, v):
    return x + v[None, :]


# ---------------------------------------------------------------- custom layers and params


def _scale(x, w):
    return x * w[None, :]


def test_custom_layer_with_param():
    x = ax.input("x", shape=(None, 3))
    w = ax.param("w", (3,), initializer="ones")
    model = ax.layer(_scale, [x, w])
    state = ax.init(model)
    np.testing.assert_array_equal(state.params["w"], np.ones(3))
    given = ax.init(model, {"w": np.array([1.0, -2.0, 0.5], np.float32)})
    data = _data(2, 3)
    np.testing.assert_allclose(ax.predict(model, given, data), data * [1.0, -2.0, 0.5])


def test_shared_param_is_one_parameter():
    x = ax.input("x", shape=(None, 3))
    w = ax.param("w", (3,), initializer="ones")
    model = ax.layer(_scale, [ax.layer(_scale, [x, w]), w])
    init_fn, predict_fn = ax.build(model)
    state = init_fn({"w": np.array([2.0, 3.0, -1.0], np.float32)})
    assert jax.tree_util.tree_structure(state.params) == jax.tree_util.tree_structure({"w": 0})
    data = _data(4, 3)
    np.testing.assert_allclose(predict_fn(state, data), data * np.array([4.0, 9.0, 1.0]), rtol=1e-6)
    assert ax.summary(model).count("Total Parameters: 3") == 1

    def loss(params):
        return jnp.sum(predict_fn(state._replace(params=params), data))

    grad = jax.grad(loss)(state.params)["w"]
    np.testing.assert_allclose(grad, 2 * state.params["w"] * data.sum(0), rtol=1e-5)


def test_untrainable_param_lives_in_state():
    x = ax.input("x", shape=(None, 3))
    model = ax.layer(_scale, [x, ax.param("s", (3,), initializer="ones", trainable=False)])
    state = ax.init(model)
    assert state.params == {}
    np.testing.assert_array_equal(state.state["s"], np.ones(3))


def test_custom_layer_error_names_layer():
    x = ax.input("x", shape=(None, 3))
    model = ax.layer(_scale, [x, ax.param("w", (3,), initializer="ones")], name="scaler")
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    bad = state._replace(params={"w": jnp.ones((3, 2))})
    with pytest.raises(ax.LayerError, match=r"^scaler \(layer:"):
        predict_fn(bad, _data(2, 3))


def test_initializer_error_names_param():
    x = ax.input("x", shape=(None, 3))
    model = ax.layer(_scale, [x, ax.param("w", (3,))])  # glorot needs a 2-D shape
    with pytest.raises(ax.ShapeError, match=r"^w \(param\): cannot initialize 'value' of shape"):
        ax.init(model)


def test_missing_param_in_state_names_layer():
    model = _mlp()
    state = ax.init(model)
    params = {k: v for k, v in state.params.items() if k != "dense_1"}
    with pytest.raises(ax.InvalidModelError, match="dense_1 .*dense_1/kernel"):
        ax.build(model)[1](state._replace(params=params), _data(1, 4))


# ---------------------------------------------------------------- modes


def _dropout_model(rate=0.5):
    return ax.input("x", shape=(None, 1000)).dropout(rate=rate)


def test_dropout_identity_in_inference():
    model = _dropout_model()
    data = _data(2, 1000)
    np.testing.assert_array_equal(ax.build(model)[1](ax.init(model), data), data)


def test_dropout_active_in_train_mode():
    model = _dropout_model(rate=0.25)
    init_fn, predict_fn = ax.build(model, mode="train")
    data = np.abs(_data(2, 1000)) + 0.1
    out, new_state = predict_fn(init_fn(), data, key=jax.random.key(0))
    out = np.asarray(out)
    kept = out != 0
    np.testing.assert_allclose(out[kept], data[kept] / 0.75, rtol=1e-6)
    assert 0.65 < kept.mean() < 0.85
    again, _ = predict_fn(init_fn(), data, key=jax.random.key(0))
    other, _ = predict_fn(init_fn(), data, key=jax.random.key(1))
    np.testing.assert_array_equal(again, out)
    assert not np.array_equal(other, out)
    assert new_state == {}


def test_dropout_train_mode_needs_key():
    init_fn, predict_fn = ax.build(_dropout_model(), mode="train")
    with pytest.raises(ax.LayerError, match=r"dropout_0 \(dropout\).*key"):
        predict_fn(init_fn(), _data(2, 1000))


def test_unknown_mode():
    with pytest.raises(ValueError, match="expected mode in"):
        ax.build(_mlp(), mode="eval")


def test_batch_norm_train_mode_updates_state():
    model = ax.input("x", shape=(None, 3)).batch_norm(momentum=0.8, epsilon=1e-3)
    init_fn, predict_fn = ax.build(model, mode="train")
    state = init_fn()
    data = _data(16, 3) * 2 + 1
    out, new_state = predict_fn(state, data)
    mean, var = data.mean(0), data.var(0)
    np.testing.assert_allclose(out, (data - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_state["batch_norm_0"]["mean"], 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(new_state["batch_norm_0"]["var"], 0.8 + 0.2 * var, rtol=1e-5)
    # The input state is not changed in place.
    np.testing.assert_array_equal(state.state["batch_norm_0"]["mean"], np.zeros(3))


def test_batch_norm_inference_uses_running_statistics():
    model = ax.input("x", shape=(None, 2, 3)).batch_norm(epsilon=1e-5)
    mean, var = np.array([1.0, -1.0, 0.5], np.float32), np.array([4.0, 1.0, 0.25], np.float32)
    scale, bias = np.array([2.0, 1.0, -1.0], np.float32), np.array([0.0, 1.0, 2.0], np.float32)
    state = ax.init(
        model,
        ax.ModelState(
            {"batch_norm_0": {"scale": scale, "bias": bias}},
            {"batch_norm_0": {"mean": mean, "var": var}},
        ),
    )
    data = _data(4, 2, 3)
    expected = scale * (data - mean) / np.sqrt(var + 1e-5) + bias
    np.testing.assert_allclose(ax.predict(model, state, data), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- JAX transformations


def test_build_functions_jit():
    model = _mlp()
    init_fn, predict_fn = ax.build(model, seed=4)
    state = jax.jit(init_fn)()
    assert _leaves_equal(state, init_fn())
    data = _data(5, 4)
    np.testing.assert_allclose(jax.jit(predict_fn)(state, data), predict_fn(state, data), rtol=1e-6)


def test_build_train_mode_under_jit():
    model = ax.input("x", shape=(None, 3)).batch_norm().dropout(rate=0.1)
    init_fn, predict_fn = ax.build(model, mode="train")
    state = init_fn()
    data = _data(8, 3)
    out_jit, new_jit = jax.jit(predict_fn)(state, data, key=jax.random.key(2))
    out, new = predict_fn(state, data, key=jax.random.key(2))
    np.testing.assert_allclose(out_jit, out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        new_jit["batch_norm_0"]["var"], new["batch_norm_0"]["var"], rtol=1e-6
    )


def test_grad_matches_finite_differences():
    x = ax.input("x", shape=(None, 3))
    model = x.dense(4, activation="tanh").dense(2)
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    data = _data(5, 3)

    def loss(params):
        return jnp.sum(predict_fn(state._replace(params=params), data) ** 2)

    check_grads(loss, (state.params,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


def test_grad_of_mlp_matches_numpy_formula():
    model = ax.input("x", shape=(None, 3)).dense(2, use_bias=False)
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    data = _data(5, 3)

    def loss(params):
        return jnp.sum(predict_fn(state._replace(params=params), data) ** 2)

    kernel = np.asarray(state.params["dense_0"]["kernel"])
    expected = 2 * data.T @ (data @ kernel)
    got = jax.grad(loss)(state.params)["dense_0"]["kernel"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_vmap_over_inputs_and_params():
    model = _mlp()
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    stacked = _data(3, 2, 4)
    batched = jax.vmap(predict_fn, in_axes=(None, 0))(state, stacked)
    for i in range(3):
        np.testing.assert_allclose(batched[i], predict_fn(state, stacked[i]), rtol=1e-5)
    ensemble = [ax.build(model, seed=s)[0]() for s in (0, 1)]
    params = jax.tree_util.tree_map(lambda *v: jnp.stack(v), *ensemble)
    outs = jax.vmap(predict_fn, in_axes=(0, None))(params, stacked[0])
    for i in range(2):
        np.testing.assert_allclose(outs[i], predict_fn(ensemble[i], stacked[0]), rtol=1e-5)


def test_predict_rejects_non_state():
    model = _mlp()
    with pytest.raises(TypeError, match="ModelState"):
        ax.build(model)[1](ax.init(model).params, _data(1, 4))
