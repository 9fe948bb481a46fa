"""Recurrent classifiers: axonnx `ax.predict` vs onnxruntime (CPU, 2 threads each).

    python benchmarks/recurrent.py [--models lstm gru rnn] [--batches 1 8] [--sequence 128]
                                   [--runs 40] [--dir /tmp/axonnx-recurrent]

Builds (once, into `--dir`; needs torch) an Embedding + LSTM / GRU / RNN (batch first,
hidden 32) + Linear-on-the-last-step classifier like `models/make_models.py`'s
`LSTMClassifier` (random weights, TorchScript exporter), then times each with
`axonnx.converters.bench.bench`: onnxruntime and `ax.predict` in alternating blocks
in one process. Prints a markdown table; ratio = axonnx median / onnxruntime median.
Not a test: timings vary with the machine's load.
"""

from __future__ import annotations

import argparse
from pathlib import Path

KINDS = ("lstm", "gru", "rnn")


def make_classifier(kind: str, path: Path, embed: int = 16, hidden: int = 32) -> None:
    """Write an Embedding + `kind` + Linear classifier, (N, T) ids -> (N, 4), to `path`."""
    import torch
    from torch import nn

    cells = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(100, embed)
            self.recurrent = cells[kind](embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 4)

        def forward(self, tokens):
            out, _ = self.recurrent(self.embedding(tokens))
            return self.head(out[:, -1])

    torch.manual_seed(0)
    torch.onnx.export(
        Classifier().eval(),
        (torch.randint(0, 100, (2, 8)),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["tokens"],
        output_names=["logits"],
        dynamic_axes={"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--sequence", type=int, default=128)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/axonnx-recurrent"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: args.dir / f"{kind}_classifier.onnx" for kind in args.models}
    for kind, path in paths.items():
        if not path.exists():
            make_classifier(kind, path)

    from axonnx.converters.bench import bench

    print("| model | batch | axonnx ms | onnxruntime ms | axonnx / onnxruntime |")
    print("|---|---|---|---|---|")
    for kind, path in paths.items():
        for batch in args.batches:
            r = bench(path, batch=batch, dims={"sequence": args.sequence}, runs=args.runs)
            print(
                f"| {kind} classifier (T={args.sequence}) | {batch} | "
                f"{r.axonnx.median * 1e3:.3f} | {r.onnxruntime.median * 1e3:.3f} | "
                f"{r.ratio:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
