"""Real ONNX-ML models (tests/converters/ml_models: scikit-learn SVMs, a DictVectorizer
pipeline, classifiers ending in ZipMap, LightGBM and XGBoost, converted by skl2onnx and
onnxmltools) through `ax.import_onnx` + `ax.predict`, against onnxruntime on the saved
inputs. `make_ml_models.py` there regenerates them; these tests need neither library."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import onnxruntime as ort
import pytest

import axonnx as ax

HERE = Path(__file__).resolve().parents[1] / "ml_models"
MODELS = sorted(p.stem for p in HERE.glob("*.onnx"))


def _runs(name: str) -> list[dict]:
    """The saved inputs: one run from `<name>.npz`, or the runs listed in `<name>.json`
    (models taking a map: onnxruntime feeds one dict per run)."""
    listed = HERE / f"{name}.json"
    if listed.exists():
        return json.loads(listed.read_text())
    with np.load(HERE / f"{name}.npz", allow_pickle=False) as arrays:
        return [{key: arrays[key] for key in arrays.files}]


def _assert_matches(got, want, where: str) -> None:
    """onnxruntime's form: a list of dicts (same keys, same order) or an array of the
    same shape and dtype; numbers close."""
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for got_map, want_map in zip(got, want, strict=True):
            assert list(got_map) == list(want_map), where
            values = [float(v) for v in got_map.values()]
            np.testing.assert_allclose(values, list(want_map.values()), 1e-5, 1e-6, err_msg=where)
        return
    got = np.asarray(got)
    assert got.shape == want.shape, (where, got.shape, want.shape)
    if want.dtype.kind in "OU":
        assert got.tolist() == want.tolist(), where
        return
    assert got.dtype == want.dtype, (where, got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=where)


def test_models_are_present_and_small():
    assert len(MODELS) >= 30
    files = [p for p in HERE.iterdir() if p.suffix in (".onnx", ".npz", ".json")]
    assert sum(p.stat().st_size for p in files) < 3 * 2**20


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_onnxruntime(name):
    path = HERE / f"{name}.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    with jax.enable_x64(True):
        model, state = ax.import_onnx(path)
        for index, feed in enumerate(_runs(name)):
            expected = session.run(None, feed)
            outputs = ax.predict(model, state, feed)
            for output, want in zip(names, expected, strict=True):
                _assert_matches(outputs[output], want, f"{name} run {index} {output}")
