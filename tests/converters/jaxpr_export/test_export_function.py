"""ax.export_function: a function mixing gather, scatter, conv, sort/top_k, cond and
scan, and its gradient, run in onnxruntime against JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnxruntime as ort
import pytest
from jax import lax

import axonnx as ax
from tests.converters.jaxpr_export.check import assert_matches, primitives_of

RNG = np.random.default_rng(1)


def mixed(params, x, ids):
    """[B, 3, 8, 8] images and [B, 4] token ids → a scalar score."""
    y = lax.conv_general_dilated(x, params["kernel"], (2, 2), "SAME")  # [B, 4, 4, 4]
    y = jax.nn.relu(y).reshape(y.shape[0], -1)
    tokens = params["table"][ids].sum(1)  # gather
    y = y[:, :16] + tokens
    top, _ = lax.top_k(y, 4)
    ordered = jnp.sort(y, axis=1)
    hist = jnp.zeros(16).at[jnp.argmax(y, axis=1)].add(1.0)  # scatter-add
    y = lax.cond(y.sum() > 0, lambda v: v * 2.0, lambda v: jnp.tanh(v), y)

    def step(h, row):
        h = jnp.tanh(h * 0.5 + row)
        return h, h.sum()

    h, sums = lax.scan(step, jnp.zeros(16), y)
    return (h * params["scale"]).sum() + sums.sum() + top.sum() + ordered[:, -1].sum() + hist @ h


def arguments():
    params = {
        "kernel": (0.3 * RNG.standard_normal((4, 3, 3, 3))).astype(np.float32),
        "table": RNG.standard_normal((10, 16)).astype(np.float32),
        "scale": RNG.standard_normal(16).astype(np.float32),
    }
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    ids = RNG.integers(0, 10, (2, 4)).astype(np.int32)
    return params, x, ids


def test_the_function_uses_every_family():
    found = primitives_of(mixed, *arguments())
    wanted = {"gather", "scatter-add", "conv_general_dilated", "sort", "top_k", "cond", "scan"}
    assert wanted <= found


def test_function_matches_jax():
    assert_matches(mixed, *arguments(), rtol=1e-4, atol=1e-4)


def test_gradient_matches_jax():
    grad = jax.grad(mixed, argnums=(0, 1))
    found = primitives_of(grad, *arguments())
    assert {"scatter-add", "conv_general_dilated", "scan"} <= found
    assert_matches(grad, *arguments(), rtol=1e-4, atol=1e-4)


def test_names_and_dynamic_axes():
    def f(x, w):
        return {"y": jnp.tanh(x @ w), "n": jnp.sum(x * x, axis=1)}

    x, w = np.ones((3, 4), np.float32), RNG.standard_normal((4, 2)).astype(np.float32)
    proto = ax.export_function(f, x, w, input_names=["x", "w"], dynamic_axes={"x": {0: "batch"}})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["output_n", "output_y"]
    x5 = RNG.standard_normal((5, 4)).astype(np.float32)
    n, y = session.run(None, {"x": x5, "w": w})
    np.testing.assert_allclose(y, np.tanh(x5 @ w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(n, (x5 * x5).sum(1), rtol=1e-5)


def test_bad_names_are_clear_errors():
    with pytest.raises(ax.InvalidModelError, match="dynamic_axes names no input"):
        ax.export_function(jnp.sin, np.ones(3, np.float32), dynamic_axes={"z": [0]})
    with pytest.raises(ax.InvalidModelError, match="expected 1 input_names, got 2"):
        ax.export_function(jnp.sin, np.ones(3, np.float32), input_names=["a", "b"])
