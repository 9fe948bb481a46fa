"""Every way to run a model goes through the engine and its rewrites: `ax.predict`,
`ax.build` under `jax.jit`, the loop's steps, `validate`, `axonnx run`, the onnx
backend; and the rewrites are transparent to `jax.grad`."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import optax
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.cli.main import main
from axonnx.converters.backend import AxonnxBackend
from axonnx.engine import Engine, engine_for

# the NHWC convolution of `conv_forms.conv_hwio` (an NCHW one reads [b, f, 0, 1])
NHWC_CONV = "[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]"


def _cnn() -> onnx.ModelProto:
    """Conv(16→32, 3×3) → Relu → GlobalAveragePool → Flatten → Gemm, with random weights."""
    rng = np.random.default_rng(0)

    def weight(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.1, name)

    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [weight("w", 32, 16, 3, 3), weight("b", 32), weight("fc_w", 4, 32), weight("fc_b", 4)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="module")
def cnn():
    proto = _cnn()
    model, state = ax.import_onnx(proto)
    x = np.random.default_rng(1).standard_normal((2, 16, 8, 8)).astype(np.float32)
    return proto, model["y"], state, x


@pytest.fixture
def engine_calls(monkeypatch):
    calls = []
    original = Engine.__call__

    def counted(self, state, inputs, **kwargs):
        calls.append(self)
        return original(self, state, inputs, **kwargs)

    monkeypatch.setattr(Engine, "__call__", counted)
    return calls


def test_predict_compiles_the_fast_convolution(cnn):
    _, model, state, x = cnn
    assert NHWC_CONV in engine_for(model).lower(state, x).as_text()
    assert NHWC_CONV not in Engine(model, fast=False).lower(state, x).as_text()


def test_build_under_jit_compiles_the_fast_convolution(cnn):
    import jax

    _, model, state, x = cnn
    _, predict_fn = ax.build(model)
    assert NHWC_CONV in jax.jit(predict_fn).lower(state, x).as_text()


@pytest.mark.parametrize("factory", ["trainer", "evaluator"])
def test_loop_steps_compile_the_fast_convolution(cnn, factory):
    import jax

    _, model, state, x = cnn
    loss = "mean_squared_error"
    loop = (
        ax.Loop.trainer(model, loss, optax.sgd(0.1))
        if factory == "trainer"
        else ax.Loop.evaluator(model, loss=loss)
    )
    carry = loop.steps.init(state)
    batch = (x, np.zeros((2, 4), np.float32))
    assert NHWC_CONV in jax.jit(loop.steps.step).lower(carry, batch).as_text()


def test_gradients_through_the_rewrites_match_the_plain_graph(cnn):
    import jax

    _, model, state, x = cnn
    fast, plain = Engine(model), Engine(model, fast=False)

    def loss(engine, params):
        return (engine.apply(ax.ModelState(params, state.state), x) ** 2).sum()

    got = jax.grad(lambda p: loss(fast, p))(state.params)
    want = jax.grad(lambda p: loss(plain, p))(state.params)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-5)
    # and against a central finite difference of the kernel along a random direction
    direction = np.random.default_rng(2).standard_normal(state.params["conv"]["kernel"].shape)
    direction = (direction / np.linalg.norm(direction)).astype(np.float32)  # unit length

    def along(t):
        params = jax.tree_util.tree_map(lambda v: v, state.params)
        params["conv"]["kernel"] = state.params["conv"]["kernel"] + t * direction
        return float(loss(plain, params))

    with jax.default_matmul_precision("highest"):
        h = 1e-2
        numeric = (along(h) - along(-h)) / (2 * h)
    analytic = float((np.asarray(got["conv"]["kernel"]) * direction).sum())
    assert abs(numeric - analytic) <= 2e-2 * max(1.0, abs(analytic))


def test_predict_under_grad_jit_and_vmap_is_traced_through(cnn):
    """`ax.predict` called inside a JAX transformation runs as plain JAX in the
    caller's trace: its gradient equals the gradient of `ax.build`'s predict_fn."""
    import jax

    _, model, state, x = cnn
    _, predict_fn = ax.build(model)

    def loss(run, params, x):
        return (run(ax.ModelState(params, state.state), x) ** 2).sum()

    got = jax.grad(lambda p: loss(lambda s, v: ax.predict(model, s, v), p, x))(state.params)
    want = jax.grad(lambda p: loss(predict_fn, p, x))(state.params)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
    by_input = jax.grad(lambda v: (ax.predict(model, state, v) ** 2).sum())(x)
    expected = jax.grad(lambda v: (predict_fn(state, v) ** 2).sum())(x)
    np.testing.assert_allclose(np.asarray(by_input), np.asarray(expected), rtol=1e-5, atol=1e-6)
    jitted = jax.jit(lambda v: ax.predict(model, state, v))(x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(ax.predict(model, state, x)), 1e-5)
    mapped = jax.vmap(lambda v: ax.predict(model, state, v[None])[0])(x)
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(jitted), rtol=1e-5, atol=1e-6)


def test_validate_runs_the_engine(cnn, engine_calls):
    proto, *_ = cnn
    report = ax.validate(proto, dims={"batch": 2})
    assert report.passed and engine_calls


def test_cli_run_runs_the_engine(cnn, engine_calls, tmp_path):
    proto, _, _, x = cnn
    onnx.save(proto, tmp_path / "cnn.onnx")
    np.savez(tmp_path / "in.npz", x=x)
    args = ["run", tmp_path / "cnn.onnx", "--inputs", tmp_path / "in.npz", "-o", tmp_path / "o.npz"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert engine_calls
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["y"], expected, rtol=1e-4, atol=1e-5)


def test_onnx_backend_runs_the_engine(cnn, engine_calls):
    proto, _, _, x = cnn
    (got,) = AxonnxBackend.prepare(proto).run([x])
    assert engine_calls
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
