"""The benchmark suite's wider vision models (torchvision and transformers, random weights).

Used by `make_suite_models.py` (`--only mobilenet_v3_large ...`); nothing is downloaded:
every model is built from its constructor with `weights=None` (and `weights_backbone=None`),
its parameters perturbed so no two tensors are equal, exported with the TorchScript
exporter (opset 17, constants folded: eval-mode BatchNormalization folds into Conv).

torchvision: the wheel that pairs with torch 2.13.0 on the index (torchvision 0.28.0,
`Requires-Dist: torch==2.13.0`) is a CUDA build: its `_C.so` links libtorch_cuda and
does not load with torch 2.13.0+cpu, and `import torchvision` then fails, because
`_meta_registrations` registers fake kernels for `torchvision::nms` / `qnms` whether the
extension loaded or not. `torchvision()` works around that: where `_C` does not load, it
declares those two operators (their schemas as in torchvision's C++ code) with a plain
torch NMS as the CPU kernel before the import. The model code is torchvision's own; only
SSDLite calls NMS, at trace time (the ONNX graph has NonMaxSuppression, from
torchvision's own symbolic function).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import make_models as mm  # noqa: E402

IMAGE_AXES = {0: "batch"}
# SSDLite's class logits scaled so that scores spread instead of tying near 1/classes
SSD_LOGIT_SCALE = 1.0


def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS as torchvision's CPU kernel: indices by descending score, dropping any
    box whose IoU with a kept one exceeds `iou_threshold`."""
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = dets[order].unbind(1)
    area = (x2 - x1) * (y2 - y1)
    alive = torch.ones(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if alive[i]:
            keep.append(i)
            w = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
            h = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
            inter = w * h
            alive &= inter / (area[i] + area - inter) <= iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64)]


_LIBRARY = None


def _has_ops() -> bool:
    """torchvision's `extension._has_ops` once NMS is declared (a `def`, not a lambda:
    `batched_nms` is scripted while tracing, and TorchScript compiles what it calls)."""
    return True


def torchvision():
    """`import torchvision`, declaring its NMS operators first where its `_C` cannot load."""
    global _LIBRARY
    if "torchvision" not in sys.modules and _LIBRARY is None:
        import importlib.util

        spec = importlib.util.find_spec("torchvision")
        lib = Path(spec.origin).parent / "_C.so"
        try:
            torch.ops.load_library(str(lib))
        except OSError:
            _LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
            for op in ("nms", "qnms"):
                _LIBRARY.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            _LIBRARY.impl("nms", _nms, "CPU")
    import torchvision as tv

    if _LIBRARY is not None:
        tv.extension._has_ops = _has_ops  # ops.nms asserts it before calling the op
    return tv


def _ready(model: nn.Module) -> nn.Module:
    torch.manual_seed(mm.SEED)
    model = model.eval()
    with torch.no_grad():
        mm.perturb(model)
    return model


def _image(size: int = 224, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


def _export_image(model: nn.Module, path: Path, size: int = 224, outputs=("logits",)) -> None:
    axes = {n: IMAGE_AXES for n in ["pixel_values", *outputs]}
    with torch.no_grad():
        mm.export_torchscript(
            model, (_image(size),), path, inputs=["pixel_values"], outputs=outputs, axes=axes
        )


def _classifier(name: str):
    def make(path: Path) -> None:
        tv = torchvision()
        _export_image(_ready(getattr(tv.models, name)(weights=None)), path)

    make.__name__ = f"make_{name}"
    return make


def he_init(model: nn.Module) -> None:
    """He-normal weights for every convolution, so that activations do not fade to zero
    through a randomly initialised network (torchvision's detection defaults do)."""
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight)


def calibrate(model: nn.Module, batches: int = 4, size: int = 320, seed: int = 0) -> None:
    """Batch-norm statistics of a detector from random images (as training would set
    them), so that activations and logits keep a trained model's scale; leaves `model`
    in eval mode."""
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.reset_running_stats()
            layer.momentum = None  # a plain average over the batches
    model.train()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        images = torch.rand(2, 3, size, size, generator=generator) * 2 - 1
        features = model.backbone(images)
        if hasattr(model, "head"):  # SSD's and RetinaNet's heads
            model.head(list(features.values()))
    model.eval()


class _Segmentation(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values)["out"]


def make_lraspp(path: Path) -> None:
    """LR-ASPP MobileNetV3-Large (21 classes) at 224²: (N, 3, 224, 224) → (N, 21, 224, 224)."""
    tv = torchvision()
    model = tv.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
    _export_image(_ready(_Segmentation(model)), path, outputs=("out",))


class _Detector(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image):
        found = self.model([image])[0]
        return found["boxes"], found["scores"], found["labels"]


def make_ssdlite(path: Path) -> None:
    """SSDLite320 MobileNetV3-Large, eval mode, one (3, 320, 320) image → boxes, scores,
    labels (data-dependent lengths: NonZero, TopK, NonMaxSuppression). Batch is fixed:
    torchvision's detection transform loops over the images in Python, so the trace
    unrolls it for exactly the exported number of images. Weights: He-initialised
    convolutions, batch-norm statistics from random images and the class logits scaled
    by SSD_LOGIT_SCALE, so that scores spread; left as initialised they tie by the
    dozen, and the order of tied detections legitimately differs between runtimes."""
    tv = torchvision()
    detector = tv.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None
    )
    torch.manual_seed(mm.SEED)
    with torch.no_grad():
        he_init(detector)
        for block in detector.head.classification_head.module_list:
            block[1].weight.mul_(SSD_LOGIT_SCALE)  # the last conv of each prediction block
        calibrate(detector)
    model = _Detector(detector).eval()
    image = torch.rand(3, 320, 320, generator=torch.Generator().manual_seed(0))
    outputs = ["boxes", "scores", "labels"]
    axes = {n: {0: "detections"} for n in outputs}
    with torch.no_grad():
        mm.export_torchscript(model, (image,), path, inputs=["image"], outputs=outputs, axes=axes)


def make_swin_tiny(path: Path) -> None:
    """transformers SwinModel, default config (Swin-T: embed 96, depths 2-2-6-2, window 7)."""
    from transformers import SwinConfig, SwinModel

    class Exportable(SwinModel):
        def forward(self, pixel_values):
            out = super().forward(pixel_values=pixel_values)
            return out.last_hidden_state, out.pooler_output

    model = _ready(Exportable(SwinConfig()))
    _export_image(model, path, outputs=("last_hidden_state", "pooler_output"))


VISION = {
    "mobilenet_v3_large": _classifier("mobilenet_v3_large"),
    "efficientnet_b0": _classifier("efficientnet_b0"),
    "convnext_tiny": _classifier("convnext_tiny"),
    "resnext50_32x4d": _classifier("resnext50_32x4d"),
    "densenet121": _classifier("densenet121"),
    "lraspp_mobilenet_v3": make_lraspp,
    "ssdlite320_mobilenet_v3": make_ssdlite,
    "swin_tiny": make_swin_tiny,
}
