"""Random ops: shapes, dtypes, ranges, seeds and rough moments (samples come from JAX's
generator, so they are not compared with onnx's reference evaluator's NumPy samples)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh

from axonnx.converters.backend import AxonnxRep

X = np.zeros((200, 50), np.float32)


def run_node(node, inputs: dict, opset: int = 22) -> np.ndarray:
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    graph = oh.make_graph([node], "g", values, [oh.make_empty_tensor_value_info("y")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])
    with jax.enable_x64(True):
        return AxonnxRep(model).run(dict(inputs))[0]


@pytest.mark.parametrize("opset", [7, 22])
def test_random_uniform_range_shape_dtype(opset):
    node = oh.make_node(
        "RandomUniform", [], ["y"], shape=[300, 40], low=-2.0, high=3.0, dtype=TensorProto.DOUBLE
    )
    y = run_node(node, {}, opset)
    assert y.shape == (300, 40) and y.dtype == np.float64
    assert y.min() >= -2.0 and y.max() < 3.0
    assert abs(y.mean() - 0.5) < 0.1


def test_random_normal_like_moments_and_seed():
    node = oh.make_node("RandomNormalLike", ["x"], ["y"], mean=1.0, scale=2.0, seed=3.0)
    first, again = run_node(node, {"x": X}), run_node(node, {"x": X})
    assert first.shape == X.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert abs(first.mean() - 1.0) < 0.1 and abs(first.std() - 2.0) < 0.1
    other = oh.make_node("RandomNormalLike", ["x"], ["y"], mean=1.0, scale=2.0, seed=4.0)
    assert not np.array_equal(first, run_node(other, {"x": X}))


def test_random_uniform_like_dtype_attribute():
    node = oh.make_node("RandomUniformLike", ["x"], ["y"], dtype=TensorProto.FLOAT16)
    y = run_node(node, {"x": X})
    assert y.shape == X.shape and y.dtype == np.float16


def test_random_normal_default_float():
    y = run_node(oh.make_node("RandomNormal", [], ["y"], shape=[4, 5]), {}, 13)
    assert y.shape == (4, 5) and y.dtype == np.float32


def test_bernoulli_extremes_and_dtype():
    p = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    node = oh.make_node("Bernoulli", ["p"], ["y"], dtype=TensorProto.INT32, seed=1.0)
    y = run_node(node, {"p": p}, 15)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 1, 0, 1])


def test_multinomial_shape_dtype_and_classes():
    logits = np.log(np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], np.float32) + 1e-30)
    node = oh.make_node("Multinomial", ["x"], ["y"], sample_size=1000, dtype=TensorProto.INT64)
    y = run_node(node, {"x": logits}, 7)
    assert y.shape == (2, 1000) and y.dtype == np.int64
    assert (y[0] == 1).all()
    assert set(np.unique(y[1])) == {0, 2}
