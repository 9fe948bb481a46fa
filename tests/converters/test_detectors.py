"""Detectors and their selection ops against onnxruntime: NonMaxSuppression on many
boxes (the sparse greedy selection) and torchvision SSDLite, Faster R-CNN and RetinaNet
exports through `ax.predict` (tests/converters/detectors, made by make_detectors.py)."""

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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    height = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(np.array_equal(a, b))


def _assert_same_detections(found: dict, expected: dict, score_tol: float = 1e-4) -> None:
    """Same number of detections, scores in the same order, and each expected detection
    matched one to one by a found one with its label, score (within `score_tol`: ties
    may come in any order) and box (IoU >= 0.99)."""
    assert found["scores"].shape == expected["scores"].shape
    np.testing.assert_allclose(found["scores"], expected["scores"], atol=score_tol)
    free = set(range(len(found["scores"])))
    for box, score, label in zip(expected["boxes"], expected["scores"], expected["labels"]):
        match = next(
            (
                j
                for j in sorted(free, key=lambda j: abs(found["scores"][j] - score))
                if found["labels"][j] == label
                and abs(found["scores"][j] - score) <= score_tol
                and _iou(found["boxes"][j], box) >= 0.99
            ),
            None,
        )
        assert match is not None, f"no match for {label} {score} {box}"
        free.remove(match)


@pytest.mark.parametrize("name", ["ssdlite_tiny", "fasterrcnn_tiny", "retinanet_tiny"])
def test_detector_matches_onnxruntime(name):
    """torchvision's SSDLite, Faster R-CNN (RoiAlign over an FPN) and RetinaNet."""
    path = DETECTORS / f"{name}.onnx"
    session = ort.InferenceSession(str(path))
    model, state = ax.import_onnx(path)
    for seed in range(2):
        image = np.random.default_rng(seed).random((3, 320, 320), dtype=np.float32)
        names = [o.name for o in session.get_outputs()]
        expected = dict(zip(names, session.run(None, {"image": image}), strict=True))
        found = {k: np.asarray(v) for k, v in ax.predict(model, state, {"image": image}).items()}
        assert np.ptp(expected["scores"]) > 0.05 and len(np.unique(expected["labels"])) > 1
        _assert_same_detections(found, expected)


def _roi_align_model(mode: str, sampling_ratio: int) -> onnx.ModelProto:
    node = helper.make_node(
        "RoiAlign", ["x", "rois", "batch"], ["y"], coordinate_transformation_mode=mode,
        output_height=7, output_width=5, sampling_ratio=sampling_ratio, spatial_scale=0.0625,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "roi_align",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 20, 20]),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, [None, 4]),
            helper.make_tensor_value_info("batch", TensorProto.INT64, [None]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)], ir_version=8)


@pytest.mark.parametrize("mode", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_matches_onnxruntime(mode, sampling_ratio):
    """Faster R-CNN's pooling as onnxruntime computes it: boxes in image pixels on a
    stride-16 map, small and large (adaptive sampling takes up to ceil(h / 7) taps),
    some reaching outside the map."""
    rng = np.random.default_rng(sampling_ratio)
    corner = rng.uniform(-20, 300, (60, 2))
    rois = np.concatenate([corner, corner + rng.uniform(1, 200, (60, 2))], 1)
    feed = {
        "x": rng.normal(size=(2, 8, 20, 20)).astype(np.float32),
        "rois": rois.astype(np.float32),
        "batch": rng.integers(0, 2, 60),
    }
    proto = _roi_align_model(mode, sampling_ratio)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, feed)[0]
    model, state = ax.import_onnx(proto)
    found = np.asarray(ax.predict(model, state, feed)["y"])
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
