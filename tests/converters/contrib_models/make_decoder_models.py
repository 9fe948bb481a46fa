"""Writes the LLaMA-architecture decoders of tests/converters/test_contrib_models.py, in
the layout of onnxruntime-genai's model builder (which does not install here):

    /work/venv-torch/bin/python tests/converters/contrib_models/make_decoder_models.py

Inputs `input_ids` (batch, seq), `attention_mask` (batch, total_seq) and
`past_key_values.{i}.key/value` (batch, kv_heads, past_seq, head_size); outputs
`logits` and `present.{i}.key/value`. As the builder writes them: the mask becomes
GroupQueryAttention's `seqlens_k` (ReduceSum - 1, int32) and `total_sequence_length`
(Shape -> Gather(1), int32); the first layer norm is SimplifiedLayerNormalization and
the later ones SkipSimplifiedLayerNormalization carrying the residual; the MLP is
SiLU(gate) * up. Variants:

- `llama_gqa_rotary_int4`: packed QKV projection, rotary embedding inside
  GroupQueryAttention (`do_rotary=1` with cos/sin caches), 4-bit symmetric weights;
- `llama_rotary_embedding_int4`: separate Q, K, V projections, com.microsoft
  RotaryEmbedding nodes on Q and K at `position_ids` (an extra input), interleaved,
  4-bit weights with zero points;
- `llama_gqa_rotary_int8`: as the first, 8-bit weights with zero points, block 16.

Every MatMul with a constant weight (projections, MLP, lm_head) is then rewritten to
MatMulNBits by onnxruntime's own `MatMulNBitsQuantizer` (the quantizer the builder
uses for int4), so the packing is onnxruntime's. Needs onnxruntime and onnx_ir (both in
/work/venv-torch). Weights are random from fixed seeds; `decoder_manifest.json` lists
the files and their sizes.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper
from onnx import helper as oh

HERE = Path(__file__).resolve().parent
MS = "com.microsoft"
CONFIG = {
    "vocab": 64,
    "hidden": 64,
    "heads": 4,
    "kv_heads": 2,
    "layers": 2,
    "intermediate": 96,
    "max_positions": 64,
    "epsilon": 1e-6,
}


class _Builder:
    """Nodes and initializers named as the GenAI builder names them."""

    def __init__(self, seed: int) -> None:
        self.nodes, self.initializers = [], []
        self.rng = np.random.default_rng(seed)

    def const(self, name: str, value) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, name: str, inputs, outputs=1, domain="", **attrs):
        outs = (
            [f"{name}/output_{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
        )
        self.nodes.append(
            oh.make_node(op_type, list(inputs), outs, name=name, domain=domain, **attrs)
        )
        return outs[0] if len(outs) == 1 else outs

    def linear(self, x: str, prefix: str, fan_in: int, fan_out: int) -> str:
        weight = (self.rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        w = self.const(f"{prefix.strip('/').replace('/', '.')}.MatMul.weight", weight)
        return self.op("MatMul", f"{prefix}/MatMul", [x, w])

    def norm_weight(self, name: str, size: int) -> str:
        return self.const(name, (1 + 0.1 * self.rng.standard_normal(size)).astype(np.float32))


def _caches(c: dict) -> tuple[np.ndarray, np.ndarray]:
    size = c["hidden"] // c["heads"]
    inv = 1.0 / 10000.0 ** (np.arange(0, size, 2, dtype=np.float32) / size)
    angles = np.arange(c["max_positions"], dtype=np.float32)[:, None] * inv[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _mask_reformat(b: _Builder) -> tuple[str, str]:
    prefix = "/model/attn_mask_reformat/attn_mask_subgraph"
    axes = b.const("attn_mask_axes", np.array([1], np.int64))
    total = b.op("ReduceSum", f"{prefix}/ReduceSum", ["attention_mask", axes], keepdims=1)
    minus = b.op("Sub", f"{prefix}/Sub", [total, b.const("one_int64", np.array(1, np.int64))])
    seqlens = b.op("Cast", f"{prefix}/Sub/Cast", [minus], to=TensorProto.INT32)
    shape = b.op("Shape", f"{prefix}/Shape", ["attention_mask"])
    index = b.const("one_index", np.array(1, np.int64))
    length = b.op("Gather", f"{prefix}/Gather", [shape, index], axis=0)
    return seqlens, b.op("Cast", f"{prefix}/Gather/Cast", [length], to=TensorProto.INT32)


def _attention(b: _Builder, x: str, layer: int, seqlens: str, total: str, variant: str) -> str:
    c = CONFIG
    hidden, size = c["hidden"], c["hidden"] // c["heads"]
    kv = c["kv_heads"] * size
    prefix = f"/model/layers.{layer}/attn"
    past = [f"past_key_values.{layer}.key", f"past_key_values.{layer}.value"]
    present = [f"present.{layer}.key", f"present.{layer}.value"]
    attrs = {"num_heads": c["heads"], "kv_num_heads": c["kv_heads"], "local_window_size": -1}
    if variant == "gqa_rotary":
        qkv = b.linear(x, f"{prefix}/qkv_proj", hidden, hidden + 2 * kv)
        names = [qkv, "", "", *past, seqlens, total, "cos_cache", "sin_cache"]
        attrs["do_rotary"] = 1
    else:
        q = b.linear(x, f"{prefix}/q_proj", hidden, hidden)
        k = b.linear(x, f"{prefix}/k_proj", hidden, kv)
        v = b.linear(x, f"{prefix}/v_proj", hidden, kv)
        rotary = {"interleaved": 1}
        q = b.op(
            "RotaryEmbedding",
            f"{prefix}/q_rotary/RotaryEmbedding",
            [q, "position_ids", "cos_cache", "sin_cache"],
            domain=MS,
            num_heads=c["heads"],
            **rotary,
        )
        k = b.op(
            "RotaryEmbedding",
            f"{prefix}/k_rotary/RotaryEmbedding",
            [k, "position_ids", "cos_cache", "sin_cache"],
            domain=MS,
            num_heads=c["kv_heads"],
            **rotary,
        )
        names = [q, k, v, *past, seqlens, total]
    out = b.op(
        "GroupQueryAttention",
        f"{prefix}/GroupQueryAttention",
        names,
        [f"{prefix}/GroupQueryAttention/output_0", *present],
        domain=MS,
        **attrs,
    )[0]
    return b.linear(out, f"{prefix}/o_proj", hidden, hidden)


def _mlp(b: _Builder, x: str, layer: int) -> str:
    c = CONFIG
    prefix = f"/model/layers.{layer}/mlp"
    gate = b.linear(x, f"{prefix}/gate_proj", c["hidden"], c["intermediate"])
    up = b.linear(x, f"{prefix}/up_proj", c["hidden"], c["intermediate"])
    silu = b.op(
        "Mul", f"{prefix}/act_fn/Mul", [gate, b.op("Sigmoid", f"{prefix}/act_fn/Sigmoid", [gate])]
    )
    return b.linear(
        b.op("Mul", f"{prefix}/Mul", [silu, up]),
        f"{prefix}/down_proj",
        c["intermediate"],
        c["hidden"],
    )


def _skip_norm(b: _Builder, x: str, residual: str, name: str, weight: str) -> tuple[str, str]:
    outs = [f"{name}/output_0", "", "", f"{name}/output_3"]
    b.op(
        "SkipSimplifiedLayerNormalization",
        name,
        [x, residual, b.norm_weight(weight, CONFIG["hidden"])],
        outs,
        domain=MS,
        epsilon=CONFIG["epsilon"],
    )
    return outs[0], outs[3]


def decoder(variant: str, seed: int = 0) -> onnx.ModelProto:
    """The float decoder (MatMul projections) of `variant` ("gqa_rotary" or
    "rotary_embedding")."""
    c, b = CONFIG, _Builder(seed)
    cos, sin = _caches(c)
    b.const("cos_cache", cos)
    b.const("sin_cache", sin)
    table = (b.rng.standard_normal((c["vocab"], c["hidden"])) * 0.5).astype(np.float32)
    embedded = b.op(
        "Gather",
        "/model/embed_tokens/Gather",
        [b.const("model.embed_tokens.weight", table), "input_ids"],
    )
    seqlens, total = _mask_reformat(b)
    residual = embedded
    normed = b.op(
        "SimplifiedLayerNormalization",
        "/model/layers.0/input_layernorm/LayerNorm",
        [embedded, b.norm_weight("model.layers.0.input_layernorm.weight", c["hidden"])],
        axis=-1,
        epsilon=c["epsilon"],
    )
    for layer in range(c["layers"]):
        attention = _attention(b, normed, layer, seqlens, total, variant)
        normed, residual = _skip_norm(
            b,
            attention,
            residual,
            f"/model/layers.{layer}/post_attention_layernorm/SkipLayerNorm",
            f"model.layers.{layer}.post_attention_layernorm.weight",
        )
        mlp = _mlp(b, normed, layer)
        last = layer + 1 == c["layers"]
        name = "/model/norm" if last else f"/model/layers.{layer + 1}/input_layernorm"
        weight = "model.norm.weight" if last else f"model.layers.{layer + 1}.input_layernorm.weight"
        normed, residual = _skip_norm(b, mlp, residual, f"{name}/SkipLayerNorm", weight)
    logits = b.linear(normed, "/lm_head", c["hidden"], c["vocab"])
    b.nodes.append(oh.make_node("Identity", [logits], ["logits"], name="/lm_head/Identity"))
    return oh.make_model(
        oh.make_graph(b.nodes, "main_graph", _inputs(variant), _outputs(), b.initializers),
        opset_imports=[oh.make_opsetid("", 21), oh.make_opsetid(MS, 1)],
        ir_version=10,
    )


def _cache_info(name: str, seq: str) -> onnx.ValueInfoProto:
    c = CONFIG
    dims = ["batch_size", c["kv_heads"], seq, c["hidden"] // c["heads"]]
    return oh.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _inputs(variant: str) -> list[onnx.ValueInfoProto]:
    values = [
        oh.make_tensor_value_info(
            "input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]
        ),
        oh.make_tensor_value_info(
            "attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]
        ),
    ]
    if variant == "rotary_embedding":
        values.append(
            oh.make_tensor_value_info(
                "position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]
            )
        )
    for layer in range(CONFIG["layers"]):
        for kind in ("key", "value"):
            values.append(_cache_info(f"past_key_values.{layer}.{kind}", "past_sequence_length"))
    return values


def _outputs() -> list[onnx.ValueInfoProto]:
    logits = ["batch_size", "sequence_length", CONFIG["vocab"]]
    values = [oh.make_tensor_value_info("logits", TensorProto.FLOAT, logits)]
    for layer in range(CONFIG["layers"]):
        for kind in ("key", "value"):
            values.append(_cache_info(f"present.{layer}.{kind}", "total_sequence_length"))
    return values


def quantize(model: onnx.ModelProto, *, bits: int, block_size: int, symmetric: bool):
    """`model` with every constant-weight MatMul rewritten to MatMulNBits by
    onnxruntime's MatMulNBitsQuantizer."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (  # noqa: PLC0415
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric, bits=bits)
    quantizer = MatMulNBitsQuantizer(model, algo_config=config)
    quantizer.process()
    quantized = quantizer.model.model
    quantized.ir_version = 10
    return quantized


VARIANTS = {
    "llama_gqa_rotary_int4": ("gqa_rotary", {"bits": 4, "block_size": 32, "symmetric": True}),
    "llama_rotary_embedding_int4": (
        "rotary_embedding",
        {"bits": 4, "block_size": 32, "symmetric": False},
    ),
    "llama_gqa_rotary_int8": ("gqa_rotary", {"bits": 8, "block_size": 16, "symmetric": False}),
}


def main() -> None:
    manifest = []
    for seed, (name, (variant, quant)) in enumerate(VARIANTS.items()):
        model = quantize(decoder(variant, seed), **quant)
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        path = HERE / f"{name}.onnx"
        onnx.save(model, path)
        ops = collections.Counter(
            f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in model.graph.node
        )
        manifest.append(
            {
                "model": name,
                "file": path.name,
                "config": CONFIG,
                **quant,
                "ops": dict(sorted(ops.items())),
            }
        )
        print(f"{path.name}: {path.stat().st_size} bytes, {dict(ops)}")
    (HERE / "decoder_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
