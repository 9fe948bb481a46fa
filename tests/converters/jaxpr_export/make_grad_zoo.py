"""Write the big models of the slow export_grad checks: torchvision ResNet-50 and a
transformers ViT-base (random weights; nothing downloaded), TorchScript exporter.

    /work/venv-torch/bin/python tests/converters/jaxpr_export/make_grad_zoo.py OUT_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
from make_zoo_vision import torchvision  # noqa: E402  (its NMS workaround for the CUDA wheel)


def resnet50() -> torch.nn.Module:
    return torchvision().models.resnet50(weights=None).eval()


def vit_base() -> torch.nn.Module:
    from transformers import ViTConfig, ViTModel

    class Vit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vit = ViTModel(ViTConfig(), add_pooling_layer=True).eval()

        def forward(self, pixel_values):
            return self.vit(pixel_values=pixel_values).pooler_output

    return Vit().eval()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    image = torch.randn(1, 3, 224, 224)
    for name, build, output in [("resnet50", resnet50, "logits"), ("vit_base", vit_base, "pooled")]:
        torch.onnx.export(
            build(), (image,), str(out / f"{name}.onnx"), dynamo=False, opset_version=17,
            input_names=["pixel_values"], output_names=[output],
        )  # fmt: skip
        print("wrote", out / f"{name}.onnx")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
