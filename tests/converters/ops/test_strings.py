"""String ops: forms the ONNX backend cases leave out, compared with onnx's reference
evaluator (or written-out values) on one-node models."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep

WORDS = np.array(["cat", "dog", "emu", "cat"], dtype=object)


def _model(node, inputs: dict, outputs: list):
    def value(name, array):
        return oh.make_tensor_value_info(name, oh.np_dtype_to_tensor_dtype(array.dtype), None)

    graph = oh.make_graph(
        [node],
        "one_node",
        [value(n, v) for n, v in inputs.items()],
        [value(n, v) for n, v in zip(node.output, outputs, strict=True)],
    )
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 21)])


def assert_same(node, inputs: dict, expected=None) -> None:
    if expected is None:
        expected = ReferenceEvaluator(_model(node, inputs, [np.array(0)] * len(node.output)))
        expected = expected.run(None, inputs)
    expected = [np.asarray(e, object if np.asarray(e).dtype.kind == "U" else None)
                for e in expected]  # fmt: skip
    with jax.enable_x64(True):
        actual = AxonnxRep(_model(node, inputs, expected)).run(dict(inputs))
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
        np.testing.assert_array_equal(got, want)


STRING_CASES = {
    "normalizer_stopwords_case_insensitive_upper": (
        oh.make_node(
            "StringNormalizer", ["x"], ["y"], case_change_action="UPPER", stopwords=["DOG"]
        ),
        {"x": WORDS.reshape(1, 4)},
    ),  # fmt: skip
    "normalizer_everything_dropped": (
        oh.make_node("StringNormalizer", ["x"], ["y"], stopwords=["cat", "dog", "emu"]),
        {"x": WORDS},
    ),
    "split_multichar_delimiter": (
        oh.make_node("StringSplit", ["x"], ["y", "n"], delimiter="::", maxsplit=1),
        {"x": np.array([["a::b::c", ""], ["::x", "y"]], dtype=object)},
    ),
    "regex_z_anchor": (
        oh.make_node("RegexFullMatch", ["x"], ["y"], pattern=r"[a-z]+\z"),
        {"x": np.array(["abc", "ab1", ""], dtype=object)},
    ),
}
STRING_EXPECTED = {"regex_z_anchor": [np.array([True, False, False])]}


@pytest.mark.parametrize("name", sorted(STRING_CASES))
def test_string_ops_match_reference(name):
    node, inputs = STRING_CASES[name]
    assert_same(node, inputs, expected=STRING_EXPECTED.get(name))
