"""`axonnx validate --timeout` and the one-line errors of `validate` and `run`: a
2^62-iteration Loop, onnxruntime's own logging, the element limit on run-time shapes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from axonnx.cli.main import main

_spec = importlib.util.spec_from_file_location(
    "validate_limits",
    Path(__file__).resolve().parents[1] / "converters" / "test_validate_limits.py",
)
limits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(limits)

TB = 2**40


def axonnx(*args, env=None) -> tuple[subprocess.CompletedProcess, float]:
    """The command in a process of its own: stderr as the terminal would show it,
    including what onnxruntime's C++ logger and the validation worker write."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from axonnx.cli.main import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    return result, time.monotonic() - start


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_validate_times_out_in_onnxruntime(tmp_path):
    path = limits.loop_model(tmp_path / "loop.onnx", 2**62)
    result, seconds = axonnx("validate", path, "--timeout", "5")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"axonnx: error: {path}: timed out after 5 s in onnxruntime"
    ]
    # ended by the limit, not by the loop (2^62 iterations): a bound with room for
    # two Python+JAX start-ups on a loaded machine, far below the loop's run time
    assert seconds < 200


def test_an_onnxruntime_failure_is_one_line(tmp_path):
    path = limits.constant_of_shape_model(tmp_path / "huge.onnx")
    np.savez(tmp_path / "in.npz", shape=np.array([TB], np.int64))  # 4 TB of float32
    result, _ = axonnx("validate", path, "--inputs", tmp_path / "in.npz")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("axonnx: error: onnxruntime cannot run the model:")


def test_debug_shows_onnxruntime_logs(tmp_path):
    path = limits.constant_of_shape_model(tmp_path / "huge.onnx")
    np.savez(tmp_path / "in.npz", shape=np.array([TB], np.int64))
    result, _ = axonnx("--debug", "validate", path, "--inputs", tmp_path / "in.npz", "--timeout", 0)
    assert result.returncode == 2
    assert "onnxruntime:" in result.stderr and "Traceback" in result.stderr


def test_run_applies_the_element_limit(tmp_path):
    path = limits.constant_of_shape_model(tmp_path / "huge.onnx")
    np.savez(tmp_path / "in.npz", shape=np.array([TB], np.int64))
    result = invoke("run", path, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "out.npz")
    assert result.exit_code == 2
    assert "ConstantOfShape: the output would have 1,099,511,627,776 elements" in result.output
    assert "limit of 4,294,967,296" in result.output

    path = limits.expand_model(tmp_path / "wide.onnx", [2**20, 2**20])
    np.savez(tmp_path / "x.npz", x=np.zeros(1, np.float32))
    result = invoke("run", path, "--inputs", tmp_path / "x.npz", "-o", tmp_path / "out.npz")
    assert result.exit_code == 2
    assert "Expand: the output would have 1,099,511,627,776 elements" in result.output


def test_validate_applies_the_element_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("AXONNX_MAX_ELEMENTS", "10")  # onnxruntime makes the 12 elements
    path = limits.expand_model(tmp_path / "wide.onnx", [3, 4])
    np.savez(tmp_path / "x.npz", x=np.zeros(1, np.float32))
    for timeout in ("0", "60"):  # in this process, and in the worker
        result = invoke("validate", path, "--inputs", tmp_path / "x.npz", "--timeout", timeout)
        assert result.exit_code == 2, result.output
        assert "Expand: the output would have 12 elements" in result.output
        assert "limit of 10" in result.output
