"""Helpers for users' test suites: assert that axonnx matches onnxruntime."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["assert_matches_onnxruntime"]


def assert_matches_onnxruntime(source: str | os.PathLike | Any, inputs: Any = None, **options: Any):
    """Validate `source` against onnxruntime; raise `AssertionError` with the report when
    any output is outside tolerance. Options are those of `axonnx.validate`
    (`dims`, `rtol`, `atol`, `model`, `params`, `bisect`, …). Returns the report.

    >>> from axonnx.testing import assert_matches_onnxruntime
    >>> def test_my_model():                                              # doctest: +SKIP
    ...     assert_matches_onnxruntime("model.onnx", dims={"batch": 2}, bisect=True)
    """
    from axonnx.converters.validate import validate

    report = validate(source, inputs, **options)
    if not report.passed:
        raise AssertionError(f"axonnx does not match onnxruntime:\n{report}")
    return report
