"""onnxruntime's activation and fused contrib ops (Gelu, BiasGelu, FastGelu, QuickGelu,
FusedMatMul, FusedConv, Trilu) against onnxruntime's CPU kernels; BiasSplitGelu and
BiasAdd, which onnxruntime implements only for CUDA, against their formulas."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper as oh

MS = "com.microsoft"
RNG = np.random.default_rng(1)


def _normal(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _ort(model, inputs):
    model.ir_version = 10  # the newest onnxruntime 1.18+ reads
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _check(one_node, node, inputs, constants=None, *, opset=17, **tolerance):
    """axonnx's outputs of the one-node model equal onnxruntime's."""
    model = one_node.model(node, inputs, opset, constants)
    one_node.compare(one_node.run(model, inputs), _ort(model, inputs), **tolerance)


X = _normal(2, 5, 16, scale=2.0)
BIAS = _normal(16)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gelu_family(one_node, dtype):
    x, bias = X.astype(dtype), BIAS.astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 2e-3, "atol": 2e-3}
    _check(one_node, oh.make_node("Gelu", ["x"], ["y"], domain=MS), {"x": x}, **tol)
    _check(one_node, oh.make_node("QuickGelu", ["x"], ["y"], domain=MS), {"x": x}, **tol)
    node = oh.make_node("QuickGelu", ["x"], ["y"], domain=MS, alpha=1.0)
    _check(one_node, node, {"x": x}, **tol)
    node = oh.make_node("BiasGelu", ["x", "bias"], ["y"], domain=MS)
    _check(one_node, node, {"x": x}, {"bias": bias}, **tol)
    node = oh.make_node("FastGelu", ["x", "bias"], ["y"], domain=MS)
    _check(one_node, node, {"x": x}, {"bias": bias}, **tol)
    _check(one_node, oh.make_node("FastGelu", ["x"], ["y"], domain=MS), {"x": x}, **tol)


def _erf_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def test_gelu_float64_formula(one_node):  # onnxruntime's CPU Gelu has no float64 kernel
    x = X.astype(np.float64)
    (got,) = one_node.run(
        one_node.model(oh.make_node("Gelu", ["x"], ["y"], domain=MS), {"x": x}, 17), {"x": x}
    )
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _erf_gelu(x), rtol=1e-12, atol=1e-15)


def test_bias_split_gelu_and_bias_add_formulas(one_node):
    x, bias = _normal(2, 6, 32), _normal(32)
    node = oh.make_node("BiasSplitGelu", ["x", "bias"], ["y"], domain=MS)
    (got,) = one_node.run(one_node.model(node, {"x": x}, 17, {"bias": bias}), {"x": x})
    left, right = np.split((x + bias).astype(np.float64), 2, axis=-1)
    np.testing.assert_allclose(got, left * _erf_gelu(right), rtol=1e-5, atol=1e-6)
    assert got.shape == (2, 6, 16) and got.dtype == np.float32
    skip = _normal(2, 6, 32)
    node = oh.make_node("BiasAdd", ["x", "bias", "skip"], ["y"], domain=MS)
    inputs = {"x": x, "skip": skip}
    (got,) = one_node.run(one_node.model(node, inputs, 17, {"bias": bias}), inputs)
    np.testing.assert_allclose(got, x + bias + skip, rtol=1e-6)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "attrs"),
    [
        ((3, 4, 5), (5, 6), {"alpha": 0.125}),
        ((2, 3, 5, 4), (2, 3, 5, 6), {"transA": 1}),
        ((2, 3, 4, 5), (2, 3, 6, 5), {"transB": 1, "alpha": 2.0}),
        ((4, 2, 3, 5), (2, 3, 5, 6), {"transBatchA": 1}),
        (
            (5, 2, 3, 4),
            (6, 2, 3, 5),
            {"transA": 1, "transBatchA": 1, "transB": 1, "transBatchB": 1},
        ),
        ((4, 5), (6, 5), {"transB": 1, "alpha": 0.5}),
    ],
)
def test_fused_matmul(one_node, a_shape, b_shape, attrs):
    inputs = {"a": _normal(*a_shape)}
    node = oh.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, **attrs)
    _check(one_node, node, inputs, {"b": _normal(*b_shape)}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("activation", "params"),
    [
        ("Relu", None),
        ("Tanh", None),
        ("Sigmoid", None),
        ("LeakyRelu", [0.2]),
        ("Clip", [-0.5, 0.75]),
        ("HardSigmoid", [0.3, 0.4]),
    ],
)
def test_fused_conv_activations(one_node, activation, params):
    attrs = {"activation": activation, "pads": [1, 1, 1, 1], "strides": [1, 2]}
    if params:
        attrs["activation_params"] = params
    node = oh.make_node("FusedConv", ["x", "w", "b"], ["y"], domain=MS, **attrs)
    constants = {"w": _normal(4, 3, 3, 3, scale=0.3), "b": _normal(4)}
    _check(one_node, node, {"x": _normal(1, 3, 7, 8)}, constants, rtol=1e-5, atol=1e-5)


def test_fused_conv_with_sum_input_and_groups(one_node):
    node = oh.make_node(
        "FusedConv", ["x", "w", "b", "z"], ["y"], domain=MS, activation="Relu", group=2
    )
    inputs = {"x": _normal(2, 4, 6, 6), "z": _normal(2, 6, 4, 4)}
    constants = {"w": _normal(6, 2, 3, 3, scale=0.3), "b": _normal(6)}
    _check(one_node, node, inputs, constants, rtol=1e-5, atol=1e-5)
    node = oh.make_node("FusedConv", ["x", "w"], ["y"], domain=MS, activation="Relu")
    _check(one_node, node, {"x": _normal(1, 2, 9)}, {"w": _normal(3, 2, 3)}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("upper", "k"), [(1, None), (0, None), (1, 1), (0, -1)])
def test_trilu(one_node, upper, k):
    names = ["x"] if k is None else ["x", "k"]
    constants = None if k is None else {"k": np.array(k, np.int64)}
    node = oh.make_node("Trilu", names, ["y"], domain=MS, upper=upper)
    _check(one_node, node, {"x": _normal(2, 4, 5)}, constants)
