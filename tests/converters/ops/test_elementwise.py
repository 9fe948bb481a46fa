"""Element-wise ops: forms the ONNX backend cases leave out (old opsets, attribute
forms, string casts, float8e8m0 rounding modes, wrapping integer casts, …), compared
with onnx's reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.ops import casts, elementwise
from axonnx.errors import InvalidModelError, UnsupportedOpError

X = np.array([[-2.5, -0.5, 0.0], [0.5, 1.5, 2.5]], dtype=np.float32)
X3 = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
STRINGS = np.array(["3.14", "1e-5", "+INF", "-inf", "NaN", "-7"], dtype=object)
E8M0_IN = np.array([0.0, 0.75, 1.5, 3.0, 2.0**127 * 1.5, np.inf, np.nan, 1e-40], np.float32)


def _e8m0(round_mode: str, saturate: int):
    node = oh.make_node(
        "Cast", ["x"], ["y"], to=TensorProto.FLOAT8E8M0, round_mode=round_mode, saturate=saturate
    )
    return node, {"x": E8M0_IN}, 24


CASES = {
    "clip_6_attributes": (oh.make_node("Clip", ["x"], ["y"], min=-1.0, max=0.75), {"x": X}, 6),
    "clip_6_defaults": (oh.make_node("Clip", ["x"], ["y"]), {"x": X}, 6),
    "clip_11_only_max": (
        oh.make_node("Clip", ["x", "", "hi"], ["y"]),
        {"x": X, "hi": np.array(1.0, np.float32)},
        11,
    ),
    "hardmax_13_ties_first": (
        oh.make_node("Hardmax", ["x"], ["y"]),
        {"x": np.array([[1.0, 3.0, 3.0]], np.float32)},
        13,
    ),
    "cast_string_to_float": (
        oh.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT),
        {"x": STRINGS},
        13,
    ),
    "cast_string_to_int64": (
        oh.make_node("Cast", ["x"], ["y"], to=TensorProto.INT64),
        {"x": np.array(["100", "-7", "12345678901234"], dtype=object)},
        13,
    ),
    "cast_int16_to_int8_wraps": (
        oh.make_node("Cast", ["x"], ["y"], to=TensorProto.INT8),
        {"x": np.array([300, -200, 127, 5], np.int16)},
        9,
    ),
    "cast_float_to_bool": (
        oh.make_node("Cast", ["x"], ["y"], to=TensorProto.BOOL),
        {"x": np.array([0.0, -0.0, 0.5, np.nan], np.float32)},
        13,
    ),
    "cast_e8m0_nearest": _e8m0("nearest", 1),
    "cast_e8m0_down": _e8m0("down", 1),
    "cast_e8m0_up_no_saturate": _e8m0("up", 0),
    "cast_like_15": (
        oh.make_node("CastLike", ["x", "t"], ["y"]),
        {"x": X, "t": np.zeros((1,), np.int32)},
        15,
    ),
    "mod_10_fmod_float": (
        oh.make_node("Mod", ["a", "b"], ["y"], fmod=1),
        {"a": np.array([-4.5, 4.5, 7.0], np.float32), "b": np.array([2.0, -2.0, 3.0], np.float32)},
        10,
    ),
    "mod_int_floor": (
        oh.make_node("Mod", ["a", "b"], ["y"]),
        {"a": np.array([-7, 7, -7, 7], np.int32), "b": np.array([3, -3, -3, 3], np.int32)},
        13,
    ),
    "div_int_truncates": (
        oh.make_node("Div", ["a", "b"], ["y"]),
        {"a": np.array([-7, 7, -7, 7], np.int64), "b": np.array([2, -2, -2, 2], np.int64)},
        7,
    ),
    "bitshift_11_right": (
        oh.make_node("BitShift", ["x", "s"], ["y"], direction="RIGHT"),
        {"x": np.array([16, 255, 7], np.uint8), "s": np.array([1, 4, 0], np.uint8)},
        11,
    ),
    "pow_7": (
        oh.make_node("Pow", ["x", "y"], ["z"]),
        {"x": np.abs(X) + 0.5, "y": np.array([2.0, 0.5, -1.0], np.float32)},
        7,
    ),
    "pow_int_int": (
        oh.make_node("Pow", ["x", "y"], ["z"]),
        {"x": np.array([2, -3, 5], np.int32), "y": np.array([3, 2, 0], np.int32)},
        15,
    ),
    "round_half_even": (
        oh.make_node("Round", ["x"], ["y"]),
        {"x": np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6], np.float32)},
        11,
    ),
    "shrink_int8": (
        oh.make_node("Shrink", ["x"], ["y"], lambd=1.5, bias=1.0),
        {"x": np.array([-3, -1, 0, 1, 2, 3], np.int8)},
        9,
    ),
    "relu_int8": (
        oh.make_node("Relu", ["x"], ["y"]),
        {"x": np.array([-3, 0, 4], np.int8)},
        14,
    ),
    "prelu_7": (
        oh.make_node("PRelu", ["x", "slope"], ["y"]),
        {"x": X, "slope": np.array([0.1, 0.2, 0.3], np.float32)},
        7,
    ),
    "max_8_broadcast": (
        oh.make_node("Max", ["a", "b", "c"], ["y"]),
        {"a": X, "b": np.array([0.1], np.float32), "c": np.array([[1.0], [-1.0]], np.float32)},
        8,
    ),
    "mean_float16": (
        oh.make_node("Mean", ["a", "b", "c"], ["y"]),
        {"a": X.astype(np.float16), "b": X.astype(np.float16), "c": np.ones(3, np.float16)},
        13,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference(one_node, name):
    node, inputs, opset = CASES[name]
    one_node.assert_same(node, inputs, opset)


# String outputs cannot leave jax.jit (the runtime returns them as graph outputs), so
# the string-producing forms are checked on the op functions directly.
def test_cast_number_to_string(one_node):
    x = np.array([1.5, -2.0, 0.1, np.inf], np.float32)
    node = oh.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    got = casts.cast_6(x, to=TensorProto.STRING)
    assert got.dtype == object
    np.testing.assert_array_equal(
        got.astype(str), one_node.reference_node(node, {"x": x}, 13)[0].astype(str)
    )


def test_where_strings(one_node):
    inputs = {
        "c": np.array([True, False, True]),
        "x": np.array(["a", "b", "c"], object),
        "y": np.array(["d", "e", "f"], object),
    }
    node = oh.make_node("Where", ["c", "x", "y"], ["z"])
    got = elementwise.where(inputs["c"], inputs["x"], inputs["y"])
    np.testing.assert_array_equal(got, one_node.reference_node(node, inputs, 16)[0])


def test_cast_of_runtime_data_to_string_runs_eagerly(one_node):
    # JAX has no string arrays: a model that casts to strings runs outside jit.
    node = oh.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    model = one_node.model(node, {"x": X}, 13)
    (got,) = one_node.run(model, {"x": X})
    (expected,) = ReferenceEvaluator(model).run(None, {"x": X})
    np.testing.assert_array_equal(got.astype(str), expected.astype(str))


def test_gelu_unknown_approximation_is_unsupported(one_node):
    node = oh.make_node("Gelu", ["x"], ["y"], approximate="erf")
    model = one_node.model(node, {"x": X}, 20)
    with pytest.raises(UnsupportedOpError, match="approximate"):
        one_node.run(model, {"x": X})


def test_bitcast_rejects_different_widths(one_node):
    node = oh.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT64)
    model = one_node.model(node, {"x": X}, 26)
    with pytest.raises(InvalidModelError, match="bit width"):
        one_node.run(model, {"x": X})


def _flat_softmax(x, axis):
    rows = x.reshape(int(np.prod(x.shape[:axis])), -1)
    e = np.exp(rows - rows.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def _flat_hardmax(x, axis):
    rows = x.reshape(int(np.prod(x.shape[:axis])), -1)
    one_hot = np.eye(rows.shape[1], dtype=x.dtype)[rows.argmax(axis=1)]
    return one_hot.reshape(x.shape)


FLATTENED = {
    "Softmax": _flat_softmax,
    "LogSoftmax": lambda x, axis: np.log(_flat_softmax(x, axis)),
    "Hardmax": _flat_hardmax,
}


@pytest.mark.parametrize("opset", [7, 11])
@pytest.mark.parametrize("axis", [None, 0, 2, -1])
@pytest.mark.parametrize("op", list(FLATTENED))
def test_softmax_family_before_13_flattens_at_axis(one_node, op, axis, opset):
    # onnx's reference evaluator normalises along `axis` only; opset < 13 flattens.
    attributes = {} if axis is None else {"axis": axis}
    node = oh.make_node(op, ["x"], ["y"], **attributes)
    (got,) = one_node.run(one_node.model(node, {"x": X3}, opset), {"x": X3})
    want = FLATTENED[op](X3, (1 if axis is None else axis) % X3.ndim)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
