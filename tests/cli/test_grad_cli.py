"""`axonnx grad`: the derivative of an ONNX model as an ONNX file onnxruntime runs."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import onnx
import onnxruntime as ort
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main

CNN = Path(__file__).resolve().parents[2] / "models" / "cnn.onnx"


def _run(path) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    return x, dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x})))


def test_grad_writes_the_input_gradient(tmp_path):
    out = tmp_path / "grad.onnx"
    args = ["grad", str(CNN), "--wrt", "x", "--dims", "batch=2", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "outputs grad_x" in result.output
    onnx.checker.check_model(onnx.load(str(out)))
    x, got = _run(out)
    graph, state = ax.import_onnx(CNN, dims={"batch": 2})
    _, predict_fn = ax.build(graph)
    want = jax.grad(lambda v: predict_fn(state, {"x": v})["logits"].sum())(x)
    assert np.abs(got["grad_x"] - want).max() <= 1e-4 * np.abs(want).max()


def test_grad_params_names_outputs_after_initializers(tmp_path):
    out = tmp_path / "grad.onnx"
    args = ["grad", str(CNN), "--params", "--of", "logits", "--dims", "batch=2", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    _, got = _run(out)
    initializers = {t.name: t.dims for t in onnx.load(str(CNN)).graph.initializer}
    for name, value in got.items():
        assert list(value.shape) == list(initializers[name.removeprefix("grad_")])
    assert "grad_features.0.weight" in got and "grad_x" not in got


def test_grad_jvp_flag_adds_tangent_inputs(tmp_path):
    out = tmp_path / "jvp.onnx"
    result = CliRunner().invoke(main, ["grad", str(CNN), "--wrt", "x", "--jvp", "-o", str(out)])
    assert result.exit_code == 0, result.output
    names = [i.name for i in onnx.load(str(out)).graph.input]
    assert names == ["x", "tangent_x"]


def test_grad_unknown_input_is_one_line_error(tmp_path):
    out = tmp_path / "grad.onnx"
    result = CliRunner().invoke(main, ["grad", str(CNN), "--wrt", "nope", "-o", str(out)])
    assert result.exit_code == 2
    assert "wrt 'nope' is not an input" in result.output
    assert not out.exists()
