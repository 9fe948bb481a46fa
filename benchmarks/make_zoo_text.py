"""The benchmark suite's wider text and classical-ML models (random weights, no hub).

Used by `make_suite_models.py` (`--only t5_small llama_small ...`): T5-small (the full
encoder-decoder forward), a small LLaMA-architecture decoder (a 128-token prefill),
a 4-layer BERT quantized by onnxruntime's `quantize_dynamic`, and a scikit-learn random
forest through skl2onnx. Needs torch, transformers, onnxruntime, scikit-learn, skl2onnx.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import onnx
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import make_models as mm  # noqa: E402

TEXT_AXES = {0: "batch", 1: "sequence"}


def _ready(model: nn.Module) -> nn.Module:
    torch.manual_seed(mm.SEED)
    model = model.eval()
    with torch.no_grad():
        mm.perturb(model)
    return model


def _ids(vocab: int, batch: int = 2, seq: int = 8) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(0))


def make_t5_small(path: Path) -> None:
    """transformers T5Model, default config (t5-small: d_model 512, 6 + 6 layers, 8 heads):
    input_ids, attention_mask, decoder_input_ids → the decoder's last hidden state."""
    from transformers import T5Config, T5Model

    class Exportable(T5Model):
        def forward(self, input_ids, attention_mask, decoder_input_ids):
            return (
                super()
                .forward(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    decoder_input_ids=decoder_input_ids,
                    use_cache=False,
                )
                .last_hidden_state
            )

    model = _ready(Exportable(T5Config()))
    args = (_ids(32128), torch.ones(2, 8, dtype=torch.int64), _ids(32128, seq=8))
    names = ["input_ids", "attention_mask", "decoder_input_ids"]
    axes = {n: TEXT_AXES for n in names[:2]}
    axes["decoder_input_ids"] = axes["last_hidden_state"] = {0: "batch", 1: "decoder_sequence"}
    with torch.no_grad():
        mm.export_torchscript(
            model, args, path, inputs=names, outputs=["last_hidden_state"], axes=axes
        )


LLAMA = {
    "hidden_size": 512,
    "intermediate_size": 1376,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
    "max_position_embeddings": 2048,
}


def make_llama_small(path: Path) -> None:
    """transformers LlamaForCausalLM, hidden 512, 4 layers, 8 heads (4 key/value heads:
    grouped-query attention), eager attention, no cache: input_ids → logits (a prefill)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    class Exportable(LlamaForCausalLM):
        def forward(self, input_ids):
            mask = torch.ones_like(input_ids)
            return super().forward(input_ids=input_ids, attention_mask=mask, use_cache=False).logits

    config = LlamaConfig(**LLAMA, attn_implementation="eager")
    model = _ready(Exportable(config))
    axes = {"input_ids": TEXT_AXES, "logits": TEXT_AXES}
    with torch.no_grad():
        mm.export_torchscript(
            model, (_ids(32000),), path, inputs=["input_ids"], outputs=["logits"], axes=axes
        )


def make_bert_4l_qdq(path: Path) -> None:
    """A 4-layer BERT-base-width model (hidden 768, 12 heads), float32 export, then
    `onnxruntime.quantization.quantize_dynamic` (int8 weights: MatMulInteger,
    DynamicQuantizeLinear)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "bert_4l.onnx"
        torch.manual_seed(mm.SEED)
        mm.make_bert(fp32, {"num_hidden_layers": 4}, "torchscript")
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)


def make_random_forest(path: Path) -> None:
    """sklearn RandomForestClassifier (100 trees, 3 classes) fitted on 2000 synthetic
    samples of 20 features, skl2onnx without ZipMap: X (N, 20) → label, probabilities."""
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(2000, 20, n_informative=10, n_classes=3, random_state=0)
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    proto = to_onnx(forest, x[:1].astype("float32"), options={"zipmap": False})
    for value in [*proto.graph.input, *proto.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = "batch"
    onnx.save(proto, str(path))


TEXT = {
    "t5_small": make_t5_small,
    "llama_small": make_llama_small,
    "bert_4l_int8": make_bert_4l_qdq,
    "random_forest": make_random_forest,
}
