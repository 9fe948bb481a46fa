"""`axonnx export --standard`: an ONNX model with onnxruntime's contrib ops written with
standard ONNX ops only, that onnxruntime runs like the fused original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from click.testing import CliRunner

from axonnx.cli.main import main

MODELS = Path(__file__).resolve().parents[1] / "converters" / "contrib_models"


def _run(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def test_export_standard_writes_default_domain_ops_that_match(tmp_path):
    source = MODELS / "bert_classic_o1.onnx"
    out = tmp_path / "standard.onnx"
    result = CliRunner().invoke(main, ["export", str(source), "-o", str(out), "--standard"])
    assert result.exit_code == 0, result.output
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    assert {n.domain for n in proto.graph.node} == {""}
    assert {o.domain for o in proto.opset_import} == {""}
    rng = np.random.default_rng(0)
    mask = np.ones((2, 6), np.int64)
    mask[1, 3:] = 0
    inputs = {
        "input_ids": rng.integers(0, 50, (2, 6)),
        "attention_mask": mask,
        "token_type_ids": np.zeros((2, 6), np.int64),
    }
    types = {i.name: i.type.tensor_type.elem_type for i in proto.graph.input}
    inputs = {
        k: v.astype(onnx.helper.tensor_dtype_to_np_dtype(types[k])) for k, v in inputs.items()
    }
    for got, want in zip(_run(out, inputs), _run(source, inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_without_standard_keeps_contrib_ops(tmp_path):
    out = tmp_path / "fused.onnx"
    source = MODELS / "bert_classic_o1.onnx"
    result = CliRunner().invoke(main, ["export", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "com.microsoft" in {n.domain for n in onnx.load(out).graph.node}


def test_export_standard_without_a_form_is_a_one_line_usage_error(tmp_path):
    proto = onnx.load(MODELS / "llama_gqa_rotary_int4.onnx")
    for node in proto.graph.node:
        if node.op_type == "GroupQueryAttention":
            node.attribute.append(onnx.helper.make_attribute("softcap", 30.0))
    source = tmp_path / "softcap.onnx"
    onnx.save(proto, source)
    out = tmp_path / "out.onnx"
    result = CliRunner().invoke(main, ["export", str(source), "-o", str(out), "--standard"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "GroupQueryAttention" in lines[0] and "softcap" in lines[0]
    assert not out.exists()
