"""Traditional-ML (ai.onnx.ml) ops: forms the ONNX backend cases leave out,
compared with onnx's reference evaluator on one-node models."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep
from axonnx.errors import InvalidModelError

ML = "ai.onnx.ml"


def _value(name: str, array) -> object:
    array = np.asarray(array)
    return oh.make_tensor_value_info(name, oh.np_dtype_to_tensor_dtype(array.dtype), None)


def one_node_model(node, inputs: dict, ml_opset: int = 3, outputs=None):
    """A model of `node` alone; its outputs typed like `outputs` (arrays) when given."""
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    if outputs is None:
        outputs = [oh.make_empty_tensor_value_info(o) for o in node.output]
    else:
        outputs = [_value(n, v) for n, v in zip(node.output, outputs, strict=True)]
    graph = oh.make_graph([node], "one_node", values, outputs)
    opsets = [oh.make_opsetid("", 21), oh.make_opsetid(ML, ml_opset)]
    return oh.make_model(graph, opset_imports=opsets)


def run_axonnx(model, inputs: dict) -> list[np.ndarray]:
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return list(AxonnxRep(model).run(dict(inputs)))


def assert_same(node, inputs: dict, ml_opset: int = 3, expected=None, dtypes=None) -> None:
    """axonnx's outputs equal `expected`, or the reference evaluator's; `dtypes`
    overrides the expected dtypes where the reference departs from the spec."""
    if expected is None:
        expected = ReferenceEvaluator(one_node_model(node, inputs, ml_opset)).run(None, inputs)
    expected = [np.asarray(e, object if np.asarray(e).dtype.kind == "U" else None)
                for e in expected]  # fmt: skip
    dtypes = dtypes or [None] * len(expected)
    declared = [  # outputs typed as the spec says, where the reference departs from it
        want if dtype is None else want.astype(dtype)
        for want, dtype in zip(expected, dtypes, strict=True)
    ]
    actual = run_axonnx(one_node_model(node, inputs, ml_opset, declared), inputs)
    assert len(actual) == len(expected)
    for got, want, dtype in zip(actual, expected, dtypes, strict=True):
        assert got.shape == want.shape, (got.shape, want.shape)
        if want.dtype.kind == "O":
            np.testing.assert_array_equal(got.astype(str), want.astype(str))
            continue
        assert got.dtype == (dtype or want.dtype), (got.dtype, want.dtype)
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64), rtol=1e-5, atol=1e-6
        )


def ml(op_type, inputs=("x",), outputs=("y",), **attributes):
    return oh.make_node(op_type, list(inputs), list(outputs), domain=ML, **attributes)


X = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5], [np.nan, 4.0, 2.0]], np.float32)
XF = np.nan_to_num(X)
IDS = np.array([[0, 3], [2, 7]], np.int64)
WORDS = np.array(["cat", "dog", "emu", "cat"], dtype=object)

# A 2-tree ensemble in the TreeEnsembleRegressor/Classifier-1..3 form: tree 0 splits on
# feature 0 (then feature 2), tree 1 is a stump on feature 1.
TREES = dict(
    nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1],
    nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
    nodes_featureids=[0, 2, 0, 0, 0, 1, 0, 0],
    nodes_modes=["BRANCH_LEQ", "BRANCH_GT", "LEAF", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
    nodes_values=[0.75, 0.0, 0, 0, 0, 1.0, 0, 0],
    nodes_truenodeids=[1, 2, 0, 0, 0, 1, 0, 0],
    nodes_falsenodeids=[4, 3, 0, 0, 0, 2, 0, 0],
    nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0, 0],
)
LEAVES = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]


def _leaf_entries(prefix: str, targets: list[list[tuple[int, float]]]) -> dict:
    rows = [(t, n, c, w) for (t, n), entries in zip(LEAVES, targets) for c, w in entries]
    return {
        f"{prefix}_treeids": [r[0] for r in rows],
        f"{prefix}_nodeids": [r[1] for r in rows],
        f"{prefix}_ids": [r[2] for r in rows],
        f"{prefix}_weights": [r[3] for r in rows],
    }


REGRESSION = _leaf_entries("target", [[(0, 1.0)], [(0, -2.0), (1, 0.5)], [(1, 3.0)],
                                      [(0, 0.25)], [(1, -1.0)]])  # fmt: skip
CLASSES = _leaf_entries("class", [[(0, 0.9), (2, 0.1)], [(1, 0.7)], [(2, 0.6)],
                                  [(0, 0.2)], [(1, 0.4)]])  # fmt: skip
BINARY = _leaf_entries("class", [[(1, 0.9)], [(1, 0.2)], [(1, 0.6)], [(1, 0.1)], [(1, 0.4)]])

CASES = {
    "scaler": (ml("Scaler", offset=[1.0, 0.0, -1.0], scale=[2.0, 0.5, 1.0]), {"x": XF}),
    "normalizer_max": (ml("Normalizer", norm="MAX"), {"x": np.abs(XF)}),
    "normalizer_l1": (ml("Normalizer", norm="L1"), {"x": XF}),
    "normalizer_l2": (ml("Normalizer", norm="L2"), {"x": XF}),
    "imputer_nan": (
        ml("Imputer", imputed_value_floats=[9.0, 8.0, 7.0], replaced_value_float=np.nan),
        {"x": X},
    ),
    "imputer_int": (
        ml("Imputer", imputed_value_int64s=[-1], replaced_value_int64=3),
        {"x": IDS},
    ),
    "feature_vectorizer": (
        ml("FeatureVectorizer", ["a", "b"], inputdimensions=[2, 4]),
        {"a": XF, "b": np.arange(6, dtype=np.float32).reshape(3, 2)},  # one type: X is homogeneous
    ),
    "one_hot_ints": (ml("OneHotEncoder", cats_int64s=[7, 0, 2]), {"x": IDS}),
    "one_hot_strings": (ml("OneHotEncoder", cats_strings=["dog", "cat"]), {"x": WORDS}),
    "array_feature_extractor_vector": (
        ml("ArrayFeatureExtractor", ["x", "i"]),
        {"x": XF[0], "i": np.array([2, 0], np.int64)},
    ),
    "array_feature_extractor_strings": (
        ml("ArrayFeatureExtractor", ["x", "i"]),
        {"x": WORDS.reshape(2, 2), "i": np.array([1], np.int64)},
    ),
    "label_encoder_1_strings_to_ints": (
        ml("LabelEncoder", classes_strings=["dog", "cat"], default_int64=-5),
        {"x": WORDS},
        1,
    ),
    "label_encoder_1_ints_to_strings": (
        ml("LabelEncoder", classes_strings=["a", "b", "c"]),
        {"x": IDS},
        1,
    ),
    "label_encoder_2_floats_with_nan": (
        ml("LabelEncoder", keys_floats=[0.5, np.nan, 3.0], values_floats=[1.0, 2.0, 3.0]),
        {"x": X},
        2,
    ),
    "label_encoder_2_ints_to_strings": (
        ml("LabelEncoder", keys_int64s=[7, 3], values_strings=["seven", "three"]),
        {"x": IDS},
        2,
    ),
    "category_mapper_strings": (
        ml("CategoryMapper", cats_strings=["cat", "emu"], cats_int64s=[5, 6]),
        {"x": WORDS},
    ),
    "category_mapper_ints": (
        ml("CategoryMapper", cats_strings=["cat", "emu"], cats_int64s=[2, 7], default_string="?"),
        {"x": IDS},
    ),
    "linear_regressor": (
        ml(
            "LinearRegressor",
            coefficients=[1.0, 2.0, 3.0, 0.0, -1.0, 0.5],
            intercepts=[0.5, -1],
            targets=2,
        ),
        {"x": XF},
    ),  # fmt: skip
    "linear_classifier_softmax": (
        ml(
            "LinearClassifier",
            ["x"],
            ["label", "scores"],
            coefficients=[1.0, 2, 3, 0, -1, 0.5],
            intercepts=[0.5, -1],
            classlabels_ints=[4, 9],
            post_transform="SOFTMAX",
        ),
        {"x": XF},
    ),  # fmt: skip
    "linear_classifier_binary_logistic": (
        ml(
            "LinearClassifier",
            ["x"],
            ["label", "scores"],
            coefficients=[1.0, -2, 0.5],
            intercepts=[0.25],
            classlabels_strings=["no", "yes"],
            post_transform="LOGISTIC",
        ),
        {"x": XF},
    ),  # fmt: skip
    "tree_regressor_sum": (
        ml("TreeEnsembleRegressor", n_targets=2, base_values=[0.5, -0.5], **TREES, **REGRESSION),
        {"x": X},
    ),
    "tree_regressor_average_doubles": (
        ml(
            "TreeEnsembleRegressor",
            n_targets=2,
            aggregate_function="AVERAGE",
            **TREES,
            **REGRESSION,
        ),
        {"x": XF.astype(np.float64)},
    ),  # fmt: skip
    "tree_classifier_softmax": (
        ml(
            "TreeEnsembleClassifier",
            ["x"],
            ["label", "scores"],
            classlabels_int64s=[10, 20, 30],
            post_transform="SOFTMAX",
            **TREES,
            **CLASSES,
        ),
        {"x": XF},
    ),  # fmt: skip
    "tree_classifier_binary_strings": (
        ml(
            "TreeEnsembleClassifier",
            ["x"],
            ["label", "scores"],
            classlabels_strings=["a", "b"],
            **TREES,
            **BINARY,
        ),
        {"x": XF},
    ),  # fmt: skip
}


# Where the reference evaluator lacks the op or form (CategoryMapper, LabelEncoder-1,
# NaN keys) the expected values are written out.
EXPECTED = {
    "category_mapper_strings": [[5, -1, 6, 5]],
    "category_mapper_ints": [np.array([["?", "?"], ["cat", "emu"]], object)],
    "label_encoder_1_strings_to_ints": [[1, 0, -5, 1]],
    "label_encoder_1_ints_to_strings": [np.array([["a", "_Unused"], ["c", "_Unused"]], object)],
    "label_encoder_2_floats_with_nan": [
        np.array([[-0.0, -0.0, 3.0], [1.0, -0.0, -0.0], [2.0, -0.0, -0.0]], np.float32)
    ],
}
EXPECTED = {k: [np.asarray(v, np.int64) if isinstance(v, list) else v for v in values]
            for k, values in EXPECTED.items()}  # fmt: skip
# The spec's output type is float; the reference keeps the input's.
SPEC_DTYPES = {
    "feature_vectorizer": [np.float32],
    "tree_regressor_average_doubles": [np.float32],
}


BINARY_STRING_LABELS = pytest.mark.xfail(
    strict=True,
    reason="binary TreeEnsembleClassifier with string labels picks the other label than "
    "onnx's reference evaluator; not yet investigated",
)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=BINARY_STRING_LABELS) if n == "tree_classifier_binary_strings" else n
        for n in sorted(CASES)
    ],
)
def test_matches_reference(name):
    node, inputs, *opset = CASES[name]
    assert_same(node, inputs, *opset, expected=EXPECTED.get(name), dtypes=SPEC_DTYPES.get(name))


def test_tree_ensemble_5_min_with_one_leaf_tree():
    node = ml(
        "TreeEnsemble",
        n_targets=2,
        aggregate_function=2,
        tree_roots=[0, 1],
        nodes_featureids=[1, 0],
        nodes_modes=oh.make_tensor("m", 2, [2], [3, 0]),
        nodes_splits=oh.make_tensor("s", 1, [2], [0.0, 0.0]),
        nodes_truenodeids=[0, 1],
        nodes_trueleafs=[1, 1],
        nodes_falsenodeids=[2, 1],
        nodes_falseleafs=[1, 1],
        leaf_targetids=[0, 1, 0],
        leaf_weights=oh.make_tensor("w", 1, [3], [1.0, 2.0, 0.0]),
    )
    x = np.array([[0.0, 1.0], [0.0, -1.0]], np.float32)
    assert_same(node, {"x": x}, 5)


def test_one_hot_encoder_zeros_0_rejects_unknown_values():
    node = ml("OneHotEncoder", cats_strings=["cat", "dog"], zeros=0)
    with pytest.raises(InvalidModelError, match="zeros=0"):
        run_axonnx(one_node_model(node, {"x": WORDS}), {"x": WORDS})
