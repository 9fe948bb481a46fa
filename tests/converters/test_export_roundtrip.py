"""Round trips ONNX → axonnx → ONNX: every model in `models/` and the `light` zoo
models shipped with onnx keep their inputs, outputs and initializer names, their
weights bit for bit, and their outputs (in onnxruntime) within float tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import axonnx as ax

MODELS = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.onnx"))
LIGHT = sorted((Path(onnx.__file__).parent / "backend/test/data/light").glob("*.onnx"))
HEAVY = {
    "light_vgg19",
    "light_bvlc_alexnet",
    "light_zfnet512",
    "light_densenet121",
    "light_inception_v2",
    "light_resnet50",
}
CASES = [pytest.param(p, id=p.stem) for p in MODELS] + [
    pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in HEAVY else []) for p in LIGHT
]


def _session(model: onnx.ModelProto | str) -> ort.InferenceSession:
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _feeds(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in arg.shape]
        if "int" in arg.type:
            feeds[arg.name] = rng.integers(0, 2, shape).astype(np.int64)
        else:
            feeds[arg.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


@pytest.mark.parametrize("path", CASES)
def test_round_trip(path, tmp_path):
    original = onnx.load(str(path))
    graph, state = ax.import_onnx(str(path))
    exported = ax.export_onnx(graph, state, tmp_path / "out.onnx")
    onnx.checker.check_model(str(tmp_path / "out.onnx"), full_check=True)

    assert [i.name for i in exported.graph.input] == [
        i.name for i in original.graph.input if i.name not in _initializers(original)
    ]
    assert [o.name for o in exported.graph.output] == [o.name for o in original.graph.output]
    assert exported.opset_import[0].version == original.opset_import[0].version

    before, after = _initializers(original), _initializers(exported)
    weights = {n for n, v in before.items() if v.dtype.kind == "f" and v.size > 1}
    assert weights <= set(after)
    for name in weights:
        assert after[name].dtype == before[name].dtype
        assert after[name].tobytes() == before[name].tobytes(), name

    again, again_state = ax.import_onnx(str(tmp_path / "out.onnx"))
    reimported = _initializers(ax.export_onnx(again, again_state))
    for name in weights:
        assert reimported[name].tobytes() == before[name].tobytes(), name

    session = _session(str(path))
    feeds = _feeds(session)
    expected = session.run(None, feeds)
    got = _session(str(tmp_path / "out.onnx")).run(None, feeds)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
