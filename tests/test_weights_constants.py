"""Weights vs constants: each initializer of an imported file is a trainable weight or a
constant, by type and by use; the counts add up to the file; training and freezing
touch weights only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import optax
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.cli.main import main
from axonnx.freezing import frozen_paths
from axonnx.summary import summary_data

BERT = Path(__file__).resolve().parents[1] / "models" / "bert_tiny_torchscript.onnx"
F = TensorProto.FLOAT


def test_bert_counts_add_up_to_the_file():
    proto = onnx.load(str(BERT))
    in_file = sum(math.prod(t.dims) for t in proto.graph.initializer)
    model, state = ax.import_onnx(BERT)
    counts = summary_data(model)["onnx_initializers"]
    assert counts["trainable"] + counts["constants"] == in_file
    leaves = [np.asarray(v) for v in _leaves(state.params)]
    assert counts["trainable"] == sum(v.size for v in leaves)  # every weight is trainable
    text = CliRunner().invoke(main, ["summary", str(BERT)]).output
    line = f"ONNX initializers: {in_file} values = {counts['trainable']} trainable + "
    assert line + f"{counts['constants']} constants" in text
    data = json.loads(CliRunner().invoke(main, ["summary", str(BERT), "--json"]).output)
    assert data["onnx_initializers"] == counts


def _leaves(tree):
    import jax

    return jax.tree_util.tree_leaves(tree)


def _paths(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _paths(value, prefix + (key,))
        else:
            yield prefix + (key,)


def _mixed_model() -> onnx.ModelProto:
    """y = Gather(Where(x < thresholds, x @ w + b, 0), int(positions), axis=1) * scale:
    w and b are weights; thresholds (compared), positions (cast to integers), scale (a
    float scalar) and the int64 axes are constants."""
    rng = np.random.default_rng(0)
    arrays = {
        "w": rng.standard_normal((4, 4)).astype(np.float32),
        "b": rng.standard_normal(4).astype(np.float32),
        "thresholds": np.array([0.5, -0.5, 1.0, 0.0], np.float32),
        "positions": np.array([3.0, 2.0, 1.0, 0.0], np.float32),
        "scale": np.array(0.5, np.float32),
        "zero": np.array(0.0, np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["hb"]),
        helper.make_node("Less", ["x", "thresholds"], ["m"]),
        helper.make_node("Where", ["m", "hb", "zero"], ["masked"]),
        helper.make_node("Cast", ["positions"], ["idx"], to=TensorProto.INT64),
        helper.make_node("Gather", ["masked", "idx"], ["g"], axis=1),
        helper.make_node("Mul", ["g", "scale"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mixed",
        [helper.make_tensor_value_info("x", F, ["batch", 4])],
        [helper.make_tensor_value_info("y", F, ["batch", 4])],
        [numpy_helper.from_array(v, k) for k, v in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def _weight_names(model) -> set[str]:
    """The ONNX names of the model's parameters (a layer's or a lone weight's)."""
    from axonnx.plan import plan

    return {s.meta.get("onnx_name") for n in plan(model).order for s in n.params}


def test_initializers_classified_by_use():
    proto = _mixed_model()
    model, state = ax.import_onnx(proto)
    assert _weight_names(model) == {"w", "b"}
    assert sum(np.asarray(v).size for v in _leaves(state.params)) == 16 + 4
    counts = model.meta["onnx_initializers"]
    assert counts == {
        "trainable": 16 + 4,
        "trainable_bytes": 80,
        "constants": 4 + 4 + 1 + 1,
        "constants_bytes": 40,
    }
    frozen = frozen_paths(ax.freeze(model))  # every weight, and nothing else
    assert frozen == {tuple(p) for p in _paths(state.params)} and len(frozen) == 2
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        np.asarray(ax.predict(model, state, {"x": x})["y"]),
        session.run(None, {"x": x})[0],
        rtol=1e-6,
        atol=1e-6,
    )


def test_training_moves_weights_and_keeps_constants(tmp_path):
    proto = _mixed_model()
    model, state = ax.import_onnx(proto)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    batches = [
        ({"x": x[i : i + 4]}, rng.standard_normal((4, 4)).astype(np.float32)) for i in (0, 4)
    ]
    loop = ax.Loop.trainer(model["y"], "mean_squared_error", optax.sgd(0.1))
    trained = loop.run(batches, epochs=2, initial_state=state, progress=False)
    exported = ax.export_onnx(model, trained, tmp_path / "trained.onnx")
    before = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    after = {t.name: numpy_helper.to_array(t) for t in exported.graph.initializer}
    for name in ("w", "b"):
        assert not np.array_equal(after[name], before[name]), name
    for name in ("thresholds", "scale"):  # constants: unchanged (positions folded away)
        assert after[name].tobytes() == before[name].tobytes(), name
    session = ort.InferenceSession(
        str(tmp_path / "trained.onnx"), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(
        session.run(None, {"x": x})[0],
        np.asarray(ax.predict(model, trained, {"x": x})["y"]),
        rtol=1e-5,
        atol=1e-6,
    )
