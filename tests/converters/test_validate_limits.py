"""validate bounded: per-step time limits in a worker process that is killed (no hang,
no orphan), quiet onnxruntime sessions, and the element limit on shapes computed at
run time (ConstantOfShape, Expand, Tile, Range, Resize)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.converters.ort_sessions import onnxruntime_session
from axonnx.converters.safety import MAX_ELEMENTS, check_elements
from axonnx.converters.validate import ValidationTimeoutError
from axonnx.errors import InvalidModelError, ResourceLimitError

TB = 2**40  # float32 elements: 4 TB


def _save(nodes, inputs, outputs, path: Path, initializers=()) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return path


def _value(name, dtype=TensorProto.FLOAT, shape=(1,)):
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def loop_model(path: Path, trip: int, *, empty_body: bool = False) -> Path:
    """y = x + trip: a Loop of `trip` iterations adding 1 (`empty_body`: passing the
    values through, a body with no nodes)."""
    state = [_value("i", TensorProto.INT64, ()), _value("cond_in", TensorProto.BOOL, ())]
    if empty_body:
        outputs = [_value("cond_in", TensorProto.BOOL, ()), _value("v_in")]
        body = helper.make_graph([], "body", [*state, _value("v_in")], outputs)
    else:
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("Add", ["v_in", "one"], ["v_out"]),
            ],
            "body",
            [*state, _value("v_in")],
            [_value("cond_out", TensorProto.BOOL, ()), _value("v_out")],
            [_const("one", np.ones(1, np.float32))],
        )
    node = helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body)
    inits = [_const("M", np.int64(trip)), _const("cond", np.bool_(True))]
    return _save([node], [_value("x")], [_value("y")], path, inits)


def while_model(path: Path, limit: float) -> Path:
    """`while v < limit: v += 1` from v = x. With limit 1e30 it never ends: float32 v
    stops growing at 2**24. The condition is data: a compiled `while_loop`."""
    body = helper.make_graph(
        [
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
            helper.make_node("Less", ["v_out", "limit"], ["less"]),
            helper.make_node("Squeeze", ["less"], ["cond_out"]),
        ],
        "body",
        [
            _value("i", TensorProto.INT64, ()),
            _value("cond_in", TensorProto.BOOL, ()),
            _value("v_in"),
        ],
        [_value("cond_out", TensorProto.BOOL, ()), _value("v_out")],
        [_const("one", np.ones(1, np.float32)), _const("limit", np.array([limit], np.float32))],
    )
    node = helper.make_node("Loop", ["", "cond", "x"], ["y"], body=body)
    return _save([node], [_value("x")], [_value("y")], path, [_const("cond", np.bool_(True))])


def constant_of_shape_model(path: Path) -> Path:
    """y = ConstantOfShape(shape) filled with ones; `shape` is a graph input."""
    node = helper.make_node("ConstantOfShape", ["shape"], ["y"], value=_const("v", np.ones(1, "f")))
    return _save([node], [_value("shape", TensorProto.INT64)], [_value("y", shape=None)], path)


def expand_model(path: Path, shape) -> Path:
    """y = Expand(x, shape) with `shape` an initializer."""
    node = helper.make_node("Expand", ["x", "shape"], ["y"])
    inits = [_const("shape", np.array(shape, np.int64))]
    return _save([node], [_value("x")], [_value("y", shape=None)], path, inits)


def _workers() -> list[int]:
    """Validation workers this process started that are still alive (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"_worker_main" in command:
            found.append(int(entry.name))
    return found


linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
X = {"x": np.zeros(1, np.float32)}


# ---------------------------------------------------------------- time limits


@linux_only
@pytest.mark.parametrize("empty_body", [False, True], ids=["body", "empty-body"])
def test_a_loop_of_2_62_iterations_times_out_in_onnxruntime(tmp_path, empty_body):
    # onnxruntime runs first; an empty body never checks RunOptions.terminate, so only
    # killing the worker stops it
    path = loop_model(tmp_path / "loop.onnx", 2**62, empty_body=empty_body)
    start = time.monotonic()
    with pytest.raises(
        ValidationTimeoutError, match=r"loop\.onnx: timed out after 2 s in onnxruntime$"
    ):
        ax.validate(path, X, timeout=2)
    assert time.monotonic() - start < 30
    assert _workers() == []


@linux_only
def test_an_endless_axonnx_run_times_out_in_axonnx(tmp_path):
    # onnxruntime runs the 3-step model; axonnx the endless one (model=)
    endless, params = ax.import_onnx(while_model(tmp_path / "endless.onnx", 1e30))
    source = while_model(tmp_path / "three.onnx", 3.0)
    start = time.monotonic()
    with pytest.raises(
        ValidationTimeoutError, match=r"three\.onnx: timed out after 2 s in axonnx$"
    ):
        ax.validate(source, X, model=endless, params=params, timeout=2)
    assert time.monotonic() - start < 30
    assert _workers() == []


def test_a_time_limited_validate_reports_as_in_process(tmp_path):
    path = loop_model(tmp_path / "loop.onnx", 3)
    limited = ax.validate(path, X, timeout=60, bisect=True)
    plain = ax.validate(path, X, bisect=True)
    assert limited.passed and limited.to_dict() == plain.to_dict()


def test_errors_in_the_worker_keep_their_type(tmp_path):
    with pytest.raises(InvalidModelError, match="no such file"):
        ax.validate(tmp_path / "missing.onnx", timeout=60)


def test_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="timeout"):
        ax.validate(loop_model(tmp_path / "loop.onnx", 3), X, timeout=0)


_ORPHAN_SCRIPT = """
import sys, numpy as np, axonnx as ax
ax.validate(sys.argv[1], {"x": np.zeros(1, np.float32)}, timeout=600)
"""


@linux_only
def test_the_worker_ends_when_its_parent_is_killed(tmp_path):
    path = loop_model(tmp_path / "loop.onnx", 2**62)
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(path)])
    try:
        worker = _wait_for_worker(parent.pid, deadline=time.monotonic() + 120)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{worker}").exists(), "the worker outlived its parent"
    finally:
        parent.kill()
        parent.wait()


def _wait_for_worker(parent: int, deadline: float) -> int:
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent and b"_worker_main" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except (OSError, IndexError, ValueError):
                continue
        time.sleep(0.1)
    raise AssertionError("no validation worker started")


# ---------------------------------------------------------------- quiet onnxruntime


def test_onnxruntime_failures_print_nothing(tmp_path, capfd):
    path = constant_of_shape_model(tmp_path / "huge.onnx")
    with pytest.raises(InvalidModelError, match="onnxruntime cannot run the model"):
        ax.validate(path, {"shape": np.array([TB], np.int64)})
    assert capfd.readouterr().err == ""


def test_sessions_are_created_quiet(tmp_path, capfd):
    session = onnxruntime_session(str(constant_of_shape_model(tmp_path / "huge.onnx")))
    assert session.get_session_options().log_severity_level == 4
    with pytest.raises(Exception, match="allocate"):
        session.run(None, {"shape": np.array([TB], np.int64)})
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- element limit


def test_check_elements():
    check_elements([2**16, 2**16], "op")  # exactly the limit
    with pytest.raises(ResourceLimitError, match=r"op: the output would have 4,294,967,297"):
        check_elements([MAX_ELEMENTS + 1], "op")
    check_elements([-1, 2**40], "op")  # negative dims are the op's own error
    with pytest.raises(ResourceLimitError, match="limit of 10"):
        check_elements([11], "op", max_elements=10)


def test_the_limit_follows_axonnx_max_elements(monkeypatch):
    monkeypatch.setenv("AXONNX_MAX_ELEMENTS", "10")
    check_elements([10], "op")
    with pytest.raises(ResourceLimitError):
        check_elements([11], "op")


def test_constant_of_shape_of_4_tb_through_predict(tmp_path):
    model, state = ax.import_onnx(constant_of_shape_model(tmp_path / "huge.onnx"))
    with pytest.raises(
        ResourceLimitError, match=r"ConstantOfShape: the output would have 1,099,511,627,776"
    ):
        ax.predict(model, state, {"shape": np.array([TB], np.int64)})
    small = ax.predict(model, state, {"shape": np.array([3], np.int64)})
    np.testing.assert_array_equal(small["y"] if isinstance(small, dict) else small, np.ones(3))


def test_expand_of_4_tb_through_predict(tmp_path):
    model, state = ax.import_onnx(expand_model(tmp_path / "huge.onnx", [2**20, 2**20]))
    with pytest.raises(
        ResourceLimitError, match=r"Expand: the output would have 1,099,511,627,776"
    ):
        ax.predict(model, state, X)


def _tile(path):
    node = helper.make_node("Tile", ["x", "reps"], ["y"])
    inits = [_const("reps", np.array([TB], np.int64))]
    return _save([node], [_value("x")], [_value("y", shape=None)], path, inits), X


def _range(path):
    node = helper.make_node("Range", ["start", "limit", "delta"], ["y"])
    inits = [_const("start", np.int64(0)), _const("delta", np.int64(1))]
    inputs = [_value("limit", TensorProto.INT64, ())]
    path = _save([node], inputs, [_value("y", TensorProto.INT64, None)], path, inits)
    return path, {"limit": np.array(TB, np.int64)}


def _resize(path):
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"])
    inits = [_const("scales", np.array([1, 1, 2**19, 2**19], np.float32))]
    inputs = [_value("x", shape=(1, 1, 2, 2))]
    path = _save([node], inputs, [_value("y", shape=None)], path, inits)
    return path, {"x": np.ones((1, 1, 2, 2), np.float32)}


@pytest.mark.parametrize("build", [_tile, _range, _resize], ids=["Tile", "Range", "Resize"])
def test_tile_range_resize_of_4_tb_through_predict(tmp_path, build):
    path, feed = build(tmp_path / "huge.onnx")
    model, state = ax.import_onnx(path)
    with pytest.raises(ResourceLimitError, match=r"the output would have 1,099,511,627,776"):
        ax.predict(model, state, feed)


@pytest.mark.parametrize("timeout", [None, 60], ids=["in-process", "worker"])
def test_validate_applies_the_limit(tmp_path, monkeypatch, timeout):
    # onnxruntime makes the 12 elements; axonnx refuses more than 10
    monkeypatch.setenv("AXONNX_MAX_ELEMENTS", "10")
    path = expand_model(tmp_path / "wide.onnx", [3, 4])
    with pytest.raises(ResourceLimitError, match=r"Expand: the output would have 12 elements"):
        ax.validate(path, X, timeout=timeout)
