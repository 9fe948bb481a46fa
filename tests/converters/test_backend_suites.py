"""onnx's own BackendTest runner over axonnx's Backend: the model suites shipped with
onnx (light zoo models, pytorch-converted, pytorch-operator, simple). The node cases
run in test_conformance.py."""

from __future__ import annotations

import os
import warnings

import onnx.backend.test

from axonnx.converters.backend import AxonnxBackend

os.environ.setdefault("ONNX_HOME", os.path.join(os.path.dirname(__file__), ".onnx_home"))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _backend_test = onnx.backend.test.BackendTest(AxonnxBackend, __name__)
_backend_test.exclude(r"_cuda$")

globals().update(
    {name: case for name, case in _backend_test.test_cases.items()
     if name != "OnnxBackendNodeModelTest"}
)
