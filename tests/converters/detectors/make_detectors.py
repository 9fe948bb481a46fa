"""Make the small detector exports that tests/converters/test_detectors.py checks.

    /work/venv-torch/bin/python tests/converters/detectors/make_detectors.py

`ssdlite_tiny.onnx` (1 MB): torchvision's SSDLite (its own `SSD`, `SSDLiteHead`,
`DefaultBoxGenerator` and MobileNetV3 feature extractor, as
`ssdlite320_mobilenet_v3_large` assembles them) on a MobileNetV3-Large backbone and
extra feature layers at width 0.25, 3 foreground classes, 64 candidates per class and
40 detections, exported by the TorchScript exporter (opset 17) for one (3, 320, 320)
image -> boxes, scores, labels. Random weights: He-initialised convolutions and
batch-norm statistics from random images, so that activations keep a trained model's
scale, and the classification head's last convolutions scaled so that the scores
spread over about 0.1 (left as initialised, they sit near 1/classes and tie, and tie
order legitimately differs between runtimes).

torchvision's `_C` does not load here (CUDA build): `benchmarks/make_zoo_vision.py`'s
`torchvision()` declares its NMS op first.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))
import make_zoo_vision as zoo  # noqa: E402

SEED = 0
LOGIT_SCALE = 0.3


def ssdlite_tiny(width_mult: float = 0.25, num_classes: int = 4) -> nn.Module:
    """SSDLite as torchvision builds it, on a narrow MobileNetV3-Large, eval mode."""
    tv = zoo.torchvision()
    from torchvision.models import mobilenetv3
    from torchvision.models.detection import ssdlite
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator

    torch.manual_seed(SEED)
    norm = functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    setting, last = mobilenetv3._mobilenet_v3_conf(
        "mobilenet_v3_large", width_mult=width_mult, reduced_tail=True
    )
    backbone = mobilenetv3.MobileNetV3(setting, last, norm_layer=norm)
    ssdlite._normal_init(backbone)
    features = backbone.features
    c4 = [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)][-1]
    backbone = ssdlite.SSDLiteFeatureExtractorMobileNet(features, c4, norm, width_mult)
    anchors = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    channels = tv.models.detection._utils.retrieve_out_channels(backbone, (320, 320))
    head = ssdlite.SSDLiteHead(channels, anchors.num_anchors_per_location(), num_classes, norm)
    model = tv.models.detection.ssd.SSD(
        backbone, anchors, (320, 320), num_classes, head=head, score_thresh=0.001,
        nms_thresh=0.55, detections_per_img=40, topk_candidates=64,
        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )  # fmt: skip
    model.eval()
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Conv2d):  # activations that do not fade to zero
                nn.init.kaiming_normal_(layer.weight)
        for layer in head.classification_head.module_list:
            layer[1].weight.mul_(LOGIT_SCALE)
        _calibrate(model)
    return model


def _calibrate(model: nn.Module, batches: int = 4) -> None:
    """Batch-norm statistics from random images (as training would set them), so that
    activations and logits keep a trained model's scale."""
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.reset_running_stats()
            layer.momentum = None  # a plain average over the batches
    model.train()
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(batches):
        images = torch.rand(2, 3, 320, 320, generator=generator) * 2 - 1
        model.head(list(model.backbone(images).values()))
    model.eval()


class Detections(nn.Module):
    """One image in, the first image's (boxes, scores, labels) out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image):
        found = self.model([image])[0]
        return found["boxes"], found["scores"], found["labels"]


def export(model: nn.Module, path: Path) -> None:
    image = torch.rand(3, 320, 320, generator=torch.Generator().manual_seed(SEED))
    outputs = ["boxes", "scores", "labels"]
    with torch.no_grad():
        torch.onnx.export(
            Detections(model), (image,), str(path), input_names=["image"],
            output_names=outputs, dynamic_axes={n: {0: "detections"} for n in outputs},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )  # fmt: skip
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    export(ssdlite_tiny(), HERE / "ssdlite_tiny.onnx")
