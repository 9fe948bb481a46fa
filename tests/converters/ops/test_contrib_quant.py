"""onnxruntime's quantized contrib ops against its CPU kernels: MatMulNBits (4 and 8
bits, block sizes 16..256, with and without zero points, also as onnxruntime's own
weight-only quantizer writes it), MatMulIntegerToFloat, DynamicQuantizeMatMul, QGemm,
QAttention, QEmbedLayerNormalization, and the QLinear elementwise, pooling and concat
ops of the QOperator format.

Float outputs of integer products match closely (the int32 products are exact). Outputs
quantized again are compared within one quantization step: onnxruntime's MLAS kernels
fold scale ratios and round in float32 in their own order, so a value on a rounding
boundary may land on the neighbouring integer; most must still be equal.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto
from onnx import helper as oh

import axonnx as ax

MS = "com.microsoft"
RNG = np.random.default_rng(5)
TOL = {"rtol": 1e-4, "atol": 1e-4}


def _normal(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _ints(dtype, *shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, size=shape).astype(dtype)


def _weights(dtype, *shape):
    """Integer weights; int8 ones in [-64, 63], as onnxruntime's quantizer makes them
    with reduce_range: its x86 uint8 x int8 kernels (AVX2 vpmaddubsw) saturate pairs of
    products to int16 otherwise, so full-range weights would test that overflow."""
    if dtype == np.int8:
        return RNG.integers(-64, 64, size=shape).astype(np.int8)
    return _ints(dtype, *shape)


def _ort(model, inputs):
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _check(one_node, node, inputs, constants=None, **tolerance):
    model = one_node.model(node, inputs, 17, constants)
    got, want = one_node.run(model, inputs), _ort(model, inputs)
    one_node.compare(got, want, **(tolerance or TOL))
    return got, want


def within_one_step(got, want, *, equal_share=0.9):
    """Integer outputs differ by at most one step, and mostly not at all."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= 1, diff.max()
    assert np.mean(diff == 0) >= equal_share


# ---------------------------------------------------------------- MatMulNBits


def _pack(codes, bits):
    """Codes (..., n) packed lowest bits first, 8 / bits per byte."""
    per_byte = 8 // bits
    codes = codes.reshape(*codes.shape[:-1], -1, per_byte).astype(np.uint8)
    return np.bitwise_or.reduce(codes << (np.arange(per_byte) * bits).astype(np.uint8), axis=-1)


def _nbits_weights(N, K, bits, block_size, zero_points):
    blocks = -(-K // block_size)
    codes = RNG.integers(0, 2**bits, size=(N, blocks, block_size))
    constants = {
        "B": _pack(codes, bits),
        "scales": (RNG.random((N * blocks,)) * 0.1 + 0.01).astype(np.float32),
    }
    if zero_points == "uint8":
        zp = RNG.integers(0, 2**bits, size=(N, blocks))
        pad = (-blocks * bits) % 8 // bits
        constants["zp"] = _pack(np.pad(zp, ((0, 0), (0, pad))), bits).reshape(-1)
    elif zero_points == "float":
        constants["zp"] = (RNG.random(N * blocks) * 2**bits).astype(np.float32)
    return constants


@pytest.mark.parametrize("zero_points", ["none", "uint8", "float"])
@pytest.mark.parametrize("block_size", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("bits", [4, 8])
def test_matmul_nbits(one_node, bits, block_size, zero_points):
    N, K = 24, 200  # K is not a multiple of the block size: the last block is padded
    constants = _nbits_weights(N, K, bits, block_size, zero_points)
    names = ["a", "B", "scales"] + (["zp"] if zero_points != "none" else [])
    node = oh.make_node(
        "MatMulNBits", names, ["y"], domain=MS, K=K, N=N, bits=bits, block_size=block_size
    )
    inputs = {"a": _normal(2, 3, K)}
    if bits == 4 or zero_points != "float":
        _check(one_node, node, inputs, constants)
        return
    # onnxruntime's CPU kernel has 8-bit weights with float zero points only unpacked
    # for 2 and 4 bits: compare with the spec's formula instead
    codes = constants["B"].reshape(N, -1).astype(np.float32)
    zp = np.repeat(constants["zp"].reshape(N, -1), block_size, axis=1)
    scales = np.repeat(constants["scales"].reshape(N, -1), block_size, axis=1)
    weight = ((codes - zp) * scales)[:, :K]
    (got,) = one_node.run(one_node.model(node, inputs, 17, constants), inputs)
    np.testing.assert_allclose(got, inputs["a"] @ weight.T, **TOL)


def test_matmul_nbits_with_bias_2d_input(one_node):
    N, K = 16, 64
    constants = _nbits_weights(N, K, 4, 32, "uint8")
    constants["bias"] = _normal(N)
    node = oh.make_node(
        "MatMulNBits",
        ["a", "B", "scales", "zp", "", "bias"],
        ["y"],
        domain=MS,
        K=K,
        N=N,
        bits=4,
        block_size=32,
    )
    _check(one_node, node, {"a": _normal(5, K)}, constants)


@pytest.mark.parametrize("symmetric", [True, False])
def test_matmul_nbits_from_onnxruntimes_quantizer(one_node, symmetric):
    pytest.importorskip("onnx_ir")  # the quantizer needs it (installed in /work/venv-torch)
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    w = _normal(48, 40)
    graph = oh.make_graph(
        [oh.make_node("MatMul", ["a", "w"], ["y"])],
        "g",
        [oh.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 48])],
        [oh.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 40])],
        [onnx.numpy_helper.from_array(w, "w")],
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    config = DefaultWeightOnlyQuantConfig(block_size=16, is_symmetric=symmetric)
    quantizer = MatMulNBitsQuantizer(model, algo_config=config)
    quantizer.process()
    quantized = quantizer.model.model
    assert [n.op_type for n in quantized.graph.node] == ["MatMulNBits"]
    a = _normal(3, 48)
    want = _ort(quantized, {"a": a})[0]
    imported, state = ax.import_onnx(quantized)
    got = np.asarray(ax.predict(imported, state, {"a": a})["y"])
    np.testing.assert_allclose(got, want, **TOL)
    exact = a @ w  # and it is a 4-bit approximation of the float product
    assert np.linalg.norm(got - exact) < 0.15 * np.linalg.norm(exact)


# ---------------------------------------------------------------- integer to float


@pytest.mark.parametrize(
    "a_type, b_type",
    [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)],  # onnxruntime's kernels
)
@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer_to_float(one_node, a_type, b_type, per_column):
    K, N = 12, 6
    constants = {
        "B": _weights(b_type, K, N),
        "b_scale": np.float32(0.02) if not per_column else _normal(N, scale=0.01) ** 2 + 0.01,
        "b_zp": _ints(b_type, N) if per_column else _ints(b_type),
        "bias": _normal(N),
    }
    inputs = {
        "a": _ints(a_type, 2, 4, K),
        "a_scale": np.array(0.05, np.float32),
        "a_zp": _ints(a_type),
    }
    names = ["a", "B", "a_scale", "b_scale", "a_zp", "b_zp", "bias"]
    _check(
        one_node, oh.make_node("MatMulIntegerToFloat", names, ["y"], domain=MS), inputs, constants
    )


@pytest.mark.parametrize("b_type", [np.uint8, np.int8])
def test_dynamic_quantize_matmul(one_node, b_type):
    K, N = 16, 8
    constants = {
        "B": _weights(b_type, K, N),
        "b_scale": (RNG.random(N) * 0.02 + 0.005).astype(np.float32),
        "b_zp": _ints(b_type, N) if b_type == np.uint8 else np.zeros(N, np.int8),
        "bias": _normal(N),
    }
    node = oh.make_node(
        "DynamicQuantizeMatMul", ["a", "B", "b_scale", "b_zp", "bias"], ["y"], domain=MS
    )
    _check(one_node, node, {"a": _normal(3, 5, K)}, constants)


# ---------------------------------------------------------------- QGemm


@pytest.mark.parametrize("quantized_output", [False, True])
@pytest.mark.parametrize("transB", [0, 1])
@pytest.mark.parametrize("per_column", [False, True])
def test_qgemm(one_node, quantized_output, transB, per_column):
    M, K, N = 4, 10, 6
    inputs = {"a": _ints(np.uint8, M, K)}
    constants = {
        "a_scale": np.float32(0.03),
        "a_zp": np.uint8(120),
        "B": _weights(np.int8, *((N, K) if transB else (K, N))),
        "b_scale": (RNG.random(N) * 0.02 + 0.005).astype(np.float32)
        if per_column
        else np.float32(0.01),
        "b_zp": np.zeros(N, np.int8) if per_column else np.int8(0),
        "C": RNG.integers(-500, 500, size=N).astype(np.int32),
    }
    names = ["a", "a_scale", "a_zp", "B", "b_scale", "b_zp", "C"]
    if quantized_output:
        constants.update({"y_scale": np.float32(0.5), "y_zp": np.uint8(128)})
        names += ["y_scale", "y_zp"]
    node = oh.make_node("QGemm", names, ["y"], domain=MS, transB=transB, alpha=0.75)
    model = one_node.model(node, inputs, 17, constants)
    (got,), (want,) = one_node.run(model, inputs), _ort(model, inputs)
    if quantized_output:
        within_one_step(got, want)
    else:
        np.testing.assert_allclose(got, want, **TOL)


# ---------------------------------------------------------------- QAttention

BATCH, SEQ, HIDDEN, HEADS = 2, 5, 16, 4


@pytest.mark.parametrize("weight_type", [np.int8, np.uint8])
@pytest.mark.parametrize("unidirectional", [0, 1])
def test_qattention(one_node, weight_type, unidirectional):
    inputs = {
        "x": _ints(np.uint8, BATCH, SEQ, HIDDEN),
        "mask": np.array([5, 3], np.int32),
    }
    constants = {
        "w": _weights(weight_type, HIDDEN, 3 * HIDDEN),
        "bias": _normal(3 * HIDDEN),
        "x_scale": np.float32(0.01),
        "w_scale": np.float32(0.005),
        "x_zp": np.uint8(128),
        "w_zp": _ints(weight_type) if weight_type == np.uint8 else np.int8(0),
    }
    names = ["x", "w", "bias", "x_scale", "w_scale", "mask", "x_zp", "w_zp"]
    node = oh.make_node(
        "QAttention", names, ["y"], domain=MS, num_heads=HEADS, unidirectional=unidirectional
    )
    _check(one_node, node, inputs, constants)


def test_qembed_layer_normalization(one_node):
    vocab, positions = 30, 16
    tables = {
        "word": _ints(np.uint8, vocab, HIDDEN),
        "pos": _ints(np.uint8, positions, HIDDEN),
        "seg": _ints(np.uint8, 2, HIDDEN),
        "gamma": _ints(np.uint8, HIDDEN),
        "beta": _ints(np.uint8, HIDDEN),
    }
    constants = dict(tables)
    for name in tables:
        constants[f"{name}_scale"] = np.float32(RNG.random() * 0.02 + 0.001)
        constants[f"{name}_zp"] = np.uint8(RNG.integers(100, 156))
    inputs = {
        "ids": RNG.integers(0, vocab, size=(BATCH, SEQ)).astype(np.int32),
        "segments": RNG.integers(0, 2, size=(BATCH, SEQ)).astype(np.int32),
        "mask": np.array([[1] * 5, [1, 1, 1, 0, 0]], np.int32),
    }
    names = ["ids", "segments", "word", "pos", "seg", "gamma", "beta", "mask"]
    names += [f"{t}_scale" for t in tables] + [f"{t}_zp" for t in tables]
    node = oh.make_node(
        "QEmbedLayerNormalization", names, ["y", "mask_index"], domain=MS, epsilon=1e-12
    )
    _check(one_node, node, inputs, constants)


# ---------------------------------------------------------------- QLinear ops


def _qlinear(one_node, node, inputs, constants):
    model = one_node.model(node, inputs, 17, constants)
    (got,), (want,) = one_node.run(model, inputs), _ort(model, inputs)
    within_one_step(got, want)


def _params(dtype, *names):
    constants = {}
    for name in names:
        constants[f"{name}_scale"] = np.float32(RNG.random() * 0.05 + 0.01)
        constants[f"{name}_zp"] = _ints(dtype)
    return constants


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
def test_qlinear_binary(one_node, op, dtype):
    inputs = {"a": _ints(dtype, 2, 3, 8), "b": _ints(dtype, 3, 1)}  # broadcasting
    names = ["a", "a_scale", "a_zp", "b", "b_scale", "b_zp", "c_scale", "c_zp"]
    constants = _params(dtype, "a", "b", "c")
    if op == "QLinearMul":
        constants["c_scale"] = np.float32(constants["a_scale"] * constants["b_scale"] * 40)
    _qlinear(one_node, oh.make_node(op, names, ["y"], domain=MS), inputs, constants)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
def test_qlinear_unary(one_node, op, dtype):
    info = np.iinfo(dtype)
    inputs = {"x": np.arange(info.min, info.max + 1).astype(dtype).reshape(4, 64)}
    constants = _params(dtype, "x", "y")
    if op == "QLinearSigmoid":
        constants["y_scale"] = np.float32(1 / 255)
    attrs = {"alpha": 0.1} if op == "QLinearLeakyRelu" else {}
    node = oh.make_node(op, ["x", "x_scale", "x_zp", "y_scale", "y_zp"], ["y"], domain=MS, **attrs)
    _qlinear(one_node, node, inputs, constants)


@pytest.mark.parametrize("channels_last", [0, 1])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_global_average_pool(one_node, dtype, channels_last):
    shape = (2, 5, 5, 6) if channels_last else (2, 6, 5, 5)
    inputs = {"x": _ints(dtype, *shape)}
    names = ["x", "x_scale", "x_zp", "y_scale", "y_zp"]
    node = oh.make_node(
        "QLinearGlobalAveragePool", names, ["y"], domain=MS, channels_last=channels_last
    )
    _qlinear(one_node, node, inputs, _params(dtype, "x", "y"))


@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [3, 3]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
        {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0], "count_include_pad": 1},
        {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
        {"kernel_shape": [3, 3], "channels_last": 1},
    ],
    ids=["plain", "strided_padded", "count_include_pad", "ceil_mode", "channels_last"],
)
def test_qlinear_average_pool(one_node, attrs):
    inputs = {"x": _ints(np.uint8, 2, 4, 7, 7)}
    names = ["x", "x_scale", "x_zp", "y_scale", "y_zp"]
    node = oh.make_node("QLinearAveragePool", names, ["y"], domain=MS, **attrs)
    _qlinear(one_node, node, inputs, _params(np.uint8, "x", "y"))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_concat(one_node, dtype):
    inputs = {"a": _ints(dtype, 2, 3, 4), "b": _ints(dtype, 2, 5, 4), "c": _ints(dtype, 2, 1, 4)}
    constants = _params(dtype, "y", "a", "b")
    constants["c_scale"], constants["c_zp"] = constants["y_scale"], constants["y_zp"]
    names = ["y_scale", "y_zp", "a", "a_scale", "a_zp", "b", "b_scale", "b_zp"]
    names += ["c", "c_scale", "c_zp"]
    _qlinear(
        one_node, oh.make_node("QLinearConcat", names, ["y"], domain=MS, axis=1), inputs, constants
    )


def test_qattention_per_column_weight_scale_and_past(one_node):
    past_len = 3
    inputs = {
        "x": _ints(np.uint8, BATCH, 2, HIDDEN),
        "mask": np.ones((BATCH, past_len + 2), np.int32),
        "past": _normal(2, BATCH, HEADS, past_len, HIDDEN // HEADS),
    }
    constants = {
        "w": _weights(np.int8, HIDDEN, 3 * HIDDEN),
        "bias": _normal(3 * HIDDEN),
        "x_scale": np.float32(0.01),
        "w_scale": (RNG.random(3 * HIDDEN) * 0.01 + 0.001).astype(np.float32),
        "x_zp": np.uint8(128),
        "w_zp": np.zeros(3 * HIDDEN, np.int8),
    }
    names = ["x", "w", "bias", "x_scale", "w_scale", "mask", "x_zp", "w_zp", "past"]
    node = oh.make_node(
        "QAttention", names, ["y", "present"], domain=MS, num_heads=HEADS, unidirectional=1
    )
    _check(one_node, node, inputs, constants)


def test_matmul_nbits_float16(one_node):
    N, K = 16, 64
    constants = _nbits_weights(N, K, 4, 32, "uint8")
    constants["scales"] = constants["scales"].astype(np.float16)
    node = oh.make_node(
        "MatMulNBits", ["a", "B", "scales", "zp"], ["y"], domain=MS, K=K, N=N, bits=4, block_size=32
    )
    inputs = {"a": _normal(3, K).astype(np.float16)}
    _check(one_node, node, inputs, constants, rtol=2e-3, atol=2e-2)


@pytest.mark.parametrize("zero_points", ["none", "uint8", "float"])
def test_matmul_nbits_2_bits(one_node, zero_points):
    N, K = 16, 96  # 3 blocks: packed zero points pad the row's last byte
    constants = _nbits_weights(N, K, 2, 32, zero_points)
    names = ["a", "B", "scales"] + (["zp"] if zero_points != "none" else [])
    node = oh.make_node("MatMulNBits", names, ["y"], domain=MS, K=K, N=N, bits=2, block_size=32)
    _check(one_node, node, {"a": _normal(3, K)}, constants)
