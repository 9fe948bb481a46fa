"""One job in a worker process, each of its steps limited in time.

Neither runtime can be stopped reliably from inside: a JAX computation cannot be
interrupted, and onnxruntime's `RunOptions.terminate` is not checked by a `Loop` whose
body has no nodes. So a job that must end in time (`validate(..., timeout=S)`) runs in
a fresh Python process that is killed, with its process group, when one step runs past
its limit. The worker also exits by itself when its parent dies (its stdin closes), so
nothing is left running.

Parent and worker talk over their own pipes: the job goes in, frames come back
(`("step", name)` when the job starts a step, then `("result", value)` or
`("error", ...)`); nothing is read from a file. The worker starts with the parent's
settings: JAX's options, the element limit and onnxruntime's log severity.
"""

from __future__ import annotations

import enum
import importlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import jax

from axonnx.converters import ort_sessions, safety
from axonnx.errors import AxonnxError

__all__ = ["StepTimeoutError", "run_in_worker"]

STARTUP_S = 120.0
"""Seconds a worker may take to start (Python, JAX, axonnx) before its first step."""

_JAX_OPTIONS = (
    "jax_enable_x64",
    "jax_platforms",
    "jax_default_matmul_precision",
    "jax_numpy_rank_promotion",
    "jax_numpy_dtype_promotion",
    "jax_debug_nans",
    "jax_debug_infs",
    "jax_disable_jit",
)

# -P: no script folder or working directory on sys.path; the parent's path is restored
_BOOT = (
    "import sys; entry = sys.argv[1]; sys.path[:] = sys.argv[2:]; "
    "from axonnx.converters.worker import _worker_main; _worker_main(entry)"
)


class StepTimeoutError(AxonnxError, TimeoutError):
    """A step of a job run by `run_in_worker` ran past its time limit."""


def run_in_worker(entry: str, job: Any, timeout: float, label: str) -> Any:
    """`function(job, step)` in a worker process, where `entry` is
    `"axonnx.module:function"`; returns its result or raises what it raised.

    The function calls `step(name)` as it starts each step; a step (and the worker's
    start, `STARTUP_S`) that runs past `timeout` seconds kills the worker and raises
    `StepTimeoutError("LABEL: timed out after N s in NAME")`. `job` must pickle.
    """
    timeout = float(timeout)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout:g}")
    if not entry.startswith("axonnx."):
        raise ValueError(f"run_in_worker: {entry!r} is not an axonnx function")
    settings = {
        "jax": _jax_options(),
        "max_elements": safety.MAX_ELEMENTS,
        "ort_log_severity": ort_sessions.ORT_LOG_SEVERITY,
    }
    frame = pickle.dumps((settings, job), protocol=pickle.HIGHEST_PROTOCOL)
    return _supervise(entry, frame, timeout, label)


def _jax_options() -> dict[str, Any]:
    values = {}
    for name in _JAX_OPTIONS:
        try:
            value = getattr(jax.config, name)
        except AttributeError:  # an option this jax does not have
            continue
        values[name] = value.value if isinstance(value, enum.Enum) else value
    return values


def _supervise(entry: str, job: bytes, timeout: float, label: str) -> Any:
    """Start a worker, hand it `job`, and wait for its result, step by step."""
    env = dict(os.environ)
    # the parent may hold most of a GPU's memory already: the worker takes what it needs
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    process = subprocess.Popen(
        [sys.executable, "-P", "-c", _BOOT, entry, *sys.path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=os.name == "posix",  # one process group: killed together
    )
    frames: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_frames, args=(process.stdout, frames), daemon=True)
    writer = threading.Thread(target=_write_job, args=(process.stdin, job), daemon=True)
    reader.start()
    writer.start()
    step, limit = None, STARTUP_S
    try:
        while True:
            try:
                kind, value = frames.get(timeout=limit)
            except queue.Empty:
                where = f"in {step}" if step else "starting the worker"
                raise StepTimeoutError(f"{label}: timed out after {limit:g} s {where}") from None
            if kind == "step":
                step, limit = value, timeout
            elif kind == "result":
                return value
            elif kind == "error":
                raise _rebuilt(*value)
            else:  # the worker's output ended without a report
                code = process.wait()
                raise AxonnxError(
                    f"{label}: the worker ended without a result (exit status "
                    f"{code}{'' if code >= 0 else ', ' + _signal_name(-code)})"
                )
    finally:
        _stop(process)
        reader.join(timeout=10)
        writer.join(timeout=10)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stop(process: subprocess.Popen) -> None:
    """Kill the worker (and anything it started) unless it is gone, and reap it."""
    if process.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)  # the group of the unreaped worker
            else:
                process.kill()
        except ProcessLookupError:
            pass
    process.wait()
    for stream in (process.stdin, process.stdout):
        try:
            stream.close()
        except OSError:
            pass


def _write_job(stream, job: bytes) -> None:
    # the pipe stays open: the worker exits when it closes (this process ended)
    try:
        stream.write(job)
        stream.flush()
    except (OSError, ValueError):  # the worker is gone; the reader reports it
        pass


def _read_frames(stream, frames: queue.Queue) -> None:
    while True:
        try:
            frames.put(pickle.load(stream))
        except Exception:  # noqa: BLE001  (end of stream, or the worker was killed mid-frame)
            frames.put(("end", None))
            return


class _RemoteTraceback(Exception):
    """The traceback of an error raised in the worker (shown by `--debug`)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _rebuilt(data: bytes | None, kind: str, message: str, text: str) -> BaseException:
    error: BaseException | None = None
    if data is not None:
        try:
            error = pickle.loads(data)
        except Exception:  # noqa: BLE001  (an exception type that does not unpickle)
            error = None
    if not isinstance(error, BaseException):
        error = RuntimeError(f"{kind}: {message}")
    error.__cause__ = _RemoteTraceback(f"\n(in the worker)\n{text}")
    return error


def _worker_main(entry: str) -> None:
    """The worker: read a job on stdin, report each step and the result on stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, not into the results
    settings, job = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    for name, value in settings["jax"].items():
        jax.config.update(name, value)
    safety.MAX_ELEMENTS = settings["max_elements"]
    ort_sessions.ORT_LOG_SEVERITY = settings["ort_log_severity"]
    lock = threading.Lock()

    def send(frame) -> None:
        with lock:
            pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    try:
        module, name = entry.split(":")
        function: Callable = getattr(importlib.import_module(module), name)
        send(("result", function(job, lambda step: send(("step", step)))))
    except BaseException as error:  # noqa: BLE001  (everything goes back to the parent)
        send(("error", _portable_error(error)))
    os._exit(0)  # nothing to clean up; skip interpreter shutdown


def _portable_error(error: BaseException) -> tuple[bytes | None, str, str, str]:
    text = "".join(traceback.format_exception(error))
    try:
        data = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001  (an exception holding something unpicklable)
        data = None
    return data, type(error).__name__, str(error), text


def _exit_with_parent() -> None:
    """End the worker when its parent is gone (its end of stdin closes)."""
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(3)
