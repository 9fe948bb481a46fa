"""Normalization layers against onnx's reference evaluator (one-node models)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from axonnx.layers import normalization

# Compiled once per shape: faster than op-by-op dispatch, and checks the layers trace.
batch_norm = jax.jit(normalization.batch_norm, static_argnames=("momentum", "channels", "mode"))
layer_norm = jax.jit(normalization.layer_norm, static_argnames=("axis",))
group_norm = jax.jit(normalization.group_norm, static_argnames=("num_groups", "channels"))
instance_norm = jax.jit(normalization.instance_norm, static_argnames=("channels",))

DTYPES = [(jnp.float32, 1e-5), (jnp.bfloat16, 5e-2)]
NCHW_SHAPES = [(4, 3), (2, 3, 5), (2, 4, 3, 5)]


def run_onnx(op, inputs, outputs, *, opset, **attributes):
    """Runs a one-node float32 ONNX model on ``inputs`` (a name -> array dict)."""
    node = helper.make_node(op, list(inputs), outputs, **attributes)
    graph = helper.make_graph(
        [node],
        op,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, v.shape) for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {n: np.asarray(v, np.float32) for n, v in inputs.items()}
    return ReferenceEvaluator(model).run(None, feeds)


def to_layout(x_nchw, channels):
    """NCHW test data -> the layout given to axonnx."""
    return x_nchw if channels == "first" else np.moveaxis(x_nchw, 1, -1)


def from_layout(y, channels):
    y = np.asarray(y, np.float32)
    return y if channels == "first" else np.moveaxis(y, -1, 1)


def rounded(x, dtype):
    """``x`` as seen by axonnx in ``dtype``, back in float32 for the reference."""
    return np.asarray(jnp.asarray(x, dtype), np.float32)


def per_channel(rng, c):
    """scale, bias, mean and positive var of size c."""
    return (rng.normal(size=c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2, c))


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("shape", NCHW_SHAPES)
def test_batch_norm_inference_matches_onnx(shape, channels, dtype, tol):
    rng = np.random.default_rng(0)
    x = rounded(rng.normal(size=shape), dtype)
    scale, bias, mean, var = per_channel(rng, shape[1])
    (expected,) = run_onnx(
        "BatchNormalization",
        {"x": x, "scale": scale, "bias": bias, "mean": mean, "var": var},
        ["y"],
        opset=15,
        epsilon=1e-3,
    )
    xj = jnp.asarray(to_layout(x, channels), dtype)
    y = batch_norm(xj, scale, bias, mean, var, epsilon=1e-3, channels=channels)
    assert y.dtype == dtype
    np.testing.assert_allclose(from_layout(y, channels), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("shape", NCHW_SHAPES)
def test_batch_norm_train_matches_onnx_training_mode(shape, channels):
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
    scale, bias, mean, var = per_channel(rng, shape[1])
    expected_y, expected_mean, expected_var = run_onnx(
        "BatchNormalization",
        {"x": x, "scale": scale, "bias": bias, "mean": mean, "var": var},
        ["y", "running_mean", "running_var"],
        opset=15,
        training_mode=1,
        momentum=0.8,
    )
    y, updates = batch_norm(
        jnp.asarray(to_layout(x, channels)),
        *(jnp.asarray(p, jnp.float32) for p in (scale, bias, mean, var)),
        momentum=0.8,
        channels=channels,
        mode="train",
    )
    assert set(updates) == {"mean", "var"}
    np.testing.assert_allclose(from_layout(y, channels), expected_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(updates["mean"], expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(updates["var"], expected_var, rtol=1e-5, atol=1e-6)


def test_batch_norm_train_bfloat16_keeps_dtypes():
    x = jnp.asarray(np.random.default_rng(2).normal(size=(8, 4)), jnp.bfloat16)
    ones = jnp.ones(4, jnp.float32)
    y, updates = batch_norm(x, ones, ones * 0, ones * 0, ones, mode="train")
    assert y.dtype == jnp.bfloat16
    assert updates["mean"].dtype == updates["var"].dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y, np.float32).mean(0), 0.0, atol=5e-2)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize(
    "shape,axis", [((4, 6), -1), ((2, 3, 5), -1), ((2, 3, 5), 1), ((2, 3, 4, 5), -2)]
)
def test_layer_norm_matches_onnx(shape, axis, dtype, tol):
    rng = np.random.default_rng(3)
    x = rounded(rng.normal(2.0, 3.0, size=shape), dtype)
    scale, bias = rng.normal(size=(2, *shape[axis:]))
    (expected,) = run_onnx(
        "LayerNormalization", {"x": x, "scale": scale, "bias": bias}, ["y"], opset=17, axis=axis
    )
    y = layer_norm(jnp.asarray(x, dtype), scale, bias, axis=axis)
    assert y.dtype == dtype
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=tol, atol=tol)


def test_layer_norm_without_bias_matches_onnx():
    rng = np.random.default_rng(4)
    x, scale = rng.normal(size=(3, 7)), rng.normal(size=7)
    (expected,) = run_onnx("LayerNormalization", {"x": x, "scale": scale}, ["y"], opset=17)
    np.testing.assert_allclose(layer_norm(jnp.asarray(x, jnp.float32), scale), expected, atol=1e-5)


def test_layer_norm_gradients():
    rng = np.random.default_rng(5)
    x, scale, bias = (
        jnp.asarray(a, jnp.float32) for a in (rng.normal(size=(3, 6)), *rng.normal(size=(2, 6)))
    )
    check_grads(layer_norm, (x, scale, bias), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((1, 6, 4, 2), 6)])
def test_group_norm_matches_onnx(shape, groups, channels, dtype, tol):
    rng = np.random.default_rng(6)
    x = rounded(rng.normal(1.0, 2.0, size=shape), dtype)
    scale, bias = rng.normal(size=(2, shape[1]))
    (expected,) = run_onnx(
        "GroupNormalization",
        {"x": x, "scale": scale, "bias": bias},
        ["y"],
        opset=21,
        num_groups=groups,
    )
    xj = jnp.asarray(to_layout(x, channels), dtype)
    y = group_norm(xj, scale, bias, num_groups=groups, channels=channels)
    assert y.dtype == dtype
    np.testing.assert_allclose(from_layout(y, channels), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 4, 3, 5)])
def test_instance_norm_matches_onnx(shape, channels, dtype, tol):
    rng = np.random.default_rng(7)
    x = rounded(rng.normal(-1.0, 2.0, size=shape), dtype)
    scale, bias = rng.normal(size=(2, shape[1]))
    (expected,) = run_onnx(
        "InstanceNormalization", {"x": x, "scale": scale, "bias": bias}, ["y"], opset=6
    )
    y = instance_norm(jnp.asarray(to_layout(x, channels), dtype), scale, bias, channels=channels)
    assert y.dtype == dtype
    np.testing.assert_allclose(from_layout(y, channels), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda x, c: normalization.batch_norm(x, c, c, c, c, channels="middle"), "channels"),
        (lambda x, c: normalization.batch_norm(x, c, c, c, c, mode="training"), "mode"),
        (lambda x, c: normalization.group_norm(x, c, c, num_groups=4), "num_groups"),
    ],
)
def test_errors_name_the_option(call, message):
    with pytest.raises(ValueError, match=message):
        call(jnp.ones((2, 3, 6)), jnp.ones(6))
