"""Shape and indexing ops: forms the ONNX backend cases leave out (old opsets, attribute
forms, negative pads, batch_dims > 1, …), compared with onnx's reference evaluator."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

import axonnx as ax
from axonnx.converters.backend import AxonnxRep
from axonnx.converters.onnx_import import import_onnx

# Until the importer passes a Split node's output count (equal split without sizes).


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
I64 = np.int64

CASES = {
    "slice_1_attributes": (
        oh.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[99, -1], axes=[2, 1]),
        {"x": X},
        9,
    ),
    "slice_neg_step_clamped": (
        oh.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"]),
        {
            "x": X,
            "s": np.array([99], I64),
            "e": np.array([-99], I64),
            "a": np.array([-1], I64),
            "t": np.array([-2], I64),
        },
        13,
    ),
    "squeeze_11_attribute": (
        oh.make_node("Squeeze", ["x"], ["y"], axes=[-1]),
        {"x": X.reshape(2, 12, 1)},
        11,
    ),
    "squeeze_all": (oh.make_node("Squeeze", ["x"], ["y"]), {"x": X.reshape(1, 24, 1)}, 13),
    "unsqueeze_11_attribute": (oh.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1]), {"x": X}, 11),
    "split_11_attribute": (
        oh.make_node("Split", ["x"], ["a", "b"], axis=2, split=[1, 3]),
        {"x": X},
        11,
    ),
    "split_7_equal": pytest.param(oh.make_node("Split", ["x"], ["a", "b"], axis=-1), {"x": X}, 7),
    "pad_2_reflect": (
        oh.make_node("Pad", ["x"], ["y"], mode="reflect", pads=[0, 1, 2, 0, 1, 1]),
        {"x": X},
        7,
    ),
    "flatten_9": (oh.make_node("Flatten", ["x"], ["y"], axis=2), {"x": X}, 9),
    "transpose_perm": (oh.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 1]), {"x": X}, 7),
    "tile_7": (oh.make_node("Tile", ["x", "r"], ["y"]), {"x": X, "r": np.array([1, 2, 1], I64)}, 7),
    "range_11_float": (
        oh.make_node("Range", ["a", "b", "c"], ["y"]),
        {
            "a": np.array(1.0, np.float32),
            "b": np.array(2.0, np.float32),
            "c": np.array(0.3, np.float32),
        },
        11,
    ),
    "range_11_negative": (
        oh.make_node("Range", ["a", "b", "c"], ["y"]),
        {"a": np.array(9, I64), "b": np.array(0, I64), "c": np.array(-4, I64)},
        11,
    ),
    "constant_value_floats": (oh.make_node("Constant", [], ["y"], value_floats=[1.5, 2.0]), {}, 13),
    "constant_value_int": (oh.make_node("Constant", [], ["y"], value_int=7), {}, 13),
    "constant_value_ints": (oh.make_node("Constant", [], ["y"], value_ints=[1, -2]), {}, 13),
    "eyelike_9_int": (
        oh.make_node("EyeLike", ["x"], ["y"], k=-1, dtype=TensorProto.INT32),
        {"x": X[0]},
        9,
    ),
    "gather_1_negative": (
        oh.make_node("Gather", ["x", "i"], ["y"], axis=1),
        {"x": X, "i": np.array([[-1, 0]], I64)},
        7,
    ),
    "gathernd_batch_dims_2": (
        oh.make_node("GatherND", ["x", "i"], ["y"], batch_dims=2),
        {"x": X, "i": np.array([[[1], [3], [0]], [[2], [2], [-1]]], I64)},
        13,
    ),
    "scatternd_add_slices": (
        oh.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add"),
        {"x": X, "i": np.array([[1], [1]], I64), "u": np.ones((2, 3, 4), np.float32)},
        16,
    ),
    "onehot_9_float_indices": (
        oh.make_node("OneHot", ["i", "d", "v"], ["y"], axis=0),
        {
            "i": np.array([0.0, 2.0, 5.0], np.float32),
            "d": np.array(3.0, np.float32),
            "v": np.array([-1, 1], I64),
        },
        9,
    ),
    "compress_short_condition": (
        oh.make_node("Compress", ["x", "c"], ["y"], axis=1),
        {"x": X, "c": np.array([False, True])},
        11,
    ),
    "nonzero_2d": (oh.make_node("NonZero", ["x"], ["y"]), {"x": (X[0] % 3 == 0)}, 9),
    "unique_unsorted_axis": (
        oh.make_node("Unique", ["x"], ["y", "i", "v", "c"], sorted=0, axis=0),
        {"x": np.array([[3, 1], [0, 1], [3, 1], [2, 2]], np.float32)},
        11,
    ),
    "unique_strings": (
        oh.make_node("Unique", ["x"], ["y", "i", "v", "c"]),
        {"x": np.array(["b", "a", "b"], dtype=object)},
        11,
    ),
}


@pytest.mark.parametrize(("node", "inputs", "opset"), list(CASES.values()), ids=list(CASES))
def test_matches_reference(one_node, node, inputs, opset):
    one_node.assert_same(node, inputs, opset, atol=0)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
def test_pad_negative_pads_crop(one_node, mode):
    pads = np.array([0, -1, 2, 0, 1, -2], I64)
    model = one_node.model(
        oh.make_node("Pad", ["x", "p"], ["y"], mode=mode), {"x": X, "p": pads}, 19
    )
    (got,) = one_node.run(model, {"x": X, "p": pads})
    expected = np.pad(X[:, 1:, :2], [(0, 0), (0, 1), (2, 0)], mode=mode)
    np.testing.assert_array_equal(got, expected)


def test_gather_elements_negative_axis_and_indices(one_node):
    indices = np.array([[[3, -1]], [[-4, 0]]], I64)
    model = one_node.model(
        oh.make_node("GatherElements", ["x", "i"], ["y"], axis=-1), {"x": X, "i": indices}, 13
    )
    (got,) = one_node.run(model, {"x": X, "i": indices})
    np.testing.assert_array_equal(got, np.take_along_axis(X[:, :1], indices % 4, axis=-1))


def test_scatter_9_is_scatter_elements(one_node):
    data, indices = np.zeros((2, 3), np.float32), np.array([[2], [-3]], I64)
    updates = np.array([[5.0], [6.0]], np.float32)
    model = one_node.model(
        oh.make_node("Scatter", ["x", "i", "u"], ["y"], axis=1),
        {"x": data, "i": indices, "u": updates},
        9,
    )
    (got,) = one_node.run(model, {"x": data, "i": indices, "u": updates})
    np.testing.assert_array_equal(got, [[0, 0, 5], [6, 0, 0]])


def test_constant_sparse_value(one_node):
    sparse = oh.make_sparse_tensor(
        oh.make_tensor("v", TensorProto.FLOAT, [2], [1.5, -2.0]),
        oh.make_tensor("i", TensorProto.INT64, [2], [1, 5]),
        [2, 3],
    )
    model = one_node.model(oh.make_node("Constant", [], ["y"], sparse_value=sparse), {}, 13)
    (got,) = one_node.run(model, {})
    np.testing.assert_array_equal(got, [[0, 1.5, 0], [0, 0, -2.0]])


def test_shape_chain_folds_under_jit():
    """Reshape(x, Concat(Shape(x)[:1], [-1])) with a free batch size compiles: the shape
    arithmetic runs on static shapes while tracing."""
    nodes = [
        oh.make_node("Shape", ["x"], ["s"], end=1),
        oh.make_node("Constant", [], ["m"], value_ints=[-1]),
        oh.make_node("Concat", ["s", "m"], ["t"], axis=0),
        oh.make_node("Reshape", ["x", "t"], ["y"]),
    ]
    graph = oh.make_graph(
        nodes,
        "chain",
        [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4])],
        [oh.make_empty_tensor_value_info("y")],
    )
    rep = AxonnxRep(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 21)]))
    for batch in (1, 5):
        (got,) = rep.run({"x": np.ones((batch, 3, 4), np.float32)})
        assert got.shape == (batch, 12)


def test_static_shape_input_is_baked_in():
    graph = oh.make_graph(
        [oh.make_node("Reshape", ["x", "s"], ["y"])],
        "reshape",
        [
            oh.make_tensor_value_info("x", TensorProto.FLOAT, X.shape),
            oh.make_tensor_value_info("s", TensorProto.INT64, ["k"]),
        ],
        [oh.make_empty_tensor_value_info("y")],
    )
    rep = AxonnxRep(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)]))
    assert rep.run({"x": X, "s": np.array([0, -1], I64)})[0].shape == (2, 12)
    assert rep.run({"x": X, "s": np.array([4, 0, 2], I64)})[0].shape == (4, 3, 2)


def test_gather_float_initializer_is_a_trainable_weight():
    table = oh.make_tensor("table", TensorProto.FLOAT, [4, 2], np.arange(8.0).tolist())
    graph = oh.make_graph(
        [oh.make_node("Gather", ["table", "i"], ["y"])],
        "embedding",
        [oh.make_tensor_value_info("i", TensorProto.INT64, [3])],
        [oh.make_empty_tensor_value_info("y")],
        [table],
    )
    rep = AxonnxRep(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)]))
    assert jax.tree_util.tree_leaves(rep.state.params)
    (got,) = rep.run({"i": np.array([3, -4, 1], I64)})
    np.testing.assert_array_equal(got, [[6, 7], [0, 1], [2, 3]])


def test_int64_results_without_x64(one_node):
    """With JAX's 64-bit mode off, index outputs come back as int32, without warnings."""
    model = one_node.model(oh.make_node("NonZero", ["x"], ["y"]), {"x": X[0]}, 13)
    got = ax.predict(*import_onnx(model), {"x": X[0]})["y"]
    assert got.dtype == np.int32 and got.shape == (2, 11)


@pytest.mark.parametrize(
    ("op", "attributes"), [("GatherElements", {"axis": 1}), ("GatherND", {"batch_dims": 1})]
)
def test_gather_from_integer_initializer_with_runtime_indices(one_node, op, attributes):
    """An integer table stays a NumPy constant; indexing it with traced indices works."""
    table = oh.make_tensor("t", TensorProto.INT64, [2, 3], [1, 2, 3, 4, 5, 6])
    graph = oh.make_graph(
        [oh.make_node(op, ["t", "i"], ["y"], **attributes)],
        "table",
        [oh.make_tensor_value_info("i", TensorProto.INT64, [2, 1])],
        [oh.make_empty_tensor_value_info("y")],
        [table],
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    indices = np.array([[2], [-3]], I64)
    (got,) = one_node.run(model, {"i": indices})
    np.testing.assert_array_equal(
        got, np.asarray(ReferenceEvaluator(model).run(None, {"i": indices})[0])
    )
