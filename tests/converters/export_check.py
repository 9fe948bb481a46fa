"""Shared check of the export tests: export, validate, run in onnxruntime, compare."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import onnxruntime as ort

import axonnx as ax
from axonnx.compiler import plan


def run_onnx(proto: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    """Outputs of `proto` in onnxruntime on the CPU."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def sample(model: ax.Node, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every input of `model`, with `batch` for `None` dimensions."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for node in plan(model).inputs:
        shape = tuple(batch if d is None else d for d in node.shape)
        name = plan(model).names[node.id]
        if node.dtype == "bool":
            feeds[name] = rng.random(shape) > 0.3
        elif np.issubdtype(np.dtype(node.dtype), np.integer):
            feeds[name] = rng.integers(0, 10, shape).astype(node.dtype)
        else:
            feeds[name] = rng.standard_normal(shape).astype(node.dtype)
    return feeds


def check_export(
    model: ax.Node,
    state=None,
    *,
    batches=(1, 3),
    rtol: float = 1e-4,
    atol: float = 1e-5,
    **options,
) -> onnx.ModelProto:
    """Export, `check_model(full_check=True)`, and compare onnxruntime with
    `ax.predict` at each batch size."""
    state = ax.init(model) if state is None else state
    proto = ax.export_onnx(model, state, **options)
    onnx.checker.check_model(proto, full_check=True)
    for batch in batches:
        feeds = sample(model, batch, seed=batch)
        inputs = {k: v for k, v in feeds.items()}
        expected = jax.tree_util.tree_leaves(ax.predict(model, state, inputs))
        got = run_onnx(proto, feeds)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            e = np.asarray(e)
            assert g.shape == e.shape, (g.shape, e.shape)
            np.testing.assert_allclose(
                g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol
            )
    return proto
