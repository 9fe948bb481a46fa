"""Models with data-dependent ops run as compiled segments around them
(`axonnx/engine/segments.py`), matching onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.engine import engine_for
from axonnx.engine.segments import split_segments


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _nonzero_model() -> onnx.ModelProto:
    """MatMul → Relu → NonZero → gather the positive entries → scale → sum, with shape
    arithmetic after the data-dependent op (Shape → Gather → Reshape)."""
    w = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((6, 6)).astype(np.float32), "w"
    )
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    minus_one = numpy_helper.from_array(np.array([-1], np.int64), "minus_one")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("NonZero", ["r"], ["nz"]),
        helper.make_node("Transpose", ["nz"], ["idx"], perm=[1, 0]),
        helper.make_node("GatherND", ["r", "idx"], ["picked"]),
        helper.make_node("Shape", ["picked"], ["count_shape"]),
        helper.make_node("Gather", ["count_shape", "zero"], ["count"]),
        helper.make_node("Unsqueeze", ["count", "zero_axes"], ["count_1d"]),
        helper.make_node("Reshape", ["picked", "minus_one"], ["flat"]),
        helper.make_node("Mul", ["flat", "flat"], ["squares"]),
        helper.make_node("ReduceSum", ["squares"], ["total"], keepdims=0),
    ]
    zero_axes = numpy_helper.from_array(np.array([0], np.int64), "zero_axes")
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
        [
            helper.make_tensor_value_info("total", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("count_1d", TensorProto.INT64, [1]),
        ],
        [w, zero, minus_one, zero_axes],
    )


def test_data_dependent_model_runs_in_compiled_segments():
    proto = _nonzero_model()
    model, state = ax.import_onnx(proto)
    engine = engine_for(model)
    segments = split_segments(engine.fast.plan, engine.eager_ids)
    assert [s.eager for s in segments].count(True) == 1  # NonZero alone runs eagerly
    assert sum(s.stop - s.start for s in segments if not s.eager) > 5
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for seed, batch in [(1, 3), (2, 3), (3, 5)]:  # different counts of positive entries
        x = np.random.default_rng(seed).standard_normal((batch, 6)).astype(np.float32)
        total, count = session.run(None, {"x": x})
        got = ax.predict(model, state, {"x": x})
        np.testing.assert_allclose(np.asarray(got["total"]), total, rtol=1e-5)
        np.testing.assert_array_equal(np.asarray(got["count_1d"]), count)


def test_a_shape_computed_from_data_moves_its_node_out_of_the_segment():
    """TopK whose k is computed from the data and a weight: not known while compiling,
    so the TopK node runs eagerly and the rest stays compiled."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Greater", ["m", "zero"], ["positive"]),
        helper.make_node("Cast", ["positive"], ["ones"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["ones", "minus_one"], ["ones_flat"]),
        helper.make_node("ReduceSum", ["ones_flat"], ["k"], keepdims=1),
        helper.make_node("Reshape", ["x", "minus_one"], ["flat"]),
        helper.make_node("TopK", ["flat", "k"], ["values", "indices"]),
        helper.make_node("Neg", ["values"], ["y"]),
    ]
    proto = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.eye(4, dtype=np.float32) * 2, "w"),
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
            numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
        ],
    )
    model, state = ax.import_onnx(proto)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for seed in (4, 5):
        x = np.random.default_rng(seed).standard_normal((2, 4)).astype(np.float32)
        (want,) = session.run(None, {"x": x})
        np.testing.assert_allclose(np.asarray(ax.predict(model, state, {"x": x})["y"]), want)
    assert engine_for(model).eager_ids  # the TopK node was moved out
