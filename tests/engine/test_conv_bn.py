"""Conv → BatchNormalization as one `engine::conv_bn` layer (`axonnx/engine/conv_bn.py`):
folded for inference (same outputs as onnxruntime), transparent to `jax.grad`, and
normalising by the batch statistics in train mode, as the two layers do."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.engine import Engine
from axonnx.engine.conv_bn import CONV_BN

# models/cnn.onnx: PyTorch's TorchScript exporter with do_constant_folding=False, which
# keeps its two Conv → BatchNormalization pairs (constant folding would fold them)
CNN = Path(__file__).resolve().parents[2] / "models" / "cnn.onnx"
EPSILON = 1e-3


def _conv_bn_model(kernel_shape, group: int = 1, bias: bool = True) -> onnx.ModelProto:
    """x → Conv → BatchNormalization (random statistics) → y, and the Conv's output c."""
    rng = np.random.default_rng(0)
    out = kernel_shape[0]
    arrays = {"w": rng.standard_normal(kernel_shape), "scale": rng.uniform(0.5, 2, out)}
    arrays.update(beta=rng.standard_normal(out), mean=rng.standard_normal(out))
    arrays.update(var=rng.uniform(0.5, 2, out), **({"b": rng.standard_normal(out)} if bias else {}))
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in arrays.items()]
    conv_inputs = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [
        helper.make_node("Conv", conv_inputs, ["c"], name="conv", pads=[1] * 4, group=group),
        helper.make_node(
            "BatchNormalization",
            ["c", "scale", "beta", "mean", "var"],
            ["y"],
            name="bn",
            epsilon=EPSILON,
        ),
    ]
    channels = kernel_shape[1] * group
    graph = helper.make_graph(
        nodes,
        "conv_bn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", channels, 8, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)


def _input(proto: onnx.ModelProto, batch: int = 3) -> np.ndarray:
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]]
    return np.random.default_rng(1).standard_normal((batch, *dims)).astype(np.float32)


CASES = [((6, 4, 3, 3), 1, True), ((6, 1, 3, 3), 2, False), ((8, 1, 3, 3), 8, True)]


@pytest.mark.parametrize(("kernel_shape", "group", "bias"), CASES)
def test_folded_conv_bn_matches_onnxruntime(kernel_shape, group, bias):
    proto = _conv_bn_model(kernel_shape, group, bias)
    x = _input(proto)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    model, state = ax.import_onnx(proto)
    engine = Engine(model)
    assert [n.op for n in engine.fast.plan.order if n.params] == [CONV_BN]
    np.testing.assert_allclose(np.asarray(engine(state, x)["y"]), expected, rtol=1e-5, atol=1e-5)


def test_shipped_cnn_folds_its_batch_norms_and_matches_onnxruntime():
    proto = onnx.load(CNN)
    assert [n.op_type for n in proto.graph.node].count("BatchNormalization") == 2
    x = np.random.default_rng(2).standard_normal((4, 1, 28, 28)).astype(np.float32)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    model, state = ax.import_onnx(proto)
    engine = Engine(model)
    assert sum(n.op == CONV_BN for n in engine.fast.plan.order) == 2
    assert not any(n.op == "batch_norm" for n in engine.fast.plan.order)
    got = np.asarray(ax.predict(model, state, {"x": x})["logits"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def _loss(fn, state, name):
    def loss(params, x):
        return jnp.sum(jnp.sin(fn(ax.ModelState(params, state.state), x)[name]))

    return loss


@pytest.mark.parametrize("path", [None, CNN], ids=["conv_bn", "cnn.onnx"])
def test_folded_form_has_the_gradient_of_the_two_layers(path):
    proto = _conv_bn_model((6, 2, 3, 3)) if path is None else onnx.load(path)
    name = proto.graph.output[0].name
    x = jnp.asarray(_input(proto, batch=2))
    model, state = ax.import_onnx(proto)
    fast = jax.grad(_loss(Engine(model).apply, state, name), argnums=(0, 1))
    plain = jax.grad(_loss(Engine(model, fast=False).apply, state, name), argnums=(0, 1))
    got, expected = fast(state.params, x), plain(state.params, x)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(expected)
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4, atol=1e-4)


def test_train_mode_normalises_by_batch_statistics():
    proto = _conv_bn_model((6, 4, 3, 3))
    x = _input(proto, batch=4)
    model, state = ax.import_onnx(proto)
    (outputs, new_state), (plain, plain_state) = (
        Engine(model, mode="train", fast=fast)(state, x) for fast in (True, False)
    )
    y, plain_y = outputs["y"], plain["y"]
    np.testing.assert_allclose(np.asarray(y), np.asarray(plain_y), rtol=1e-5, atol=1e-5)
    for key in ("mean", "var"):
        got, want = new_state["bn"][key], plain_state["bn"][key]
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
        assert not np.allclose(np.asarray(got), np.asarray(state.state["bn"][key]))
    # by the formula: each channel of y has the batch norm's bias as mean and its
    # scale² as (biased) variance over (N, H, W), up to epsilon
    beta, scale = (np.asarray(state.params["bn"][k]) for k in ("bias", "scale"))
    y = np.asarray(y, np.float64)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), beta, atol=1e-4)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), scale**2, rtol=1e-2)
