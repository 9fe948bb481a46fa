"""The `axonnx` command: happy paths compared with the Python API, and bad input."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.cli.main import main


@pytest.fixture
def mlp_path(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias")],
    )
    path = tmp_path / "mlp.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path
    )
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_import_writes_a_model_that_loads_and_predicts_like_the_import(mlp_path, tmp_path):
    out = tmp_path / "mlp.axonnx"
    result = invoke("import", mlp_path, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Total Parameters: 16" in result.output
    assert "Gemm" in result.output and "layer dense" in result.output
    loaded, loaded_state = ax.load(out)
    model, state = ax.import_onnx(mlp_path)
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        ax.predict(loaded, loaded_state, {"x": x})["y"], ax.predict(model, state, {"x": x})["y"]
    )


def test_run_matches_onnxruntime(mlp_path, tmp_path):
    import onnxruntime as ort

    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    result = invoke("run", mlp_path, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "out.npz")
    assert result.exit_code == 0, result.output
    expected = ort.InferenceSession(str(mlp_path)).run(None, {"x": x})[0]
    with np.load(tmp_path / "out.npz") as outputs:
        np.testing.assert_allclose(outputs["y"], expected, rtol=1e-5, atol=1e-6)


def test_summary_of_onnx_and_saved_model_agree(mlp_path, tmp_path):
    out = tmp_path / "m.axonnx"
    assert invoke("import", mlp_path, "-o", out).exit_code == 0
    first, second = invoke("summary", mlp_path), invoke("summary", out)
    assert first.exit_code == second.exit_code == 0
    assert first.output == second.output


def _assert_clean_error(result, fragment):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1, result.output
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_missing_file(tmp_path):
    _assert_clean_error(invoke("import", tmp_path / "nope.onnx"), "no such file")


def test_garbage_file_writes_nothing(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffnot a model" * 10)
    result = invoke("import", bad, "-o", tmp_path / "bad.axonnx")
    _assert_clean_error(result, "not an ONNX model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


def test_unsupported_ops_are_all_listed(tmp_path):
    graph = helper.make_graph(
        [
            helper.make_node("FancyOp", ["x"], ["y"], domain="example.com"),
            helper.make_node("OtherOp", ["y"], ["z"], domain="example.com"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.com", 1)]
    )
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    result = invoke("import", path)
    _assert_clean_error(result, "FancyOp")
    assert "OtherOp" in result.output


def test_pickled_inputs_are_refused(mlp_path, tmp_path):
    np.savez(tmp_path / "in.npz", x=np.array([{"a": 1}], dtype=object))
    result = invoke("run", mlp_path, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "o.npz")
    _assert_clean_error(result, "in.npz")
    assert not (tmp_path / "o.npz").exists()


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    result = CliRunner().invoke(main, ["--debug", "import", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" in result.output
