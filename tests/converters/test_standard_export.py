"""`ax.export_onnx(..., standard_only=True)` on the contrib-op models of
tests/converters/contrib_models (BERTs optimized by onnxruntime at opt levels 1/2/99,
GenAI-layout LLaMA decoders, models quantized in QOperator format): each export passes
onnx's full checker, has default-domain nodes only, and onnxruntime runs it like the
fused original. Tolerances: float models 1e-5 (measured up to 2e-6); the QOperator CNN
within one output quantization step (measured: equal)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import axonnx as ax
from axonnx.converters.report import compare
from axonnx.errors import UnsupportedOpError


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HERE = Path(__file__).resolve().parent
check = _load("standard_check", HERE / "standard_check.py")
contrib = _load("contrib_models_test", HERE / "test_contrib_models.py")
FOLDER = HERE / "contrib_models"
BERTS = json.loads((FOLDER / "manifest.json").read_text())
DECODERS = json.loads((FOLDER / "decoder_manifest.json").read_text())


def _bert_model(entry: dict) -> str:
    return "bert_qoperator" if "qoperator" in entry["file"] else entry["model"]


def _compare(path: Path, proto: onnx.ModelProto, inputs: dict, tolerance: float) -> None:
    want, got = check.run(path, inputs), check.run(proto, inputs)
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].shape == value.shape, name
        np.testing.assert_allclose(got[name], value, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("entry", BERTS, ids=[e["file"] for e in BERTS])
def test_optimized_bert_exports_standard_ops_that_match(entry):
    """Attention, MultiHeadAttention, EmbedLayerNormalization, SkipLayerNormalization,
    LayerNormalization-1 (opset 12), BiasGelu, FastGelu."""
    path = FOLDER / entry["file"]
    proto = check.standard_export(path)
    assert proto.opset_import[0].version == onnx.load(path).opset_import[0].version
    _compare(path, proto, contrib._inputs(_bert_model(entry), onnx.load(path)), 1e-5)


@pytest.mark.parametrize("file", ["bert_qoperator_dynamic.onnx", "bert_qoperator_dynamic_ort.onnx"])
def test_quantized_bert_exports_qdq_that_matches(file):
    """QAttention, QEmbedLayerNormalization, DynamicQuantizeMatMul in QDQ form."""
    path = FOLDER / file
    proto = check.standard_export(path)
    assert {"DequantizeLinear", "DynamicQuantizeLinear"} <= check.op_types(proto)
    _compare(path, proto, contrib._inputs("bert_qoperator", onnx.load(path)), 1e-5)


def test_quantized_cnn_exports_qdq_within_one_step():
    """QLinearConv is standard; QLinearAdd/Mul/Sigmoid/LeakyRelu/GlobalAveragePool/
    AveragePool/Concat and QGemm become DequantizeLinear, the float op, QuantizeLinear."""
    path = FOLDER / "cnn_qoperator_static.onnx"
    proto = check.standard_export(path)
    assert {"QuantizeLinear", "Gemm", "GlobalAveragePool", "Concat"} <= check.op_types(proto)
    original = onnx.load(path)
    output_dequantize = next(n for n in original.graph.node if n.op_type == "DequantizeLinear")
    scales = {t.name: onnx.numpy_helper.to_array(t) for t in original.graph.initializer}
    step = float(scales[output_dequantize.input[1]])
    x = np.random.default_rng(7).standard_normal((4, 3, 16, 16)).astype(np.float32)
    want, got = check.run(path, {"x": x}), check.run(proto, {"x": x})
    for name, value in want.items():
        assert np.abs(got[name] - value).max() <= step * 1.001, name


def _decoder_params():
    for entry in DECODERS:
        for opset in (None, 23):
            marks = [pytest.mark.slow] if entry["bits"] == 8 and opset else []
            yield pytest.param(entry, opset, id=f"{entry['model']}-opset{opset}", marks=marks)


@pytest.mark.parametrize(("entry", "opset"), list(_decoder_params()))
def test_decoder_exports_standard_ops_that_decode_alike(entry, opset):
    """GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization,
    SimplifiedLayerNormalization and MatMulNBits: at the model's opset 21 as
    decompositions with blocked DequantizeLinear, at 23 as Attention, RotaryEmbedding
    (GQA's do_rotary too) and RMSNormalization. A prompt and 3 decode steps, each fed
    its present caches back: the same tokens, logits within 1e-5 at every step."""
    path = FOLDER / entry["file"]
    proto = check.standard_export(path, opset)
    ops = check.op_types(proto)
    assert "DequantizeLinear" in ops
    if opset == 23:
        assert {"Attention", "RMSNormalization", "RotaryEmbedding"} <= ops
    else:
        assert "Softmax" in ops and "Attention" not in ops
    fused, standard = check.session(path), check.session(proto)
    names = [o.name for o in fused.get_outputs()]

    def runner(sess):
        return lambda x: dict(zip(names, sess.run(names, x), strict=True))

    original = onnx.load(path)
    prompt = np.random.default_rng(1).integers(0, entry["config"]["vocab"], size=(2, 5))
    want_tokens, want_logits = contrib._greedy(runner(fused), original, prompt, 4)
    got_tokens, got_logits = contrib._greedy(runner(standard), original, prompt, 4)
    np.testing.assert_array_equal(got_tokens, want_tokens)
    for got, want in zip(got_logits, want_logits, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_blocked_weights_keep_four_bits_and_the_scales():
    """MatMulNBits' 4-bit weights (and zero points) become uint4 initializers (blocked
    along K);
    the float scales keep their names and values; the packed originals go."""
    path = FOLDER / "llama_rotary_embedding_int4.onnx"
    original = {t.name: t for t in onnx.load(path).graph.initializer}
    proto = check.standard_export(path)
    written = {t.name: t for t in proto.graph.initializer}
    four_bit = {onnx.TensorProto.INT4, onnx.TensorProto.UINT4}
    packed = [name for name in original if name.endswith("_Q4")]
    assert len(packed) == 15
    assert all(written[f"{name}_blocked"].data_type in four_bit for name in packed)
    scales = [name for name in original if name.endswith("_scales")]
    assert scales and all(name in written for name in scales)
    for name in scales:
        np.testing.assert_array_equal(
            onnx.numpy_helper.to_array(written[name]), onnx.numpy_helper.to_array(original[name])
        )
    assert not any(name.endswith("_Q4") for name in written)


def test_default_export_keeps_the_contrib_ops():
    model, state = ax.import_onnx(FOLDER / "bert_classic_o1.onnx")
    proto = ax.export_onnx(model, state)
    assert any(n.domain == "com.microsoft" for n in proto.graph.node)


def test_a_case_without_standard_form_is_a_one_line_error():
    """GroupQueryAttention with a soft cap imports and runs, but has no standard form."""
    proto = onnx.load(FOLDER / "llama_gqa_rotary_int4.onnx")
    for node in proto.graph.node:
        if node.op_type == "GroupQueryAttention":
            node.attribute.append(onnx.helper.make_attribute("softcap", 30.0))
    model, state = ax.import_onnx(proto)
    with pytest.raises(UnsupportedOpError) as error:
        ax.export_onnx(model, state, standard_only=True)
    message = str(error.value)
    assert "\n" not in message
    assert "GroupQueryAttention" in message and "softcap" in message


@pytest.mark.parametrize("name", ["cnn.onnx", "bert_tiny_torchscript.onnx"])
def test_a_model_without_contrib_ops_exports_alike(name):
    """standard_only changes nothing where every op is standard already."""
    model, state = ax.import_onnx(HERE.parents[1] / "models" / name)
    plain = ax.export_onnx(model, state)
    standard = ax.export_onnx(model, state, standard_only=True)
    assert standard.graph == plain.graph


@pytest.mark.parametrize(
    ("file", "model"),
    [
        ("bert_classic_o2.onnx", "bert_classic"),
        ("bert_tiny_torchscript_o2.onnx", "bert_tiny_torchscript"),
    ],
)
def test_fp16_fused_bert_exports_standard_ops_in_float16(file, model, tmp_path):
    """A fused BERT converted to float16 by onnxruntime's converter (the one
    `optimize_model(...).convert_float_to_float16()` uses; float32 inputs and outputs
    kept): the standard-only export keeps every weight in float16 (an embedding's
    table, read by integer ids, is not cast to float32), and onnxruntime runs it like
    the fused fp16 original within float16 tolerance (measured: 2.8e-4 on outputs to
    0.58, 3.9e-3 on outputs to 3.8; the fp16 original itself is that far from fp32)."""
    float16 = pytest.importorskip("onnxruntime.transformers.float16")
    path = tmp_path / f"fp16_{file}"
    original = float16.convert_float_to_float16(onnx.load(FOLDER / file), keep_io_types=True)
    onnx.save(original, path)
    proto = check.standard_export(path)
    halves = [t for t in original.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    written = {t.name: t.data_type for t in proto.graph.initializer}
    assert halves and all(written.get(t.name) == onnx.TensorProto.FLOAT16 for t in halves)
    casts = [n for n in proto.graph.node if n.op_type == "Cast" and n.input[0] in written]
    assert not casts, [n.input[0] for n in casts]  # no weight cast to another float type
    inputs = contrib._inputs(model, original)
    want, got = check.run(path, inputs), check.run(proto, inputs)
    for name, value in want.items():
        assert value.dtype == np.float32
        result = compare(name, value, got[name], precision="float16")
        assert result.passed, (name, result.max_abs_error)
        shifted = got[name] + 0.01 * np.abs(value).max()  # 1% of the output's size
        assert not compare(name, value, shifted, precision="float16").passed
