"""Channels-last regions (`axonnx/engine/channels_last.py`): between NHWC convolutions
values stay NHWC through element-wise ops and global pooling, with one transpose back
where an NCHW consumer needs it; same results as onnxruntime and the plain graph, in
inference and train mode, and the same gradients."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.engine import Engine, engine_for
from axonnx.engine.channels_last import BATCH_NORM_NHWC, GLOBAL_AVERAGE_POOL_NHWC, RELAYOUT
from axonnx.engine.conv_bn import CONV_BN
from axonnx.engine.conv_forms import CONV_HWIO


def _mbconv() -> onnx.ModelProto:
    """A MobileNet/EfficientNet block on (batch, 8, 10, 10): pointwise conv + batch norm,
    HardSwish, depthwise 3×3, SiLU, squeeze-excitation (pool, two pointwise convs,
    HardSigmoid, Mul), pointwise conv, residual Add of the graph input, PRelu with a
    (8, 1, 1) slope, Add of a scalar, Flatten."""
    rng = np.random.default_rng(0)

    def weight(name, *shape, scale=0.3):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * scale, name)

    nodes = [
        helper.make_node("Conv", ["x", "w_expand"], ["e"]),
        helper.make_node("BatchNormalization", ["e", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"]),
        helper.make_node("HardSwish", ["n"], ["a"]),
        helper.make_node("Conv", ["a", "w_dw", "b_dw"], ["d"], group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["d"], ["ds"]),
        helper.make_node("Mul", ["d", "ds"], ["s"]),
        helper.make_node("GlobalAveragePool", ["s"], ["p"]),
        helper.make_node("Conv", ["p", "w_se1", "b_se1"], ["q"]),
        helper.make_node("Relu", ["q"], ["qr"]),
        helper.make_node("Conv", ["qr", "w_se2", "b_se2"], ["g"]),
        helper.make_node("HardSigmoid", ["g"], ["gs"]),
        helper.make_node("Mul", ["s", "gs"], ["t"]),
        helper.make_node("Conv", ["t", "w_project"], ["o"]),
        helper.make_node("Add", ["o", "x"], ["r"]),
        helper.make_node("PRelu", ["r", "slope"], ["pr"]),
        helper.make_node("Add", ["pr", "offset"], ["z"]),
        helper.make_node("Flatten", ["z"], ["y"]),
    ]
    weights = [
        weight("w_expand", 16, 8, 1, 1),
        weight("bn_s", 16),
        weight("bn_b", 16),
        weight("bn_m", 16),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 16).astype(np.float32), "bn_v"),
        weight("w_dw", 16, 1, 3, 3),
        weight("b_dw", 16),
        weight("w_se1", 4, 16, 1, 1),
        weight("b_se1", 4),
        weight("w_se2", 16, 4, 1, 1),
        weight("b_se2", 16),
        weight("w_project", 8, 16, 1, 1),
        weight("slope", 8, 1, 1),
        numpy_helper.from_array(np.array(0.25, np.float32), "offset"),
    ]
    graph = helper.make_graph(
        nodes,
        "mbconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 10, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 800])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="module")
def mbconv():
    proto = _mbconv()
    model, state = ax.import_onnx(proto)
    return proto, model, state


def _input(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).standard_normal((batch, 8, 10, 10)).astype(np.float32)


def test_values_between_convolutions_stay_nhwc(mbconv):
    _, model, _ = mbconv
    order = engine_for(model).fast.plan.order
    convs = [n for n in order if n.op in (CONV_HWIO, CONV_BN)]
    assert [n.options["output_layout"] for n in convs] == ["nhwc"] * 5
    # only the first convolution reads NCHW data (the graph input)
    assert [n.options["input_layout"] for n in convs] == ["nchw"] + ["nhwc"] * 4
    assert sum(n.op == GLOBAL_AVERAGE_POOL_NHWC for n in order) == 1
    relayouts = [(n.options["source"], n.options["target"]) for n in order if n.op == RELAYOUT]
    # in: the residual's graph input and PRelu's (8, 1, 1) slope (not the scalar);
    # out: once, for Flatten
    assert sorted(relayouts) == [("nchw", "nhwc")] * 2 + [("nhwc", "nchw")]


@pytest.mark.parametrize("batch", [1, 3])
def test_channels_last_regions_match_onnxruntime(mbconv, batch):
    proto, model, state = mbconv
    x = _input(batch)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_train_mode_matches_the_plain_graph(mbconv):
    """Train mode: the fused conv + batch norm normalises NHWC data by batch statistics."""
    _, model, state = mbconv
    x = _input(3)
    fast_out, fast_state = Engine(model["y"], mode="train").apply(state, x)
    plain_out, plain_state = Engine(model["y"], mode="train", fast=False).apply(state, x)
    np.testing.assert_allclose(np.asarray(fast_out), np.asarray(plain_out), rtol=1e-5, atol=1e-5)
    for got, want in zip(
        jax.tree_util.tree_leaves(fast_state), jax.tree_util.tree_leaves(plain_state), strict=True
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_gradients_match_the_plain_graph(mbconv):
    _, model, state = mbconv
    x = _input(2)
    fast, plain = Engine(model["y"]), Engine(model["y"], fast=False)

    def loss(engine, params):
        return (engine.apply(ax.ModelState(params, state.state), x) ** 2).sum()

    got = jax.grad(lambda p: loss(fast, p))(state.params)
    want = jax.grad(lambda p: loss(plain, p))(state.params)
    leaves = zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True)
    for g, w in leaves:
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-4)


def test_graph_output_of_a_convolution_stays_nchw():
    """A convolution whose result is the graph's output writes NCHW."""
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], group=6, pads=[1, 1, 1, 1])],
        "dw",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(kernel, "w")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model, state = ax.import_onnx(proto)
    x = rng.standard_normal((2, 6, 5, 7)).astype(np.float32)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(
        np.asarray(ax.predict(model, state, {"x": x})["y"]), expected, rtol=1e-5, atol=1e-5
    )


def _dense_block() -> onnx.ModelProto:
    """DenseNet / ConvNeXt pieces on (batch, 4, 6, 6): two convolutions joined by Concat,
    BatchNormalization (after the Concat, so not folded), Relu, a second one sharing the
    first's statistics (so both stay ONNX BatchNormalization nodes, as in DenseNet), a
    NCHW → NHWC → NCHW Transpose round trip with a Mul between, a last convolution."""
    rng = np.random.default_rng(4)

    def weight(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w2"], ["b"]),
        helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
        helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r0"]),
        helper.make_node("BatchNormalization", ["r0", "s", "o", "m", "v"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Mul", ["t", "gamma"], ["g"]),
        helper.make_node("Transpose", ["g"], ["u"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["u", "w3"], ["y"]),
    ]
    weights = [
        weight("w1", 8, 4, 3, 3),
        weight("w2", 8, 8, 1, 1),
        weight("s", 16),
        weight("o", 16),
        weight("m", 16),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 16).astype(np.float32), "v"),
        weight("gamma", 16),
        weight("w3", 5, 16, 1, 1),
    ]
    graph = helper.make_graph(
        nodes,
        "dense_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_concat_batch_norm_and_transposes_run_on_nhwc_values():
    proto = _dense_block()
    model, state = ax.import_onnx(proto)
    order = engine_for(model).fast.plan.order
    relayouts = [n for n in order if n.op == RELAYOUT]
    assert [(n.options["source"], n.options["target"]) for n in relayouts] == [("nhwc", "nchw")]
    assert relayouts[0].parents[0].op == CONV_HWIO  # only the graph output's
    assert [n.options["perm"] for n in order if n.op.startswith("onnx::Transpose")] == [
        (0, 1, 2, 3)
    ] * 2
    assert [n.options["axis"] for n in order if n.op.startswith("onnx::Concat")] == [3]
    assert sum(n.op == BATCH_NORM_NHWC for n in order) == 2
    x = _input(2)[:, :4, :6, :6].copy()
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
