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
    "as much (8.0e-4 to 8.6e-3) at images nudged by 1e-7 whose forward moves less than "
    "onnxruntime's does (7e-7 to 1.0e-6): test_resnet50_gradient_within_noise_floor",
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
    jax.grad is to itself at images nudged so that JAX's forward moves no more than
    onnxruntime's forward differs from it (float32 noise of a few ulps either way)."""
    path = ZOO / "resnet50.onnx"
    if not path.exists():
        pytest.skip(f"no {path}: run make_grad_zoo.py {ZOO} (needs torch)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    got = named(session(ax.export_grad(path, wrt="pixel_values", of="logits")), {"pixel_values": x})
    graph, state = ax.import_onnx(path)
    _, predict_fn = ax.build(graph)
    forward = jax.jit(lambda s, v: predict_fn(s, {"pixel_values": v})["logits"])
    grad = jax.jit(jax.grad(lambda s, v: forward(s, v).sum(), argnums=1))  # weights as arguments
    logits, want = np.asarray(forward(state, x)), np.asarray(grad(state, x))
    ort_logits = named(session(onnx.load(path)), {"pixel_values": x})["logits"]
    forward_gap = np.abs(ort_logits - logits).max() / np.abs(logits).max()
    scale, floor = np.abs(want).max(), 0.0
    for _ in range(3):
        nudged = (x * (1 + 1e-7 * rng.standard_normal(x.shape))).astype(np.float32)
        moved = np.abs(np.asarray(forward(state, nudged)) - logits).max() / np.abs(logits).max()
        assert moved <= forward_gap  # no larger a perturbation than onnxruntime's own
        floor = max(floor, np.abs(np.asarray(grad(state, nudged)) - want).max() / scale)
    error = np.abs(got["grad_pixel_values"] - want).max() / scale
    print(f"resnet50: forward gap {forward_gap:.2e}, exported {error:.2e}, floor {floor:.2e}")
    assert error <= 2 * floor
