"""Writes the decoders of tests/generation/: small transformers causal LMs exported as
one decode step with a KV cache (random weights from fixed seeds, nothing downloaded).

    /work/venv-torch/bin/python tests/generation/make_decoders.py

Models: `LlamaForCausalLM` (2 layers, hidden 64, 4 heads over 2 key/value heads:
grouped-query attention, eager attention) and `GPT2LMHeadModel` (2 layers, n_embd 64,
4 heads), vocabulary 256. Each step takes `input_ids` (batch, sequence), `attention_mask` (batch,
past + sequence), `position_ids` (batch, sequence) and the cache of every layer
`past_key_values.{i}.key/value` (batch, kv_heads, past, head_dim) and returns
`logits` and `present.{i}.key/value` (batch, kv_heads, past + sequence, head_dim).

Both PyTorch exporters: `torch.onnx.export(dynamo=False)` (names given by the
exporter's `input_names`: `past_key_values.0.key`, `present.0.key`, ... as Optimum
writes them) and `dynamo=True` (names as the exporter derives them from the
forward's arguments, a list of (key, value) tuples: `past_key_values_0_0`, ...; the
outputs named `present_...` likewise). Needs torch, transformers and onnxscript.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

# torchvision 0.28's _C does not load with torch 2.13.0+cpu and its import then fails
# (benchmarks/make_zoo_vision.py); transformers imports it when it finds it: hide it.
sys.modules.setdefault("torchvision", None)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "models"))
import make_models as mm  # noqa: E402

LAYERS, HIDDEN, HEADS, VOCAB = 2, 64, 4, 256
LLAMA = {
    "hidden_size": HIDDEN,
    "intermediate_size": 128,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": 2,
    "vocab_size": VOCAB,
    "max_position_embeddings": 256,
    "attn_implementation": "eager",
}
GPT2 = {
    "n_embd": HIDDEN,
    "n_layer": LAYERS,
    "n_head": HEADS,
    "vocab_size": VOCAB,
    "n_positions": 256,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "attn_implementation": "eager",
}
# Noise added to the initial weights (as training would): at GPT-2's initial scale its
# greedy decode repeats one token, which would not tell a right cache from a wrong one.
SCALE = {"llama": 0.05, "gpt2": 0.5}


class Step(nn.Module):
    """One decode step of a causal LM over a flat KV cache."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask, position_ids, past_key_values):
        from transformers import DynamicCache

        cache = DynamicCache([tuple(kv) for kv in past_key_values], config=self.lm.config)
        out = self.lm(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        presents = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
        return (out.logits, *presents)


def _lm(kind: str) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(mm.SEED)
    if kind == "llama":
        lm = LlamaForCausalLM(LlamaConfig(**LLAMA))
    else:
        lm = GPT2LMHeadModel(GPT2Config(**GPT2))
    lm = lm.eval()
    with torch.no_grad():
        mm.perturb(lm, scale=SCALE[kind])
    return lm


def _example(lm: nn.Module, past: int = 3, seq: int = 2) -> tuple:
    config = lm.config
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = config.hidden_size // config.num_attention_heads
    generator = torch.Generator().manual_seed(mm.SEED)
    ids = torch.randint(0, VOCAB, (1, seq), generator=generator)
    mask = torch.ones(1, past + seq, dtype=torch.int64)
    positions = torch.arange(past, past + seq).unsqueeze(0)
    cache = [
        tuple(torch.randn(1, kv_heads, past, head_dim, generator=generator) for _ in range(2))
        for _ in range(config.num_hidden_layers)
    ]
    return ids, mask, positions, cache


def _names(prefix: str, sep: str, kv: tuple[str, str]) -> list[str]:
    return [f"{prefix}{sep}{i}{sep}{part}" for i in range(LAYERS) for part in kv]


def export_torchscript(kind: str, path: Path) -> None:
    lm = _lm(kind)
    args = _example(lm)
    past = _names("past_key_values", ".", ("key", "value"))
    present = _names("present", ".", ("key", "value"))
    inputs, outputs = ["input_ids", "attention_mask", "position_ids", *past], ["logits", *present]
    axes = {n: {0: "batch", 1: "sequence"} for n in ("input_ids", "position_ids", "logits")}
    axes["attention_mask"] = {0: "batch", 1: "total_sequence"}
    axes |= {n: {0: "batch", 2: "past_sequence"} for n in past}
    axes |= {n: {0: "batch", 2: "total_sequence"} for n in present}
    with torch.no_grad():
        mm.export_torchscript(
            Step(lm), args, path, inputs=inputs, outputs=outputs, axes=axes, opset=17
        )


def export_dynamo(kind: str, path: Path) -> None:
    lm = _lm(kind)
    args = _example(lm)
    auto = torch.export.Dim.AUTO
    cache_shapes = [({0: auto, 2: auto}, {0: auto, 2: auto}) for _ in range(LAYERS)]
    shapes = ({0: auto, 1: auto}, {0: auto, 1: auto}, {0: auto, 1: auto}, cache_shapes)
    with mm._quiet(), torch.no_grad():
        program = torch.onnx.export(
            Step(lm), args, dynamo=True, dynamic_shapes=shapes, optimize=True, verbose=False
        )
        program.save(str(path), external_data=False)


MODELS = {
    "llama_torchscript.onnx": lambda p: export_torchscript("llama", p),
    "llama_dynamo.onnx": lambda p: export_dynamo("llama", p),
    "gpt2_torchscript.onnx": lambda p: export_torchscript("gpt2", p),
    "gpt2_dynamo.onnx": lambda p: export_dynamo("gpt2", p),
}


def main() -> None:
    torch.use_deterministic_algorithms(True)
    for name, make in MODELS.items():
        path = HERE / name
        make(path)
        mm.check(path)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
