"""ax.validate against onnxruntime: matches, caught mismatches, bisecting, inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.converters.inputs import make_inputs, read_inputs
from axonnx.converters.report import compare

MODELS = Path(__file__).resolve().parents[2] / "models"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _two_layer_model(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
        for n, s in [
            ("fc1.weight", (3, 4)),
            ("fc1.bias", (4,)),
            ("fc2.weight", (4, 2)),
            ("fc2.bias", (2,)),
        ]
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.weight"], ["h0"], name="fc1_matmul"),
        helper.make_node("Add", ["h0", "fc1.bias"], ["h1"], name="fc1_add"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "fc2.weight"], ["h3"], name="fc2_matmul"),
        helper.make_node("Add", ["h3", "fc2.bias"], ["y"], name="fc2_add"),
    ]
    graph = helper.make_graph(
        nodes,
        "two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        inits,
    )
    path = tmp_path / "two.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path
    )
    return path


@pytest.mark.parametrize(
    "name",
    [
        "mlp.onnx",
        "cnn.onnx",
        "bert_tiny_torchscript.onnx",
        "bert_tiny_dynamo.onnx",
        "lstm_classifier.onnx",
    ],
)
def test_shipped_models_pass(name):
    report = ax.validate(MODELS / name, dims={"batch": 2, "sequence": 8})
    assert report.passed, str(report)


@pytest.mark.parametrize("path", sorted(LIGHT.glob("*.onnx")), ids=lambda p: p.stem)
def test_light_zoo_models_pass(path):
    # The light models' weights are constants that drive most of their logits to
    # 1e9..1e31, all equal: their final Softmax is uniform only if every logit rounds
    # the same way, which depends on the matmul's summation order (threads). So every
    # value up to the logits must match; the final Softmax may then amplify rounding.
    # (When only the final output differs, bisecting finds no wrong intermediate value,
    # or names the final Softmax.)
    report = ax.validate(path, bisect=True)
    wrong = report.first_wrong_node
    last = onnx.load(path).graph.node[-1]
    only_the_softmax = last.op_type == "Softmax" and (wrong is None or wrong.name == last.name)
    assert report.passed or only_the_softmax, str(report)


def test_perturbed_parameter_is_caught_and_bisect_names_its_node(tmp_path):
    path = _two_layer_model(tmp_path)
    model, state = ax.import_onnx(path)
    params = {k: dict(v) for k, v in state.params.items()}
    (layer,) = [k for k in params if "fc2" in k]
    params[layer]["bias"] = params[layer]["bias"] + 0.5
    report = ax.validate(path, model=model, params=ax.ModelState(params, state.state), bisect=True)
    assert not report.passed
    assert report.outputs[0].mismatches > 0
    assert report.first_wrong_node is not None
    assert report.first_wrong_node.name == "fc2_add"
    assert report.first_wrong_node.output.max_abs_error == pytest.approx(0.5, rel=1e-5)


def test_first_layer_perturbation_is_found_before_later_nodes(tmp_path):
    path = _two_layer_model(tmp_path)
    model, state = ax.import_onnx(path)
    params = {k: dict(v) for k, v in state.params.items()}
    (layer,) = [k for k in params if "fc1" in k]
    params[layer]["kernel"] = params[layer]["kernel"] * 1.5
    report = ax.validate(path, model=model, params=ax.ModelState(params, state.state), bisect=True)
    assert report.first_wrong_node.name == "fc1_add"


def test_npz_and_pb_inputs_give_the_same_report(tmp_path):
    path = _two_layer_model(tmp_path)
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "input_0.pb").write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    proto = onnx.load(path)
    from_npz, from_pb = read_inputs(tmp_path / "in.npz"), read_inputs(folder, proto)
    np.testing.assert_array_equal(from_npz["x"], from_pb["x"])
    report = ax.validate(path, from_pb)
    assert report.passed and report.outputs[0].actual_shape == [4, 2]


def test_symbolic_dims_integer_and_boolean_inputs(tmp_path):
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "ids"], ["rows"]),
            helper.make_node("Cast", ["keep"], ["keepf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["keepf", "axes"], ["keep3"]),
            helper.make_node("Mul", ["rows", "keep3"], ["y"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("keep", TensorProto.BOOL, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", 4])],
        [
            numpy_helper.from_array(np.arange(28, dtype=np.float32).reshape(7, 4), "table"),
            numpy_helper.from_array(np.array([2], np.int64), "axes"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    inputs = make_inputs(proto, dims={"batch": 3, "sequence": 5}, seed=1)
    assert inputs["ids"].shape == (3, 5) and inputs["ids"].max() < 7
    assert inputs["keep"].dtype == np.bool_
    report = ax.validate(proto, dims={"batch": 3, "sequence": 5})
    assert report.passed and report.outputs[0].actual_shape == [3, 5, 4]


def test_json_report_schema(tmp_path):
    report = ax.validate(_two_layer_model(tmp_path), bisect=True)
    document = json.loads(json.dumps(report.to_dict()))
    assert set(document) == {
        "model",
        "passed",
        "bisected",
        "precision",
        "outputs",
        "first_wrong_node",
        "requantization",
    }
    assert set(document["outputs"][0]) == {
        "name",
        "expected_shape",
        "actual_shape",
        "dtype",
        "max_abs_error",
        "max_rel_error",
        "mismatches",
        "nonfinite",
        "rtol",
        "atol",
        "passed",
        "precision",
        "step",
        "within_step",
        "requantized",
        "verdict",
    }
    assert document["precision"] == "float32" and document["outputs"][0]["verdict"] == "ok"
    assert document["passed"] is True and document["first_wrong_node"] is None
    assert document["requantization"] is None  # no run-time quantization to replay


def test_compare_counts_against_numpy():
    rng = np.random.default_rng(3)
    expected = rng.standard_normal(100).astype(np.float32)
    actual = expected + np.where(rng.random(100) < 0.1, 1e-2, 0.0).astype(np.float32)
    result = compare("y", expected, actual, rtol=1e-4, atol=1e-5)
    outside = ~np.isclose(actual, expected, rtol=1e-4, atol=1e-5)
    assert result.mismatches == int(outside.sum())
    assert result.max_abs_error == pytest.approx(float(np.abs(actual - expected).max()))


def test_default_atol_grows_with_the_outputs_largest_magnitude():
    # float32 rounding over a deep net is relative to the magnitudes summed: an output
    # near zero next to values of 1e3 carries absolute errors of ~1e-6 of 1e3
    expected = np.array([1000.0, -200.0, 1e-3, 0.0], np.float32)
    actual = expected + np.array([1e-2, 0.0, 5e-3, -5e-3], np.float32)
    result = compare("y", expected, actual)
    scaled_atol = 1e-5 + 1e-5 * 1000.0
    assert result.atol == pytest.approx(scaled_atol)
    assert result.passed == bool(np.allclose(actual, expected, rtol=1e-4, atol=scaled_atol))
    assert result.passed
    wrong = expected * np.float32(1 + 1e-3)  # 0.1% off everywhere: a real error
    assert compare("y", expected, wrong).mismatches == 2
    assert compare("y", expected, actual, atol=1e-5).mismatches == 2  # a given atol is kept


def test_nan_in_axonnx_output_is_reported():
    result = compare("y", np.ones(3, np.float32), np.array([1, np.nan, 1], np.float32))
    assert not result.passed and result.nonfinite == 1


def test_assert_matches_onnxruntime_raises_with_the_report(tmp_path):
    path = _two_layer_model(tmp_path)
    model, state = ax.import_onnx(path)
    params = {k: {n: v * 2 for n, v in d.items()} for k, d in state.params.items()}
    ax.testing.assert_matches_onnxruntime(path)
    with pytest.raises(AssertionError, match="MISMATCH"):
        ax.testing.assert_matches_onnxruntime(
            path, model=model, params=ax.ModelState(params, state.state)
        )
