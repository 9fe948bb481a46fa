"""Element-wise ops: forms the ONNX backend cases leave out (old opsets, attribute
forms, string casts, float8e8m0 rounding modes, wrapping integer casts, …), compared
with onnx's reference evaluator."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import TensorProto, numpy_helper
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep
from axonnx.converters.ops import elementwise
from axonnx.errors import InvalidModelError, UnsupportedOpError


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
    expected = ReferenceEvaluator(model).run(None, inputs)
    actual = run_axonnx(model, inputs)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if want.dtype.kind in "OU":
            np.testing.assert_array_equal(got.astype(str), want.astype(str))
            continue
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-7
        )


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
def test_matches_reference(name):
    node, inputs, opset = CASES[name]
    assert_same(node, inputs, opset)


def _reference(node, inputs: dict, opset: int) -> np.ndarray:
    return ReferenceEvaluator(one_node_model(node, inputs, opset)).run(None, inputs)[0]


# String outputs cannot leave jax.jit (the runtime returns them as graph outputs), so
# the string-producing forms are checked on the op functions directly.
def test_cast_number_to_string():
    x = np.array([1.5, -2.0, 0.1, np.inf], np.float32)
    node = oh.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    got = elementwise.cast_6(x, to=TensorProto.STRING)
    assert got.dtype == object
    np.testing.assert_array_equal(got.astype(str), _reference(node, {"x": x}, 13).astype(str))


def test_where_strings():
    inputs = {
        "c": np.array([True, False, True]),
        "x": np.array(["a", "b", "c"], object),
        "y": np.array(["d", "e", "f"], object),
    }
    node = oh.make_node("Where", ["c", "x", "y"], ["z"])
    got = elementwise.where(inputs["c"], inputs["x"], inputs["y"])
    np.testing.assert_array_equal(got, _reference(node, inputs, 16))


def test_cast_to_string_of_runtime_data_is_unsupported():
    node = oh.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    model = one_node_model(node, {"x": X}, 13)
    with pytest.raises(UnsupportedOpError, match="STRING"):
        run_axonnx(model, {"x": X})


def test_gelu_unknown_approximation_is_unsupported():
    node = oh.make_node("Gelu", ["x"], ["y"], approximate="erf")
    model = one_node_model(node, {"x": X}, 20)
    with pytest.raises(UnsupportedOpError, match="approximate"):
        run_axonnx(model, {"x": X})


def test_bitcast_rejects_different_widths():
    node = oh.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT64)
    model = one_node_model(node, {"x": X}, 26)
    with pytest.raises(InvalidModelError, match="bit width"):
        run_axonnx(model, {"x": X})


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
def test_softmax_family_before_13_flattens_at_axis(op, axis, opset):
    # onnx's reference evaluator normalises along `axis` only; opset < 13 flattens.
    attributes = {} if axis is None else {"axis": axis}
    node = oh.make_node(op, ["x"], ["y"], **attributes)
    (got,) = run_axonnx(one_node_model(node, {"x": X3}, opset), {"x": X3})
    want = FLATTENED[op](X3, (1 if axis is None else axis) % X3.ndim)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
