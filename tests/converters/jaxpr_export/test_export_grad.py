"""ax.export_grad on models from models/: the derivative model in onnxruntime matches
jax.grad of the model's prediction, and central finite differences of the original
model in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import axonnx as ax

MODELS = Path(__file__).resolve().parents[3] / "models"
RNG = np.random.default_rng(0)


def session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def named(sess: ort.InferenceSession, feeds: dict) -> dict[str, np.ndarray]:
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def reference_grads(path: Path, feeds: dict, of: str, dims: dict, params: bool):
    """jax.grad of the sum of `of`, by the float inputs and (with `params`) the state."""
    graph, state = ax.import_onnx(path, dims=dims)
    _, predict_fn = ax.build(graph)
    floats = {k: v for k, v in feeds.items() if v.dtype == np.float32}
    ints = {k: v for k, v in feeds.items() if v.dtype != np.float32}

    def total(x, p):
        return predict_fn(ax.ModelState(p, state.state), {**x, **ints})[of].sum()

    return jax.grad(total, argnums=(0, 1))(floats, state.params), state


def directional_fd(path: Path, feeds: dict, of: str, name: str, direction, h: float):
    """Central finite difference of sum(of) along `direction` of input `name`."""
    sess = session(onnx.load(path))
    up = named(sess, {**feeds, name: feeds[name] + h * direction})[of].astype(np.float64)
    down = named(sess, {**feeds, name: feeds[name] - h * direction})[of].astype(np.float64)
    return (up.sum() - down.sum()) / (2 * h)


def assert_close_to_max(got, want, fraction=1e-4):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= fraction * np.abs(want).max() + 1e-12


def test_cnn_input_and_params_gradients():
    path = MODELS / "cnn.onnx"
    x = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)
    proto = ax.export_grad(path, wrt="x", params=True, dims={"batch": 2})
    got = named(session(proto), {"x": x})
    (want_x, want_p), state = reference_grads(path, {"x": x}, "logits", {"batch": 2}, True)
    assert_close_to_max(got["grad_x"], want_x["x"])
    assert_close_to_max(got["grad_features.0.weight"], want_p["features.0"]["kernel"])
    # the Gemm weight is stored transposed: its gradient comes back in ONNX's layout
    assert_close_to_max(got["grad_classifier.1.weight"], want_p["classifier.1"]["kernel"].T)
    for _ in range(3):
        d = RNG.standard_normal(x.shape).astype(np.float32)
        fd = directional_fd(path, {"x": x}, "logits", "x", d, 3e-4)  # small: ReLU/max kinks
        analytic = float((got["grad_x"].astype(np.float64) * d).sum())
        assert abs(fd - analytic) <= 2e-2 * max(abs(analytic), 1e-3)


def bert_feeds(batch: int = 2, sequence: int = 8) -> dict[str, np.ndarray]:
    ids = RNG.integers(0, 100, (batch, sequence)).astype(np.int64)
    ids[:, 1] = ids[:, 2]  # a repeated token: its embedding gradient adds up
    return {
        "input_ids": ids,
        "attention_mask": np.ones((batch, sequence), np.int64),
        "token_type_ids": np.zeros((batch, sequence), np.int64),
    }


def test_bert_tiny_parameter_gradients():
    path, dims = MODELS / "bert_tiny_torchscript.onnx", {"batch": 2, "sequence": 8}
    feeds = bert_feeds()
    proto = ax.export_grad(path, of="pooler_output", params=True, dims=dims)
    assert "ScatterND" in {n.op_type for n in proto.graph.node}
    got = named(session(proto), feeds)
    (_, want_p), state = reference_grads(path, feeds, "pooler_output", dims, True)
    stored = jax.tree_util.tree_leaves(state.params)
    wanted = jax.tree_util.tree_leaves(want_p)
    grads = {k.removeprefix("grad_"): v for k, v in got.items() if k.startswith("grad_")}
    assert len(grads) == len(stored)
    initializers = {
        t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer
    }
    assert any("word_embeddings" in name for name in grads)
    biggest = max(float(np.abs(w).max()) for w in wanted)  # the whole gradient's largest
    for name, grad in grads.items():
        value = initializers[name]
        k, layout = _stored_as(stored, value)
        assert np.abs(layout(grad) - wanted[k]).max() <= 1e-4 * biggest, name
    _check_params_fd(path, feeds, got, "pooler_output")


def _stored_as(stored: list, value: np.ndarray):
    """(index of the state leaf holding the initializer `value`, ONNX → stored layout)."""
    for k, v in enumerate(stored):
        if v.shape == value.shape and np.array_equal(v, value):
            return k, lambda g: g
    for k, v in enumerate(stored):
        if value.ndim == 2 and v.shape == value.T.shape and np.array_equal(v, value.T):
            return k, lambda g: g.T
    raise AssertionError("no state leaf holds the initializer")


def _check_params_fd(path: Path, feeds: dict, got: dict, of: str):
    """Perturb every differentiated initializer along one random direction."""
    model = onnx.load(path)
    values = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    grads = {k.removeprefix("grad_"): v for k, v in got.items() if k.startswith("grad_")}
    assert grads
    directions = {k: RNG.standard_normal(values[k].shape).astype(np.float32) for k in grads}
    h = 1e-3

    def run(sign: float) -> float:
        moved = onnx.ModelProto()
        moved.CopyFrom(model)
        for t in moved.graph.initializer:
            if t.name in directions:
                t.CopyFrom(
                    onnx.numpy_helper.from_array(
                        values[t.name] + sign * h * directions[t.name], t.name
                    )
                )
        return named(session(moved), feeds)[of].astype(np.float64).sum()

    fd = (run(1.0) - run(-1.0)) / (2 * h)
    analytic = sum(float((grads[k].astype(np.float64) * directions[k]).sum()) for k in grads)
    assert abs(fd - analytic) <= 2e-2 * abs(analytic)


@pytest.mark.parametrize("mode", ["vjp", "jvp", "jacobian"])
def test_other_modes_on_the_cnn(mode):
    path = MODELS / "cnn.onnx"
    x = RNG.standard_normal((1, 1, 28, 28)).astype(np.float32)
    proto = ax.export_grad(path, wrt="x", mode=mode)
    graph, state = ax.import_onnx(path, dims={"batch": 1})
    _, predict_fn = ax.build(graph)

    def f(v):
        return predict_fn(state, {"x": v})["logits"]

    sess = session(proto)
    if mode == "vjp":
        cot = RNG.standard_normal((1, 10)).astype(np.float32)
        got = named(sess, {"x": x, "cotangent_logits": cot})["grad_x"]
        want = jax.vjp(f, x)[1](cot)[0]
    elif mode == "jvp":
        t = RNG.standard_normal(x.shape).astype(np.float32)
        got = named(sess, {"x": x, "tangent_x": t})["jvp_logits"]
        want = jax.jvp(f, (x,), (t,))[1]
    else:
        got = named(sess, {"x": x})["jacobian_x"]
        want = jax.jacrev(f)(x)
    assert_close_to_max(got, want)


def test_bad_arguments_are_clear_errors():
    path = MODELS / "cnn.onnx"
    with pytest.raises(ax.InvalidModelError, match="wrt 'y' is not an input"):
        ax.export_grad(path, wrt="y")
    with pytest.raises(ax.InvalidModelError, match="no output 'z'"):
        ax.export_grad(path, wrt="x", of="z")
    with pytest.raises(ax.InvalidModelError, match="nothing to differentiate"):
        ax.export_grad(path)
    with pytest.raises(ax.InvalidModelError, match="expected mode"):
        ax.export_grad(path, wrt="x", mode="hessian")
