"""Flax models exported by jax2onnx import and run as onnxruntime runs them, and layer
names made on import never collide with plain parameters, whatever the exporter
named the initializers.

The .onnx files are made by tests/converters/jax2onnx_models/make_jax2onnx_models.py
(jax2onnx names initializers `const_0`, `const_1`, `const_12`, ...: the common prefix
`const_1` of a Gemm's `const_12` and `const_13` once named a dense layer over the plain
parameter `const_1`, and the import crashed with a bare TypeError).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax

FOLDER = Path(__file__).resolve().parent / "jax2onnx_models"
MODELS = {"mlp": (3, 16), "transformer_block": (3, 8, 32)}


def _onnxruntime(proto: onnx.ModelProto | str, feed: dict) -> list[np.ndarray]:
    source = proto if isinstance(proto, str) else proto.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feed)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jax2onnx_model_matches_onnxruntime(name):
    path = str(FOLDER / f"{name}.onnx")
    proto = onnx.load(path)
    x = np.random.default_rng(0).normal(size=MODELS[name]).astype(np.float32)
    feed = {proto.graph.input[0].name: x}
    (want,) = _onnxruntime(path, feed)
    model, state = ax.import_onnx(path)
    got = ax.predict(model, state, feed)
    (output,) = [o.name for o in proto.graph.output]
    assert np.asarray(got[output]).shape == want.shape
    np.testing.assert_allclose(np.asarray(got[output]), want, rtol=1e-4, atol=1e-5)


def test_transformer_block_uses_the_exporter_initializer_names():
    proto = onnx.load(FOLDER / "transformer_block.onnx")
    names = {t.name for t in proto.graph.initializer}
    assert {"const_1", "const_12", "const_13"} <= names  # the pattern that collided
    assert "Gemm" in {n.op_type for n in proto.graph.node}


def _gemm_over_plain_param(plain_first: bool) -> onnx.ModelProto:
    """y = Gemm(x, w_12, w_13) * w_1 (+ a Mul on w_1 that keeps it a plain parameter),
    with the Mul before or after the Gemm, and an initializer named like the layer
    name the node name gives (`dense`)."""
    rng = np.random.default_rng(1)
    weights = {
        "w_12": rng.normal(size=(4, 3)),
        "w_13": rng.normal(size=(3,)),
        "w_1": rng.normal(size=(3,)),
        "w_12_1": rng.normal(size=(3,)),  # what `_1`-suffixing would make of `w_12`
        "dense": rng.normal(size=(3,)),
    }
    gemm = helper.make_node("Gemm", ["x", "w_12", "w_13"], ["h"], name="dense/Gemm")
    scale = helper.make_node("Mul", ["x3", "w_1"], ["s"], name="scale")
    rest = [
        helper.make_node("Mul", ["h", "w_1"], ["p"]),
        helper.make_node("Add", ["p", "w_12_1"], ["q"]),
        helper.make_node("Add", ["q", "dense"], ["r"]),
        helper.make_node("Add", ["r", "s"], ["y"]),
    ]
    nodes = [scale, gemm, *rest] if plain_first else [gemm, scale, *rest]
    graph = helper.make_graph(
        nodes,
        "collide",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("x3", TensorProto.FLOAT, [2, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("plain_first", [True, False], ids=["param-first", "layer-first"])
def test_layer_names_never_collide_with_plain_parameters(plain_first):
    proto = _gemm_over_plain_param(plain_first)
    rng = np.random.default_rng(2)
    feed = {
        "x": rng.normal(size=(2, 4)).astype(np.float32),
        "x3": rng.normal(size=(2, 3)).astype(np.float32),
    }
    model, state = ax.import_onnx(proto)
    initializers = {t.name for t in proto.graph.initializer}
    layers = [k for k, v in state.params.items() if isinstance(v, dict)]
    assert len(layers) == 1 and layers[0] not in initializers  # the fused Gemm
    assert set(state.params[layers[0]]) == {"kernel", "bias"}
    plain = {k for k, v in state.params.items() if not isinstance(v, dict)}
    assert plain == initializers - {"w_12", "w_13"}
    (want,) = _onnxruntime(proto, feed)
    np.testing.assert_allclose(
        np.asarray(ax.predict(model, state, feed)["y"]), want, rtol=1e-5, atol=1e-6
    )
