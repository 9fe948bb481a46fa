"""Reduce and linalg ops: forms the ONNX backend cases leave out (old opsets, attribute
axes, noop_with_empty_axes, integer inputs, TopK-1/10, training ops at T == 0, …),
compared with onnx's reference evaluator."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper as oh

from axonnx.errors import ShapeError

TRAINING = "ai.onnx.preview.training"


RNG = np.random.default_rng(0)
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
X = RNG.normal(size=(2, 3, 4)).astype(np.float32)
XI = RNG.integers(-5, 6, size=(2, 3, 4)).astype(np.int32)
TIES = np.array([[3, 1, 3, 2, 1], [0, 0, 5, 5, 0]], np.float32)
I64 = np.int64


def node(op: str, inputs: list[str], outputs: tuple = ("y",), **attrs) -> onnx.NodeProto:
    return oh.make_node(op, inputs, list(outputs), **attrs)


CASES = {
    "reduce_sum_11_attribute_axes": (
        node("ReduceSum", ["x"], axes=[0, -1], keepdims=0),
        {"x": X},
        11,
        None,
    ),
    "reduce_sum_7_int_all_axes": (node("ReduceSum", ["x"]), {"x": XI}, 7, None),
    "reduce_max_13_attribute_axes_int": (node("ReduceMax", ["x"], axes=[1]), {"x": XI}, 13, None),
    "reduce_mean_18_int_truncates": (
        node("ReduceMean", ["x", "axes"], keepdims=0),
        {"x": XI},
        18,
        {"axes": np.array([1], I64)},
    ),
    "reduce_mean_18_noop_empty_axes": (
        node("ReduceMean", ["x", "axes"], noop_with_empty_axes=1),
        {"x": X},
        18,
        {"axes": np.array([], I64)},
    ),
    "reduce_prod_18_no_axes_all": (node("ReduceProd", ["x"]), {"x": X}, 18, None),
    "reduce_l2_7_attribute_axes": (node("ReduceL2", ["x"], axes=[2]), {"x": X}, 7, None),
    "reduce_log_sum_exp_18_axes": (
        node("ReduceLogSumExp", ["x", "axes"], keepdims=0),
        {"x": X},
        18,
        {"axes": np.array([0, 2], I64)},
    ),
    "reduce_min_20_bool": (
        node("ReduceMin", ["x", "axes"]),
        {"x": X > 0},
        20,
        {"axes": np.array([1], I64)},
    ),
    "argmax_11_no_keepdims": (node("ArgMax", ["x"], axis=1, keepdims=0), {"x": X}, 11, None),
    "argmin_7_default": (node("ArgMin", ["x"]), {"x": XI}, 7, None),
    "argmax_13_last_index_ties": (
        node("ArgMax", ["x"], axis=1, select_last_index=1),
        {"x": TIES},
        13,
        None,
    ),
    "top_k_1_attribute_k": (node("TopK", ["x"], ("v", "i"), k=3), {"x": TIES}, 9, None),
    "top_k_10_static_k_axis0": (
        node("TopK", ["x", "k"], ("v", "i"), axis=0),
        {"x": X},
        10,
        {"k": np.array([1], I64)},
    ),
    "top_k_11_smallest_ties": (
        node("TopK", ["x", "k"], ("v", "i"), largest=0),
        {"x": TIES},
        11,
        {"k": np.array([4], I64)},
    ),
    "cumsum_11_exclusive_reverse": (
        node("CumSum", ["x", "axis"], exclusive=1, reverse=1),
        {"x": X},
        11,
        {"axis": np.array(-1, np.int32)},
    ),
    "cumprod_26_int_exclusive_reverse": (
        node("CumProd", ["x", "axis"], exclusive=1, reverse=1),
        {"x": XI.astype(I64)},
        26,
        {"axis": np.array(1, I64)},
    ),
    "gemm_7_required_c": (
        node("Gemm", ["a", "b", "c"], alpha=0.5, beta=2.0, transA=1),
        {"a": X[0].T.copy(), "b": X[1].T.copy(), "c": np.ones((1, 3), np.float32)},
        7,
        None,
    ),
    "gemm_13_int": (node("Gemm", ["a", "b"], transB=1), {"a": XI[0], "b": XI[1]}, 13, None),
    "matmul_9_vector_matrix": (
        node("MatMul", ["a", "b"]),
        {"a": X[0, 0], "b": X[1].T.copy()},
        9,
        None,
    ),
    "matmul_integer_scalar_zero_points": (
        node("MatMulInteger", ["a", "b", "az", "bz"]),
        {
            "a": RNG.integers(0, 255, (2, 3, 5)).astype(np.uint8),
            "b": RNG.integers(0, 255, (5, 4)).astype(np.uint8),
        },
        10,
        {"az": np.array(12, np.uint8), "bz": np.array(200, np.uint8)},
    ),
    "einsum_12_ellipsis_spaces": (
        node("Einsum", ["a", "b"], equation="...ij, ...jk -> ...ik"),
        {"a": X, "b": RNG.normal(size=(2, 4, 5)).astype(np.float32)},
        12,
        None,
    ),
    "einsum_12_implicit_trace": (
        node("Einsum", ["a"], equation="ii"),
        {"a": X[0, :, :3].copy()},
        12,
        None,
    ),
    "det_11_batch": (node("Det", ["x"]), {"x": RNG.normal(size=(2, 3, 3))}, 11, None),
    "nll_13_mean_ignore_no_weight": (
        node("NegativeLogLikelihoodLoss", ["x", "t"], ignore_index=1),
        {"x": X, "t": np.array([[0, 1, 2, 1], [1, 2, 0, 0]], I64)},
        13,
        None,
    ),
    "sce_12_sum_weights_log_prob": (
        node(
            "SoftmaxCrossEntropyLoss",
            ["x", "t", "w"],
            ("loss", "log_prob"),
            reduction="sum",
            ignore_index=0,
        ),
        {
            "x": X,
            "t": np.array([[0, 1, 2, 1], [1, 2, 0, 0]], I64),
            "w": np.array([0.5, 1.0, 2.0], np.float32),
        },
        12,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference(one_node, name):
    op_node, inputs, opset, constants = CASES[name]
    one_node.assert_same(op_node, inputs, opset, constants, **TOLERANCE)


def _training_inputs(groups: int) -> dict:
    rng = np.random.default_rng(1)
    names = [f"{kind}{i}" for kind in "xgvh"[:groups] for i in range(2)]
    return {
        "r": np.array(0.1, np.float32),
        "t": np.array(0, I64),
        **{n: rng.normal(size=(3,)).astype(np.float32) ** 2 for n in names},
    }


@pytest.mark.parametrize(
    ("op", "groups", "attrs"),
    [
        ("Adagrad", 3, {"decay_factor": 0.1, "epsilon": 1e-5, "norm_coefficient": 0.01}),
        ("Adam", 4, {"alpha": 0.8, "norm_coefficient": 0.01, "norm_coefficient_post": 0.02}),
        ("Momentum", 3, {"alpha": 0.9, "beta": 0.5, "mode": "nesterov", "norm_coefficient": 0.1}),
    ],
)
def test_training_ops_at_step_zero(one_node, op, groups, attrs):
    inputs = _training_inputs(groups)
    if op == "Adagrad":  # Adagrad's third group is H, not V
        inputs = {k.replace("v", "h"): v for k, v in inputs.items()}
    state_kinds = "xvh"[: groups - 1] if op != "Adagrad" else "xh"
    outputs = [f"{k}{i}_new" for k in state_kinds for i in range(2)]
    op_node = oh.make_node(op, list(inputs), outputs, domain=TRAINING, **attrs)
    one_node.assert_same(op_node, inputs, 18, **TOLERANCE)


def test_reduce_axes_from_graph_input_are_baked_in(one_node):
    op_node = node("ReduceSum", ["x", "axes"], keepdims=0)
    inputs = {"x": X, "axes": np.array([1], I64)}
    one_node.assert_same(op_node, inputs, 13, **TOLERANCE)


def test_matmul_integer_per_row_zero_point(one_node):
    a = RNG.integers(-128, 127, (3, 5)).astype(np.int8)
    b = RNG.integers(-128, 127, (5, 2)).astype(np.int8)
    az, bz = np.array([1, -2, 3], np.int8), np.array([4, -5], np.int8)
    model = one_node.model(
        node("MatMulInteger", ["a", "b", "az", "bz"]), {"a": a, "b": b, "az": az, "bz": bz}, 10
    )
    (got,) = one_node.run(model, {"a": a, "b": b, "az": az, "bz": bz})
    want = (a.astype(np.int32) - az[:, None]) @ (b.astype(np.int32) - bz)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("axes", [[3], [1, -2]])
def test_reduce_rejects_bad_axes(one_node, axes):
    model = one_node.model(node("ReduceSum", ["x"], axes=axes), {"x": X}, 11)
    with pytest.raises(ShapeError, match="ReduceSum"):
        one_node.run(model, {"x": X})


def test_top_k_rejects_k_larger_than_axis(one_node):
    model = one_node.model(node("TopK", ["x"], ("v", "i"), k=9), {"x": TIES}, 9)
    with pytest.raises(ShapeError, match="TopK"):
        one_node.run(model, {"x": TIES})
