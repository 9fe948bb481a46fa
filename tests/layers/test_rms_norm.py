"""`rms_norm` end to end (the worked example of docs/architecture.md): the functional
layer against onnx's reference RMSNormalization-23 and onnxruntime, the builder, import
of RMSNormalization as the layer, export at opset 23 and as a decomposition below it,
gradients against finite differences, training, and save/load."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import optax
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import axonnx as ax
from axonnx.layers import rms_norm
from axonnx.plan import plan

_spec = importlib.util.spec_from_file_location(
    "export_check", Path(__file__).parents[1] / "converters" / "export_check.py"
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

RNG = np.random.default_rng(0)


def _onnx_model(scale: np.ndarray, *, scale_is_initializer: bool = True, epsilon=1e-5):
    """One RMSNormalization-23 node on x (batch, 5, 8), scale an initializer or an input."""
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 5, 8])]
    inits = [numpy_helper.from_array(scale, "block.norm.weight")]
    if not scale_is_initializer:
        inputs.append(helper.make_tensor_value_info("block.norm.weight", 1, list(scale.shape)))
        inits = []
    node = helper.make_node(
        "RMSNormalization", ["x", "block.norm.weight"], ["y"], name="norm", epsilon=epsilon
    )
    graph = helper.make_graph(
        [node],
        "rms",
        inputs,
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 5, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 11
    return model


def _ort(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def _x(batch=3):
    return RNG.standard_normal((batch, 5, 8)).astype(np.float32)


@pytest.mark.parametrize("epsilon", [1e-5, 0.3])
def test_functional_matches_onnx_reference_and_onnxruntime(epsilon):
    x, scale = _x(), RNG.standard_normal(8).astype(np.float32)
    model = _onnx_model(scale, scale_is_initializer=False, epsilon=epsilon)
    feeds = {"x": x, "block.norm.weight": scale}
    got = np.asarray(rms_norm(jnp.asarray(x), jnp.asarray(scale), epsilon=epsilon))
    np.testing.assert_allclose(got, ReferenceEvaluator(model).run(None, feeds)[0], rtol=1e-5)
    np.testing.assert_allclose(got, _ort(model, feeds), rtol=1e-5, atol=1e-6)


def test_functional_normalizes_from_axis_and_keeps_a_low_precision_dtype():
    x = _x()
    got = rms_norm(jnp.asarray(x), jnp.ones((5, 8)), axis=1)
    expected = x / np.sqrt(np.mean(x**2, axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
    half = rms_norm(jnp.asarray(x, jnp.bfloat16), jnp.ones(8, jnp.bfloat16))
    assert half.dtype == jnp.bfloat16
    reference = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(half, np.float32), reference, rtol=2e-2, atol=2e-2)
    assert np.asarray(half).dtype == ml_dtypes.bfloat16


def test_builder_and_chained_method():
    model = ax.input("x", shape=(None, 5, 8)).rms_norm(epsilon=1e-3, name="norm")
    assert model is not None and model.op == "rms_norm" and model.shape == (None, 5, 8)
    assert [(p.name, p.shape) for p in model.params] == [("scale", (8,))]
    state = ax.init(model)
    np.testing.assert_array_equal(state.params["norm"]["scale"], np.ones(8, np.float32))
    x = _x()
    expected = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(np.asarray(ax.predict(model, state, x)), expected, rtol=1e-5)


def test_import_recognises_the_layer_when_scale_is_an_initializer():
    scale = RNG.standard_normal(8).astype(np.float32)
    source = _onnx_model(scale)
    model, state = ax.import_onnx(source)
    layers = [n for n in plan(model).order if n.op == "rms_norm"]
    assert len(layers) == 1 and layers[0].params[0].meta["onnx_name"] == "block.norm.weight"
    assert state.params[layers[0].name]["scale"].tolist() == scale.tolist()
    x = _x(4)
    np.testing.assert_allclose(
        np.asarray(ax.predict(model, state, x)["y"]), _ort(source, {"x": x}), rtol=1e-5, atol=1e-6
    )


def test_import_keeps_the_onnx_op_when_scale_is_an_input():
    scale = RNG.standard_normal(8).astype(np.float32)
    model, _ = ax.import_onnx(_onnx_model(scale, scale_is_initializer=False))
    ops = {n.op for n in plan(model).order}
    assert "rms_norm" not in ops and any("RMSNormalization" in op for op in ops)


def test_round_trip_keeps_the_initializer_bit_for_bit():
    scale = RNG.standard_normal(8).astype(np.float32)
    model, state = ax.import_onnx(_onnx_model(scale))
    proto = ax.export_onnx(model, state)
    assert [n.op_type for n in proto.graph.node] == ["RMSNormalization"]
    (init,) = proto.graph.initializer
    assert init.name == "block.norm.weight"
    assert numpy_helper.to_array(init).tobytes() == scale.tobytes()


@pytest.mark.parametrize(("opset", "uses_op"), [(23, True), (18, False), (13, False)])
def test_export_at_and_below_opset_23(opset, uses_op):
    model = ax.input("x", shape=(None, 5, 8)).rms_norm(epsilon=0.01)
    proto = check.check_export(model, opset=opset)
    op_types = {n.op_type for n in proto.graph.node}
    assert ("RMSNormalization" in op_types) == uses_op, op_types


def test_gradients_match_finite_differences():
    x = np.asarray(_x(2), np.float64)
    scale = RNG.standard_normal(8)

    def f(scale, x):
        return float(np.sum(np.sin(x / np.sqrt(np.mean(x**2, -1, keepdims=True) + 1e-5) * scale)))

    grad = jax.grad(lambda s, v: jnp.sum(jnp.sin(rms_norm(v, s))), argnums=(0, 1))
    g_scale, g_x = (np.asarray(g) for g in grad(jnp.float32(scale), jnp.float32(x)))
    h = 1e-6
    for i in (0, 5):
        step = np.zeros(8)
        step[i] = h
        numeric = (f(scale + step, x) - f(scale - step, x)) / (2 * h)
        np.testing.assert_allclose(g_scale[i], numeric, rtol=1e-3, atol=1e-4)
    step = np.zeros_like(x)
    step[1, 2, 3] = h
    numeric = (f(scale, x + step) - f(scale, x - step)) / (2 * h)
    np.testing.assert_allclose(g_x[1, 2, 3], numeric, rtol=1e-3, atol=1e-4)


def test_a_model_with_rms_norm_trains():
    x = _x(32)
    y = (x[:, :, 0].mean(1) > 0).astype(np.int32)
    model = ax.input("x", shape=(None, 5, 8)).dense(8).rms_norm().flatten().dense(2)
    init_fn, predict_fn = ax.build(model)
    state, optimizer = init_fn(), optax.adam(3e-2)

    def loss(params):
        logits = predict_fn(ax.ModelState(params, state.state), x)
        return ax.losses.sparse_categorical_cross_entropy(y, logits, from_logits=True)

    params, opt_state = state.params, optimizer.init(state.params)
    before = float(loss(params))
    step = jax.jit(jax.value_and_grad(loss))
    for _ in range(30):
        _, grads = step(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert float(loss(params)) < 0.7 * before
    assert not np.allclose(params["rms_norm_0"]["scale"], state.params["rms_norm_0"]["scale"])


def test_save_and_load(tmp_path):
    model = ax.input("x", shape=(None, 5, 8)).rms_norm(epsilon=0.01, name="norm")
    state = check.random_state(model)
    ax.save(tmp_path / "m.axonnx", model, state)
    loaded, loaded_state = ax.load(tmp_path / "m.axonnx")
    assert loaded.op == "rms_norm" and dict(loaded.options) == {"epsilon": 0.01}
    x = _x()
    np.testing.assert_array_equal(
        np.asarray(ax.predict(loaded, loaded_state, x)), np.asarray(ax.predict(model, state, x))
    )
