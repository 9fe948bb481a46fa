"""Quantization ops: forms the ONNX backend cases leave out (opset 10, negative and
per-axis axes, blocks that do not divide the axis, non-saturating float8, per-channel
QLinearConv, per-row/column QLinearMatMul, …), compared with onnx's reference evaluator."""

from __future__ import annotations

import jax
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, numpy_helper
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep
from axonnx.errors import ShapeError

RNG = np.random.default_rng(0)
X = RNG.normal(scale=40, size=(2, 3, 4)).astype(np.float32)
U8 = RNG.integers(0, 256, size=(2, 3, 4)).astype(np.uint8)


def one_node_model(node, inputs: dict, opset: int, constants: dict | None = None):
    """A model of `node` alone: graph inputs typed from `inputs`, initializers from
    `constants`."""
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    initializers = [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()]
    outputs = [oh.make_empty_tensor_value_info(o) for o in node.output]
    graph = oh.make_graph([node], "one_node", values, outputs, initializers)
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])


def run_axonnx(model, inputs: dict) -> list[np.ndarray]:
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return list(AxonnxRep(model).run(dict(inputs)))


def assert_same(node, inputs: dict, opset: int, constants: dict | None = None) -> None:
    model = one_node_model(node, inputs, opset, constants)
    expected = ReferenceEvaluator(model).run(None, {**inputs})
    actual = run_axonnx(model, inputs)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-6
        )


def _node(op, inputs, outputs=("y",), **attrs):
    return oh.make_node(op, list(inputs), list(outputs), **attrs)


def test_quantize_opset_10_per_tensor():
    scale, zero = np.float32(0.5), np.uint8(128)
    node = _node("QuantizeLinear", ["x", "s", "z"])
    assert_same(node, {"x": X, "s": scale, "z": zero}, 10)


@pytest.mark.parametrize("axis", [1, -2])
def test_quantize_per_axis_int8(axis):
    scale = np.array([0.5, 1.0, 2.0], np.float32)
    zero = np.array([-3, 0, 5], np.int8)
    node = _node("QuantizeLinear", ["x", "s", "z"], axis=axis)
    assert_same(node, {"x": X, "s": scale, "z": zero}, 13)


def test_quantize_blocked_remainder_block_and_output_dtype():
    scale = np.array([[[0.5, 2.0]] * 3] * 2, np.float32)  # 4 along axis 2 in blocks of 3
    node = _node("QuantizeLinear", ["x", "s"], axis=2, block_size=3, output_dtype=TensorProto.INT4)
    assert_same(node, {"x": X, "s": scale}, 21)


def test_quantize_float8_without_saturation_overflows():
    node = _node("QuantizeLinear", ["x", "s", "z"], saturate=0)
    zero = np.zeros((), ml_dtypes.float8_e4m3fn)
    x = np.array([1.0, 1000.0, -1000.0, 3.3], np.float32)
    model = one_node_model(node, {"x": x}, 19, {"s": np.float32(1.0), "z": zero})
    (got,) = run_axonnx(model, {"x": x})
    assert got.dtype == ml_dtypes.float8_e4m3fn
    assert np.isnan(got.astype(np.float32)[1:3]).all()


def test_quantize_precision_and_float16_input():
    x = X.astype(np.float16)
    node = _node("QuantizeLinear", ["x", "s", "z"], precision=TensorProto.FLOAT)
    assert_same(node, {"x": x, "s": np.float16(0.3), "z": np.uint16(1000)}, 23)


def test_quantize_rejects_mismatched_scale():
    node = _node("QuantizeLinear", ["x", "s"], axis=1)
    model = one_node_model(node, {"x": X, "s": np.ones(4, np.float32)}, 13)
    with pytest.raises(ShapeError, match="y_scale"):
        run_axonnx(model, {"x": X, "s": np.ones(4, np.float32)})


def test_dequantize_opset_10_and_per_axis():
    inputs = {"x": U8, "s": np.float32(0.25), "z": np.uint8(7)}
    model = one_node_model(_node("DequantizeLinear", ["x", "s", "z"]), inputs, 10)
    (got,) = run_axonnx(model, inputs)  # onnx's reference has no DequantizeLinear-10
    np.testing.assert_array_equal(got, (U8.astype(np.float32) - 7) * 0.25)
    scale = np.array([0.5, 1.0, 2.0, 4.0], np.float32)
    zero = np.array([1, 2, 3, 4], np.uint8)
    node = _node("DequantizeLinear", ["x", "s", "z"], axis=-1)
    assert_same(node, {"x": U8, "s": scale, "z": zero}, 19)


def test_dequantize_blocked_with_output_dtype():
    scale = RNG.uniform(0.1, 1.0, size=(1, 3, 4)).astype(np.float32)
    zero = RNG.integers(0, 10, size=(1, 3, 4)).astype(np.uint8)
    node = _node(
        "DequantizeLinear", ["x", "s", "z"], axis=0, block_size=2, output_dtype=TensorProto.FLOAT16
    )
    assert_same(node, {"x": U8, "s": scale, "z": zero}, 23)


def test_dynamic_quantize_negative_and_constant_inputs():
    node = _node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    assert_same(node, {"x": -np.abs(X)}, 11)
    assert_same(node, {"x": np.full((3,), 2.5, np.float32)}, 11)


def test_qlinear_matmul_per_row_and_column_int8():
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
    model = one_node_model(node, inputs, 21)
    (got,) = run_axonnx(model, inputs)
    real_a = (a.astype(np.float64) - inputs["az"][:, None]) * inputs["as"][:, None]
    real_b = (b.astype(np.float64) - 4) * 0.02
    want = np.clip(np.rint(real_a @ real_b / 0.5) - 5, -128, 127)
    assert got.dtype == np.int8
    np.testing.assert_allclose(got, want, atol=1)


def test_qlinear_conv_per_channel_with_bias_and_padding():
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
    assert_same(node, {"x": x}, 10, constants)


def test_conv_integer_per_channel_zero_point_same_padding():
    x = RNG.integers(0, 256, size=(1, 2, 5, 5)).astype(np.uint8)
    w = RNG.integers(0, 256, size=(3, 2, 2, 2)).astype(np.uint8)
    node = _node("ConvInteger", ["x", "w", "xz", "wz"], auto_pad="SAME_UPPER")
    inputs = {"x": x, "w": w, "xz": np.uint8(3), "wz": np.array([1, 2, 3], np.uint8)}
    assert_same(node, inputs, 10)
