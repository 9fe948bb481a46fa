"""Helpers of the standard-only export tests: export an ONNX model through axonnx with
`standard_only=True`, check the result, and run models in onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

import axonnx as ax


def nodes_of(graph: onnx.GraphProto):
    """Every node of `graph`, subgraphs included."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else []:
                yield from nodes_of(sub)
            for sub in attribute.graphs:
                yield from nodes_of(sub)


def standard_export(source, opset: int | None = None) -> onnx.ModelProto:
    """`source` (a path or ModelProto) imported and exported with standard ops only,
    checked by onnx's full checker, with no node outside the default domain."""
    model, state = ax.import_onnx(source)
    proto = ax.export_onnx(model, state, opset=opset, standard_only=True)
    onnx.checker.check_model(proto, full_check=True)
    outside = {f"{n.domain}::{n.op_type}" for n in nodes_of(proto.graph) if n.domain}
    assert outside == set(), outside
    assert {o.domain for o in proto.opset_import} <= {"", "ai.onnx.ml"}
    return proto


def session(source) -> ort.InferenceSession:
    """An onnxruntime CPU session. Blocked DequantizeLinear + MatMul pairs run at float
    accuracy: onnxruntime fuses them into MatMulNBits at accuracy level 4 (int8
    activations) by default, while the originals' MatMulNBits ask for level 0."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "0")
    model = source.SerializeToString() if isinstance(source, onnx.ModelProto) else str(source)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run(source, inputs: dict) -> dict[str, np.ndarray]:
    """onnxruntime's outputs by name."""
    sess = session(source)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, inputs), strict=True))


def op_types(proto: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in nodes_of(proto.graph)}
