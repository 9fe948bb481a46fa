"""The onnxruntime sessions axonnx creates: one place that sets their providers and
silences onnxruntime's own C++ log lines (its errors reach the caller as exceptions,
and axonnx prints one line for them)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["ORT_LOG_SEVERITY", "PROVIDERS", "log_severity", "onnxruntime_session", "run_options"]

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}

ORT_LOG_SEVERITY = 4
"""onnxruntime's log severity in the sessions axonnx creates: 4 (fatal only) keeps its
C++ log lines off stderr; 2 is onnxruntime's default (`axonnx --debug` uses it)."""


def onnxruntime_session(
    model: bytes | str | os.PathLike,
    providers: Sequence[str] = ("cpu",),
    options: Any = None,
):
    """An `onnxruntime.InferenceSession` that logs nothing below `ORT_LOG_SEVERITY`.

    `providers` are `"cpu"`, `"cuda"` or onnxruntime's provider names; `options` a
    `SessionOptions` to start from. Also sets onnxruntime's default logger (process
    wide: it reports environment and provider-loading problems) to the same level.
    """
    import onnxruntime as ort

    ort.set_default_logger_severity(ORT_LOG_SEVERITY)
    options = ort.SessionOptions() if options is None else options
    options.log_severity_level = ORT_LOG_SEVERITY
    model = os.fspath(model) if isinstance(model, os.PathLike) else model
    return ort.InferenceSession(model, options, providers=[PROVIDERS.get(p, p) for p in providers])


def run_options():
    """`onnxruntime.RunOptions` at `ORT_LOG_SEVERITY`, for `session.run`."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = ORT_LOG_SEVERITY
    return options


@contextlib.contextmanager
def log_severity(level: int) -> Iterator[None]:
    """Within the block, sessions axonnx creates log at `level` (2: onnxruntime's own
    warnings and errors, as `axonnx --debug` shows them)."""
    global ORT_LOG_SEVERITY
    before, ORT_LOG_SEVERITY = ORT_LOG_SEVERITY, level
    try:
        yield
    finally:
        ORT_LOG_SEVERITY = before
