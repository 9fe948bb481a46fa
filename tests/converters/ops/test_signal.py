"""Signal ops: forms the ONNX backend cases leave out (DFT-17 with dft_length, complex
one-sided transforms, float64, complex STFT without one-sided output, window data
types, other mel parameters), compared with onnx's reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh

from axonnx.errors import InvalidModelError

RNG = np.random.default_rng(0)
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
REAL = RNG.normal(size=(2, 7, 5, 1)).astype(np.float32)
COMPLEX = RNG.normal(size=(2, 7, 5, 2)).astype(np.float32)


@pytest.mark.parametrize("length", [4, 7, 12])
@pytest.mark.parametrize("onesided", [0, 1])
def test_dft_17_length_and_axis_attribute(one_node, length, onesided):
    node = oh.make_node("DFT", ["x", "n"], ["y"], axis=2, onesided=onesided)
    one_node.assert_same(node, {"x": REAL, "n": np.array(length, np.int64)}, 17, **TOLERANCE)


@pytest.mark.parametrize("inverse", [0, 1])
def test_dft_20_complex_onesided_and_inverse(one_node, inverse):
    node = oh.make_node("DFT", ["x", "", "axis"], ["y"], inverse=inverse, onesided=1 - inverse)
    one_node.assert_same(node, {"x": COMPLEX, "axis": np.array(1, np.int64)}, 20, **TOLERANCE)


def test_dft_20_irfft_with_length_float64(one_node):
    node = oh.make_node("DFT", ["x", "n", "axis"], ["y"], inverse=1, onesided=1)
    inputs = {"x": COMPLEX.astype(np.float64), "n": np.array(9, np.int64), "axis": np.array(-3)}
    one_node.assert_same(node, inputs, 20, **TOLERANCE)


def test_dft_rejects_the_complex_axis(one_node):
    node = oh.make_node("DFT", ["x", "", "axis"], ["y"])
    inputs = {"x": REAL, "axis": np.array(-1, np.int64)}
    with pytest.raises(InvalidModelError, match="axis"):
        one_node.run(one_node.model(node, inputs, 20), inputs)


def test_stft_complex_two_sided_with_window_and_length(one_node):
    signal = RNG.normal(size=(2, 40, 2)).astype(np.float32)
    node = oh.make_node("STFT", ["s", "step", "w", "n"], ["y"], onesided=0)
    inputs = {
        "s": signal,
        "step": np.array(3, np.int64),
        "w": np.hanning(10).astype(np.float32),
        "n": np.array(10, np.int64),
    }
    one_node.assert_same(node, inputs, 17, **TOLERANCE)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
def test_windows_float64(one_node, op, periodic):
    node = oh.make_node(op, ["n"], ["y"], periodic=periodic, output_datatype=TensorProto.DOUBLE)
    one_node.assert_same(node, {"n": np.array(11, np.int64)}, 17, rtol=1e-5, atol=1e-12)


def test_mel_weight_matrix_float64_other_edges(one_node):
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
    one_node.assert_same(node, inputs, 17, **TOLERANCE)
