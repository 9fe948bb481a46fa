"""Write the tiny models of `tests/converters/exporters/`, each architecture family
exported by both PyTorch exporters (TorchScript and dynamo).

`tests/converters/test_exporter_roundtrip.py` imports every file with axonnx, exports it
back and compares the two in onnxruntime. Weights are random, from fixed seeds;
nothing is downloaded. Needs torch, transformers and onnxscript (CI has none of them:
the files are committed):

    python tests/converters/exporters/make_exporter_models.py [--out FOLDER] [NAME ...]

NAME is a family (bert, gpt2, vit, resnet, lstm, cnn); by default all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SEED = 0
TORCHSCRIPT_OPSET = 18
"""Opset 18 is the first with Split's `num_outputs` (issue 12: the TorchScript GPT-2)."""


# -- models -------------------------------------------------------------------------


def perturb(model: nn.Module, scale: float = 0.02) -> None:
    """Small noise on every parameter and batch-norm statistic, as training would leave
    them (fresh LayerNorm weights are all ones, biases zero: the TorchScript exporter
    would share such tensors between layers)."""
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * scale)
        for layer in model.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 1.5)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)


def bert() -> nn.Module:
    """Hugging Face `BertModel`: 2 layers, hidden 32, 2 heads, vocabulary 100."""
    from transformers import BertConfig, BertModel

    class Bert(BertModel):
        def forward(self, input_ids, attention_mask, token_type_ids):
            out = super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return out.last_hidden_state, out.pooler_output

    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return Bert(config)


def gpt2() -> nn.Module:
    """Hugging Face `GPT2LMHeadModel`: 2 layers, 32 wide, 2 heads, vocabulary 100."""
    from transformers import GPT2Config, GPT2LMHeadModel

    class GPT2(GPT2LMHeadModel):
        def forward(self, input_ids, attention_mask):
            out = super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                use_cache=False,
                return_dict=True,
            )
            return out.logits

    config = GPT2Config(
        vocab_size=100,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2(config)


def vit() -> nn.Module:
    """Hugging Face `ViTModel`: 32×32 images, 8×8 patches, 2 layers, hidden 32."""
    from transformers import ViTConfig, ViTModel

    class ViT(ViTModel):
        def forward(self, pixel_values):
            out = super().forward(pixel_values=pixel_values, return_dict=True)
            return out.last_hidden_state, out.pooler_output

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return ViT(config)


class BasicBlock(nn.Module):
    """torchvision's ResNet `BasicBlock` (two 3×3 convs, identity or 1×1 shortcut)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's `ResNet(BasicBlock, [1, 1, 1, 1])` layout (7×7 stem, max pool, four
    stages, global average pool, Linear) with widths 4, 8, 16, 32 instead of 64…512.

    Written out here rather than imported: torchvision's own ResNet has fixed widths
    (resnet18 is 45 MB), and the torchvision wheel that pairs with the CPU torch is
    built for CUDA."""

    def __init__(self, widths=(4, 8, 16, 32), classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, inplanes = [], widths[0]
        for i, planes in enumerate(widths):
            stages.append(nn.Sequential(BasicBlock(inplanes, planes, 1 if i == 0 else 2)))
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class LSTMClassifier(nn.Module):
    """Embedding(100, 16) → 2-layer LSTM(16 → 24, batch first) → Linear on the last step."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.head = nn.Linear(24, 4)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out[:, -1])


class CNN(nn.Module):
    """(Conv 3×3 → BatchNorm → ReLU → MaxPool 2) ×2 (8, 16 channels), Flatten, Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


# -- examples and axes --------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """How to build, feed and export one architecture."""

    build: Callable[[], nn.Module]
    example: Callable[[torch.Generator], tuple[torch.Tensor, ...]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    sequence: bool
    """Whether axis 1 of every input (and of the non-pooled outputs) is dynamic."""
    pooled: tuple[str, ...] = ()
    """Outputs without the sequence axis."""


def _tokens(vocab: int, batch: int = 2, seq: int = 8):
    def example(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        ids = torch.randint(0, vocab, (batch, seq), generator=generator)
        mask = torch.ones(batch, seq, dtype=torch.int64)
        mask[1, seq // 2 :] = 0  # the second row is padded
        types = torch.zeros(batch, seq, dtype=torch.int64)
        types[:, seq // 2 :] = 1
        return ids, mask, types

    return example


def _images(*shape: int):
    def example(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randn(2, *shape, generator=generator),)

    return example


FAMILIES: dict[str, Family] = {
    "bert": Family(
        bert,
        _tokens(100),
        ("input_ids", "attention_mask", "token_type_ids"),
        ("last_hidden_state", "pooler_output"),
        sequence=True,
        pooled=("pooler_output",),
    ),
    "gpt2": Family(
        gpt2,
        lambda g: _tokens(100)(g)[:2],
        ("input_ids", "attention_mask"),
        ("logits",),
        sequence=True,
    ),
    "vit": Family(
        vit,
        _images(3, 32, 32),
        ("pixel_values",),
        ("last_hidden_state", "pooler_output"),
        sequence=False,
    ),
    "resnet": Family(ResNet, _images(3, 32, 32), ("x",), ("logits",), sequence=False),
    "lstm": Family(
        LSTMClassifier,
        lambda g: _tokens(100)(g)[:1],
        ("tokens",),
        ("logits",),
        sequence=True,
        pooled=("logits",),
    ),
    "cnn": Family(CNN, _images(1, 28, 28), ("x",), ("logits",), sequence=False),
}


# -- exporters ----------------------------------------------------------------------


def export_torchscript(family: Family, model: nn.Module, args: tuple, path: Path) -> None:
    """`torch.onnx.export(..., dynamo=False)`, opset 18, constants folded; batch-norm
    nodes kept (`TrainingMode.PRESERVE` on an eval-mode model), not folded into Conv."""
    dims = {0: "batch", 1: "seq"} if family.sequence else {0: "batch"}
    axes = {name: dims for name in family.inputs + family.outputs}
    axes.update({name: {0: "batch"} for name in family.pooled})
    with _quiet():
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=TORCHSCRIPT_OPSET,
            input_names=list(family.inputs),
            output_names=list(family.outputs),
            dynamic_axes=axes,
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.PRESERVE,
        )


def export_dynamo(family: Family, model: nn.Module, args: tuple, path: Path) -> None:
    """`torch.onnx.export(..., dynamo=True)`, its default opset, optimized, weights
    embedded."""
    batch = torch.export.Dim("batch", max=1024)
    seq = torch.export.Dim("seq", max=64)
    dims = {0: batch, 1: seq} if family.sequence else {0: batch}
    shapes = {name: dims for name in family.inputs}
    with _quiet():
        program = torch.onnx.export(
            model,
            args,
            dynamo=True,
            input_names=list(family.inputs),
            output_names=list(family.outputs),
            dynamic_shapes=shapes,
            optimize=True,
            verbose=False,
        )
        program.save(str(path), external_data=False)


EXPORTERS = {"torchscript": export_torchscript, "dynamo": export_dynamo}


@contextlib.contextmanager
def _quiet():
    """Silence exporter warnings and progress prints (they are informational)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def make(name: str, exporter: str, path: Path) -> None:
    family = FAMILIES[name]
    torch.manual_seed(SEED)
    model = family.build().eval()
    perturb(model)
    args = family.example(torch.Generator().manual_seed(SEED))
    EXPORTERS[exporter](family, model, args, path)
    proto = onnx.load(str(path))
    strip_metadata(proto.graph)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def strip_metadata(graph: onnx.GraphProto) -> None:
    """Drop the dynamo exporter's per-node and per-value metadata (source stack traces,
    FX nodes, module paths of this machine): two thirds of a tiny file, and no
    meaning for the graph."""
    for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        del value.metadata_props[:]
    for node in graph.node:
        del node.metadata_props[:]
        for attribute in node.attribute:
            for sub in [attribute.g, *attribute.graphs]:
                strip_metadata(sub)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"families ({', '.join(FAMILIES)})")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; expected some of {list(FAMILIES)}")
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or FAMILIES:
        for exporter in EXPORTERS:
            path = args.out / f"{name}_{exporter}.onnx"
            make(name, exporter, path)
            print(f"wrote {path} ({os.path.getsize(path) / 2**10:.0f} KiB)")


if __name__ == "__main__":
    main()
