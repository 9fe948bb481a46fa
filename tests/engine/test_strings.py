"""A model that computes with strings (JAX has no string arrays) runs through
`ax.predict`, op by op, and matches onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

import axonnx as ax

PIPELINE = Path(__file__).resolve().parent / "data" / "onehot_logreg_strings.onnx"


def test_string_input_pipeline_matches_onnxruntime():
    model, state = ax.import_onnx(PIPELINE)
    x = np.array([["red", "s"], ["blue", "xl"], ["green", "unseen"]], dtype=object)
    session = ort.InferenceSession(PIPELINE, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {"input": x})
    got = ax.predict(model, state, {"input": x})
    np.testing.assert_array_equal(np.asarray(got["output_label"]), labels)
    assert len(got["output_probability"]) == len(probabilities)
    for got_map, want_map in zip(got["output_probability"], probabilities, strict=True):
        assert list(got_map) == list(want_map)
        np.testing.assert_allclose(
            [float(v) for v in got_map.values()], list(want_map.values()), rtol=1e-5, atol=1e-6
        )
