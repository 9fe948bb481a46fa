"""onnxruntime's normalization contrib ops (SkipLayerNormalization, EmbedLayerNormalization,
LayerNormalization-1, …) against onnxruntime's CPU kernels, on the shapes its transformer
optimizer writes; and their weights train (gradients through `ax.predict`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper as oh

import axonnx as ax

MS = "com.microsoft"
RNG = np.random.default_rng(0)


def _normal(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _ort(model, inputs):
    model.ir_version = 10  # the newest onnxruntime 1.18+ reads
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _check(one_node, node, inputs, constants=None, *, opset=17, **tolerance):
    """axonnx's outputs of the one-node model equal onnxruntime's."""
    model = one_node.model(node, inputs, opset, constants)
    one_node.compare(one_node.run(model, inputs), _ort(model, inputs), **tolerance)


def _skip_inputs(shape, skip_shape, dtype=np.float32):
    hidden = shape[-1]
    return {"x": _normal(*shape, dtype=dtype), "skip": _normal(*skip_shape, dtype=dtype)}, {
        "gamma": _normal(hidden, dtype=dtype),
        "beta": _normal(hidden, dtype=dtype),
        "bias": _normal(hidden, dtype=dtype),
    }


@pytest.mark.parametrize(
    ("shape", "skip_shape"),
    [((2, 5, 16), (2, 5, 16)), ((2, 5, 16), (1, 5, 16)), ((2, 5, 16), (5, 16)), ((7, 16), (7, 16))],
)
def test_skip_layer_norm_all_outputs(one_node, shape, skip_shape):
    inputs, constants = _skip_inputs(shape, skip_shape)
    node = oh.make_node(
        "SkipLayerNormalization",
        ["x", "skip", "gamma", "beta", "bias"],
        ["y", "mean", "inv_std", "sum"],
        domain=MS,
        epsilon=1e-5,
    )
    _check(one_node, node, inputs, constants, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("optional", [["beta"], ["bias"], []])
def test_skip_layer_norm_optional_inputs_float16(one_node, optional):
    inputs, constants = _skip_inputs((2, 4, 32), (2, 4, 32), np.float16)
    names = ["x", "skip", "gamma", "beta" if "beta" in optional else "", *optional[-1:]]
    names = names if "bias" in optional else names[:4]
    node = oh.make_node("SkipLayerNormalization", names, ["y"], domain=MS)
    _check(one_node, node, inputs, constants, rtol=2e-3, atol=4e-3)


def test_skip_simplified_layer_norm(one_node):
    inputs, constants = _skip_inputs((2, 5, 16), (2, 5, 16))
    node = oh.make_node(
        "SkipSimplifiedLayerNormalization",
        ["x", "skip", "gamma", "bias"],
        ["y", "mean", "inv_std", "sum"],
        domain=MS,
        epsilon=1e-6,
    )
    del constants["beta"]
    _check(one_node, node, inputs, constants, rtol=1e-5, atol=1e-5)
    node = oh.make_node(
        "SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["y"], domain=MS
    )
    del constants["bias"]
    _check(one_node, node, inputs, constants, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("axis", "dtype"), [(-1, np.float32), (1, np.float32), (-1, np.float64)])
def test_layer_norm_1_before_opset_17(one_node, axis, dtype):
    x = _normal(2, 3, 8, dtype=dtype, scale=3.0)
    constants = {
        "scale": _normal(*x.shape[axis:], dtype=dtype),
        "B": _normal(*x.shape[axis:], dtype=dtype),
    }
    node = oh.make_node(
        "LayerNormalization", ["x", "scale", "B"], ["y", "mean", "inv_std"], axis=axis
    )
    _check(one_node, node, {"x": x}, constants, opset=14, rtol=1e-5, atol=1e-5)


def test_simplified_layer_norm(one_node):
    x = _normal(2, 3, 8, scale=3.0)
    node = oh.make_node(
        "SimplifiedLayerNormalization", ["x", "scale"], ["y", "inv_std"], epsilon=1e-6
    )
    _check(one_node, node, {"x": x}, {"scale": _normal(8)}, opset=14, rtol=1e-5, atol=1e-5)


def _embed_constants(hidden=16):
    return {
        "word": _normal(30, hidden),
        "position": _normal(12, hidden),
        "segment": _normal(2, hidden),
        "gamma": _normal(hidden),
        "beta": _normal(hidden),
    }


def test_embed_layer_norm_bert_form(one_node):
    ids = RNG.integers(0, 30, size=(3, 6)).astype(np.int32)
    inputs = {
        "ids": ids,
        "segments": RNG.integers(0, 2, size=(3, 6)).astype(np.int32),
        "mask": np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 0, 0]], np.int32),
    }
    names = ["ids", "segments", "word", "position", "segment", "gamma", "beta", "mask"]
    node = oh.make_node(
        "EmbedLayerNormalization", names, ["y", "mask_index", "sum"], domain=MS, epsilon=1e-5
    )
    _check(one_node, node, inputs, _embed_constants(), rtol=1e-5, atol=1e-5)


def test_embed_layer_norm_without_segments_or_mask_with_position_ids(one_node):
    inputs = {
        "ids": RNG.integers(0, 30, size=(2, 5)).astype(np.int32),
        "positions": np.array([[3, 4, 5, 6, 7]], np.int32),
    }
    constants = _embed_constants()
    del constants["segment"]
    names = ["ids", "", "word", "position", "", "gamma", "beta", "", "positions"]
    node = oh.make_node("EmbedLayerNormalization", names, ["y", "mask_index", "sum"], domain=MS)
    _check(one_node, node, inputs, constants, rtol=1e-5, atol=1e-5)


def test_fused_norm_weights_are_trainable_parameters(one_node):
    inputs, constants = _skip_inputs((2, 5, 16), (2, 5, 16))
    names = ["x", "skip", "gamma", "beta", "bias"]
    node = oh.make_node("SkipLayerNormalization", names, ["y"], domain=MS)
    model, state = ax.import_onnx(one_node.model(node, inputs, 17, constants))
    assert set(state.params) == {"gamma", "beta", "bias"}

    _, predict = ax.build(model)

    def loss(params):
        out = predict(ax.ModelState(params, state.state), inputs)["y"]
        return jnp.sum(out * inputs["x"])

    grads = jax.grad(loss)(state.params)
    assert all(float(jnp.abs(grads[name]).max()) > 0 for name in ("gamma", "beta", "bias"))
