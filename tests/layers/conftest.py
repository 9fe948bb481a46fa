"""Shared fixtures for layer tests: one-node ONNX models as independent references."""

import numpy as np
import onnxruntime
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

OPSET = 21


def _value_info(name: str, array: np.ndarray | None, dtype=None):
    dtype = array.dtype if array is not None else dtype
    shape = array.shape if array is not None else None
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype), shape)


def run_onnx_node(op_type, inputs, *, out_dtype=np.float32, engine="reference", **attributes):
    """Runs ``op_type`` on ``inputs`` (name -> array, or None for an omitted input).

    ``engine`` is ``"reference"`` (``onnx.reference.ReferenceEvaluator``) or ``"ort"``
    (onnxruntime on CPU).
    """
    names = [name if value is not None else "" for name, value in inputs.items()]
    feeds = {name: value for name, value in inputs.items() if value is not None}
    graph = helper.make_graph(
        [helper.make_node(op_type, names, ["y"], **attributes)],
        op_type.lower(),
        [_value_info(name, value) for name, value in feeds.items()],
        [_value_info("y", None, np.dtype(out_dtype))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    if engine == "reference":
        return ReferenceEvaluator(model).run(None, feeds)[0]
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, feeds)[0]


@pytest.fixture
def onnx_node():
    """The :func:`run_onnx_node` helper."""
    return run_onnx_node
