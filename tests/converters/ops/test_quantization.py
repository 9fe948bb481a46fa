"""Quantization ops: forms the ONNX backend cases leave out (opset 10, negative and
per-axis axes, blocks that do not divide the axis, non-saturating float8, per-channel
QLinearConv, per-row/column QLinearMatMul, …), compared with onnx's reference evaluator."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh

from axonnx.errors import ShapeError

RNG = np.random.default_rng(0)
X = RNG.normal(scale=40, size=(2, 3, 4)).astype(np.float32)
U8 = RNG.integers(0, 256, size=(2, 3, 4)).astype(np.uint8)


def _node(op, inputs, outputs=("y",), **attrs):
    return oh.make_node(op, list(inputs), list(outputs), **attrs)


def test_quantize_opset_10_per_tensor(one_node):
    scale, zero = np.float32(0.5), np.uint8(128)
    node = _node("QuantizeLinear", ["x", "s", "z"])
    one_node.assert_same(node, {"x": X, "s": scale, "z": zero}, 10)


@pytest.mark.parametrize("axis", [1, -2])
def test_quantize_per_axis_int8(one_node, axis):
    scale = np.array([0.5, 1.0, 2.0], np.float32)
    zero = np.array([-3, 0, 5], np.int8)
    node = _node("QuantizeLinear", ["x", "s", "z"], axis=axis)
    one_node.assert_same(node, {"x": X, "s": scale, "z": zero}, 13)


def test_quantize_blocked_remainder_block_and_output_dtype(one_node):
    scale = np.array([[[0.5, 2.0]] * 3] * 2, np.float32)  # 4 along axis 2 in blocks of 3
    node = _node("QuantizeLinear", ["x", "s"], axis=2, block_size=3, output_dtype=TensorProto.INT4)
    one_node.assert_same(node, {"x": X, "s": scale}, 21)


def test_quantize_float8_without_saturation_overflows(one_node):
    node = _node("QuantizeLinear", ["x", "s", "z"], saturate=0)
    zero = np.zeros((), ml_dtypes.float8_e4m3fn)
    x = np.array([1.0, 1000.0, -1000.0, 3.3], np.float32)
    model = one_node.model(node, {"x": x}, 19, {"s": np.float32(1.0), "z": zero})
    (got,) = one_node.run(model, {"x": x})
    assert got.dtype == ml_dtypes.float8_e4m3fn
    assert np.isnan(got.astype(np.float32)[1:3]).all()


def test_quantize_precision_and_float16_input(one_node):
    x = X.astype(np.float16)
    node = _node("QuantizeLinear", ["x", "s", "z"], precision=TensorProto.FLOAT)
    one_node.assert_same(node, {"x": x, "s": np.float16(0.3), "z": np.uint16(1000)}, 23)


def test_quantize_rejects_mismatched_scale(one_node):
    node = _node("QuantizeLinear", ["x", "s"], axis=1)
    model = one_node.model(node, {"x": X, "s": np.ones(4, np.float32)}, 13)
    with pytest.raises(ShapeError, match="y_scale"):
        one_node.run(model, {"x": X, "s": np.ones(4, np.float32)})


def test_dequantize_opset_10_and_per_axis(one_node):
    inputs = {"x": U8, "s": np.float32(0.25), "z": np.uint8(7)}
    model = one_node.model(_node("DequantizeLinear", ["x", "s", "z"]), inputs, 10)
    (got,) = one_node.run(model, inputs)  # onnx's reference has no DequantizeLinear-10
    np.testing.assert_array_equal(got, (U8.astype(np.float32) - 7) * 0.25)
    scale = np.array([0.5, 1.0, 2.0, 4.0], np.float32)
    zero = np.array([1, 2, 3, 4], np.uint8)
    node = _node("DequantizeLinear", ["x", "s", "z"], axis=-1)
    one_node.assert_same(node, {"x": U8, "s": scale, "z": zero}, 19)


def test_dequantize_blocked_with_output_dtype(one_node):
    scale = RNG.uniform(0.1, 1.0, size=(1, 3, 4)).astype(np.float32)
    zero = RNG.integers(0, 10, size=(1, 3, 4)).astype(np.uint8)
    node = _node(
        "DequantizeLinear", ["x", "s", "z"], axis=0, block_size=2, output_dtype=TensorProto.FLOAT16
    )
    one_node.assert_same(node, {"x": U8, "s": scale, "z": zero}, 23)


def test_dynamic_quantize_negative_and_constant_inputs(one_node):
    node = _node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    one_node.assert_same(node, {"x": -np.abs(X)}, 11)
    one_node.assert_same(node, {"x": np.full((3,), 2.5, np.float32)}, 11)


def test_qlinear_matmul_per_row_and_column_int8(one_node):
    a = RNG.integers(-128, 128, size=(3, 5)).astype(np.int8)
    b = RNG.integers(-128, 128, size=(5, 4)).astype(np.int8)
    node = _node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"])
    inputs = {
        "a": a,
        "as": np.array([0.01, 0.02, 0.03], np.float32),
        "az": np.array([1, -2, 3], np.int8),
        "b": b,
        "bs": np.float32(0.02),
        "bz": np.int8(4),
        "ys": np.float32(0.5),
        "yz": np.int8(-5),
    }
    model = one_node.model(node, inputs, 21)
    (got,) = one_node.run(model, inputs)
    real_a = (a.astype(np.float64) - inputs["az"][:, None]) * inputs["as"][:, None]
    real_b = (b.astype(np.float64) - 4) * 0.02
    want = np.clip(np.rint(real_a @ real_b / 0.5) - 5, -128, 127)
    assert got.dtype == np.int8
    np.testing.assert_allclose(got, want, atol=1)


def test_qlinear_conv_per_channel_with_bias_and_padding(one_node):
    x = RNG.integers(0, 256, size=(1, 4, 5, 5)).astype(np.uint8)
    w = RNG.integers(-128, 128, size=(6, 2, 3, 3)).astype(np.int8)
    node = _node(
        "QLinearConv",
        ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"],
        group=2,
        pads=[1, 0, 1, 2],
        strides=[2, 1],
    )
    constants = {
        "w": w,
        "xs": np.float32(0.02),
        "xz": np.uint8(120),
        "ws": RNG.uniform(0.001, 0.01, size=6).astype(np.float32),
        "wz": np.zeros(6, np.int8),
        "ys": np.float32(0.1),
        "yz": np.uint8(100),
        "B": RNG.integers(-500, 500, size=6).astype(np.int32),
    }
    one_node.assert_same(node, {"x": x}, 10, constants)


def test_conv_integer_per_channel_zero_point_same_padding(one_node):
    x = RNG.integers(0, 256, size=(1, 2, 5, 5)).astype(np.uint8)
    w = RNG.integers(0, 256, size=(3, 2, 2, 2)).astype(np.uint8)
    node = _node("ConvInteger", ["x", "w", "xz", "wz"], auto_pad="SAME_UPPER")
    inputs = {"x": x, "w": w, "xz": np.uint8(3), "wz": np.array([1, 2, 3], np.uint8)}
    one_node.assert_same(node, inputs, 10)
