"""The import's simplification (`converters/simplify.py`): constants and static shapes
fold, identities, duplicates and dead nodes go, weights and names stay; outputs match
onnxruntime (and onnx's reference evaluator for the hand-built graphs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import axonnx as ax

MODELS = Path(__file__).resolve().parents[2] / "models"
F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    return model


def _reshape_model() -> onnx.ModelProto:
    """x (batch, 4) → reshape to (batch, 2, 2) through PyTorch-style shape arithmetic,
    a dead branch, an Identity, two equal constants, and a weight behind a Transpose."""
    c = numpy_helper.from_array
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=c(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
        helper.make_node("Constant", [], ["axes"], value=c(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["b", "axes"], ["b1"]),
        helper.make_node("Constant", [], ["two_a"], value=c(np.array([2], np.int64))),
        helper.make_node("Constant", [], ["two_b"], value=c(np.array([2], np.int64))),
        helper.make_node("Concat", ["b1", "two_a", "two_b"], ["shape"], axis=0),
        helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["h"]),
        helper.make_node("Identity", ["h"], ["h_id"]),
        helper.make_node("Reshape", ["h_id", "shape"], ["y"]),
        helper.make_node("Neg", ["h"], ["unused"]),  # dead: no output needs it
    ]
    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4) / 10, "w")
    x = helper.make_tensor_value_info("x", F, ["batch", 4])
    y = helper.make_tensor_value_info("y", F, ["batch", 2, 2])
    return _model(nodes, [x], [y], [w])


def _check_against_reference(proto, graph, state, feeds):
    expected = ReferenceEvaluator(proto).run(None, feeds)
    got = ax.predict(graph, state, feeds)
    for output, value in zip(proto.graph.output, expected, strict=True):
        np.testing.assert_allclose(np.asarray(got[output.name]), value, rtol=1e-6, atol=1e-6)


def test_symbolic_batch_stays_symbolic():
    proto = _reshape_model()
    graph, state = ax.import_onnx(proto)
    counts = graph.meta["onnx_simplified"]
    # Shape(x) reads the symbolic batch: it and its Gather/Unsqueeze/Concat stay;
    # the constants fold, the two equal [2] merge, Identity and Neg go.
    assert counts["nodes_before"] == 13
    assert counts["identities"] == 1 and counts["dead"] == 1 and counts["deduplicated"] >= 1
    assert counts["nodes_after"] == 7  # Shape Gather Unsqueeze Concat Transpose MatMul Reshape
    assert "w" in state.params  # the weight is not folded through its Transpose
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        _check_against_reference(proto, graph, state, {"x": x})


def test_bound_batch_folds_the_shape_arithmetic():
    proto = _reshape_model()
    graph, state = ax.import_onnx(proto, dims={"batch": 3})
    counts = graph.meta["onnx_simplified"]
    assert counts["nodes_after"] == 3  # Transpose (of a weight), MatMul, Reshape
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    _check_against_reference(proto, graph, state, {"x": x})


def test_without_simplify_every_node_stays():
    graph, _ = ax.import_onnx(_reshape_model(), simplify=False)
    assert "onnx_simplified" not in graph.meta


def test_random_ops_and_graph_outputs_are_not_folded():
    nodes = [
        helper.make_node("RandomUniform", [], ["r"], shape=[2], seed=1.0),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.ones(2, "f"))),
        helper.make_node("Add", ["r", "k"], ["y"]),
        helper.make_node("Mul", ["k", "k"], ["z"]),  # constant, but a graph output
    ]
    outputs = [helper.make_tensor_value_info(n, F, [2]) for n in ("y", "z")]
    graph, state = ax.import_onnx(_model(nodes, [], outputs))
    counts = graph.meta["onnx_simplified"]
    assert counts["folded"] == 1  # only the Constant
    assert counts["nodes_after"] == 3
    np.testing.assert_array_equal(np.asarray(ax.predict(graph, state, {})["z"]), [1, 1])


def test_a_value_a_subgraph_reads_keeps_its_name():
    c = numpy_helper.from_array
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["outer"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", F, [2])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["outer"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", F, [2])],
    )
    nodes = [
        helper.make_node("Identity", ["x"], ["outer"]),
        helper.make_node("Constant", [], ["cond"], value=c(np.array(False))),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph),
    ]
    x = helper.make_tensor_value_info("x", F, [2])
    proto = _model(nodes, [x], [helper.make_tensor_value_info("y", F, [2])])
    graph, state = ax.import_onnx(proto)
    assert graph.meta["onnx_simplified"]["identities"] == 0  # `outer` is read inside
    feeds = {"x": np.array([1.0, -2.0], np.float32)}
    _check_against_reference(proto, graph, state, feeds)


def _session(model) -> ort.InferenceSession:
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", ["bert_tiny_torchscript", "bert_tiny_dynamo", "lstm_classifier"])
def test_shipped_models_shrink_and_round_trip(name, tmp_path):
    path = MODELS / f"{name}.onnx"
    original = onnx.load(str(path))
    graph, state = ax.import_onnx(path)
    counts = graph.meta["onnx_simplified"]
    assert counts["nodes_before"] == len(original.graph.node)
    assert counts["nodes_after"] <= counts["nodes_before"]
    exported = ax.export_onnx(graph, state, tmp_path / "out.onnx")
    weights = {
        t.name: numpy_helper.to_array(t)
        for t in original.graph.initializer
        if t.data_type == F and np.prod(t.dims) > 1
    }
    after = {t.name: numpy_helper.to_array(t) for t in exported.graph.initializer}
    for weight, value in weights.items():
        assert after[weight].tobytes() == value.tobytes(), weight
    vocab = 100 if name.startswith("lstm") else 1000
    rng = np.random.default_rng(0)
    for sequence in (5, 11):  # symbolic dims stay symbolic: two lengths, one import
        feeds = {}
        for value in _session(str(path)).get_inputs():
            shape = [2 if d == "batch" else sequence for d in value.shape]
            high = 2 if value.name in ("attention_mask", "token_type_ids") else vocab
            feeds[value.name] = rng.integers(0, high, shape)
        expected = _session(str(path)).run(None, feeds)
        got = _session(str(tmp_path / "out.onnx")).run(None, feeds)
        ours = ax.predict(graph, state, feeds)
        for output, e, g in zip(original.graph.output, expected, got, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(np.asarray(ours[output.name]), e, rtol=1e-4, atol=1e-5)


def test_import_report_gives_nodes_before_and_after():
    from axonnx.cli.report import mapping_report

    graph, state = ax.import_onnx(MODELS / "bert_tiny_torchscript.onnx")
    counts = graph.meta["onnx_simplified"]
    line = f"ONNX nodes: {counts['nodes_before']} → {counts['nodes_after']}"
    assert line in mapping_report(graph, state)


def test_static_entries_of_a_symbolic_shape_fold_and_repeats_merge():
    """Shape(x)[1] is 4 although the batch is symbolic; two equal Relus of one scope
    become one; a Cast of a float to float goes."""
    c = numpy_helper.from_array
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/m/Shape"),
        helper.make_node("Constant", [], ["one"], value=c(np.array(1, np.int64))),
        helper.make_node("Gather", ["s", "one"], ["width"], axis=0, name="/m/Gather"),
        helper.make_node("Constant", [], ["axes"], value=c(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["width", "axes"], ["w1"], name="/m/Unsqueeze"),
        helper.make_node("Constant", [], ["minus"], value=c(np.array([-1], np.int64))),
        helper.make_node("Concat", ["minus", "w1"], ["shape"], axis=0, name="/m/Concat"),
        helper.make_node("Cast", ["x"], ["xf"], to=F, name="/m/Cast"),
        helper.make_node("Relu", ["xf"], ["r0"], name="/m/Relu"),
        helper.make_node("Relu", ["xf"], ["r1"], name="/m/Relu_1"),
        helper.make_node("Add", ["r0", "r1"], ["sum"], name="/m/Add"),
        helper.make_node("Reshape", ["sum", "shape"], ["y"], name="/m/Reshape"),
    ]
    x = helper.make_tensor_value_info("x", F, ["batch", 4])
    proto = _model(nodes, [x], [helper.make_tensor_value_info("y", F, ["batch", 4])])
    graph, state = ax.import_onnx(proto)
    counts = graph.meta["onnx_simplified"]
    assert counts["repeated"] == 1 and counts["identities"] == 1
    assert counts["nodes_after"] == 3  # Relu, Add, Reshape with a constant shape
    for batch in (1, 5):
        feeds = {"x": np.random.default_rng(batch).standard_normal((batch, 4)).astype("f")}
        _check_against_reference(proto, graph, state, feeds)


def test_bound_dims_fold_more_of_bert_and_still_match():
    path = MODELS / "bert_tiny_torchscript.onnx"
    free, _ = ax.import_onnx(path)
    graph, state = ax.import_onnx(path, dims={"batch": 2, "sequence": 7})
    assert (
        graph.meta["onnx_simplified"]["nodes_after"] < free.meta["onnx_simplified"]["nodes_after"]
    )
    rng = np.random.default_rng(3)
    feeds = {
        "input_ids": rng.integers(0, 1000, (2, 7)),
        "attention_mask": rng.integers(0, 2, (2, 7)),
        "token_type_ids": rng.integers(0, 2, (2, 7)),
    }
    expected = _session(str(path)).run(None, feeds)
    got = ax.predict(graph, state, feeds)
    for name, e in zip(("last_hidden_state", "pooler_output"), expected, strict=True):
        np.testing.assert_allclose(np.asarray(got[name]), e, rtol=1e-4, atol=1e-5)
