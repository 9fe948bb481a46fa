"""BERTs rewritten by onnxruntime's transformer optimizer (`optimize_model(...,
model_type="bert", opt_level=1 / 2 / 99)`) into its fused contrib ops import and run
like onnxruntime runs them. The optimized files are made by
tests/converters/contrib_models/make_contrib_models.py (see there how)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import axonnx as ax

FOLDER = Path(__file__).resolve().parent / "contrib_models"
MANIFEST = json.loads((FOLDER / "manifest.json").read_text())
IDS = [f"{e['model']}-{e['variant']}-o{e['opt_level']}" for e in MANIFEST]
VOCAB = {"bert_tiny_torchscript": 1000, "bert_classic": 50}


def _inputs(model: str, proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    batch, seq = 2, 7
    mask = np.ones((batch, seq), np.int64)
    mask[1, 4:] = 0  # the second sequence is padded
    values = {
        "input_ids": rng.integers(0, VOCAB[model], size=(batch, seq)),
        "attention_mask": mask,
        "token_type_ids": np.concatenate([np.zeros((batch, 3)), np.ones((batch, 4))], axis=1),
    }
    types = {i.name: i.type.tensor_type.elem_type for i in proto.graph.input}
    return {
        name: values[name].astype(onnx.helper.tensor_dtype_to_np_dtype(elem))
        for name, elem in types.items()
    }


def _contrib_ops(proto: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in proto.graph.node if n.domain == "com.microsoft"}


@pytest.mark.parametrize("entry", MANIFEST, ids=IDS)
def test_optimized_bert_matches_onnxruntime(entry):
    path = FOLDER / entry["file"]
    proto = onnx.load(path)
    expected_ops = {op.split("::")[-1] for op in entry["contrib_ops"] if "::" in op}
    assert _contrib_ops(proto) == expected_ops
    inputs = _inputs(entry["model"], proto)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    want = dict(zip(names, session.run(None, inputs), strict=True))
    model, state = ax.import_onnx(path)
    got = ax.predict(model, state, inputs)
    assert set(got) == set(want)
    for name in names:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_allclose(np.asarray(got[name]), want[name], rtol=1e-4, atol=1e-4)


def test_fused_bert_weights_are_parameters():
    entry = next(e for e in MANIFEST if e["model"] == "bert_classic" and e["opt_level"] == 1)
    proto = onnx.load(FOLDER / entry["file"])
    _, state = ax.import_onnx(proto)
    fused = {
        name
        for node in proto.graph.node
        if node.op_type in ("Attention", "EmbedLayerNormalization", "SkipLayerNormalization")
        for name in node.input[1:]
    }
    floats = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    assert fused & floats and fused & floats <= set(state.params)
