"""The standard form of every contrib op, one table: a one-node model of the op (the
shapes and attributes its exporters write) imported, exported with
`standard_only=True` at opset 21 (decompositions, blocked DequantizeLinear) and 23
(Attention, RMSNormalization, RotaryEmbedding), checked by onnx's full checker, with
default-domain nodes only, and run by onnxruntime against the op itself. Float
outputs agree within 1e-5, quantized ones within one step (QDQ rounds where
onnxruntime's integer kernels requantize in their own order). BiasSplitGelu, BiasAdd
and MultiHeadAttention with packed K/V have no CPU kernel in onnxruntime: their
reference is axonnx's import (the op's JAX implementation)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

import axonnx as ax
from axonnx.converters.registry import specs
from axonnx.converters.standard_forms import STANDARD_DOMAINS, forms

_spec = importlib.util.spec_from_file_location(
    "standard_check", Path(__file__).with_name("standard_check.py")
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

MS = "com.microsoft"
RNG = np.random.default_rng(0)


def normal(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def uint8(*shape) -> np.ndarray:
    return RNG.integers(0, 256, shape).astype(np.uint8)


def int8(*shape) -> np.ndarray:
    return RNG.integers(-128, 128, shape).astype(np.int8)


def scale(value: float = 0.05) -> np.ndarray:
    return np.asarray(value, np.float32)


def zero(value: int = 128, dtype=np.uint8) -> np.ndarray:
    return np.asarray(value, dtype)


@dataclass
class Case:
    """One node: its inputs in ONNX order (`None` absent; graph inputs in `feeds`, the
    others initializers), attributes, output count (`""` for unread optional ones)."""

    op: str
    inputs: dict
    feeds: tuple = ()
    attrs: dict = field(default_factory=dict)
    outputs: tuple = ("y",)
    domain: str = MS
    opset: int = 21
    quantized: bool = False
    reference: str = "onnxruntime"
    id: str = ""

    def model(self) -> onnx.ModelProto:
        values = {k: v for k, v in self.inputs.items() if v is not None}
        graph_inputs = [
            helper.make_tensor_value_info(
                k, helper.np_dtype_to_tensor_dtype(values[k].dtype), values[k].shape
            )
            for k in self.feeds
        ]
        weights = [numpy_helper.from_array(v, k) for k, v in values.items() if k not in self.feeds]
        names = [k if v is not None else "" for k, v in self.inputs.items()]
        node = helper.make_node(
            self.op, names, list(self.outputs), domain=self.domain or None, **self.attrs
        )
        outputs = [helper.make_empty_tensor_value_info(o) for o in self.outputs if o]
        graph = helper.make_graph([node], self.op, graph_inputs, outputs, weights)
        opsets = [helper.make_opsetid("", self.opset), helper.make_opsetid(MS, 1)]
        return helper.make_model(graph, opset_imports=opsets, ir_version=10)

    def feed(self) -> dict:
        return {k: self.inputs[k] for k in self.feeds}


def _mask(batch: int, length: int, valid: list[int]) -> np.ndarray:
    return (np.arange(length)[None, :] < np.asarray(valid)[:, None]).astype(np.int32)


def _norm_cases():
    x, skip, v16 = normal(2, 5, 16), normal(2, 5, 16), normal(16)
    ids = RNG.integers(0, 20, (2, 5)).astype(np.int32)
    segments = np.asarray([[0, 0, 1, 1, 1]] * 2, np.int32)
    tables = {"word": normal(20, 16), "position": normal(10, 16), "segment": normal(2, 16)}
    yield Case(
        "SkipLayerNormalization",
        {"x": x, "skip": skip, "gamma": v16, "beta": normal(16), "bias": normal(16)},
        ("x", "skip"),
        {"epsilon": 1e-12},
        ("y", "", "", "sum"),
    )
    yield Case(
        "SkipSimplifiedLayerNormalization",
        {"x": x, "skip": skip, "gamma": v16, "bias": normal(16)},
        ("x", "skip"),
        {"epsilon": 1e-6},
        ("y", "", "", "sum"),
    )
    yield Case(
        "LayerNormalization", {"x": x, "scale": v16, "b": normal(16)}, ("x",), domain="", opset=12
    )
    yield Case("SimplifiedLayerNormalization", {"x": x, "scale": v16}, ("x",), domain="")
    inputs = {"ids": ids, "segments": segments, **tables, "gamma": v16, "beta": normal(16)}
    yield Case(
        "EmbedLayerNormalization",
        inputs | {"mask": _mask(2, 5, [5, 3])},
        ("ids", "segments", "mask"),
        outputs=("y", "mask_index"),
    )


def _activation_cases():
    x, v16 = normal(2, 5, 16), normal(16)
    yield Case("Gelu", {"x": x}, ("x",))
    yield Case("BiasGelu", {"x": x, "b": v16}, ("x",))
    yield Case("FastGelu", {"x": x, "b": v16}, ("x",))
    yield Case("QuickGelu", {"x": x}, ("x",), {"alpha": 1.5})
    yield Case("BiasSplitGelu", {"x": x, "b": v16}, ("x",), reference="axonnx")
    yield Case("BiasAdd", {"x": x, "b": v16, "skip": normal(2, 5, 16)}, ("x",), reference="axonnx")
    matmul = {"a": x, "b": normal(8, 16)}
    yield Case("FusedMatMul", matmul, ("a",), {"alpha": 0.5, "transB": 1})
    conv = {"x": normal(1, 3, 8, 8), "w": normal(4, 3, 3, 3), "b": normal(4)}
    for activation, params in (("Relu", []), ("LeakyRelu", [0.2]), ("Sigmoid", [])):
        attrs = {"activation": activation, "pads": [1, 1, 1, 1]}
        if params:
            attrs["activation_params"] = params
        yield Case("FusedConv", conv, ("x",), attrs, id=activation)
    yield Case("Trilu", {"x": normal(2, 5, 5)}, ("x",), {"upper": 0})


def _attention_cases():
    x, weights, bias = normal(2, 5, 16), normal(16, 48) * 0.3, normal(48)
    inputs = {"x": x, "w": weights, "b": bias}
    lengths = np.asarray([5, 3], np.int32)
    yield Case("Attention", inputs | {"mask": lengths}, ("x", "mask"), {"num_heads": 4}, id="lens")
    raw = inputs | {"mask": _mask(2, 5, [5, 2])}
    yield Case("Attention", raw, ("x", "mask"), {"num_heads": 4}, id="raw_mask")
    causal = {"num_heads": 4, "unidirectional": 1}
    yield Case("Attention", inputs, ("x",), causal, ("y",), id="unidirectional")
    past = {"past": normal(2, 2, 4, 3, 4), "bias": None}
    gpt2 = inputs | {"mask": None} | past
    yield Case("Attention", gpt2, ("x", "past"), causal, ("y", "present"), id="past")
    mha = {"q": x, "k": normal(2, 6, 16), "v": normal(2, 6, 16), "b": bias}
    mha["mask"] = _mask(2, 6, [6, 4])
    yield Case("MultiHeadAttention", mha, ("q", "k", "v", "mask"), {"num_heads": 4})
    packed = {"q": x, "kv": normal(2, 6, 4, 2, 4)}
    yield Case(
        "MultiHeadAttention", packed, ("q", "kv"), {"num_heads": 4}, reference="axonnx", id="kv"
    )
    cached = {"q": x, "k": normal(2, 1, 16)[:, [0] * 5], "v": normal(2, 5, 16), "b": bias}
    cached |= {"mask": None, "attention_bias": None}
    cached |= {"past_key": normal(2, 4, 3, 4), "past_value": normal(2, 4, 3, 4)}
    feeds = ("q", "k", "v", "past_key", "past_value")
    outputs = ("y", "present_key", "present_value")
    yield Case("MultiHeadAttention", cached, feeds, {"num_heads": 4}, outputs, id="past")


def _rotary_inputs(x, positions):
    return {"x": x, "positions": positions, "cos": normal(12, 4), "sin": normal(12, 4)}


def _gqa(seq: int, past: int, seqlens: list[int], **attrs) -> Case:
    """4 query heads, 2 key/value heads of size 16 (onnxruntime's rotary needs 16k)."""
    inputs = {
        "q": normal(2, seq, 64),
        "k": normal(2, seq, 32),
        "v": normal(2, seq, 32),
        "past_k": normal(2, 2, past, 16),
        "past_v": normal(2, 2, past, 16),
        "seqlens_k": np.asarray(seqlens, np.int32),
        "total": np.asarray([max(seqlens) + 1], np.int32),
    }
    if attrs.get("do_rotary"):
        inputs |= {"cos": normal(16, 8), "sin": normal(16, 8)}
    feeds = ("q", "k", "v", "past_k", "past_v", "seqlens_k")
    name = f"seq{seq}_past{past}" + "".join(f"_{k}{v}" for k, v in attrs.items())
    attrs = {"num_heads": 4, "kv_num_heads": 2, **attrs}
    return Case("GroupQueryAttention", inputs, feeds, attrs, ("y", "pk", "pv"), id=name)


def _decoder_cases():
    positions = np.asarray([[0, 1, 2, 3, 4], [3, 4, 5, 6, 7]], np.int64)
    inputs = _rotary_inputs(normal(2, 5, 16), positions)
    yield Case("RotaryEmbedding", inputs, ("x", "positions"), {"num_heads": 2}, id="3d")
    yield Case(
        "RotaryEmbedding", inputs, ("x", "positions"), {"num_heads": 2, "interleaved": 1}, id="il"
    )
    offset = _rotary_inputs(normal(2, 5, 16), np.asarray([3], np.int64))
    yield Case("RotaryEmbedding", offset, ("x", "positions"), {"num_heads": 2}, id="offset")
    four_d = _rotary_inputs(normal(2, 2, 5, 8), positions)
    yield Case("RotaryEmbedding", four_d, ("x", "positions"), id="4d")
    yield _gqa(5, 0, [4, 4])
    yield _gqa(5, 0, [4, 4], do_rotary=1)
    yield _gqa(1, 6, [6, 4], do_rotary=1)
    yield _gqa(1, 6, [6, 6], local_window_size=3)


def _nbits(bits: int, K: int, N: int, block: int, zero_points: str, bias: bool, x) -> Case:  # noqa: N803
    blocks = -(-K // block)
    inputs = {
        "a": x,
        "b": uint8(N, blocks, block * bits // 8),
        "scales": (RNG.random(N * blocks) * 0.1).astype(np.float32),
        "zero_points": None,
        "g_idx": None,
        "bias": normal(N) if bias else None,
    }
    if zero_points == "packed":
        inputs["zero_points"] = uint8(N * (-(-blocks * bits // 8)))
    elif zero_points == "float":
        inputs["zero_points"] = (RNG.random(N * blocks) * 2**bits).astype(np.float32)
    attrs = {"K": K, "N": N, "bits": bits, "block_size": block}
    name = f"{bits}bit_K{K}_block{block}_{zero_points}" + ("_bias" if bias else "")
    return Case("MatMulNBits", inputs, ("a",), attrs, id=name)


def _quant_cases():
    yield _nbits(4, 64, 24, 32, "none", False, normal(2, 3, 64))
    yield _nbits(4, 40, 24, 16, "packed", True, normal(2, 3, 40))
    yield _nbits(8, 64, 24, 16, "packed", False, normal(3, 64))
    yield _nbits(2, 64, 24, 32, "none", False, normal(3, 64))
    yield _nbits(4, 64, 24, 32, "float", False, normal(3, 64))
    # 7-bit weights, as onnxruntime's quantizer keeps them: its u8s8 kernels add pairs of
    # products in int16 and saturate with full-range int8 weights (the QDQ form then
    # agrees with the exact product, not with onnxruntime)
    seven_bits = RNG.integers(-64, 64, (16, 8)).astype(np.int8)
    product = {"b": seven_bits, "b_scale": (RNG.random(8) * 0.05).astype(np.float32)}
    itf = {
        "a": uint8(2, 5, 16),
        "b": product["b"],
        "a_scale": scale(),
        "b_scale": product["b_scale"],
    }
    itf |= {"a_zero_point": zero(), "b_zero_point": int8(8), "bias": normal(8)}
    yield Case("MatMulIntegerToFloat", itf, ("a",))
    dynamic = {"a": normal(2, 5, 16), **product, "b_zero_point": None, "bias": normal(8)}
    yield Case("DynamicQuantizeMatMul", dynamic, ("a",))
    gemm = {"a": uint8(4, 16), "a_scale": scale(), "a_zero_point": zero()}
    gemm |= {"b": int8(8, 16), "b_scale": product["b_scale"], "b_zero_point": int8(8) * 0}
    gemm |= {"c": RNG.integers(-500, 500, 8).astype(np.int32)}
    yield Case("QGemm", gemm, ("a",), {"transB": 1}, id="float")
    requantize = gemm | {"y_scale": scale(2.0), "y_zero_point": zero(100)}
    yield Case("QGemm", requantize, ("a",), {"transB": 1}, quantized=True, id="quantized")
    attention = {"x": uint8(2, 5, 16), "w": uint8(16, 48), "b": normal(48)}
    attention |= {"x_scale": scale(0.02), "w_scale": scale(0.01)}
    attention |= {"mask": np.asarray([5, 3], np.int32), "x_zp": zero(), "w_zp": zero()}
    yield Case("QAttention", attention, ("x", "mask"), {"num_heads": 4})
    yield _qembed()


def _qembed() -> Case:
    tables = {
        "ids": RNG.integers(0, 20, (2, 5)).astype(np.int32),
        "segments": np.asarray([[0, 0, 1, 1, 1]] * 2, np.int32),
        "word": uint8(20, 16),
        "position": uint8(10, 16),
        "segment": uint8(2, 16),
        "gamma": uint8(16),
        "beta": uint8(16),
        "mask": _mask(2, 5, [5, 3]),
    }
    scales = {f"{k}_scale": scale(0.01) for k in ("word", "position", "segment", "gamma", "beta")}
    zeros = {f"{k}_zp": zero() for k in ("word", "position", "segment", "gamma", "beta")}
    inputs = tables | scales | zeros
    feeds = ("ids", "segments", "mask")
    return Case("QEmbedLayerNormalization", inputs, feeds, outputs=("y", "mask_index"))


def _qlinear_cases():
    def q(name):
        return {name: uint8(2, 3, 4, 4), f"{name}_scale": scale(), f"{name}_zp": zero()}

    out = {"y_scale": scale(0.07), "y_zp": zero(120)}
    for op in ("QLinearAdd", "QLinearMul"):
        yield Case(op, q("a") | q("b") | out, ("a", "b"), quantized=True)
    yield Case("QLinearSigmoid", q("x") | out, ("x",), quantized=True)
    yield Case("QLinearLeakyRelu", q("x") | out, ("x",), {"alpha": 0.1}, quantized=True)
    yield Case("QLinearGlobalAveragePool", q("x") | out, ("x",), quantized=True)
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    yield Case("QLinearAveragePool", q("x") | out, ("x",), pool, quantized=True)
    yield Case("QLinearConcat", out | q("a") | q("b"), ("a", "b"), {"axis": 1}, quantized=True)


CASES = [
    *_norm_cases(),
    *_activation_cases(),
    *_attention_cases(),
    *_decoder_cases(),
    *_quant_cases(),
    *_qlinear_cases(),
]


def _params():
    for case in CASES:
        for opset in (None, 23) if case.opset >= 21 else (None,):
            yield pytest.param(case, opset, id=f"{case.op}-{case.id or 'base'}-opset{opset}")


def _reference(case: Case, proto: onnx.ModelProto) -> list[np.ndarray]:
    if case.reference == "axonnx":
        model, state = ax.import_onnx(proto)
        result = ax.predict(model, state, case.feed())
        return [np.asarray(v) for v in (result.values() if isinstance(result, dict) else [result])]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, case.feed())


@pytest.mark.parametrize(("case", "opset"), list(_params()))
def test_standard_form_matches_the_op(case, opset):
    original = case.model()
    want = _reference(case, original)
    exported = check.standard_export(original, opset)
    got = check.session(exported).run(None, case.feed())
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        if case.quantized:
            assert np.abs(g.astype(np.int32) - w.astype(np.int32)).max() <= 1
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_every_contrib_op_has_a_standard_form_and_a_case():
    contrib = {
        (d, t, v) for (d, t, v) in specs() if d not in STANDARD_DOMAINS or (d, t, v) in forms()
    }
    assert contrib == set(forms())
    assert {t for _, t, _ in forms()} == {case.op for case in CASES}
