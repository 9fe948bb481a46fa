"""The shipped models in `models/`: imported by axonnx, checked against onnxruntime.

Every `models/*.onnx` file is imported with `axonnx.import_onnx`, run by the jit
`ax.predict` and compared with onnxruntime (CPU) on random inputs at two batch sizes and,
for sequence models, two sequence lengths. Gradients through imported models are
checked by one SGD step that must lower a simple loss. Only onnx, onnxruntime and jax
are needed: the files are shipped (`models/make_models.py` regenerates them).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import axonnx
from axonnx.state import ModelState

MODELS = Path(__file__).resolve().parents[2] / "models"

# Token vocabulary of each model's integer id inputs; None: no token inputs.
VOCAB = {
    "bert_tiny_dynamo.onnx": 1000,
    "bert_tiny_torchscript.onnx": 1000,
    "cnn.onnx": None,
    "lstm_classifier.onnx": 100,
    "mlp.onnx": None,
}


BATCHES = (1, 3)
SEQUENCES = (8, 16)


def _files() -> list[str]:
    return sorted(p.name for p in MODELS.glob("*.onnx"))


def _param(name: str):
    return pytest.param(name, id=name.removesuffix(".onnx"))


def test_every_shipped_model_is_listed():
    assert _files() == sorted(VOCAB), "add new models/*.onnx files to VOCAB in this test"


@functools.cache
def _imported(name: str) -> tuple[axonnx.Node, ModelState]:
    return axonnx.import_onnx(MODELS / name)


@functools.cache
def _session(name: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(MODELS / name), providers=["CPUExecutionProvider"])


def _is_sequence_model(name: str) -> bool:
    return VOCAB[name] is not None


def random_inputs(name: str, batch: int, sequence: int, *, seed: int = 0) -> dict:
    """Random inputs for every graph input of `name`: floats ~ N(0, 1), token ids below
    the vocabulary size, attention masks of 0/1 with at least one 1 per row, token
    type ids of 0/1. Symbolic dims: the first is the batch, the next the sequence."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in onnx.load(MODELS / name, load_external_data=False).graph.input:
        tensor = value.type.tensor_type
        dynamic = iter((batch, sequence))
        shape = tuple(
            d.dim_value if d.HasField("dim_value") else next(dynamic) for d in tensor.shape.dim
        )
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        feeds[value.name] = _random_value(value.name, shape, dtype, VOCAB[name], rng)
    return feeds


def _random_value(name: str, shape, dtype, vocab: int | None, rng) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if "mask" in name:
        mask = (rng.random(shape) < 0.7).astype(dtype)
        mask[..., 0] = 1
        return mask
    high = 2 if "type" in name else vocab
    return rng.integers(0, high, shape).astype(dtype)


def _shapes(name: str) -> list[tuple[int, int]]:
    sequences = SEQUENCES if _is_sequence_model(name) else SEQUENCES[:1]
    return [(b, s) for b in BATCHES for s in sequences]


@pytest.mark.parametrize("name", [_param(n) for n in _files()])
def test_matches_onnxruntime(name):
    model, state = _imported(name)
    session = _session(name)
    output_names = [o.name for o in session.get_outputs()]
    for batch, sequence in _shapes(name):
        feeds = random_inputs(name, batch, sequence, seed=batch * 100 + sequence)
        got = axonnx.predict(model, state, feeds)
        for output, want in zip(output_names, session.run(None, feeds), strict=True):
            np.testing.assert_allclose(
                np.asarray(got[output]),
                want,
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{name}: output {output!r}, batch {batch}, sequence {sequence}",
            )


def _loss_fn(name: str, model: axonnx.Node, state: ModelState, feeds: dict):
    _, predict_fn = axonnx.build(model)
    first = _session(name).get_outputs()[0].name
    reference = np.asarray(predict_fn(state, feeds)[first])
    target = np.random.default_rng(1).standard_normal(reference.shape).astype(reference.dtype)

    def loss(params):
        out = predict_fn(ModelState(params, state.state), feeds)[first]
        return jnp.mean((out - target) ** 2)

    return loss


@pytest.mark.parametrize("name", [_param("cnn.onnx"), _param("bert_tiny_torchscript.onnx")])
def test_sgd_step_lowers_loss(name):
    model, state = _imported(name)
    loss = jax.jit(_loss_fn(name, model, state, random_inputs(name, 3, 8)))
    before, grads = jax.value_and_grad(loss)(state.params)
    norms = [float(jnp.linalg.norm(g)) for g in jax.tree_util.tree_leaves(grads)]
    assert all(np.isfinite(norms)) and max(norms) > 0
    stepped = jax.tree_util.tree_map(lambda p, g: p - 1e-2 * g, state.params, grads)
    assert float(loss(stepped)) < float(before)


@pytest.mark.slow
def test_make_models_reproduces_shipped_files(tmp_path):
    for module in ("torch", "transformers", "onnxscript"):
        pytest.importorskip(module)
    spec = importlib.util.spec_from_file_location("make_models", MODELS / "make_models.py")
    make_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_models)
    make_models.main(["--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == _files()
    for name in _files():
        fresh = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        feeds = random_inputs(name, 2, 8)
        for got, want in zip(fresh.run(None, feeds), _session(name).run(None, feeds), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)
