"""`axonnx export`: a saved axonnx model to an ONNX file that onnxruntime runs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main


def _saved(tmp_path):
    model = ax.input("x", shape=(None, 3)).dense(4, activation="relu").dense(2)
    state = ax.init(model)
    path = tmp_path / "model.axonnx"
    ax.save(path, model, state)
    return model, state, path


def test_export_writes_a_file_onnxruntime_runs_like_axonnx(tmp_path):
    model, state, path = _saved(tmp_path)
    out = tmp_path / "model.onnx"
    result = CliRunner().invoke(main, ["export", str(path), "-o", str(out), "--opset", "17"])
    assert result.exit_code == 0, result.output
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        session.run(None, {"x": x})[0], ax.predict(model, state, x), rtol=1e-5, atol=1e-6
    )


def test_export_static_batch(tmp_path):
    _, _, path = _saved(tmp_path)
    out = tmp_path / "fixed.onnx"
    result = CliRunner().invoke(main, ["export", str(path), "-o", str(out), "--static-batch", "2"])
    assert result.exit_code == 0, result.output
    dim = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 2


def test_export_bad_opset_is_one_line_error(tmp_path):
    _, _, path = _saved(tmp_path)
    result = CliRunner().invoke(
        main, ["export", str(path), "-o", str(tmp_path / "x.onnx"), "--opset", "7"]
    )
    assert result.exit_code == 2
    assert "opset >= 13" in result.output
