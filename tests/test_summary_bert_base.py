"""The default summary of a BERT-base export (issue 15's criterion).

A transformers `BertModel(BertConfig())` (12 layers, hidden 768) with random weights,
exported by the TorchScript exporter at opset 17 (`models/make_models.py`, the script
that writes the shipped tiny BERTs and, with `--size base`, this one): its default
summary, from `ax.summary` and from `axonnx summary FILE`, fits in 120 columns and 80
lines, collapses the 12 encoder layers into one `×12` row, and gives the file's exact
parameter total (the element counts of its initializers, counted here with onnx) and
the trainable count. Needs torch and transformers (e.g. /work/venv-torch); the file
is about 440 MB, so the test is slow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
from pathlib import Path

import jax
import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(autouse=True)
def _not_a_terminal(monkeypatch):
    """The defaults off a terminal (120 columns, 80 lines)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="module")
def bert_base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bert_base") / "bert_base_torchscript.onnx"
    with _without_torchvision():
        for module in ("torch", "transformers"):
            pytest.importorskip(module)
        spec = importlib.util.spec_from_file_location("make_models", MODELS / "make_models.py")
        make_models = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(make_models)
        make_models.make_bert(path, {}, "torchscript")  # BertConfig(): 12 layers, hidden 768
    return path


@contextlib.contextmanager
def _without_torchvision():
    """Hide torchvision from transformers while it is imported: a torchvision
    whose `_C` does not load with the installed torch fails on import (as in
    tests/generation/make_decoders.py); BERT does not use it."""
    hidden = "torchvision" not in sys.modules
    if hidden:
        sys.modules["torchvision"] = None
    try:
        yield
    finally:
        if hidden:
            del sys.modules["torchvision"]


def _initializer_elements(path: Path) -> int:
    """Elements of every initializer, from the file's tensor dims (no arrays loaded)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return sum(int(np.prod(t.dims, dtype=np.int64)) for t in graph.initializer)


def _check(text: str, total: int) -> None:
    lines = text.splitlines()
    assert len(lines) <= 80, len(lines)
    assert max(len(line) for line in lines) <= 120
    layers = [line for line in lines if "encoder.layer.{0..11}" in line]
    assert len(layers) == 1 and re.search(r"\s×12\s", layers[0]), layers
    match = re.search(r"^Total Parameters: (\d+) \(trainable: (\d+),", text, re.MULTILINE)
    assert match, text
    assert int(match[1]) == total
    assert 0 < int(match[2]) <= total
    assert f"ONNX initializers: {total} values = " in text


@pytest.mark.slow
def test_default_summary_of_bert_base_fits_and_collapses(bert_base):
    total = _initializer_elements(bert_base)
    assert 109_000_000 < total < 110_000_000  # BERT-base: about 109.5M parameters
    model, state = ax.import_onnx(bert_base)
    text = ax.summary(model)
    _check(text, total)
    trainable = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(state.params))
    assert f"(trainable: {trainable}," in text
    result = CliRunner().invoke(main, ["summary", str(bert_base)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip("\n") == text
