"""onnxruntime's decoder contrib ops (RotaryEmbedding, GroupQueryAttention) against its
CPU kernels, on the layouts the GenAI model builder and Optimum write: separate and
packed QKV, a first prompt (with right padding), decode steps with a past cache,
rotary embedding inside GQA (do_rotary, interleaved or not, partial rotary dims),
local window, soft cap and smooth softmax."""

from __future__ import annotations

import jax
import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper as oh

import axonnx as ax
from axonnx.converters.ops.contrib_decoder import group_query_attention
from axonnx.errors import CompileTimeValueError

MS = "com.microsoft"
RNG = np.random.default_rng(3)
TOL = {"rtol": 1e-4, "atol": 1e-5}


def _normal(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _ort(model, inputs):
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _caches(max_seq: int, rotary_dim: int, base: float = 10000.0):
    inv = 1.0 / base ** (np.arange(0, rotary_dim, 2, dtype=np.float32) / rotary_dim)
    angles = np.arange(max_seq, dtype=np.float32)[:, None] * inv[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


# ---------------------------------------------------------------- RotaryEmbedding

BATCH, SEQ, HEADS, SIZE = 2, 5, 4, 32


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("layout", ["bsd", "bnsh"])
@pytest.mark.parametrize("positions", ["ids", "offset"])
def test_rotary_embedding(one_node, interleaved, layout, positions):
    shape = (BATCH, SEQ, HEADS * SIZE) if layout == "bsd" else (BATCH, HEADS, SEQ, SIZE)
    cos, sin = _caches(32, SIZE)
    ids = RNG.integers(0, 32, size=(BATCH, SEQ)) if positions == "ids" else np.array([7])
    inputs = {"x": _normal(*shape), "pos": ids.astype(np.int64)}
    node = oh.make_node(
        "RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS, interleaved=interleaved
    )
    model = one_node.model(node, inputs, 17, {"cos": cos, "sin": sin})
    one_node.compare(one_node.run(model, inputs), _ort(model, inputs), **TOL)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_embedding_partial_dim(one_node, interleaved):
    cos, sin = _caches(32, 8)
    inputs = {
        "x": _normal(BATCH, SEQ, HEADS * SIZE),
        "pos": RNG.integers(0, 32, size=(BATCH, SEQ)).astype(np.int64),
    }
    node = oh.make_node(
        "RotaryEmbedding",
        ["x", "pos", "cos", "sin"],
        ["y"],
        domain=MS,
        interleaved=interleaved,
        num_heads=HEADS,
        rotary_embedding_dim=8,
    )
    model = one_node.model(node, inputs, 17, {"cos": cos, "sin": sin})
    one_node.compare(one_node.run(model, inputs), _ort(model, inputs), **TOL)


# ---------------------------------------------------------------- GroupQueryAttention

KV_HEADS = 2


def _gqa(one_node, inputs, constants=None, names=None, **attrs):
    names = names or ["q", "k", "v", "past_key", "past_value", "seqlens_k", "total"]
    node = oh.make_node(
        "GroupQueryAttention",
        names,
        ["y", "present_key", "present_value"],
        domain=MS,
        num_heads=HEADS,
        kv_num_heads=KV_HEADS,
        **attrs,
    )
    model = one_node.model(node, inputs, 17, constants)
    return one_node.run(model, inputs), _ort(model, inputs)


def _step(seq: int, past_len: int, seqlens, *, packed=False):
    """Inputs of one GQA call: new Q, K, V for `seq` tokens and a past of `past_len`."""
    total = int(max(seqlens)) + 1
    inputs = {}
    if packed:
        inputs["q"] = _normal(BATCH, seq, (HEADS + 2 * KV_HEADS) * SIZE)
    else:
        inputs["q"] = _normal(BATCH, seq, HEADS * SIZE)
        inputs["k"] = _normal(BATCH, seq, KV_HEADS * SIZE)
        inputs["v"] = _normal(BATCH, seq, KV_HEADS * SIZE)
    inputs["past_key"] = _normal(BATCH, KV_HEADS, past_len, SIZE)
    inputs["past_value"] = _normal(BATCH, KV_HEADS, past_len, SIZE)
    inputs["seqlens_k"] = np.asarray(seqlens, np.int32)
    inputs["total"] = np.array(total, np.int32)
    return inputs


def _names(packed: bool, rotary: bool = False) -> list[str]:
    names = ["q", "", ""] if packed else ["q", "k", "v"]
    names += ["past_key", "past_value", "seqlens_k", "total"]
    return names + (["cos", "sin"] if rotary else [])


@pytest.mark.parametrize("packed", [False, True])
def test_gqa_first_prompt(one_node, packed):
    inputs = _step(SEQ, 0, [SEQ - 1, SEQ - 1], packed=packed)
    got, want = _gqa(one_node, inputs, names=_names(packed))
    one_node.compare(got, want, **TOL)


def test_gqa_first_prompt_right_padded(one_node):
    # row 1 holds 3 real tokens and 2 padding: compare its valid outputs and cache
    inputs = _step(SEQ, 0, [SEQ - 1, 2])
    got, want = _gqa(one_node, inputs)
    np.testing.assert_allclose(got[0][0], want[0][0], **TOL)
    np.testing.assert_allclose(got[0][1, :3], want[0][1, :3], **TOL)
    for g, w in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(g[:, :, :3], w[:, :, :3], **TOL)


@pytest.mark.parametrize("packed", [False, True])
def test_gqa_decode_step_with_past(one_node, packed):
    past = 6
    inputs = _step(1, past, [past, past], packed=packed)
    got, want = _gqa(one_node, inputs, names=_names(packed))
    one_node.compare(got, want, **TOL)


def test_gqa_decode_step_ragged_rows(one_node):
    # row 1 has 2 fewer past tokens than the cache holds: its new token goes at 4
    past = 6
    inputs = _step(1, past, [past, past - 2])
    got, want = _gqa(one_node, inputs)
    one_node.compare(got, want, **TOL)


def test_gqa_decode_into_a_fixed_size_cache(one_node):
    # the past buffer is longer than the total (a preallocated cache): present keeps it
    inputs = _step(1, 10, [4, 6])
    got, want = _gqa(one_node, inputs)
    assert got[1].shape == (BATCH, KV_HEADS, 10, SIZE)
    one_node.compare(got, want, **TOL)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("rotary_dim", [SIZE, SIZE // 2])
def test_gqa_do_rotary(one_node, interleaved, packed, rotary_dim):
    cos, sin = _caches(32, rotary_dim)
    attrs = {"do_rotary": 1, "rotary_interleaved": interleaved}
    names = _names(packed, rotary=True)
    constants = {"cos": cos, "sin": sin}
    prompt = _step(SEQ, 0, [SEQ - 1, SEQ - 1], packed=packed)
    one_node.compare(*_gqa(one_node, prompt, constants, names, **attrs), **TOL)
    decode = _step(1, 7, [7, 7], packed=packed)
    one_node.compare(*_gqa(one_node, decode, constants, names, **attrs), **TOL)


@pytest.mark.parametrize(
    "attrs",
    [
        {"local_window_size": 2},
        {"softcap": 2.0},
        {"smooth_softmax": 1},
        {"scale": 0.1, "softcap": 5.0, "local_window_size": 3},
    ],
    ids=["local_window", "softcap", "smooth_softmax", "combined"],
)
@pytest.mark.parametrize("step", ["prompt", "decode"])
def test_gqa_window_softcap_smooth_softmax(one_node, attrs, step):
    inputs = _step(SEQ, 0, [SEQ - 1] * 2) if step == "prompt" else _step(1, 7, [7, 7])
    one_node.compare(*_gqa(one_node, inputs, **attrs), **TOL)


def test_gqa_total_length_computed_from_a_shape(one_node):
    # total_sequence_length computed from a shape stays known while compiling
    inputs = _step(1, 6, [6, 6])
    del inputs["total"]
    node = oh.make_node(
        "GroupQueryAttention",
        ["q", "k", "v", "past_key", "past_value", "seqlens_k", "total"],
        ["y", "present_key", "present_value"],
        domain=MS,
        num_heads=HEADS,
        kv_num_heads=KV_HEADS,
    )
    # total = past_len + 1, computed from the past's shape as the builder does from the mask
    nodes = [
        oh.make_node("Shape", ["past_key"], ["shape"]),
        oh.make_node("Gather", ["shape", "two"], ["past_len"], axis=0),
        oh.make_node("Add", ["past_len", "one"], ["total64"]),
        oh.make_node("Cast", ["total64"], ["total"], to=6),
        node,
    ]
    model = one_node.model(node, inputs, 17, {"two": np.int64(2), "one": np.int64(1)})
    model.graph.ClearField("node")
    model.graph.node.extend(nodes)
    want = _ort(model, inputs)
    imported, state = ax.import_onnx(model)
    got = ax.predict(imported, state, inputs)
    for value, name in zip(want, ["y", "present_key", "present_value"], strict=True):
        np.testing.assert_allclose(np.asarray(got[name]), value, **TOL)


@pytest.mark.parametrize("case", ["head_sink", "attention_bias", "attention_bias_softcap"])
@pytest.mark.parametrize("step", ["prompt", "decode"])
def test_gqa_head_sink_and_attention_bias(one_node, case, step):
    # onnxruntime adds attention_bias after the soft cap
    inputs = _step(SEQ, 0, [SEQ - 1] * 2) if step == "prompt" else _step(1, 7, [7, 7])
    names = _names(packed=False) + ["", "", "", ""]  # cos, sin, position_ids, bias
    attrs = {"softcap": 2.0} if case.endswith("softcap") else {}
    if case == "head_sink":
        inputs["sink"] = _normal(HEADS)
        names.append("sink")
    else:
        seq, total = inputs["q"].shape[1], int(inputs["total"])
        inputs["bias"] = _normal(BATCH, 1, seq, total)
        names[10] = "bias"
    one_node.compare(*_gqa(one_node, inputs, names=names, **attrs), **TOL)


def test_gqa_total_length_unknown_while_compiling_is_a_clear_error(one_node):
    inputs = _step(1, 6, [6, 6])
    args = [inputs[n] for n in ("q", "k", "v", "past_key", "past_value", "seqlens_k")]

    def run(total):
        return group_query_attention(*args, total, num_heads=HEADS, kv_num_heads=KV_HEADS)[0]

    with pytest.raises(CompileTimeValueError, match="total_sequence_length"):
        jax.jit(run)(inputs["total"])
