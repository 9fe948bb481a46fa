"""Signal ops: forms the ONNX backend cases leave out (DFT-17 with dft_length, complex
one-sided transforms, float64, complex STFT without one-sided output, window data
types, other mel parameters), compared with onnx's reference evaluator."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep
from axonnx.errors import InvalidModelError

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(2, 7, 5, 1)).astype(np.float32)
COMPLEX = RNG.normal(size=(2, 7, 5, 2)).astype(np.float32)


def one_node_model(node, inputs: dict, opset: int):
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    graph = oh.make_graph([node], "g", values, [oh.make_empty_tensor_value_info("y")])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])


def run_axonnx(model, inputs: dict) -> np.ndarray:
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return AxonnxRep(model).run(dict(inputs))[0]


def assert_same(node, inputs: dict, opset: int, atol: float = 1e-5) -> None:
    model = one_node_model(node, inputs, opset)
    (want,) = ReferenceEvaluator(model).run(None, inputs)
    got = run_axonnx(model, inputs)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("length", [4, 7, 12])
@pytest.mark.parametrize("onesided", [0, 1])
def test_dft_17_length_and_axis_attribute(length, onesided):
    node = oh.make_node("DFT", ["x", "n"], ["y"], axis=2, onesided=onesided)
    assert_same(node, {"x": REAL, "n": np.array(length, np.int64)}, 17)


@pytest.mark.parametrize("inverse", [0, 1])
def test_dft_20_complex_onesided_and_inverse(inverse):
    node = oh.make_node("DFT", ["x", "", "axis"], ["y"], inverse=inverse, onesided=1 - inverse)
    assert_same(node, {"x": COMPLEX, "axis": np.array(1, np.int64)}, 20)


def test_dft_20_irfft_with_length_float64():
    node = oh.make_node("DFT", ["x", "n", "axis"], ["y"], inverse=1, onesided=1)
    inputs = {"x": COMPLEX.astype(np.float64), "n": np.array(9, np.int64), "axis": np.array(-3)}
    assert_same(node, inputs, 20)


def test_dft_rejects_the_complex_axis():
    node = oh.make_node("DFT", ["x", "", "axis"], ["y"])
    inputs = {"x": REAL, "axis": np.array(-1, np.int64)}
    with pytest.raises(InvalidModelError, match="axis"):
        run_axonnx(one_node_model(node, inputs, 20), inputs)


def test_stft_complex_two_sided_with_window_and_length():
    signal = RNG.normal(size=(2, 40, 2)).astype(np.float32)
    node = oh.make_node("STFT", ["s", "step", "w", "n"], ["y"], onesided=0)
    inputs = {
        "s": signal,
        "step": np.array(3, np.int64),
        "w": np.hanning(10).astype(np.float32),
        "n": np.array(10, np.int64),
    }
    assert_same(node, inputs, 17)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
def test_windows_float64(op, periodic):
    node = oh.make_node(op, ["n"], ["y"], periodic=periodic, output_datatype=TensorProto.DOUBLE)
    assert_same(node, {"n": np.array(11, np.int64)}, 17, atol=1e-12)


def test_mel_weight_matrix_float64_other_edges():
    node = oh.make_node(
        "MelWeightMatrix", ["m", "n", "r", "lo", "hi"], ["y"], output_datatype=TensorProto.DOUBLE
    )
    inputs = {
        "m": np.array(10, np.int64),
        "n": np.array(64, np.int64),
        "r": np.array(16000, np.int64),
        "lo": np.array(125.0, np.float32),
        "hi": np.array(7600.0, np.float32),
    }
    assert_same(node, inputs, 17)
