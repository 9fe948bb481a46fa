"""Writes the quantized models of tests/converters/test_contrib_models.py, made by
onnxruntime's quantizer in its QOperator format:

    /work/venv-torch/bin/python tests/converters/contrib_models/make_quantized_models.py

- `cnn_qoperator_static.onnx`: a small CNN (torch, exported with
  `torch.onnx.export(dynamo=False)`: Conv, residual Add, a squeeze-excite gate (global
  average pool, Sigmoid, Mul), LeakyReLU, AveragePool, Concat, Gemm) quantized by
  `quantize_static(quant_format=QOperator)` with 8 random calibration batches: QLinearConv,
  QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool,
  QLinearAveragePool, QLinearConcat, QGemm.
- `bert_qoperator_dynamic.onnx`: a 2-layer BERT from transformers (models/make_models.py's
  BertModel, random weights, eager attention: transformers' SDPA mask does not fuse),
  exported with `dynamo=False`, fused by `optimize_model(model_type="bert")`, then
  `quantize_dynamic` (int8 weights, reduce_range): QAttention, QEmbedLayerNormalization,
  DynamicQuantizeLinear + MatMulInteger for the dense layers.
- `bert_qoperator_dynamic_ort.onnx`: the same file as onnxruntime's graph optimizer
  saves it (`optimized_model_filepath`, extended level), which folds the dense layers
  into DynamicQuantizeMatMul.

Weights are random from fixed seeds; `quantized_manifest.json` lists the files and the
com.microsoft ops in each.
"""

from __future__ import annotations

import collections
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.transformers.optimizer import optimize_model

HERE = Path(__file__).resolve().parent
BERT = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}


class SmallCNN(torch.nn.Module):
    """Conv blocks with a residual add, a squeeze-excite gate, pools and a concat."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.gate = torch.nn.Conv2d(8, 8, 1)
        self.side = torch.nn.Conv2d(8, 4, 1)
        self.head = torch.nn.Linear(12 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = x + torch.relu(self.conv(x))
        gate = torch.sigmoid(self.gate(torch.nn.functional.adaptive_avg_pool2d(x, 1)))
        x = torch.nn.functional.leaky_relu(x * gate, 0.1)
        x = torch.nn.functional.avg_pool2d(x, 2)
        x = torch.cat([x, self.side(x)], dim=1)
        x = torch.nn.functional.avg_pool2d(x, 2)
        return self.head(torch.flatten(x, 1))


class _Calibration(CalibrationDataReader):
    def __init__(self, batches: int = 8) -> None:
        rng = np.random.default_rng(0)
        self.data = iter(
            [{"x": rng.standard_normal((2, 3, 16, 16)).astype(np.float32)} for _ in range(batches)]
        )

    def get_next(self):
        return next(self.data, None)


def _export(model, args, names, dynamic_axes) -> onnx.ModelProto:
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        args,
        buffer,
        input_names=names,
        output_names=["output"] if len(names) == 1 else None,
        dynamic_axes=dynamic_axes,
        opset_version=17,
        dynamo=False,
    )
    return onnx.load_from_string(buffer.getvalue())


def cnn(folder: Path) -> Path:
    torch.manual_seed(0)
    model = SmallCNN().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    proto = _export(model, (torch.randn(2, 3, 16, 16),), ["x"], {"x": {0: "batch"}})
    float_path, out = folder / "cnn_float.onnx", HERE / "cnn_qoperator_static.onnx"
    onnx.save(proto, float_path)
    quantize_static(
        str(float_path),
        str(out),
        _Calibration(),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QUInt8,
    )
    return out


def bert(folder: Path) -> list[Path]:
    # transformers imports torchvision, whose CUDA-built wheel cannot load here: declare
    # its NMS operators first (see benchmarks/make_zoo_vision.py); the BERT itself is
    # models/make_models.py's (BertModel with a plain positional forward)
    sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))
    sys.path.insert(0, str(HERE.parents[2] / "models"))
    import make_models  # noqa: PLC0415
    from make_zoo_vision import torchvision  # noqa: PLC0415

    torchvision()
    float_path = folder / "bert_float.onnx"
    config = {**BERT, "intermediate_size": 64, "max_position_embeddings": 32}
    config["attn_implementation"] = "eager"
    make_models.make_bert(float_path, config, "torchscript")
    fused = optimize_model(
        str(float_path),
        model_type="bert",
        num_heads=BERT["num_attention_heads"],
        hidden_size=BERT["hidden_size"],
    )
    fused_path = folder / "bert_fused.onnx"
    fused.save_model_to_file(str(fused_path))
    out = HERE / "bert_qoperator_dynamic.onnx"
    quantize_dynamic(
        str(fused_path),
        str(out),
        weight_type=QuantType.QInt8,
        reduce_range=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort_out = HERE / "bert_qoperator_dynamic_ort.onnx"
    options.optimized_model_filepath = str(ort_out)
    ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    return [out, ort_out]


def main() -> None:
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [cnn(Path(tmp)), *bert(Path(tmp))]
    for path in paths:
        proto = onnx.load(path)
        ops = collections.Counter(
            f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in proto.graph.node
        )
        manifest.append({"file": path.name, "ops": dict(sorted(ops.items()))})
        print(f"{path.name}: {path.stat().st_size} bytes, {dict(ops)}")
    (HERE / "quantized_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
