"""`axonnx validate`, `run` and `bench`: exit codes, reports, inputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from axonnx.cli.main import main

MODELS = Path(__file__).resolve().parents[2] / "models"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_validate_passes_on_every_shipped_model(tmp_path):
    models = sorted(MODELS.glob("*.onnx"))
    result = invoke(
        "validate",
        *models,
        "--dims",
        "batch=2,sequence=8",
        "--json",
        tmp_path / "r.json",
        "--junit",
        tmp_path / "r.xml",
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["passed"] and len(document["models"]) == len(models)
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= len(models)


def test_validate_exits_1_on_mismatch(tmp_path):
    x = np.zeros((2, 784), np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    result = invoke(
        "validate",
        MODELS / "mlp.onnx",
        "--inputs",
        tmp_path / "in.npz",
        "--atol",
        "-1",
        "--rtol",
        "0",
    )
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.output


def test_validate_exits_2_on_a_bad_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    result = invoke("validate", bad)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_bench_prints_both_runtimes_and_the_ratio():
    result = invoke("bench", MODELS / "mlp.onnx", "--batch", "2", "--runs", "3")
    assert result.exit_code == 0, result.output
    assert "onnxruntime" in result.output and "axonnx" in result.output
    assert "ratio axonnx / onnxruntime" in result.output


def test_bench_times_runs_in_blocks_after_a_warm_up(monkeypatch):
    from axonnx.converters import bench as bench_module
    from axonnx.engine import Engine

    calls = []
    original = Engine.__call__

    def counted(self, state, feed, **kwargs):
        calls.append(1)
        return original(self, state, feed, **kwargs)

    monkeypatch.setattr(Engine, "__call__", counted)
    result = bench_module.bench(MODELS / "mlp.onnx", batch=2, runs=7, block=3)
    # first call, then blocks of 3, 3 and 1 timed runs, each after one warm-up
    assert len(calls) == 1 + (3 + 3 + 1) + 3
    assert 0 < result.axonnx.median <= result.axonnx.p90


def test_bench_on_a_missing_gpu_exits_2_with_the_reason():
    from axonnx.converters.bench import gpu_missing

    reason = gpu_missing()
    if reason is None:
        pytest.skip("a GPU is present: the GPU comparison runs instead")
    result = invoke("bench", MODELS / "mlp.onnx", "--device", "gpu", "--runs", "2")
    assert result.exit_code == 2
    assert reason in result.output and len(result.output.strip().splitlines()) == 1


def test_bench_on_the_gpu_when_there_is_one():
    from axonnx.converters import bench as bench_module

    if bench_module.gpu_missing():
        pytest.skip("no GPU here")
    result = bench_module.bench(MODELS / "mlp.onnx", batch=2, runs=3, device="gpu")
    assert result.device == "gpu" and result.axonnx.median > 0


def test_bench_rejects_an_unknown_device():
    from axonnx.converters.bench import bench

    with pytest.raises(ValueError, match="device"):
        bench(MODELS / "mlp.onnx", device="tpu")


def test_bench_bf16_times_the_bfloat16_dense_layers():
    result = invoke("bench", MODELS / "mlp.onnx", "--bf16", "--runs", "2")
    assert result.exit_code == 0, result.output
    assert "ratio axonnx / onnxruntime" in result.output


def test_interleaved_takes_turns_in_blocks_after_a_pause_and_a_warm_up(monkeypatch):
    from axonnx.converters import bench

    calls = []
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: calls.append(seconds))
    runners = {name: (lambda name=name: calls.append(name)) for name in ("a", "b")}
    times = bench.interleaved(runners, runs=7, block=3)
    assert [len(times["a"]), len(times["b"])] == [7, 7]
    # blocks of 3, 3 and 1 timed calls, each after a pause and one warm-up, a's before b's
    pause = bench.BLOCK_PAUSE
    blocks = [(name, timed) for timed in (3, 3, 1) for name in ("a", "b")]
    assert calls == [c for name, timed in blocks for c in [pause] + [name] * (timed + 1)]
