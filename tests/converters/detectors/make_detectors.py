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

`fasterrcnn_tiny.onnx` (1.6 MB): torchvision's `FasterRCNN` as
`fasterrcnn_mobilenet_v3_large_320_fpn` assembles it (MobileNetV3-Large FPN extractor
with its max-pool level, its anchors, 320 input, 150 RPN proposals, MultiScaleRoIAlign ->
ONNX RoiAlign) at width 0.25, FPN 32 channels, a 64-wide box head, 4 classes, 40
detections; box-classifier weights scaled by CLS_SCALE so scores spread (0.4-0.8).

`retinanet_tiny.onnx` (1.6 MB): torchvision's `RetinaNet` and `RetinaNetHead` (as
`retinanet_resnet50_fpn` assembles them) on the same narrow MobileNetV3 FPN instead of
ResNet-50 (100 MB of weights), 320 input, 4 classes, 40 detections.

torchvision's `_C` does not load here (CUDA build): `benchmarks/make_zoo_vision.py`'s
`torchvision()` declares its NMS op first, and `_roi_align_declared` declares
`torchvision::roi_align` with torchvision's own pure-PyTorch kernel (`_roi_align`), only so
that tracing runs; the export writes ONNX RoiAlign (opset 16 semantics, aligned=False ->
output_half_pixel, sampling_ratio 2).
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
CLS_SCALE = 3.0
FPN_CHANNELS = 32
_ROI_LIBRARY = None


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
        zoo.he_init(model)
        for layer in head.classification_head.module_list:
            layer[1].weight.mul_(LOGIT_SCALE)
        zoo.calibrate(model, seed=SEED)
    return model


def _roi_align_declared(tv) -> None:
    """Declare torchvision::roi_align (with torchvision's pure-PyTorch kernel) where
    its `_C` did not load, so that tracing runs; the export writes ONNX RoiAlign."""
    global _ROI_LIBRARY
    if _ROI_LIBRARY is not None or hasattr(torch.ops.torchvision, "roi_align"):
        return
    import importlib
    import inspect

    roi_align = importlib.import_module("torchvision.ops.roi_align")

    roi_align._has_ops = tv.extension._has_ops  # imported by name there: route to the op
    _ROI_LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
    _ROI_LIBRARY.define(
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height,"
        " SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    )
    _ROI_LIBRARY.impl("roi_align", inspect.unwrap(roi_align._roi_align), "CPU")  # no compile


def _narrow_fpn(width_mult: float, channels: int) -> nn.Module:
    """torchvision's MobileNetV3-Large FPN extractor (`_mobilenet_extractor`'s layout:
    the last two stages, a max-pool level) at `width_mult`, `channels` wide."""
    from torchvision.models import mobilenetv3
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    setting, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=width_mult)
    features = mobilenetv3.MobileNetV3(setting, last).features
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    stages.append(len(features) - 1)
    returned = [len(stages) - 2, len(stages) - 1]
    return BackboneWithFPN(
        features, {f"{stages[k]}": str(v) for v, k in enumerate(returned)},
        [features[stages[i]].out_channels for i in returned], channels,
        extra_blocks=LastLevelMaxPool(),
    )  # fmt: skip


def _anchors():
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    return AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)


def fasterrcnn_tiny(num_classes: int = 4) -> nn.Module:
    """Faster R-CNN as `fasterrcnn_mobilenet_v3_large_320_fpn` assembles it (its anchors,
    320 input, 150 proposals), on a narrow backbone and box head, eval mode."""
    tv = zoo.torchvision()
    _roi_align_declared(tv)
    from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead

    torch.manual_seed(SEED)
    backbone = _narrow_fpn(0.25, FPN_CHANNELS)
    model = FasterRCNN(
        backbone, None, rpn_anchor_generator=_anchors(), min_size=320, max_size=320,
        rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150, rpn_score_thresh=0.05,
        box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, 64),
        box_predictor=FastRCNNPredictor(64, num_classes),
        box_detections_per_img=40, image_mean=[0.5] * 3, image_std=[0.5] * 3,
    )  # fmt: skip
    with torch.no_grad():
        zoo.he_init(model)
        model.roi_heads.box_predictor.cls_score.weight.mul_(CLS_SCALE)
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(0.1)
        model.rpn.head.bbox_pred.weight.mul_(0.1)
        zoo.calibrate(model, seed=SEED)
    return model


def retinanet_tiny(num_classes: int = 4) -> nn.Module:
    """RetinaNet (torchvision's `RetinaNet` and `RetinaNetHead`, as `retinanet_resnet50_fpn`
    assembles them) on the narrow MobileNetV3 FPN instead of ResNet-50 (whose weights alone
    are 100 MB), 320 input, eval mode."""
    zoo.torchvision()
    from torchvision.models.detection.retinanet import RetinaNet

    torch.manual_seed(SEED)
    model = RetinaNet(
        _narrow_fpn(0.25, FPN_CHANNELS), num_classes, min_size=320, max_size=320,
        anchor_generator=_anchors(), score_thresh=0.05, topk_candidates=100,
        detections_per_img=40, image_mean=[0.5] * 3, image_std=[0.5] * 3,
    )  # fmt: skip
    with torch.no_grad():
        zoo.he_init(model)
        model.head.regression_head.bbox_reg.weight.mul_(0.1)
        zoo.calibrate(model, seed=SEED)
    return model


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
    export(fasterrcnn_tiny(), HERE / "fasterrcnn_tiny.onnx")
    export(retinanet_tiny(), HERE / "retinanet_tiny.onnx")
