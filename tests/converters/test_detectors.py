"""Detectors and their selection ops against onnxruntime: NonMaxSuppression on many
boxes (the sparse greedy selection) and a torchvision SSDLite export through
`ax.predict` (tests/converters/detectors, made by make_detectors.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import axonnx as ax

DETECTORS = Path(__file__).resolve().parent / "detectors"


def _nms_model(center: int, with_threshold: bool) -> onnx.ModelProto:
    names = ["boxes", "scores", "max_boxes", "iou", *(["score_min"] if with_threshold else [])]
    graph = helper.make_graph(
        [helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center)],
        "nms",
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [None, None, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, None, None]),
            helper.make_tensor_value_info("max_boxes", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("iou", TensorProto.FLOAT, [1]),
            *(
                [helper.make_tensor_value_info("score_min", TensorProto.FLOAT, [1])]
                * with_threshold
            ),
        ],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=8)


def _boxes(rng, count: int, groups: int, degenerate: bool) -> np.ndarray:
    """Boxes in `groups` far-apart regions (torchvision's per-class offset), some of
    no area when `degenerate`; corners in either order."""
    corner = rng.random((count, 2)) * 50
    size = rng.random((count, 2)) * rng.choice([5, 20, 40], size=(count, 1))
    boxes = np.concatenate([corner, corner + size], 1) + 100 * rng.integers(0, groups, (count, 1))
    if degenerate:
        boxes[: count // 5, 2] = boxes[: count // 5, 0]
    swap = rng.random(count) < 0.3
    boxes[swap] = boxes[swap][:, [2, 3, 0, 1]]
    return boxes.astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_non_max_suppression_matches_onnxruntime(seed):
    rng = np.random.default_rng(seed)
    count, classes = int(rng.integers(50, 3000)), int(rng.integers(1, 4))
    boxes = _boxes(rng, count, groups=int(rng.integers(1, 30)), degenerate=seed % 2 == 0)[None]
    scores = rng.random((1, classes, count)).astype(np.float32)
    if seed % 3 == 0:  # many exact ties
        scores = np.round(scores * 8) / 8
    center, with_threshold = seed % 4 == 1, seed % 2 == 1
    feed = {
        "boxes": np.concatenate([boxes, boxes[:, ::-1]]),
        "scores": np.concatenate([scores, scores[:, :, ::-1]]),
        "max_boxes": np.array([[2**40, 7, 200][seed % 3]], np.int64),
        "iou": np.array([[0.0, 0.3, 0.5, 0.7][seed % 4]], np.float32),
        **({"score_min": np.array([0.4], np.float32)} if with_threshold else {}),
    }
    proto = _nms_model(int(center), with_threshold)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, feed)[0]
    model, state = ax.import_onnx(proto)
    np.testing.assert_array_equal(np.asarray(ax.predict(model, state, feed)["selected"]), expected)
