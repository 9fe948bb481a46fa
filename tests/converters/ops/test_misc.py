"""TfIdfVectorizer on strings (compared with onnx's reference evaluator) and MaxRoiPool
(no reference there: compared with a loop written from Caffe's definition)."""

from __future__ import annotations

import math

import numpy as np
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator


def test_tfidf_vectorizer_strings_with_skips_matches_reference(one_node):
    node = oh.make_node(
        "TfIdfVectorizer",
        ["x"],
        ["y"],
        mode="TFIDF",
        min_gram_length=1,
        max_gram_length=2,
        max_skip_count=1,
        ngram_counts=[0, 3],
        ngram_indexes=[3, 0, 1, 2, 4],
        pool_strings=["a", "b", "c", "a", "b", "c", "a"],
        weights=[0.5, 1.0, 2.0, 3.0, 4.0],
    )
    x = np.array([["a", "b", "c", "a", "z"], ["c", "a", "x", "a", "b"]], dtype=object)
    model = one_node.model(node, {"x": x}, 9)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    (actual,) = one_node.run(model, {"x": x})
    np.testing.assert_allclose(actual, expected)
    assert actual.dtype == np.float32


def _caffe_max_roi_pool(x, rois, pooled_shape, scale):
    ph, pw = pooled_shape
    out = np.zeros((len(rois), x.shape[1], ph, pw), x.dtype)
    for r, (batch, *coords) in enumerate(rois):
        x1, y1, x2, y2 = (math.floor(c * scale + 0.5) for c in coords)
        bin_h = max(y2 - y1 + 1, 1) / ph
        bin_w = max(x2 - x1 + 1, 1) / pw
        for i in range(ph):
            h0 = min(max(math.floor(i * bin_h) + y1, 0), x.shape[2])
            h1 = min(max(math.ceil((i + 1) * bin_h) + y1, 0), x.shape[2])
            for j in range(pw):
                w0 = min(max(math.floor(j * bin_w) + x1, 0), x.shape[3])
                w1 = min(max(math.ceil((j + 1) * bin_w) + x1, 0), x.shape[3])
                if h1 > h0 and w1 > w0:
                    out[r, :, i, j] = x[int(batch), :, h0:h1, w0:w1].max(axis=(1, 2))
    return out


def test_max_roi_pool_matches_caffe_definition(one_node):
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 10)).astype(np.float32)
    rois = np.array(
        [[0, 0, 0, 9, 7], [1, 2.4, 1.6, 6.2, 5.5], [1, 7, 6, 30, 20], [0, 3, 3, 3, 3]],
        np.float32,
    )
    node = oh.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[3, 2], spatial_scale=0.8)
    (actual,) = one_node.run(
        one_node.model(node, {"x": x, "rois": rois}, 22), {"x": x, "rois": rois}
    )
    np.testing.assert_allclose(actual, _caffe_max_roi_pool(x, rois, (3, 2), 0.8))
