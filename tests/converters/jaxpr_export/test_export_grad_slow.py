"""Slow: ax.export_grad on ResNet-50 and ViT-base exported by PyTorch's TorchScript
exporter (random weights), by their image input. Build the models first with
`make_grad_zoo.py` (needs torch): the folder is $AXONNX_GRAD_ZOO or /tmp/axonnx_grad_zoo."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
import onnx
import pytest

import axonnx as ax
from tests.converters.jaxpr_export.test_export_grad import directional_fd, named, session

ZOO = Path(os.environ.get("AXONNX_GRAD_ZOO", "/tmp/axonnx_grad_zoo"))


RELU_CHAOS = pytest.mark.xfail(
    reason="random-weight ResNet-50: onnxruntime's and XLA's forwards agree to 1.4e-6, but "
    "ReLU masks flip on that noise; measured 8.6e-3 of the largest gradient (2.7e-3 in L2), "
    "and finite differences at h=3e-4 miss both gradients alike (a 40-layer random ReLU MLP "
    "through export_function shows the same: 1.9e-2, tanh 2.3e-5). jax.grad itself moves "
    "as much when the image moves by 1e-7 relative: test_resnet50_gradient_within_noise_floor",
    strict=False,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "output", "h"),
    [pytest.param("resnet50", "logits", 3e-4, marks=RELU_CHAOS), ("vit_base", "pooled", 1e-2)],
)
def test_image_gradient_of_a_big_model(name, output, h):
    path = ZOO / f"{name}.onnx"
    if not path.exists():
        pytest.skip(f"no {path}: run make_grad_zoo.py {ZOO} (needs torch)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    proto = ax.export_grad(path, wrt="pixel_values", of=output)
    onnx.checker.check_model(proto)
    got = named(session(proto), {"pixel_values": x})["grad_pixel_values"]
    graph, state = ax.import_onnx(path)
    _, predict_fn = ax.build(graph)
    want = jax.grad(lambda v: predict_fn(state, {"pixel_values": v})[output].sum())(x)
    error = np.abs(got - want).max() / np.abs(want).max()
    print(f"{name}: max |ort - jax.grad| / max |jax.grad| = {error:.2e}")
    assert error <= 1e-4
    for _ in range(3):
        d = rng.standard_normal(x.shape).astype(np.float32)
        fd = directional_fd(path, {"pixel_values": x}, output, "pixel_values", d, h)
        analytic = float((got.astype(np.float64) * d).sum())
        print(f"{name}: finite difference {fd:.6g}, gradient {analytic:.6g}")
        # relative to the typical size of a directional derivative, ||g||: a random
        # direction can make g·d small, and the float32 forward's noise then dominates
        scale = max(abs(analytic), float(np.linalg.norm(got)))
        assert abs(fd - analytic) <= 2e-2 * scale


@pytest.mark.slow
def test_resnet50_gradient_within_noise_floor():
    """The bound ResNet-50 can meet: onnxruntime's gradient is as close to jax.grad as
    jax.grad at the image is to jax.grad at the image rounded differently (1e-7 relative
    noise, float32's own resolution), within a factor 2. Measured 2026-12-08: exported
    3.8e-3, floor 8.1e-3 of the largest gradient."""
    path = ZOO / "resnet50.onnx"
    if not path.exists():
        pytest.skip(f"no {path}: run make_grad_zoo.py {ZOO} (needs torch)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    got = named(session(ax.export_grad(path, wrt="pixel_values", of="logits")), {"pixel_values": x})
    graph, state = ax.import_onnx(path)
    _, predict_fn = ax.build(graph)
    total = lambda s, v: predict_fn(s, {"pixel_values": v})["logits"].sum()  # noqa: E731
    grad = jax.jit(jax.grad(total, argnums=1))  # the weights as arguments, not constants
    want = np.asarray(grad(state, x))
    nudged = (x * (1 + 1e-7 * rng.standard_normal(x.shape))).astype(np.float32)
    scale = np.abs(want).max()
    floor = np.abs(np.asarray(grad(state, nudged)) - want).max() / scale
    error = np.abs(got["grad_pixel_values"] - want).max() / scale
    print(f"resnet50: exported {error:.2e}, jax.grad's own floor {floor:.2e}")
    assert error <= 2 * floor
