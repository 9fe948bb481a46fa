"""A repeated call goes straight to the compiled function with the packed parameters
(`Engine._fast`, `axonnx.engine.resident`): same results as onnxruntime and as the
plain graph, no recompilation, a new state or a transformation still honoured."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import onnxruntime as ort
import pytest

import axonnx as ax
from axonnx.engine import Engine
from axonnx.engine.resident import PACK_LIMIT, pack, unpack
from axonnx.errors import ShapeError

MODELS = Path(__file__).resolve().parents[2] / "models"
ML_MODELS = Path(__file__).resolve().parents[1] / "converters" / "ml_models"


def _ort(path: Path, feed: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def _image(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 1, 28, 28)).astype(np.float32)


@pytest.fixture
def traces(monkeypatch):
    """How many times the engine traced the whole graph (once per compilation)."""
    count = []
    original = Engine._traced

    def counted(self, *args):
        count.append(1)
        return original(self, *args)

    monkeypatch.setattr(Engine, "_traced", counted)
    return count


def test_repeated_calls_match_onnxruntime_without_recompiling(traces):
    path = MODELS / "cnn.onnx"
    model, state = ax.import_onnx(path)
    engine = Engine(model)
    for batch in (1, 8, 1):
        x = _image(batch, seed=batch)
        (want,) = _ort(path, {"x": x})
        for given in (x, (x,), {"x": x}, jnp.asarray(x)):
            got = engine(state, given)["logits"]
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
    assert engine._fast is not None  # the repeated calls took the fast path
    assert len(traces) == 2  # one compilation per batch size


def test_parameters_pass_as_few_arrays():
    model, state = ax.import_onnx(MODELS / "cnn.onnx")
    engine = Engine(model)
    engine(state, _image(1))
    own, buffers = engine._fast[1]
    leaves = jax.tree_util.tree_leaves(engine.fast.prepare(state))
    assert len(leaves) > 10
    assert [v.shape for v in own] == [v.shape for v in leaves if v.ndim > 1]  # kernels
    assert len(buffers) == 1  # every bias and normalisation vector, float32


def test_a_new_state_is_used_not_the_resident_one():
    path = MODELS / "mlp.onnx"
    model, state = ax.import_onnx(path)
    engine = Engine(model)
    x = np.random.default_rng(0).standard_normal((2, 784)).astype(np.float32)
    first = np.asarray(engine(state, x)["y"])
    doubled = jax.tree_util.tree_map(lambda v: v * 2, state)
    second = np.asarray(engine(doubled, x)["y"])
    np.testing.assert_allclose(second, np.asarray(engine.apply(doubled, x)["y"]), rtol=1e-5)
    assert not np.allclose(first, second)
    np.testing.assert_allclose(np.asarray(engine(state, x)["y"]), first, rtol=1e-6)


def test_transformations_still_trace_through_after_fast_calls():
    model, state = ax.import_onnx(MODELS / "mlp.onnx")
    x = np.random.default_rng(1).standard_normal((3, 784)).astype(np.float32)
    direct = np.asarray(ax.predict(model, state, x)["y"])
    ax.predict(model, state, x)  # the fast path is in place

    jitted = jax.jit(lambda x: ax.predict(model, state, x)["y"])(x)
    np.testing.assert_allclose(np.asarray(jitted), direct, rtol=1e-5, atol=1e-6)
    mapped = jax.vmap(lambda row: ax.predict(model, state, row[None])["y"][0])(x)
    np.testing.assert_allclose(np.asarray(mapped), direct, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda x: ax.predict(model, state, x)["y"].sum())(x)
    _, predict_fn = ax.build(model)
    want = jax.grad(lambda x: predict_fn(state, x)["y"].sum())(x)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_a_wrong_shape_still_raises_after_fast_calls():
    model, state = ax.import_onnx(MODELS / "mlp.onnx")
    engine = Engine(model)
    engine(state, np.zeros((1, 784), np.float32))
    with pytest.raises(ShapeError, match="784"):
        engine(state, np.zeros((1, 783), np.float32))


def test_onnx_ml_model_takes_the_fast_path_and_matches_onnxruntime():
    path = ML_MODELS / "svc_linear_3class_proba.onnx"
    model, state = ax.import_onnx(path)
    (name,) = [n.name for n in ort.InferenceSession(path).get_inputs()]
    engine = Engine(model)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    want = _ort(path, {name: x})
    for _ in range(3):
        got = list(engine(state, {name: x}).values())
    assert engine._fast is not None
    np.testing.assert_array_equal(np.asarray(got[0]), want[0])
    np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-4, atol=1e-5)


def test_pack_then_unpack_gives_every_leaf_back():
    rng = np.random.default_rng(3)
    leaves = [
        jnp.asarray(rng.standard_normal(15), jnp.float32),
        jnp.asarray(rng.standard_normal(PACK_LIMIT + 1), jnp.float32),  # its own array
        jnp.asarray(rng.standard_normal((3, 5)), jnp.float32),  # a matrix: its own
        jnp.asarray(rng.integers(0, 9, (7,)), jnp.int32),
        jnp.asarray(rng.standard_normal(()), jnp.float32),
        jnp.asarray(rng.standard_normal(4).astype(ml_dtypes.bfloat16)),
        jnp.asarray(2.0),  # weakly typed: kept as it is
        jnp.zeros((0,), jnp.float32),
    ]
    resident = pack(leaves)
    own, buffers = resident.packed
    assert len(own) == 3 and len(buffers) == 3  # float32, int32, bfloat16
    back = jax.jit(lambda packed: unpack(resident.layout, packed))(resident.packed)
    for got, want in zip(back, leaves, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert back[6].weak_type
