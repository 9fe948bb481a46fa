"""The model zoo (benchmarks/zoo.py, issue 14 part 7): each family, built from its library's
code with random weights, imports and matches onnxruntime. Skips a family whose exporter
library is not installed (CI's venv has none of them)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import zoo  # noqa: E402
from zoo_families import FAMILIES  # noqa: E402

pytest.importorskip("onnxruntime")


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_builds_and_matches_onnxruntime(family, tmp_path):
    _, modules, _ = FAMILIES[family]
    if missing := _missing(modules):
        pytest.skip(f"{family} needs {', '.join(missing)}")
    manifest = zoo.build(tmp_path, [family])
    assert [e["family"] for e in manifest] == [family]
    assert "build_error" not in manifest[0], manifest[0]["build_error"]
    result = zoo.check_model(tmp_path / manifest[0]["file"])
    assert result["status"] == "match", result


def test_committed_results_cover_every_family():
    rows = json.loads(zoo.RESULTS.read_text())
    assert [r["family"] for r in rows] == list(FAMILIES)
    assert {r["status"] for r in rows} <= {
        "match",
        "mismatch",
        "import error",
        "run error",
        "build error",
        "onnxruntime error",
    }


def test_check_model_reports_a_one_percent_error_as_mismatch(tmp_path, monkeypatch):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    import axonnx as ax

    graph = helper.make_graph(
        [helper.make_node("Tanh", ["x"], ["y"])],
        "tanh",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    path = tmp_path / "tanh.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path
    )
    assert zoo.check_model(path)["status"] == "match"
    predict = ax.predict
    monkeypatch.setattr(
        ax, "predict", lambda *a: {k: np.asarray(v) * 1.01 for k, v in predict(*a).items()}
    )
    result = zoo.check_model(path)
    assert result["status"] == "mismatch" and result["max_abs_error"] > 1e-3
