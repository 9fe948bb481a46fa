"""Build the benchmark suite's real-size ONNX models (random weights from configs, no hub).

    python benchmarks/make_suite_models.py [--out ~/.cache/axonnx-bench] [--only bert_base ...]

Models: BERT-base, DistilBERT-base, GPT-2 small, ViT-base (224²), ResNet-50 (224²),
an LSTM classifier and an MNIST CNN, each from the Hugging Face / PyTorch code with
its default config; and the wider zoo of `make_zoo_vision.py` (torchvision MobileNetV3,
EfficientNet-B0, ConvNeXt-T, ResNeXt-50, DenseNet-121, LR-ASPP, SSDLite; transformers
Swin-T) and `make_zoo_text.py` (T5-small, a small LLaMA, an int8 dynamic-quantized BERT,
a scikit-learn random forest). Weights are perturbed as training would (no two tensors
equal); the networks are exported with the TorchScript exporter (opset 17, constants
folded: eval-mode BatchNormalization folds into Conv). Existing files are kept; delete
them to rebuild. A model whose export fails is skipped, its error written next to where
the file would be (`NAME.onnx.error`, which `suite.py` reports in that model's row).
Needs torch and transformers; the zoo also torchvision, scikit-learn and skl2onnx.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import make_models as mm  # noqa: E402  (the shipped models' script: bert, exporters)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_zoo_text import TEXT  # noqa: E402
from make_zoo_vision import VISION, torchvision  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("AXONNX_BENCH_CACHE", "~/.cache/axonnx-bench")).expanduser()
TEXT_AXES = {0: "batch", 1: "sequence"}


class LSTMClassifier(nn.Module):
    """Embedding 128 + LSTM 256 (batch first) + Linear on the last step: (N, T) → (N, 4)."""

    def __init__(self, vocab: int = 10000, embed: int = 128, hidden: int = 256):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 4)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out[:, -1])


def _ready(model: nn.Module) -> nn.Module:
    torch.manual_seed(mm.SEED)
    model = model.eval()
    with torch.no_grad():
        mm.perturb(model)
    return model


def _ids(vocab: int, batch: int = 2, seq: int = 8) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(0))


def _export(model, args, path, inputs, outputs, axes) -> None:
    with torch.no_grad():
        mm.export_torchscript(model, args, path, inputs=inputs, outputs=outputs, axes=axes)


def make_bert_base(path: Path) -> None:
    torch.manual_seed(mm.SEED)
    mm.make_bert(path, {}, "torchscript")


def make_distilbert(path: Path) -> None:
    from transformers import DistilBertConfig, DistilBertModel

    class Exportable(DistilBertModel):
        def forward(self, input_ids, attention_mask):
            return super().forward(input_ids=input_ids, attention_mask=attention_mask)[0]

    model = _ready(Exportable(DistilBertConfig()))
    args = (_ids(30522), torch.ones(2, 8, dtype=torch.int64))
    names = ["input_ids", "attention_mask"]
    axes = {n: TEXT_AXES for n in [*names, "last_hidden_state"]}
    _export(model, args, path, names, ["last_hidden_state"], axes)


def make_gpt2(path: Path) -> None:
    from transformers import GPT2Config, GPT2Model

    class Exportable(GPT2Model):
        def forward(self, input_ids):
            # An explicit all-ones mask: without one, transformers looks for packed
            # sequences with `torch.diff`, which the TorchScript exporter lacks.
            mask = torch.ones_like(input_ids)
            return super().forward(input_ids=input_ids, attention_mask=mask, use_cache=False)[0]

    model = _ready(Exportable(GPT2Config()))
    axes = {"input_ids": TEXT_AXES, "last_hidden_state": TEXT_AXES}
    _export(model, (_ids(50257),), path, ["input_ids"], ["last_hidden_state"], axes)


def make_vit(path: Path) -> None:
    from transformers import ViTConfig, ViTModel

    class Exportable(ViTModel):
        def forward(self, pixel_values):
            out = super().forward(pixel_values=pixel_values)
            return out.last_hidden_state, out.pooler_output

    model = _ready(Exportable(ViTConfig()))
    outputs = ["last_hidden_state", "pooler_output"]
    axes = {n: {0: "batch"} for n in ["pixel_values", *outputs]}
    _export(model, (torch.randn(2, 3, 224, 224),), path, ["pixel_values"], outputs, axes)


def make_resnet50(path: Path) -> None:
    from transformers import ResNetConfig, ResNetModel

    class Exportable(ResNetModel):
        def forward(self, pixel_values):
            out = super().forward(pixel_values=pixel_values)
            return out.last_hidden_state, out.pooler_output

    # The default config is ResNet-50. Batch-norm statistics stay as initialised (plus
    # the small noise of `_ready`): random ones blow activations up to ~1e5 over 50
    # layers, where float32 rounding alone exceeds validate's tolerances.
    model = _ready(Exportable(ResNetConfig()))
    outputs = ["last_hidden_state", "pooler_output"]
    axes = {n: {0: "batch"} for n in ["pixel_values", *outputs]}
    _export(model, (torch.randn(2, 3, 224, 224),), path, ["pixel_values"], outputs, axes)


def make_lstm(path: Path) -> None:
    model = _ready(LSTMClassifier())
    axes = {"tokens": TEXT_AXES, "logits": {0: "batch"}}
    _export(model, (_ids(10000),), path, ["tokens"], ["logits"], axes)


def make_mnist_cnn(path: Path) -> None:
    mm.make_cnn(path)


MODELS: dict[str, Callable[[Path], None]] = {
    "bert_base": make_bert_base,
    "distilbert_base": make_distilbert,
    "gpt2_small": make_gpt2,
    "vit_base": make_vit,
    "resnet50": make_resnet50,
    "lstm_classifier": make_lstm,
    "mnist_cnn": make_mnist_cnn,
    **VISION,
    **TEXT,
}


def build(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the missing models of `names` (default: all) into `folder`; return all paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names or list(MODELS):
        path = folder / f"{name}.onnx"
        error = path.with_name(path.name + ".error")
        if not path.exists():
            temporary = path.with_suffix(".partial")
            try:
                MODELS[name](temporary)
            except Exception as e:  # noqa: BLE001  (recorded; the other models still build)
                message = f"{type(e).__name__}: {e}".strip()
                error.write_text(message + "\n")
                print(f"{name}: export failed: {message.splitlines()[0]}", flush=True)
                continue
            os.replace(temporary, path)
            error.unlink(missing_ok=True)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True)
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE, help="cache folder")
    parser.add_argument("--only", nargs="*", choices=list(MODELS), help="models to build")
    args = parser.parse_args(argv)
    torchvision()  # before transformers, whose vision models import torchvision (NMS declared)
    build(args.out, args.only)


if __name__ == "__main__":
    main()
