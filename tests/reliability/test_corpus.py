"""Every bad or hostile file of the corpus is refused with the expected error class and
message, without a large allocation, by the Python API and by the CLI (exit status 2,
one line, no traceback, no output file)."""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main
from axonnx.errors import AxonnxError
from axonnx.loop.checkpoint import read_checkpoint


def _load_corpus_module():
    """`corpus.py` beside this file (tests are not a package under importlib mode)."""
    spec = importlib.util.spec_from_file_location(
        "axonnx_reliability_corpus", Path(__file__).with_name("corpus.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_CORPUS = _load_corpus_module()
build_corpus = _CORPUS.build_corpus

_PEAK_BYTES = 64 * 2**20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {case.name: case for case in build_corpus(tmp_path_factory.mktemp("hostile"))}


NAMES = _CORPUS.case_names()


def test_the_corpus_is_big_enough():
    assert len(NAMES) >= 30


def _open(case):
    if case.kind == "onnx":
        return ax.import_onnx(case.path)
    if case.kind == "onnx_bytes":
        return ax.import_onnx(case.path.read_bytes())
    if case.kind == "axonnx":
        return ax.load(case.path)
    return read_checkpoint(case.path, {"params": {"w": np.ones(3, np.float32)}})


@pytest.mark.parametrize("name", NAMES)
def test_api_refuses_with_a_clear_error(corpus, name):
    case = corpus[name]
    tracemalloc.start()
    try:
        with pytest.raises(AxonnxError) as caught:
            _open(case)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(caught.value, case.error), repr(caught.value)
    assert case.fragment in str(caught.value)
    assert peak < _PEAK_BYTES, f"{name}: allocated {peak:,} bytes before refusing"


def _commands(case, out):
    if case.kind == "onnx":
        return [
            ["import", case.path, "-o", out / "m.axonnx"],
            ["summary", case.path],
            ["validate", case.path, "--json", out / "r.json"],
        ]
    if case.kind == "axonnx":
        return [["summary", case.path], ["export", case.path, "-o", out / "m.onnx"]]
    return []


@pytest.mark.parametrize("name", NAMES)
def test_cli_prints_one_line_and_exits_2(corpus, name, tmp_path):
    case = corpus[name]
    for command in _commands(case, tmp_path):
        result = CliRunner().invoke(main, [str(a) for a in command])
        lines = [line for line in result.output.splitlines() if line]
        assert result.exit_code == 2, (command, result.output)
        assert len(lines) == 1 and lines[0].startswith("axonnx: error: "), result.output
        assert case.fragment in lines[0]
        assert "Traceback" not in result.output
        assert list(tmp_path.iterdir()) == [], "the CLI wrote output for a refused file"
