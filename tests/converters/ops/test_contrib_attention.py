"""onnxruntime's attention contrib ops (Attention, MultiHeadAttention, RotaryEmbedding,
GroupQueryAttention) against onnxruntime's CPU kernels, on the layouts, masks and caches
its optimizer and the GenAI model builder write."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper as oh

MS = "com.microsoft"
RNG = np.random.default_rng(2)
TOL = {"rtol": 1e-4, "atol": 1e-5}


def _normal(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _ort(model, inputs):
    model.ir_version = 10  # the newest onnxruntime 1.18+ reads
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _check(one_node, node, inputs, constants=None, *, opset=17, **tolerance):
    """axonnx's outputs of the one-node model equal onnxruntime's."""
    model = one_node.model(node, inputs, opset, constants)
    one_node.compare(one_node.run(model, inputs), _ort(model, inputs), **(tolerance or TOL))


# ---------------------------------------------------------------- Attention

BATCH, SEQ, HIDDEN, HEADS = 2, 5, 16, 4


def _attention_constants(sizes=(HIDDEN,) * 3):
    return {"weights": _normal(HIDDEN, sum(sizes), scale=0.3), "bias": _normal(sum(sizes))}


MASKS = {
    "none": None,
    "lengths": np.array([5, 3], np.int32),
    "ends_and_starts": np.array([5, 4, 1, 0], np.int32),
    "raw_2d": np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 0]], np.int32),
    "raw_3d": RNG.integers(0, 2, size=(BATCH, SEQ, SEQ)).astype(np.int32)
    | np.eye(SEQ, dtype=np.int32),
}


@pytest.mark.parametrize("unidirectional", [0, 1])
@pytest.mark.parametrize("mask", list(MASKS))
def test_attention_masks(one_node, mask, unidirectional):
    inputs = {"x": _normal(BATCH, SEQ, HIDDEN)}
    names = ["x", "weights", "bias"]
    if MASKS[mask] is not None:
        inputs["mask"] = MASKS[mask]
        names.append("mask")
    node = oh.make_node(
        "Attention", names, ["y"], domain=MS, num_heads=HEADS, unidirectional=unidirectional
    )
    _check(one_node, node, inputs, _attention_constants())


def test_attention_qkv_hidden_sizes_scale_and_filter_value(one_node):
    sizes = (16, 16, 8)
    inputs = {"x": _normal(BATCH, SEQ, HIDDEN), "mask": MASKS["raw_2d"]}
    node = oh.make_node(
        "Attention",
        ["x", "weights", "bias", "mask"],
        ["y"],
        domain=MS,
        num_heads=HEADS,
        qkv_hidden_sizes=list(sizes),
        scale=0.3,
        mask_filter_value=-1e4,
    )
    _check(one_node, node, inputs, _attention_constants(sizes))


def test_attention_with_past_unidirectional(one_node):
    past_len = 3
    inputs = {
        "x": _normal(BATCH, 2, HIDDEN),
        "mask": np.array([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], np.int32),
        "past": _normal(2, BATCH, HEADS, past_len, HIDDEN // HEADS),
    }
    node = oh.make_node(
        "Attention",
        ["x", "weights", "bias", "mask", "past"],
        ["y", "present"],
        domain=MS,
        num_heads=HEADS,
        unidirectional=1,
    )
    _check(one_node, node, inputs, _attention_constants())


@pytest.mark.parametrize("bias_shape", [(1, HEADS, SEQ, SEQ), (BATCH, 1, SEQ, SEQ)])
def test_attention_bias_input(one_node, bias_shape):
    inputs = {"x": _normal(BATCH, SEQ, HIDDEN), "mask": MASKS["lengths"]}
    inputs["attention_bias"] = _normal(*bias_shape)
    names = ["x", "weights", "bias", "mask", "", "attention_bias"]
    node = oh.make_node("Attention", names, ["y"], domain=MS, num_heads=HEADS)
    _check(one_node, node, inputs, _attention_constants())


def test_attention_without_bias_and_in_float16(one_node):
    # onnxruntime's CPU kernel crashes without a bias and has no float16 kernel: compare
    # with its float32 result given a zero bias
    x = _normal(BATCH, SEQ, HIDDEN)
    weights = _normal(HIDDEN, 3 * HIDDEN, scale=0.3)
    zero_bias = {"weights": weights, "bias": np.zeros(3 * HIDDEN, np.float32)}
    node = oh.make_node("Attention", ["x", "weights", "bias"], ["y"], domain=MS, num_heads=HEADS)
    want = _ort(one_node.model(node, {"x": x}, 17, zero_bias), {"x": x})
    node = oh.make_node("Attention", ["x", "weights"], ["y"], domain=MS, num_heads=HEADS)
    model = one_node.model(node, {"x": x}, 17, {"weights": weights})
    one_node.compare(one_node.run(model, {"x": x}), want, **TOL)
    x16 = {"x": x.astype(np.float16)}
    model = one_node.model(node, x16, 17, {"weights": weights.astype(np.float16)})
    (got,) = one_node.run(model, x16)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want[0], rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------- MultiHeadAttention

KV_SEQ = 6
SIZE = HIDDEN // HEADS


def _mha(one_node, names, inputs, constants=None, outputs=("y",), **attrs):
    node = oh.make_node(
        "MultiHeadAttention", names, list(outputs), domain=MS, num_heads=HEADS, **attrs
    )
    _check(one_node, node, inputs, constants)


def test_mha_separate_qkv_with_bias_and_key_padding_mask(one_node):
    inputs = {
        "q": _normal(BATCH, SEQ, HIDDEN),
        "k": _normal(BATCH, KV_SEQ, HIDDEN),
        "v": _normal(BATCH, KV_SEQ, HIDDEN),
        "mask": np.array([[1] * 6, [1, 1, 1, 1, 0, 0]], np.int32),
    }
    _mha(one_node, ["q", "k", "v", "bias", "mask"], inputs, {"bias": _normal(3 * HIDDEN)})


@pytest.mark.parametrize("mask", ["lengths", "raw_3d"])
def test_mha_mask_forms(one_node, mask):
    inputs = {
        "q": _normal(BATCH, SEQ, HIDDEN),
        "k": _normal(BATCH, SEQ, HIDDEN),
        "v": _normal(BATCH, SEQ, HIDDEN),
        "mask": MASKS[mask],
    }
    _mha(one_node, ["q", "k", "v", "", "mask"], inputs)


def test_mha_self_attention_with_past_causal_and_attention_bias(one_node):
    past_len = 3
    inputs = {
        "q": _normal(BATCH, 2, HIDDEN),
        "k": _normal(BATCH, 2, HIDDEN),
        "v": _normal(BATCH, 2, HIDDEN),
        "attention_bias": _normal(BATCH, 1, 2, past_len + 2),
        "past_key": _normal(BATCH, HEADS, past_len, SIZE),
        "past_value": _normal(BATCH, HEADS, past_len, SIZE),
    }
    names = ["q", "k", "v", "bias", "", "attention_bias", "past_key", "past_value"]
    outputs = ["y", "present_key", "present_value"]
    constants = {"bias": _normal(3 * HIDDEN)}
    _mha(one_node, names, inputs, constants, outputs, unidirectional=1, scale=0.25)


def _unpacked(packed, index):
    batch, seq = packed.shape[:2]
    return np.ascontiguousarray(packed[:, :, :, index]).reshape(batch, seq, HIDDEN)


@pytest.mark.parametrize("form", ["qkv", "kv"])
def test_mha_packed_forms_equal_separate_qkv(one_node, form):
    # onnxruntime implements the packed forms for CUDA only: compare with its separate form
    q, kv = _normal(BATCH, SEQ, HIDDEN), _normal(BATCH, KV_SEQ, HEADS, 2, SIZE)
    qkv = _normal(BATCH, SEQ, HEADS, 3, SIZE)
    constants = {"bias": _normal(3 * HIDDEN)}
    if form == "qkv":
        packed, names = {"qkv": qkv}, ["qkv", "", "", "bias"]
        separate = {"q": _unpacked(qkv, 0), "k": _unpacked(qkv, 1), "v": _unpacked(qkv, 2)}
    else:
        packed, names = {"q": q, "kv": kv}, ["q", "kv", "", "bias"]
        separate = {"q": q, "k": _unpacked(kv, 0), "v": _unpacked(kv, 1)}
    node = oh.make_node("MultiHeadAttention", names, ["y"], domain=MS, num_heads=HEADS)
    got = one_node.run(one_node.model(node, packed, 17, constants), packed)
    node = oh.make_node(
        "MultiHeadAttention", ["q", "k", "v", "bias"], ["y"], domain=MS, num_heads=HEADS
    )
    want = _ort(one_node.model(node, separate, 17, constants), separate)
    one_node.compare(got, want, **TOL)


def test_mha_cross_attention_with_projected_key_value(one_node):
    inputs = {
        "q": _normal(BATCH, SEQ, HIDDEN),
        "k": _normal(BATCH, HEADS, KV_SEQ, SIZE),
        "v": _normal(BATCH, HEADS, KV_SEQ, SIZE),
    }
    _mha(one_node, ["q", "k", "v"], inputs, outputs=("y", "present_key", "present_value"))
