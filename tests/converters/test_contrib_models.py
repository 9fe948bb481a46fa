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
VOCAB = {"bert_tiny_torchscript": 1000, "bert_classic": 50, "bert_qoperator": 100}


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


# ---------------------------------------------------------------- LLaMA decoders

DECODERS = json.loads((FOLDER / "decoder_manifest.json").read_text())


def _step_inputs(proto, tokens, past, total: int) -> dict[str, np.ndarray]:
    """One call's inputs: the new tokens, a mask over all `total` positions, positions
    (for RotaryEmbedding variants) and the past caches (empty before the prompt)."""
    batch, seq = tokens.shape
    names = {i.name for i in proto.graph.input}
    inputs = {"input_ids": tokens, "attention_mask": np.ones((batch, total), np.int64)}
    if "position_ids" in names:
        inputs["position_ids"] = np.broadcast_to(np.arange(total - seq, total), (batch, seq)).copy()
    return inputs | past


def _greedy(run, proto, prompt, steps: int):
    """Greedy decoding through `run(inputs) -> {name: array}`: the tokens and the
    logits of each call (the prompt's, then one per new token)."""
    cache = [i for i in proto.graph.input if i.name.startswith("past_key_values")]
    batch = prompt.shape[0]
    past = {
        i.name: np.zeros((batch, i.type.tensor_type.shape.dim[1].dim_value, 0, 16), np.float32)
        for i in cache
    }
    tokens, total, logits = prompt, prompt.shape[1], []
    chosen = []
    for _ in range(steps):
        out = run(_step_inputs(proto, tokens, past, total))
        logits.append(np.asarray(out["logits"]))
        tokens = np.argmax(logits[-1][:, -1], axis=-1)[:, None].astype(np.int64)
        chosen.append(tokens[:, 0])
        past = {
            i.name: np.asarray(out[i.name.replace("past_key_values", "present")]) for i in cache
        }
        total += 1
    return np.stack(chosen, axis=1), logits


def _decoder_params():
    for entry in DECODERS:  # each call compiles anew (new shapes): the int8 one is slow
        marks = [pytest.mark.slow] if entry["bits"] == 8 else []
        yield pytest.param(entry, id=entry["model"], marks=marks)


@pytest.mark.parametrize("entry", list(_decoder_params()))
def test_decoder_greedy_decode_matches_onnxruntime(entry):
    """Prompt (batch 2, 5 tokens) then 3 decode steps, each fed its own present caches
    back: same tokens, and logits close, at every step."""
    path = FOLDER / entry["file"]
    proto = onnx.load(path)
    per_layer = 5 if entry["model"].startswith("llama_gqa") else 7  # packed QKV or Q, K, V
    ops = {f"{n.domain}::{n.op_type}" for n in proto.graph.node}
    assert entry["ops"]["com.microsoft::MatMulNBits"] == entry["config"]["layers"] * per_layer + 1
    assert {"com.microsoft::GroupQueryAttention", "com.microsoft::MatMulNBits"} <= ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def ort_run(inputs):
        return dict(zip(names, session.run(None, inputs), strict=True))

    model, state = ax.import_onnx(path)
    prompt = np.random.default_rng(1).integers(0, entry["config"]["vocab"], size=(2, 5))
    want_tokens, want_logits = _greedy(ort_run, proto, prompt, 4)
    got_tokens, got_logits = _greedy(lambda x: ax.predict(model, state, x), proto, prompt, 4)
    np.testing.assert_array_equal(got_tokens, want_tokens)
    for got, want in zip(got_logits, want_logits, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_decoder_float_weights_are_parameters():
    entry = DECODERS[0]
    proto = onnx.load(FOLDER / entry["file"])
    _, state = ax.import_onnx(proto)
    floats = {
        name
        for node in proto.graph.node
        if node.op_type in ("MatMulNBits", "SkipSimplifiedLayerNormalization")
        for name in node.input[1:]
        if name
    } & {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    assert any(name.endswith("scales") for name in floats)
    assert floats <= set(state.params)


# ---------------------------------------------------------------- quantized (QOperator)

QUANTIZED = {e["file"]: e for e in json.loads((FOLDER / "quantized_manifest.json").read_text())}


def _ort_and_axonnx(path: Path, inputs: dict) -> tuple[dict, dict]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    want = dict(zip(names, session.run(None, inputs), strict=True))
    model, state = ax.import_onnx(path)
    got = {name: np.asarray(value) for name, value in ax.predict(model, state, inputs).items()}
    assert set(got) == set(want)
    return got, want


def test_quantize_static_cnn_matches_onnxruntime_within_one_step():
    """A CNN from quantize_static (QOperator): the logits, dequantized from uint8, are
    within one quantization step of onnxruntime's (its MLAS kernels fold scale ratios
    and round in float32 in their own order, so a value on a rounding boundary may
    land on the neighbouring integer); most are equal."""
    path = FOLDER / "cnn_qoperator_static.onnx"
    ops = QUANTIZED[path.name]["ops"]
    for op in ("QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu", "QGemm"):
        assert f"com.microsoft::{op}" in ops
    for op in ("QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearConcat"):
        assert f"com.microsoft::{op}" in ops
    proto = onnx.load(path)
    output_dequantize = next(n for n in proto.graph.node if n.op_type == "DequantizeLinear")
    scales = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    step = float(scales[output_dequantize.input[1]])
    x = np.random.default_rng(7).standard_normal((4, 3, 16, 16)).astype(np.float32)
    got, want = _ort_and_axonnx(path, {"x": x})
    for name, value in want.items():
        diff = np.abs(got[name] - value)
        assert diff.max() <= step * 1.001, (name, diff.max() / step)
        assert np.mean(diff < step / 2) >= 0.9


@pytest.mark.parametrize("file", ["bert_qoperator_dynamic.onnx", "bert_qoperator_dynamic_ort.onnx"])
def test_quantize_dynamic_bert_matches_onnxruntime(file):
    """A transformers BERT fused by optimize_model, then quantize_dynamic: QAttention and
    QEmbedLayerNormalization (and, as onnxruntime's optimizer saves it,
    DynamicQuantizeMatMul). Activations are quantized at run time from their own range
    and the int32 products are exact, so the float outputs match closely."""
    path = FOLDER / file
    ops = QUANTIZED[file]["ops"]
    assert {"com.microsoft::QAttention", "com.microsoft::QEmbedLayerNormalization"} <= set(ops)
    if file.endswith("_ort.onnx"):
        assert "com.microsoft::DynamicQuantizeMatMul" in ops
    proto = onnx.load(path)
    got, want = _ort_and_axonnx(path, _inputs("bert_qoperator", proto))
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4)
