"""Writes the Optimum decoders of tests/generation/: the same small LLaMA and GPT-2 as
`make_decoders.py` (same configurations and seeds; the weights follow the installed
transformers' initialisation), saved with
`save_pretrained` and exported by Hugging Face Optimum's ONNX exporter with the task
`text-generation-with-past` (inputs `input_ids`, `attention_mask`, `position_ids`,
`past_key_values.{i}.key/value`; outputs `logits`, `present.{i}.key/value`).

optimum-onnx 0.1 needs transformers < 4.58, older than the one the other exporters run
with, so it runs in its own environment layered over the torch one:

    python -m venv /tmp/venv-optimum
    echo /work/venv-torch/lib/python3.11/site-packages \\
        > /tmp/venv-optimum/lib/python3.11/site-packages/zz_torch.pth
    /tmp/venv-optimum/bin/pip install optimum-onnx transformers==4.57.6
    /tmp/venv-optimum/bin/python tests/generation/make_optimum.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.modules.setdefault("torchvision", None)  # see make_decoders.py
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_decoders as md  # noqa: E402


def export(kind: str, path: Path) -> None:
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as folder:
        md._lm(kind).save_pretrained(Path(folder) / "model")
        main_export(
            str(Path(folder) / "model"),
            output=Path(folder) / "onnx",
            task="text-generation-with-past",
            device="cpu",
        )
        shutil.copyfile(Path(folder) / "onnx" / "model.onnx", path)


def main() -> None:
    torch.use_deterministic_algorithms(True)
    for kind in ("llama", "gpt2"):
        path = HERE / f"{kind}_optimum.onnx"
        export(kind, path)
        md.mm.check(path)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
