"""Shared check of the export tests: export, validate, run in onnxruntime, compare."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import onnxruntime as ort

import axonnx as ax
from axonnx.plan import plan


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


def random_state(model: ax.Node, seed: int = 0) -> ax.ModelState:
    """Random parameters (and positive state, e.g. variances) of the model's shapes,
    without compiling the initializers."""
    init_fn, _ = ax.build(model)
    shapes = jax.eval_shape(init_fn)
    rng = np.random.default_rng(seed)

    def normal(s):
        return (0.5 * rng.standard_normal(s.shape)).astype(s.dtype)

    def positive(s):
        return rng.uniform(0.5, 1.5, s.shape).astype(s.dtype)

    return ax.ModelState(
        jax.tree_util.tree_map(normal, shapes.params),
        jax.tree_util.tree_map(positive, shapes.state),
    )


def check_export(
    model: ax.Node,
    state=None,
    *,
    batches=(2, 5),
    rtol: float = 1e-4,
    atol: float = 1e-5,
    **options,
) -> onnx.ModelProto:
    """Export, `check_model(full_check=True)`, and compare onnxruntime at each batch
    size with `ax.predict` (run once, jitted, on all the batches stacked: examples are
    independent in inference, and one compilation keeps the tests fast)."""
    state = random_state(model) if state is None else state
    proto = ax.export_onnx(model, state, **options)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = [sample(model, batch, seed=batch) for batch in batches]
    stacked = {k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]}
    expected = [np.asarray(e) for e in jax.tree_util.tree_leaves(ax.predict(model, state, stacked))]
    start = 0
    for batch, feed in zip(batches, feeds):
        got = session.run(None, feed)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            part = _batch_slice(e, g, sum(batches), start, batch)
            assert g.shape == part.shape, (g.shape, part.shape)
            np.testing.assert_allclose(
                g.astype(np.float64), part.astype(np.float64), rtol=rtol, atol=atol
            )
        start += batch
    return proto


def _batch_slice(expected: np.ndarray, got: np.ndarray, total: int, start: int, size: int):
    """The examples `start:start + size` of `expected`, on its batch axis (the one of
    size `total` where `got` has `size`)."""
    for axis, (e, g) in enumerate(zip(expected.shape, got.shape)):
        if e == total and g == size:
            return np.take(expected, np.arange(start, start + size), axis=axis)
    return expected
