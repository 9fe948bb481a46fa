"""Writes the models of tests/converters/test_contrib_models.py: small BERTs rewritten by
onnxruntime's transformer optimizer into its fused contrib ops.

    python tests/converters/contrib_models/make_contrib_models.py

Inputs: `models/bert_tiny_torchscript.onnx` (a real TorchScript export, see
models/README.md) and `bert_classic`, a 2-layer BERT built here node by node in the
form older exporters wrote (opset 12: LayerNormalization and GELU spelled out, the
attention mask as `(1 - mask) * -10000`), which the optimizer fuses further
(EmbedLayerNormalization, Attention). Each is optimized with
`onnxruntime.transformers.optimizer.optimize_model(..., model_type="bert",
opt_level=L, use_gpu=False)` for L in 1, 2, 99 (bert_classic also with GELU
approximated (FastGelu) and the raw attention mask, and with MultiHeadAttention and
plain LayerNormalization). An output identical byte
for byte to an earlier level's is not written again; `manifest.json` maps
(model, variant, level) to its file and lists the contrib ops in it.

Needs onnxruntime and sympy (the optimizer's shape inference); the optimizer also
imports `torch` only to ask whether it is a ROCm build, so a stand-in module is used
when torch is not installed. Weights are random from fixed seeds.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx import helper as oh

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LEVELS = (1, 2, 99)
CLASSIC = {"vocab": 50, "hidden": 32, "heads": 4, "layers": 2, "intermediate": 64, "positions": 16}


class _Graph:
    """A small builder: nodes, initializers and fresh names."""

    def __init__(self, seed: int) -> None:
        self.nodes, self.initializers, self.count = [], [], 0
        self.rng = np.random.default_rng(seed)

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, value) -> str:
        name = self.name(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, base: str, *shape: int, scale: float = 0.1) -> str:
        return self.const(base, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(oh.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def layer_norm(self, x: str, hidden: int) -> str:
        mean = self.op("ReduceMean", x, axes=[-1])
        centered = self.op("Sub", x, mean)
        var = self.op(
            "ReduceMean", self.op("Pow", centered, self.const("two", np.float32(2))), axes=[-1]
        )
        std = self.op("Sqrt", self.op("Add", var, self.const("eps", np.float32(1e-12))))
        scaled = self.op("Mul", self.op("Div", centered, std), self.weight("gamma", hidden))
        return self.op("Add", scaled, self.weight("beta", hidden))

    def dense(self, x: str, fan_in: int, fan_out: int) -> str:
        return self.op(
            "Add",
            self.op("MatMul", x, self.weight("kernel", fan_in, fan_out)),
            self.weight("bias", fan_out),
        )


def _attention(g: _Graph, x: str, mask: str, hidden: int, heads: int) -> str:
    size = hidden // heads
    split = g.const("shape", np.array([0, 0, heads, size], np.int64))
    q = g.op("Transpose", g.op("Reshape", g.dense(x, hidden, hidden), split), perm=[0, 2, 1, 3])
    k = g.op("Transpose", g.op("Reshape", g.dense(x, hidden, hidden), split), perm=[0, 2, 3, 1])
    v = g.op("Transpose", g.op("Reshape", g.dense(x, hidden, hidden), split), perm=[0, 2, 1, 3])
    scores = g.op("Div", g.op("MatMul", q, k), g.const("sqrt", np.float32(np.sqrt(size))))
    probs = g.op("Softmax", g.op("Add", scores, mask), axis=3)
    context = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])
    merged = g.op("Reshape", context, g.const("shape", np.array([0, 0, hidden], np.int64)))
    return g.dense(merged, hidden, hidden)


def _gelu(g: _Graph, x: str) -> str:
    erf = g.op("Erf", g.op("Div", x, g.const("sqrt2", np.float32(np.sqrt(2)))))
    return g.op(
        "Mul",
        g.op("Mul", x, g.op("Add", erf, g.const("one", np.float32(1)))),
        g.const("half", np.float32(0.5)),
    )


def bert_classic(seed: int = 0) -> onnx.ModelProto:
    """A 2-layer BERT in the form of older exporters (opset 12)."""
    c, g = CLASSIC, _Graph(seed)
    hidden = c["hidden"]
    words = g.op("Gather", g.weight("word_embeddings", c["vocab"], hidden, scale=0.5), "input_ids")
    seq = g.op(
        "Unsqueeze",
        g.op("Gather", g.op("Shape", "input_ids"), g.const("one", np.int64(1))),
        axes=[0],
    )
    all_positions = g.const("position_ids", np.arange(c["positions"], dtype=np.int64)[None])
    positions = g.op(
        "Slice",
        all_positions,
        g.const("zero", np.array([0], np.int64)),
        seq,
        g.const("axis", np.array([1], np.int64)),
    )
    position_emb = g.op(
        "Gather", g.weight("position_embeddings", c["positions"], hidden, scale=0.5), positions
    )
    segment_emb = g.op(
        "Gather", g.weight("token_type_embeddings", 2, hidden, scale=0.5), "token_type_ids"
    )
    x = g.layer_norm(g.op("Add", g.op("Add", words, position_emb), segment_emb), hidden)
    mask = g.op(
        "Cast",
        g.op("Unsqueeze", g.op("Unsqueeze", "attention_mask", axes=[1]), axes=[2]),
        to=TensorProto.FLOAT,
    )
    mask = g.op(
        "Mul",
        g.op("Sub", g.const("one", np.float32(1)), mask),
        g.const("filter", np.float32(-10000)),
    )
    for _ in range(c["layers"]):
        x = g.layer_norm(g.op("Add", _attention(g, x, mask, hidden, c["heads"]), x), hidden)
        up = _gelu(g, g.dense(x, hidden, c["intermediate"]))
        x = g.layer_norm(g.op("Add", g.dense(up, c["intermediate"], hidden), x), hidden)
    g.nodes.append(oh.make_node("Identity", [x], ["last_hidden_state"]))
    ids = [
        oh.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    out = oh.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden]
    )
    graph = oh.make_graph(g.nodes, "bert_classic", ids, [out], g.initializers)
    return oh.make_model(
        graph, opset_imports=[oh.make_opsetid("", 12)], ir_version=7, producer_name="pytorch"
    )


def _options(variant: str):
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    if variant == "fast_gelu_raw_mask":
        options.enable_gelu_approximation = True
        options.use_raw_attention_mask(True)
    elif variant == "mha_layer_norm":
        options.use_multi_head_attention = True
        options.enable_embed_layer_norm = False
        options.enable_skip_layer_norm = False
    return options


SOURCES = {
    # name: (source model, heads, hidden, variants)
    "bert_tiny_torchscript": (
        lambda: onnx.load(ROOT / "models" / "bert_tiny_torchscript.onnx"),
        4,
        64,
        ("default",),
    ),
    "bert_classic": (
        bert_classic,
        CLASSIC["heads"],
        CLASSIC["hidden"],
        ("default", "fast_gelu_raw_mask", "mha_layer_norm"),
    ),
}


def _torch_stand_in() -> None:
    """The optimizer imports torch.version only to ask whether torch is a ROCm build."""
    if importlib.util.find_spec("torch") is None:
        torch = types.ModuleType("torch")
        torch.version = types.SimpleNamespace(hip=None, cuda=None)
        sys.modules["torch"] = torch


def contrib_ops(model: onnx.ModelProto) -> dict[str, int]:
    """How many nodes of each contrib op (and default-domain LayerNormalization) a model has."""
    counts = collections.Counter(
        f"{n.domain}::{n.op_type}" if n.domain else n.op_type
        for n in model.graph.node
        if n.domain == "com.microsoft" or n.op_type == "LayerNormalization"
    )
    return dict(sorted(counts.items()))


def main() -> None:
    _torch_stand_in()
    from onnxruntime.transformers.optimizer import optimize_model

    manifest, written = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, heads, hidden, variants) in SOURCES.items():
            source = Path(tmp) / f"{name}.onnx"
            onnx.save(make(), source)
            for variant in variants:
                for level in LEVELS:
                    optimized = optimize_model(
                        str(source),
                        model_type="bert",
                        num_heads=heads,
                        hidden_size=hidden,
                        opt_level=level,
                        use_gpu=False,
                        optimization_options=_options(variant),
                    ).model
                    data = optimized.SerializeToString()
                    digest = hashlib.sha256(data).hexdigest()
                    if digest not in written:
                        suffix = "" if variant == "default" else f"_{variant}"
                        written[digest] = f"{name}{suffix}_o{level}.onnx"
                        (HERE / written[digest]).write_bytes(data)
                    entry = {"model": name, "variant": variant, "opt_level": level}
                    manifest.append(
                        {**entry, "file": written[digest], "contrib_ops": contrib_ops(optimized)}
                    )
                    print(manifest[-1])
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
