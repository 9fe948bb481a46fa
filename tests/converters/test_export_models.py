"""Export of whole models (MLP, CNN, ResNet block, recurrent classifiers, a
transformer encoder, a namespaced fine-tuning model, a trained model), custom layers
traced to a jaxpr, mixed precision, opsets and external data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import optax
import pytest

import axonnx as ax

_spec = importlib.util.spec_from_file_location(
    "export_check", Path(__file__).with_name("export_check.py")
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def mlp():
    return ax.input("pixels", shape=(None, 12)).dense(16, activation="relu").dense(3).softmax()


def cnn():
    x = ax.input("image", shape=(None, 12, 12, 3))
    x = x.conv(8, 3, padding="same").batch_norm().relu().max_pool(2)
    x = x.conv(8, 3).batch_norm().relu().avg_pool(2)
    return x.flatten().dense(4)


def resnet_block():
    x = ax.input("image", shape=(None, 8, 8, 4))
    y = x.conv(4, 3, padding="same", use_bias=False).batch_norm().relu()
    y = y.conv(4, 3, padding="same", use_bias=False).batch_norm()
    return ax.add(x, y).relu().global_avg_pool().dense(2)


def lstm_classifier():
    sequence, _ = ax.input("tokens", shape=(None, 6), dtype="int32").embedding(10, 8).lstm(5)
    return sequence.reshape((30,)).dense(2).softmax()


def gru_classifier():
    _, h = ax.input("x", shape=(None, 7, 4)).gru(6, direction="bidirectional")
    return h.transpose((1, 0, 2)).flatten().dense(3)


def encoder_block():
    x = ax.input("x", shape=(None, 6, 16))
    mask = ax.input("mask", shape=(None, 1, 1, 6), dtype="bool")
    attended = ax.multi_head_attention(x, num_heads=4, mask=mask)
    x = ax.add(x, attended).layer_norm()
    ff = x.dense(32, activation="gelu").dropout(rate=0.1).dense(16)
    return ax.add(x, ff).layer_norm()


def fine_tuning():
    body = ax.namespace(ax.input("x", shape=(None, 10)).dense(8, name="encoder"), "bert")
    return body.relu().dense(2, name="head")


MODELS = {
    "mlp": mlp,
    "cnn": cnn,
    "resnet_block": resnet_block,
    "lstm_classifier": lstm_classifier,
    "gru_classifier": gru_classifier,
    "encoder_block": encoder_block,
    "fine_tuning": fine_tuning,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model(name):
    check.check_export(MODELS[name](), rtol=1e-4, atol=1e-4)


def test_parameter_names_follow_namespaces_and_layer_names():
    model = fine_tuning()
    proto = check.check_export(model)
    names = {t.name for t in proto.graph.initializer}
    assert {"bert.encoder.kernel", "bert.encoder.bias", "head.kernel", "head.bias"} <= names
    assert [i.name for i in proto.graph.input] == ["x"]


def test_dynamic_and_static_batch():
    proto = ax.export_onnx(mlp(), ax.init(mlp()))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    fixed = ax.export_onnx(mlp(), ax.init(mlp()), static_batch=4)
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    with pytest.raises(ValueError, match="dynamic axis 0"):
        ax.export_onnx(mlp(), ax.init(mlp()), dynamic=False)


def test_model_trained_with_optax_exports():
    model = mlp()
    init_fn, predict_fn = ax.build(model)
    state = init_fn()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 12)).astype(np.float32)
    labels = jax.nn.one_hot(rng.integers(0, 3, 16), 3)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(state.params)

    def loss(params):
        probs = predict_fn(ax.ModelState(params, state.state), x)
        return -jnp.mean(jnp.sum(labels * jnp.log(probs + 1e-7), axis=-1))

    params = state.params
    for _ in range(3):
        grads = jax.grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    trained = ax.ModelState(params, state.state)
    assert not np.allclose(params["dense_0"]["kernel"], state.params["dense_0"]["kernel"])
    check.check_export(model, trained)


# --- custom layers -----------------------------------------------------------------------


def scaled_swish(x, w, *, power):
    y = x * jax.nn.sigmoid(x) * w.reshape(1, 1, -1) + jnp.sum(x**power, axis=-1, keepdims=True)
    return jnp.where(y > 0, y, 0.1 * y).reshape(x.shape[0], -1)


def attention_like(x):
    scores = jnp.einsum("bqd,bkd->bqk", x, x) / jnp.sqrt(x.shape[-1])
    weights = jax.nn.softmax(scores, axis=-1)
    out = jnp.concatenate([weights @ x, jax.lax.slice_in_dim(x, 0, 2, axis=2)], axis=-1)
    return jnp.transpose(out, (0, 2, 1)).astype(jnp.float32), jnp.max(out, axis=(1, 2))


def test_custom_layer_traced_to_onnx():
    x = ax.input("x", shape=(None, 3, 4))
    model = ax.layer(scaled_swish, [x, ax.param("w", (4,), initializer="ones")], power=3).dense(2)
    proto = check.check_export(model)
    assert "w" in {t.name for t in proto.graph.initializer}


def test_custom_layer_with_several_outputs_and_calls():
    x = ax.input("x", shape=(None, 5, 4))
    out = ax.layer(jax.jit(attention_like), [x])
    model = ax.container({"seq": out[0].gelu(), "peak": out[1]})
    check.check_export(model)


def fourier_mixing(x):
    """FNet's token mixing: the real part of a 2-D FFT over the sequence and features."""
    return jnp.real(jnp.fft.fft2(x.astype(jnp.complex64)))


def test_custom_layer_with_complex_values_inside():
    model = ax.layer(fourier_mixing, [ax.input("x", shape=(None, 6, 8))]).dense(3)
    proto = check.check_export(model)
    assert "DFT" in {n.op_type for n in proto.graph.node}


def test_unexportable_primitive_names_it_and_the_layer():
    def eigenvalues(x):
        return jnp.real(jnp.linalg.eigvals(x))

    model = ax.layer(eigenvalues, [ax.input("x", shape=(None, 4, 4))], name="spectrum")
    with pytest.raises(ax.UnsupportedOpError, match=r"spectrum.*eig of a 4x4 matrix; mapped: 1x1"):
        ax.export_onnx(model, ax.init(model))


def test_conv_lstm_exports_as_a_loop():
    seq, (h, c) = ax.input("x", shape=(None, 3, 6, 6, 2)).conv_lstm(4, 3, strides=2)
    model = ax.container({"seq": seq, "h": h, "c": c})
    proto = check.check_export(model, check.random_state(model))
    assert "Loop" in {n.op_type for n in proto.graph.node}


def test_adaptive_pool_that_does_not_divide_is_a_clear_error():
    model = ax.input("x", shape=(None, 7, 7, 2)).adaptive_avg_pool(3)
    with pytest.raises(ax.UnsupportedOpError, match="output_size"):
        ax.export_onnx(model, ax.init(model))


# --- mixed precision, opsets, external data -------------------------------------------


def test_mixed_precision_keeps_dtypes_and_casts():
    model = ax.apply_policy(mlp(), ax.policy("float16", "float32", "float32"))
    state = ax.init(model)
    proto = check.check_export(model, state, rtol=1e-3, atol=1e-3)
    dtypes = {t.name: t.data_type for t in proto.graph.initializer}
    assert dtypes["dense_0.kernel"] == onnx.TensorProto.FLOAT16
    assert "Cast" in {n.op_type for n in proto.graph.node}


def test_half_compute_policy_casts_in_and_out():
    model = ax.apply_policy(
        ax.input("x", shape=(None, 8)).dense(4), ax.policy("float32", "float16", "float32")
    )
    proto = check.check_export(model, rtol=1e-2, atol=1e-2)
    casts = [n for n in proto.graph.node if n.op_type == "Cast"]
    assert len(casts) >= 3  # input, kernel, bias to float16; output back to float32
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.parametrize("opset", [13, 15, 17, 18, 21])
def test_opsets(opset):
    proto = check.check_export(encoder_block(), opset=opset, rtol=1e-4, atol=1e-4)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    assert ("LayerNormalization" in ops) == (opset >= 17)


def test_reduce_axes_follow_the_opset():
    model = ax.input("x", shape=(None, 4, 4, 2)).global_avg_pool()
    old = ax.export_onnx(model, ax.init(model), opset=17)
    new = ax.export_onnx(model, ax.init(model), opset=18)
    (mean_old,) = [n for n in old.graph.node if n.op_type == "ReduceMean"]
    (mean_new,) = [n for n in new.graph.node if n.op_type == "ReduceMean"]
    assert [a.name for a in mean_old.attribute if a.name == "axes"] == ["axes"]
    assert len(mean_new.input) == 2


def test_opset_below_13_is_refused():
    with pytest.raises(ValueError, match="opset >= 13"):
        ax.export_onnx(mlp(), ax.init(mlp()), opset=12)


def test_external_data(tmp_path):
    model = mlp()
    state = check.random_state(model)
    path = tmp_path / "out" / "model.onnx"
    ax.export_onnx(model, state, path, external_data=True)
    assert (tmp_path / "out" / "model.onnx.data").exists()
    onnx.checker.check_model(str(path), full_check=True)
    loaded = onnx.load(str(path), load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in loaded.graph.initializer)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.ones((2, 12), np.float32)
    np.testing.assert_allclose(
        session.run(None, {"pixels": x})[0], ax.predict(model, state, x), rtol=1e-5, atol=1e-6
    )


def test_external_data_by_default_over_the_protobuf_limit(tmp_path, monkeypatch):
    from axonnx.converters import external

    monkeypatch.setattr(external, "_PROTOBUF_LIMIT", 1000)
    path = tmp_path / "model.onnx"
    ax.export_onnx(mlp(), check.random_state(mlp()), path)
    assert (tmp_path / "model.onnx.data").exists()
    small = tmp_path / "small.onnx"
    monkeypatch.setattr(external, "_PROTOBUF_LIMIT", 2**31)
    ax.export_onnx(mlp(), check.random_state(mlp()), small)
    assert not (tmp_path / "small.onnx.data").exists()
