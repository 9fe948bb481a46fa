"""`axonnx summary` and the summary `axonnx import` prints: depth, collapsed blocks,
width, and `--json` checked against the ONNX file's initializers."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from axonnx.cli.main import main

MODELS = Path(__file__).resolve().parents[2] / "models"
TORCHSCRIPT = MODELS / "bert_tiny_torchscript.onnx"
DYNAMO = MODELS / "bert_tiny_dynamo.onnx"


@pytest.fixture(autouse=True)
def _not_a_terminal(monkeypatch):
    """The defaults off a terminal (120 columns, 80 lines): pytest-xdist sets COLUMNS
    and LINES for its workers."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def invoke(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _initializers(path):
    arrays = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer]
    return sum(a.size for a in arrays), sum(a.nbytes for a in arrays)


@pytest.mark.parametrize("path", [TORCHSCRIPT, DYNAMO], ids=["torchscript", "dynamo"])
def test_default_summary_fits_and_collapses_the_layers(path):
    lines = invoke("summary", path).splitlines()
    assert len(lines) <= 80 and max(len(line) for line in lines) <= 120
    text = "\n".join(lines)
    assert "layer.{0..1}" in text and "×2" in text
    assert "Total Parameters: 143552 (trainable: 143552," in text
    assert "Inputs: input_ids i64[batch,sequence], attention_mask i64[batch,sequence]" in text


def test_depth_option():
    shallow = invoke("summary", TORCHSCRIPT, "--depth", "1")
    deeper = invoke("summary", TORCHSCRIPT, "--depth", "2")
    assert len(shallow.splitlines()) < len(deeper.splitlines())
    assert "encoder.layer.{0..1}" in shallow and " attention " not in shallow
    assert "   attention " in deeper
    bad = CliRunner().invoke(main, ["summary", str(TORCHSCRIPT), "--depth", "0"])
    assert bad.exit_code == 2


@pytest.mark.parametrize("columns", [80, 120])
def test_width_follows_columns(columns):
    for depth in ("1", "10"):
        output = invoke("summary", DYNAMO, "--depth", depth, env={"COLUMNS": str(columns)})
        assert max(len(line) for line in output.splitlines()) <= columns


@pytest.mark.parametrize("path", [TORCHSCRIPT, DYNAMO], ids=["torchscript", "dynamo"])
def test_json_totals_add_up_to_the_initializers(path):
    data = json.loads(invoke("summary", path, "--json", "--depth", "3"))
    count, nbytes = _initializers(path)
    totals = data["totals"]
    # the file's initializers are weights or constants; after the import's
    # simplification the graph may hold fewer constants (equal ones merged)
    held = data["onnx_initializers"]
    assert held["trainable"] + held["constants"] == count
    assert held["trainable_bytes"] + held["constants_bytes"] == nbytes
    assert totals["trainable"]["count"] == held["trainable"]
    assert totals["constants"]["count"] <= held["constants"]
    for key in ("count", "bytes"):
        assert (
            sum(totals[k][key] for k in ("trainable", "non_trainable", "constants"))
            == (totals["total"][key])
        )
    rows = data["rows"]
    assert sum(r["params"] for r in rows) == totals["trainable"]["count"]
    assert sum(r["bytes"] for r in rows) == totals["total"]["bytes"]
    layers = [r for r in rows if r["repeat"] == 2] + [
        c for r in rows for c in r.get("children", []) if c["repeat"] == 2
    ]
    assert len(layers) == 1 and layers[0]["shape"] == ["batch", "sequence", 64]
    assert "children" in layers[0]  # expanded: one block's scopes
    assert data["depth"] == 3
    assert data["outputs"] == [
        {"name": "last_hidden_state", "shape": ["batch", "sequence", 64], "dtype": "float32"},
        {"name": "pooler_output", "shape": ["batch", 64], "dtype": "float32"},
    ]


def test_import_prints_the_summary_and_the_saved_model_shows_the_same(tmp_path):
    out = tmp_path / "bert.axonnx"
    printed = invoke("import", DYNAMO, "-o", out, "--depth", "2")
    assert "layer.{0..1}" in printed and "ONNX nodes by op type:" in printed
    assert printed.rstrip().endswith(f"wrote {out}")
    assert invoke("summary", out, "--depth", "3") == invoke("summary", DYNAMO, "--depth", "3")
