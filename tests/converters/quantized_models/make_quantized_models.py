"""Generate the quantized and half-precision test models (random weights, no hub).

Run with the environment that has torch, torchvision, onnxruntime and
onnxconverter-common (e.g. /work/venv-torch):

    python tests/converters/quantized_models/make_quantized_models.py

Writes, beside this script, from torchvision's MobileNetV2 at width 0.25 with 10
classes (its own code; batch-norm statistics randomised, folded into Conv by the
TorchScript exporter, opset 17, dynamic batch, 64x64 images):
- `mobilenet_v2_w025_qdq.onnx`: `onnxruntime.quantization.quantize_static(...,
  quant_format=QuantFormat.QDQ)` calibrated on 8 batches of random images (uint8
  activations, int8 weights, per tensor): QuantizeLinear/DequantizeLinear pairs around
  float Conv, Add, GlobalAveragePool and Gemm.
- `mobilenet_v2_w025_fp16.onnx`: `onnxconverter_common.float16.
  convert_float_to_float16(model, keep_io_types=True)`: float16 weights and compute,
  float32 input and output.

The tests build the full-size models (MobileNetV2, ResNet-18) with the same functions
(`qdq_model`, `fp16_model`) in slow tests.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import make_models as mm  # noqa: E402
from make_zoo_vision import torchvision  # noqa: E402  (works around the CUDA-built _C)


def _export(model: torch.nn.Module, path: Path, size: int) -> None:
    torch.manual_seed(mm.SEED)
    model = model.eval()
    with torch.no_grad():
        mm.randomize_batch_norm(model)
        mm.perturb(model)
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
        axes = {"pixel_values": {0: "batch"}, "logits": {0: "batch"}}
        mm.export_torchscript(
            model, (x,), path, inputs=["pixel_values"], outputs=["logits"], axes=axes
        )


class _RandomImages:
    """A calibration reader: `count` batches of normal random images."""

    def __init__(self, size: int, count: int = 8, batch: int = 2):
        rng = np.random.default_rng(1)
        shape = (batch, 3, size, size)
        self.batches = iter([rng.normal(size=shape).astype(np.float32) for _ in range(count)])

    def get_next(self):
        batch = next(self.batches, None)
        return None if batch is None else {"pixel_values": batch}


def qdq_model(model: torch.nn.Module, path: Path, size: int) -> None:
    """Export `model`, then quantize it statically in QDQ format into `path`."""
    from onnxruntime.quantization import QuantFormat, quantize_static

    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "fp32.onnx"
        _export(model, fp32, size)
        quantize_static(str(fp32), str(path), _RandomImages(size), quant_format=QuantFormat.QDQ)


def fp16_model(model: torch.nn.Module, path: Path, size: int) -> None:
    """Export `model`, then convert it to float16 with float32 inputs and outputs."""
    from onnxconverter_common.float16 import convert_float_to_float16

    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "fp32.onnx"
        _export(model, fp32, size)
        with warnings.catch_warnings():  # it warns for each weight below float16's range
            warnings.simplefilter("ignore", UserWarning)
            half = convert_float_to_float16(onnx.load(fp32), keep_io_types=True)
        onnx.save(half, path)


def main() -> None:
    tv = torchvision()
    narrow = {"weights": None, "width_mult": 0.25, "num_classes": 10}
    qdq_model(tv.models.mobilenet_v2(**narrow), HERE / "mobilenet_v2_w025_qdq.onnx", 64)
    fp16_model(tv.models.mobilenet_v2(**narrow), HERE / "mobilenet_v2_w025_fp16.onnx", 64)


if __name__ == "__main__":
    main()
