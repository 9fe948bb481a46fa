"""Write the small ONNX models that ship in `models/` (and, on request, BERT-base).

The models have random weights drawn from fixed seeds; nothing is downloaded.
Needs torch, transformers and onnxscript (for the dynamo exporter).

    python models/make_models.py                                  # every shipped model
    python models/make_models.py --size base --out /tmp/bert_base.onnx   # ~440 MB, benchmark

The shipped files are deterministic: running the script again rewrites them byte for
byte (same torch/transformers/onnxscript versions).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import onnx
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SEED = 0
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BERT_OUTPUTS = ("last_hidden_state", "pooler_output")
TINY_BERT = {
    "vocab_size": 1000,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 128,
}


class CNN(nn.Module):
    """Two Conv2d+BatchNorm2d+ReLU+MaxPool blocks, then Flatten+Linear: (N, 1, 28, 28) → (N, 10)."""

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


class LSTMClassifier(nn.Module):
    """Embedding + LSTM (batch first) + Linear on the last step: (N, T) ids → (N, 4)."""

    def __init__(self, vocab: int = 100, embed: int = 16, hidden: int = 32, classes: int = 4):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out[:, -1])


def mlp() -> nn.Module:
    """784 → 128 (relu) → 10, the quick-start model."""
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def randomize_batch_norm(module: nn.Module) -> None:
    """Give batch-norm layers non-trivial statistics and affine weights (fixed seed)."""
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 1.5)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.5, 0.5)


def bert(config_kwargs: dict) -> nn.Module:
    """A Hugging Face `BertModel` with random weights, in eval mode.

    A subclass with a plain `forward(input_ids, attention_mask, token_type_ids)` that
    returns `(last_hidden_state, pooler_output)`: both exporters then see positional
    tensors only, and the initializers keep the `BertModel` names
    (`encoder.layer.0.attention.self.query.weight`, no wrapper prefix).
    """
    from transformers import BertConfig, BertModel

    class ExportableBert(BertModel):
        def forward(self, input_ids, attention_mask, token_type_ids):
            out = super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return out.last_hidden_state, out.pooler_output

    model = ExportableBert(BertConfig(**config_kwargs)).eval()
    with torch.no_grad():
        perturb(model)
    return model


def perturb(model: nn.Module, scale: float = 0.02) -> None:
    """Add small noise to every parameter, as training would.

    A freshly initialised BERT has all LayerNorm weights equal to one and all biases
    zero; the TorchScript exporter then stores each of those tensors once and shares
    it between layers. Trained models have distinct weights, so the files should too.
    """
    for param in model.parameters():
        param.add_(torch.randn_like(param) * scale)


def bert_example(vocab: int, batch: int = 2, seq: int = 8) -> tuple[torch.Tensor, ...]:
    """`(input_ids, attention_mask, token_type_ids)`; the second row is padded."""
    generator = torch.Generator().manual_seed(SEED)
    ids = torch.randint(0, vocab, (batch, seq), generator=generator)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[1, seq // 2 :] = 0
    types = torch.zeros(batch, seq, dtype=torch.int64)
    types[:, seq // 2 :] = 1
    return ids, mask, types


def export_torchscript(
    model: nn.Module,
    args: tuple,
    path: Path,
    *,
    inputs,
    outputs,
    axes,
    opset: int = 17,
    keep_batch_norm: bool = False,
) -> None:
    """TorchScript exporter (`dynamo=False`), constants folded.

    The exporter folds an eval-mode BatchNormalization into the preceding Conv;
    `keep_batch_norm` exports with `TrainingMode.PRESERVE` (the model is in eval mode,
    so the node is an inference-mode BatchNormalization) to keep it in the graph.
    """
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batch_norm else torch.onnx.TrainingMode.EVAL
    with _quiet():
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=axes,
            do_constant_folding=True,
            training=mode,
        )


def export_dynamo(model: nn.Module, args: tuple, path: Path, *, inputs, outputs, shapes) -> None:
    """Dynamo exporter (`dynamo=True`, its default opset), weights embedded in the file."""
    with _quiet():
        program = torch.onnx.export(
            model,
            args,
            dynamo=True,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_shapes=shapes,
            optimize=True,
            verbose=False,
        )
        program.save(str(path), external_data=False)


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


def make_bert(path: Path, config_kwargs: dict, exporter: str) -> None:
    torch.manual_seed(SEED)
    model = bert(config_kwargs)
    args = bert_example(config_kwargs.get("vocab_size", 30522))
    if exporter == "torchscript":
        axes = {n: {0: "batch", 1: "sequence"} for n in BERT_INPUTS}
        axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
        axes["pooler_output"] = {0: "batch"}
        export_torchscript(model, args, path, inputs=BERT_INPUTS, outputs=BERT_OUTPUTS, axes=axes)
    else:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
        shapes = {n: {0: batch, 1: seq} for n in BERT_INPUTS}
        export_dynamo(model, args, path, inputs=BERT_INPUTS, outputs=BERT_OUTPUTS, shapes=shapes)


def make_cnn(path: Path) -> None:
    torch.manual_seed(SEED)
    model = CNN().eval()
    with torch.no_grad():
        randomize_batch_norm(model)
    x = torch.randn(2, 1, 28, 28)
    export_torchscript(
        model,
        (x,),
        path,
        inputs=["x"],
        outputs=["logits"],
        axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        keep_batch_norm=True,
    )


def make_lstm(path: Path) -> None:
    torch.manual_seed(SEED)
    model = LSTMClassifier().eval()
    tokens = torch.randint(0, 100, (2, 8))
    export_torchscript(
        model,
        (tokens,),
        path,
        inputs=["tokens"],
        outputs=["logits"],
        axes={"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
    )


def make_mlp(path: Path) -> None:
    torch.manual_seed(SEED)
    model = mlp().eval()
    x = torch.randn(2, 784)
    export_torchscript(
        model, (x,), path, inputs=["x"], outputs=["y"], axes={"x": {0: "batch"}, "y": {0: "batch"}}
    )


SHIPPED: dict[str, Callable[[Path], None]] = {
    "bert_tiny_torchscript.onnx": lambda p: make_bert(p, TINY_BERT, "torchscript"),
    "bert_tiny_dynamo.onnx": lambda p: make_bert(p, TINY_BERT, "dynamo"),
    "cnn.onnx": make_cnn,
    "lstm_classifier.onnx": make_lstm,
    "mlp.onnx": make_mlp,
}


def check(path: Path) -> None:
    """Fail loudly if the written file is not a valid ONNX model."""
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        choices=["tiny", "base"],
        default="tiny",
        help="tiny: the shipped models; base: BERT-base (needs --out)",
    )
    parser.add_argument("--out", type=Path, help="output file (--size base) or folder")
    parser.add_argument(
        "--exporter",
        choices=["torchscript", "dynamo"],
        default="torchscript",
        help="exporter for --size base",
    )
    args = parser.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    if args.size == "base":
        if args.out is None:
            parser.error("--size base needs --out PATH (the file is ~440 MB; not for models/)")
        make_bert(args.out, {}, args.exporter)
        print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB)")
        return
    folder = args.out or HERE
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in SHIPPED.items():
        path = folder / name
        make(path)
        check(path)
        print(f"wrote {path} ({os.path.getsize(path) / 2**10:.0f} KiB)")


if __name__ == "__main__":
    main()
