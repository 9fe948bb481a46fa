"""ONNX-ML ops onnx's backend tests leave out (SVMClassifier, SVMRegressor, ZipMap,
CastMap, DictVectorizer): one-node models through `ax.import_onnx` + `ax.predict`,
compared with onnxruntime, maps and sequences of maps included (Python dicts and
lists of dicts on both sides)."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh

import axonnx as ax
from axonnx.converters.ops.traditional_ml_maps import cast_map, dict_vectorizer, zip_map
from axonnx.converters.ops.traditional_ml_svm import svm_classifier
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

ML = "ai.onnx.ml"
RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3)).astype(np.float32)


def tensor(elem: int, shape=None) -> onnx.TypeProto:
    return oh.make_tensor_type_proto(elem, shape)


def map_of(key: int, value: int) -> onnx.TypeProto:
    return oh.make_map_type_proto(key, tensor(value))


def seq_of_maps(key: int) -> onnx.TypeProto:
    return oh.make_sequence_type_proto(map_of(key, TP.FLOAT))


def model_of(node, inputs: dict, outputs: dict) -> onnx.ModelProto:
    """One node; `inputs`/`outputs` map names to TypeProtos (or, for inputs, arrays)."""

    def typed(name, t):
        if isinstance(t, np.ndarray):
            t = tensor(oh.np_dtype_to_tensor_dtype(t.dtype), t.shape)
        return oh.make_value_info(name, t)

    graph = oh.make_graph(
        [node],
        "one_node",
        [typed(n, t) for n, t in inputs.items()],
        [typed(n, t) for n, t in outputs.items()],
    )
    opsets = [oh.make_opsetid("", 17), oh.make_opsetid(ML, 1)]
    return oh.make_model(graph, opset_imports=opsets, ir_version=8)


def run_axonnx(model: onnx.ModelProto, feed: dict) -> list:
    """`ax.import_onnx` + `ax.predict` (64-bit types on), outputs in graph order."""
    with jax.enable_x64(True):
        graph_model, state = ax.import_onnx(model)
        outputs = ax.predict(graph_model, state, feed)
        return [outputs[o.name] for o in model.graph.output]


def run_both(model: onnx.ModelProto, feed: dict) -> tuple[list, list]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return run_axonnx(model, feed), session.run(None, feed)


def assert_matches(actual, expected, rtol=1e-5, atol=1e-6) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if isinstance(want, list):  # a sequence of maps: same keys in the same order
            assert isinstance(got, list) and len(got) == len(want), (got, want)
            for got_map, want_map in zip(got, want, strict=True):
                assert list(got_map) == list(want_map)
                values = [float(v) for v in got_map.values()]
                np.testing.assert_allclose(values, list(want_map.values()), rtol, atol)
            continue
        got = np.asarray(got)
        assert got.shape == want.shape, (got.shape, want.shape)
        if want.dtype.kind in "OU":
            assert got.dtype == object
            assert got.tolist() == want.tolist()
            continue
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol, atol)


def check(node, feed: dict, outputs: dict, inputs: dict | None = None, **tolerance) -> None:
    model = model_of(node, inputs or feed, outputs)
    assert_matches(*run_both(model, feed), **tolerance)


def ml(op, inputs=("X",), outputs=("Y",), **attributes):
    return oh.make_node(op, list(inputs), list(outputs), domain=ML, **attributes)


# ---------------------------------------------------------------- SVMClassifier

SV = RNG.normal(size=(6, 3)).astype(np.float32).ravel().tolist()
KERNEL_PARAMS = {"LINEAR": [0.0, 0.0, 0.0], "POLY": [0.5, 0.25, 3.0], "RBF": [0.4, 0.0, 0.0],
                 "SIGMOID": [0.3, -0.2, 0.0]}  # fmt: skip


def _svc(classes, per_class, kernel="RBF", proba=False, labels=None, **attributes):
    pairs = classes * (classes - 1) // 2
    rng = np.random.default_rng(classes * 10 + len(kernel))
    attrs = dict(
        classlabels_ints=labels or [3 * c + 1 for c in range(classes)],
        vectors_per_class=per_class,
        support_vectors=SV[: 3 * sum(per_class)],
        coefficients=rng.normal(size=(classes - 1) * sum(per_class)).round(3).tolist(),
        rho=rng.normal(scale=0.3, size=pairs).round(3).tolist(),
        kernel_type=kernel,
        kernel_params=KERNEL_PARAMS[kernel],
    )
    if proba:
        attrs.update(
            prob_a=(-1 - rng.random(pairs)).tolist(), prob_b=rng.normal(size=pairs).tolist()
        )
    if labels and isinstance(labels[0], str):
        attrs["classlabels_strings"] = attrs.pop("classlabels_ints")
    attrs.update(attributes)
    return ml("SVMClassifier", outputs=("label", "Z"), **attrs)


def _classifier_outputs(strings=False):
    return {"label": tensor(TP.STRING if strings else TP.INT64), "Z": tensor(TP.FLOAT)}


SVC_CASES = {
    "binary_rbf": _svc(2, [2, 3]),
    "binary_linear_logistic": _svc(2, [3, 2], "LINEAR", post_transform="LOGISTIC"),
    "binary_sigmoid_softmax": _svc(2, [2, 2], "SIGMOID", post_transform="SOFTMAX"),
    "binary_poly_proba": _svc(2, [2, 2], "POLY", proba=True),
    "3class_linear": _svc(3, [2, 1, 2], "LINEAR"),
    "3class_poly": _svc(3, [2, 1, 2], "POLY"),
    "3class_rbf": _svc(3, [2, 2, 2], "RBF"),
    "3class_sigmoid": _svc(3, [1, 2, 2], "SIGMOID"),
    "3class_rbf_softmax": _svc(3, [2, 1, 2], "RBF", post_transform="SOFTMAX"),
    "3class_rbf_proba": _svc(3, [2, 2, 2], "RBF", proba=True),
    "4class_sigmoid_proba": _svc(4, [1, 2, 1, 2], "SIGMOID", proba=True),
    "4class_poly_proba_softmax": _svc(
        4, [1, 2, 1, 1], "POLY", proba=True, post_transform="SOFTMAX"
    ),
}


@pytest.mark.parametrize("name", sorted(SVC_CASES))
def test_svm_classifier(name):
    check(SVC_CASES[name], {"X": X}, _classifier_outputs())


def test_svm_classifier_string_labels():
    node = _svc(3, [2, 1, 2], "RBF", proba=True, labels=["ant", "bee", "cat"])
    check(node, {"X": X}, _classifier_outputs(strings=True))


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.int32])
def test_svm_classifier_casts_other_input_types_to_float32(dtype):
    x = (X * 3).astype(dtype)
    check(_svc(3, [2, 1, 2], "POLY"), {"X": x}, _classifier_outputs())


def test_svm_classifier_vector_input_is_one_row():
    check(_svc(3, [2, 2, 2], "RBF", proba=True), {"X": X[0]}, _classifier_outputs())


THREE_ROWS = [1.0, -2, 0.5, 0, 1, 1, -1, 0, 2]
LINEAR_CLASSES = {  # no support vectors: liblinear's form, one coefficient row per class
    "3class": dict(classlabels_ints=[0, 1, 2], coefficients=THREE_ROWS),
    "3class_softmax": dict(classlabels_ints=[5, 6, 7], coefficients=THREE_ROWS,
                           post_transform="SOFTMAX"),
    "binary_positive_weights": dict(classlabels_ints=[0, 1],
                                    coefficients=[0.1, 0.2, 0, 0.3, 0, 0.1]),
    "binary_mixed_weights": dict(classlabels_ints=[0, 1],
                                 coefficients=[0.5, -1, 0.2, -0.3, 0.4, 1]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(LINEAR_CLASSES))
def test_svm_classifier_liblinear(name):
    node = ml("SVMClassifier", outputs=("label", "Z"), rho=[0.25], kernel_params=[0.0, 0.0, 0.0],
              **LINEAR_CLASSES[name])  # fmt: skip
    check(node, {"X": X}, _classifier_outputs())


def test_svm_classifier_compiles():
    node = SVC_CASES["4class_sigmoid_proba"]
    attrs = {a.name: oh.get_attribute_value(a) for a in node.attribute}
    attrs["kernel_type"] = attrs["kernel_type"].decode()
    eager = svm_classifier(X, **attrs)
    compiled = jax.jit(lambda x: svm_classifier(x, **attrs))(X)
    for got, want in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-7)


def test_svm_classifier_rejects_binary_probit_without_probabilities():
    attrs = {a.name: oh.get_attribute_value(a) for a in _svc(2, [2, 3]).attribute}
    attrs.update(kernel_type="RBF", post_transform="PROBIT")
    with pytest.raises(UnsupportedOpError, match="PROBIT"):
        svm_classifier(X, **attrs)


# ---------------------------------------------------------------- SVMRegressor


def _svr(kernel, n=4, **attributes):
    rng = np.random.default_rng(n + len(kernel))
    attrs = dict(
        n_supports=n,
        support_vectors=SV[: 3 * n],
        coefficients=rng.normal(size=n).round(3).tolist(),
        rho=[0.125],
        kernel_type=kernel,
        kernel_params=KERNEL_PARAMS[kernel],
    )
    attrs.update(attributes)
    return ml("SVMRegressor", **attrs)


SVR_CASES = {
    "linear": _svr("LINEAR"),
    "poly": _svr("POLY", 5),
    "rbf": _svr("RBF", 6),
    "sigmoid": _svr("SIGMOID", 3),
    "one_class_rbf": _svr("RBF", 5, one_class=1),
    "liblinear": ml("SVMRegressor", coefficients=[0.5, -1.0, 2.0], rho=[-0.5],
                    kernel_params=[0.0, 0.0, 0.0]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SVR_CASES))
def test_svm_regressor(name):
    check(SVR_CASES[name], {"X": X}, {"Y": tensor(TP.FLOAT)})


# ---------------------------------------------------------------- ZipMap

ZIPMAP_CASES = {
    "int64_keys": (dict(classlabels_int64s=[7, 2, 5]), TP.INT64, X),
    "string_keys": (dict(classlabels_strings=["b", "a", "c"]), TP.STRING, X),
    "vector_input": (dict(classlabels_int64s=[1, 0, 2]), TP.INT64, X[1]),
    "no_rows": (dict(classlabels_strings=["x", "y", "z"]), TP.STRING, X[:0]),
}


@pytest.mark.parametrize("name", sorted(ZIPMAP_CASES))
def test_zipmap(name):
    attributes, key, x = ZIPMAP_CASES[name]
    check(ml("ZipMap", **attributes), {"X": x}, {"Y": seq_of_maps(key)})


def test_zipmap_gives_python_floats_when_eager_and_compiles():
    rows = np.array([[0.25, 0.75]], np.float32)
    assert zip_map(rows, classlabels_int64s=(2, 1)) == [{1: 0.75, 2: 0.25}]
    compiled = jax.jit(lambda x: zip_map(x, classlabels_int64s=(2, 1)))(rows)
    assert isinstance(compiled, list) and list(compiled[0]) == [1, 2]
    assert [float(v) for v in compiled[0].values()] == [0.75, 0.25]


def test_zipmap_rejects_a_column_count_other_than_the_labels():
    with pytest.raises(ShapeError, match="one column per label"):
        zip_map(X, classlabels_strings=("a", "b"))
    with pytest.raises(InvalidModelError, match="exactly one"):
        zip_map(X, classlabels_strings=("a", "b", "c"), classlabels_int64s=(1, 2, 3))


# ---------------------------------------------------------------- CastMap
# onnxruntime's Python API feeds maps of floats only (map(int64, float), map(string,
# float)): maps of other value types are checked against values written out from its
# kernels' code (onnxruntime/core/providers/cpu/ml/cast_map.cc, dictvectorizer.h).

FLOAT_MAP = {2: 1.25, 0: -3.75, 4: 2.5, 7: 8.0}
STRING_MAP = {3: "1.5", 0: "-2", 5: " 7e1", 1: "4"}
OUT = {"TO_FLOAT": TP.FLOAT, "TO_INT64": TP.INT64, "TO_STRING": TP.STRING}
STRING_CASTS = {  # keys in order 0, 1, 3, 5; SPARSE with max_map=5 drops key 5
    ("TO_FLOAT", "DENSE"): np.array([[-2.0, 4.0, 1.5, 70.0]], np.float32),
    ("TO_FLOAT", "SPARSE"): np.array([[-2.0, 4.0, 0.0, 1.5, 0.0]], np.float32),
    ("TO_INT64", "DENSE"): np.array([[-2, 4, 1, 7]], np.int64),
    ("TO_INT64", "SPARSE"): np.array([[-2, 4, 0, 1, 0]], np.int64),
    ("TO_STRING", "DENSE"): np.array([["-2", "4", "1.5", " 7e1"]], object),
    ("TO_STRING", "SPARSE"): np.array([["-2", "4", "0.f", "1.5", "0.f"]], object),
}


@pytest.mark.parametrize("form", ["DENSE", "SPARSE"])
@pytest.mark.parametrize("cast_to", sorted(OUT))
def test_cast_map_of_floats(cast_to, form):
    node = ml("CastMap", cast_to=cast_to, map_form=form, max_map=5)
    inputs = {"X": map_of(TP.INT64, TP.FLOAT)}
    check(node, {"X": FLOAT_MAP}, {"Y": tensor(OUT[cast_to])}, inputs)


@pytest.mark.parametrize("cast_to, form", sorted(STRING_CASTS))
def test_cast_map_of_strings(cast_to, form):
    node = ml("CastMap", cast_to=cast_to, map_form=form, max_map=5)
    model = model_of(node, {"X": map_of(TP.INT64, TP.STRING)}, {"Y": tensor(OUT[cast_to])})
    assert_matches(run_axonnx(model, {"X": STRING_MAP}), [STRING_CASTS[cast_to, form]])


def test_cast_map_compiles_for_numbers():
    compiled = jax.jit(lambda m: cast_map(m, map_form="SPARSE", max_map=3))({2: 1.5, 0: -1.0})
    np.testing.assert_array_equal(np.asarray(compiled), [[-1.0, 0.0, 1.5]])


def test_cast_map_rejects_negative_keys_when_sparse():
    with pytest.raises(InvalidModelError, match="non-negative"):
        cast_map({-1: 2.0}, map_form="SPARSE", max_map=3)


# ---------------------------------------------------------------- DictVectorizer

VOCABULARIES = {TP.STRING: dict(string_vocabulary=["b", "a", "d", "c"]),
                TP.INT64: dict(int64_vocabulary=[4, 1, 9])}  # fmt: skip


@pytest.mark.parametrize("key", [TP.STRING, TP.INT64], ids=["string_keys", "int64_keys"])
def test_dict_vectorizer_of_floats(key):
    given = {"a": 1.5, "c": -2.0, "zz": 9.0} if key == TP.STRING else {1: 0.5, 9: -1.25, 3: 7.0}
    node = ml("DictVectorizer", **VOCABULARIES[key])
    check(node, {"X": given}, {"Y": tensor(TP.FLOAT)}, {"X": map_of(key, TP.FLOAT)})


DICT_CASES = {  # (key type, value type, map, expected): no onnxruntime Python feed for these
    "string_to_double": (TP.STRING, TP.DOUBLE, {"d": np.float64(0.1), "b": np.float64(-3.0)},
                         np.array([[-3.0, 0.0, 0.1, 0.0]])),
    "string_to_int64": (TP.STRING, TP.INT64, {"a": 3, "d": -7}, np.array([[0, 3, -7, 0]])),
    "int64_to_string": (TP.INT64, TP.STRING, {9: "nine", 4: "four"},
                        np.array([["four", "", "nine"]], object)),
    "int64_to_double": (TP.INT64, TP.DOUBLE, {4: np.float64(2.25), 9: np.float64(1e-3)},
                        np.array([[2.25, 0.0, 1e-3]])),
    "empty": (TP.STRING, TP.FLOAT, {}, np.zeros((1, 4), np.float32)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DICT_CASES))
def test_dict_vectorizer_other_types(name):
    key, value, given, expected = DICT_CASES[name]
    node = ml("DictVectorizer", **VOCABULARIES[key])
    model = model_of(node, {"X": map_of(key, value)}, {"Y": tensor(value)})
    assert_matches(run_axonnx(model, {"X": given}), [expected])


def test_dict_vectorizer_takes_a_sequence_of_maps_and_compiles():
    maps = [{"a": 1.0}, {"b": 2.0, "c": 3.0}]
    want = np.array([[0, 1, 0], [2, 0, 3]], np.float32)
    got = dict_vectorizer(maps, string_vocabulary=("b", "a", "c"))
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), want)
    compiled = jax.jit(lambda m: dict_vectorizer(m, string_vocabulary=("b", "a", "c")))(maps)
    np.testing.assert_array_equal(np.asarray(compiled), want)
