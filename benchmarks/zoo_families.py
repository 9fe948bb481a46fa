"""One small model per family of exporter, built from the libraries' own code (random
weights, no hub). Each builder writes one .onnx file; `benchmarks/zoo.py` drives them.

The torch-side helpers are reused from `models/make_models.py`, `benchmarks/make_zoo_vision.py`
(torchvision with its NMS declared), `tests/generation/make_decoders.py` (KV-cache decode
steps) and `tests/converters/quantized_models/make_quantized_models.py` (QDQ, float16).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("models", "benchmarks", "tests/generation", "tests/converters/quantized_models"):
    sys.path.insert(0, str(ROOT / folder))

TINY_BERT = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4}
TINY_BERT |= {"intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 64}


def _mm():
    """models/make_models.py, with torchvision importable and torch's generator seeded
    (every builder calls it before constructing its model)."""
    import make_models  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from make_zoo_vision import torchvision  # noqa: PLC0415

    torchvision()  # before transformers/timm import torchvision
    torch.manual_seed(make_models.SEED)
    return make_models


def _image_export(model, path: Path, size: int = 64) -> None:
    import torch  # noqa: PLC0415

    mm = _mm()
    torch.manual_seed(mm.SEED)
    model = model.eval()
    with torch.no_grad():
        mm.perturb(model)
        x = torch.randn(2, 3, size, size)
        axes = {"pixel_values": {0: "batch"}, "logits": {0: "batch"}}
        mm.export_torchscript(
            model, (x,), path, inputs=["pixel_values"], outputs=["logits"], axes=axes
        )


def torchvision_mobilenet_v3_small(path: Path) -> None:
    """torchvision mobilenet_v3_small (width 1, 10 classes), 64x64 images, TorchScript."""
    from make_zoo_vision import torchvision  # noqa: PLC0415

    _mm()
    _image_export(torchvision().models.mobilenet_v3_small(weights=None, num_classes=10), path)


def _timm(name: str, path: Path, **kwargs) -> None:
    _mm()
    import timm  # noqa: PLC0415

    _image_export(timm.create_model(name, pretrained=False, num_classes=10, **kwargs), path)


def timm_resnet10t(path: Path) -> None:
    """timm resnet10t, 64x64 images."""
    _timm("resnet10t", path)


def timm_vit_tiny(path: Path) -> None:
    """timm vit_tiny_patch16_224 at 64x64 images (2 blocks)."""
    _timm("vit_tiny_patch16_224", path, img_size=64, depth=2)


def bert_torchscript(path: Path) -> None:
    """transformers BertModel (2 layers, hidden 64), TorchScript exporter."""
    _mm().make_bert(path, dict(TINY_BERT), "torchscript")


def bert_dynamo(path: Path) -> None:
    """transformers BertModel (2 layers, hidden 64), dynamo exporter."""
    _mm().make_bert(path, dict(TINY_BERT), "dynamo")


def _decoder(kind: str, path: Path) -> None:
    _mm()
    import make_decoders  # noqa: PLC0415

    make_decoders.export_torchscript(kind, path)


def gpt2_decoder(path: Path) -> None:
    """transformers GPT-2 decode step with past_key_values/present (2 layers), TorchScript."""
    _decoder("gpt2", path)


def llama_decoder(path: Path) -> None:
    """transformers LLaMA decode step with past_key_values/present (2 layers), TorchScript."""
    _decoder("llama", path)


def _bert_fp32(folder: str) -> Path:
    fp32 = Path(folder) / "bert.onnx"
    bert_torchscript(fp32)
    return fp32


def ort_optimizer_bert(path: Path) -> None:
    """The tiny BERT through onnxruntime.transformers.optimizer.optimize_model (bert, CPU)."""
    from onnxruntime.transformers.optimizer import optimize_model  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        fused = optimize_model(
            str(_bert_fp32(folder)), model_type="bert", num_heads=4, hidden_size=64, use_gpu=False
        )
        fused.save_model_to_file(str(path))


def dynamic_quantized_bert(path: Path) -> None:
    """The tiny BERT through onnxruntime.quantization.quantize_dynamic (int8 weights)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        quantize_dynamic(str(_bert_fp32(folder)), str(path), weight_type=QuantType.QInt8)


def _mobilenet_v2():
    from make_zoo_vision import torchvision  # noqa: PLC0415

    _mm()
    return torchvision().models.mobilenet_v2(weights=None, width_mult=0.25, num_classes=10)


def static_qdq_cnn(path: Path) -> None:
    """MobileNetV2 (width 0.25) through quantize_static, QDQ format."""
    import make_quantized_models  # noqa: PLC0415

    make_quantized_models.qdq_model(_mobilenet_v2(), path, 64)


def float16_cnn(path: Path) -> None:
    """MobileNetV2 (width 0.25) through onnxconverter_common's float16 (keep_io_types)."""
    import make_quantized_models  # noqa: PLC0415

    make_quantized_models.fp16_model(_mobilenet_v2(), path, 64)


def _sklearn(model, path: Path) -> None:
    import numpy as np  # noqa: PLC0415
    from skl2onnx import to_onnx  # noqa: PLC0415
    from sklearn.datasets import make_classification  # noqa: PLC0415

    x, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    model.fit(x, y)
    proto = to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False})
    path.write_bytes(proto.SerializeToString())


def skl2onnx_tree(path: Path) -> None:
    """scikit-learn DecisionTreeClassifier (depth 5), skl2onnx."""
    from sklearn.tree import DecisionTreeClassifier  # noqa: PLC0415

    _sklearn(DecisionTreeClassifier(max_depth=5, random_state=0), path)


def skl2onnx_linear(path: Path) -> None:
    """scikit-learn LogisticRegression, skl2onnx."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    _sklearn(LogisticRegression(max_iter=500), path)


def skl2onnx_pipeline(path: Path) -> None:
    """scikit-learn StandardScaler + PCA + SVC(probability=True) pipeline, skl2onnx."""
    from sklearn.decomposition import PCA  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415
    from sklearn.svm import SVC  # noqa: PLC0415

    svc = SVC(probability=True, random_state=0)  # scikit-learn 1.9 deprecates probability=
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        _sklearn(make_pipeline(StandardScaler(), PCA(4), svc), path)


def _booster(convert: str, model, path: Path) -> None:
    import onnxmltools  # noqa: PLC0415
    from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: PLC0415
    from sklearn.datasets import make_classification  # noqa: PLC0415

    x, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    model.fit(x, y)
    types = [("X", FloatTensorType([None, 6]))]
    proto = getattr(onnxmltools, convert)(model, initial_types=types, target_opset=15)
    path.write_bytes(proto.SerializeToString())


def onnxmltools_lightgbm(path: Path) -> None:
    """LightGBM LGBMClassifier (8 trees, 3 classes), onnxmltools."""
    import lightgbm  # noqa: PLC0415

    model = lightgbm.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1, random_state=0)
    _booster("convert_lightgbm", model, path)


def onnxmltools_xgboost(path: Path) -> None:
    """XGBoost XGBClassifier (8 trees, depth 3, 3 classes), onnxmltools."""
    import xgboost  # noqa: PLC0415

    _booster("convert_xgboost", xgboost.XGBClassifier(n_estimators=8, max_depth=3), path)


def jax2onnx_transformer_block(path: Path) -> None:
    """A Flax (nnx) transformer block exported by jax2onnx: the file committed by
    tests/converters/jax2onnx_models/make_jax2onnx_models.py (jax2onnx lives in its own venv)."""
    shutil.copyfile(ROOT / "tests/converters/jax2onnx_models/transformer_block.onnx", path)


# family: (exporter, the modules whose versions the manifest records, builder)
FAMILIES = {
    "torchvision_cnn": (
        "torch.onnx (TorchScript)",
        ("torch", "torchvision"),
        torchvision_mobilenet_v3_small,
    ),
    "timm_convnet": ("torch.onnx (TorchScript)", ("torch", "timm"), timm_resnet10t),
    "timm_vit": ("torch.onnx (TorchScript)", ("torch", "timm"), timm_vit_tiny),
    "bert_torchscript": ("torch.onnx (TorchScript)", ("torch", "transformers"), bert_torchscript),
    "bert_dynamo": ("torch.onnx (dynamo)", ("torch", "transformers", "onnxscript"), bert_dynamo),
    "gpt2_decoder_kv": ("torch.onnx (TorchScript)", ("torch", "transformers"), gpt2_decoder),
    "llama_decoder_kv": ("torch.onnx (TorchScript)", ("torch", "transformers"), llama_decoder),
    "bert_ort_optimizer": (
        "onnxruntime.transformers.optimizer",
        ("onnxruntime", "transformers"),
        ort_optimizer_bert,
    ),
    "bert_quantize_dynamic": (
        "onnxruntime.quantization.quantize_dynamic",
        ("onnxruntime", "transformers"),
        dynamic_quantized_bert,
    ),
    "cnn_quantize_static_qdq": (
        "onnxruntime.quantization.quantize_static (QDQ)",
        ("onnxruntime", "torchvision"),
        static_qdq_cnn,
    ),
    "cnn_float16": (
        "onnxconverter_common.float16",
        ("onnxconverter_common", "torchvision"),
        float16_cnn,
    ),
    "skl2onnx_tree": ("skl2onnx", ("skl2onnx", "sklearn"), skl2onnx_tree),
    "skl2onnx_linear": ("skl2onnx", ("skl2onnx", "sklearn"), skl2onnx_linear),
    "skl2onnx_pipeline": ("skl2onnx", ("skl2onnx", "sklearn"), skl2onnx_pipeline),
    "lightgbm": ("onnxmltools", ("onnxmltools", "lightgbm"), onnxmltools_lightgbm),
    "xgboost": ("onnxmltools", ("onnxmltools", "xgboost"), onnxmltools_xgboost),
    "jax2onnx_flax": ("jax2onnx (committed file)", (), jax2onnx_transformer_block),
}
