"""End to end: fine-tune the shipped Hugging Face BERT (imported from ONNX) with a new head."""

from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import axonnx as ax

BERT = Path(__file__).parents[2] / "models" / "bert_tiny_torchscript.onnx"
SEQUENCE = 8


def _task(n, seed):
    """Class 1 when the sequence holds token 7, else 0; tokens from a small vocabulary."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(10, 60, size=(n, SEQUENCE)).astype(np.int32)
    labels = np.arange(n) % 2
    where = rng.integers(1, SEQUENCE, size=n)
    ids[labels == 1, where[labels == 1]] = 7
    ids[:, 0] = 1  # a [CLS]-like first token
    inputs = {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }
    return inputs, labels.astype(np.int32)


def _batches(inputs, labels, size=16):
    return [
        ({k: v[i : i + size] for k, v in inputs.items()}, labels[i : i + size])
        for i in range(0, len(labels), size)
    ]


def _output(model, name, shape):
    """`model[name]`; imported nodes carry no shapes yet, so the one the head needs is given.

    Once the importer records ONNX shapes this is `model[name]`.
    """
    try:
        return model[name]
    except ax.ShapeError:
        return ax.Node("getitem", (model,), options={"index": name}, shape=shape, dtype="float32")


@pytest.fixture(scope="module")
def finetuned():
    bert, imported = ax.import_onnx(BERT)
    body = ax.namespace(_output(bert, "last_hidden_state", (None, None, 64)), "bert")
    head = body.global_avg_pool().dense(2, name="classifier")  # mean over the tokens
    model = ax.freeze(head, namespace="bert", name="embeddings.*")
    initial = ax.init(model, {"bert": imported.params})
    train = _batches(*_task(128, seed=0))
    loss = "sparse_categorical_cross_entropy"
    state = (
        ax.Loop.trainer(
            model, lambda y, z: ax.losses.get(loss)(y, z, from_logits=True), optax.adamw(3e-3)
        )
        .metric("accuracy")
        .run(train, epochs=6, initial_state=initial, progress=False)
    )
    return model, imported, initial, state


def test_finetuned_bert_reaches_90_percent_and_embeddings_stay_frozen(finetuned):
    model, imported, initial, state = finetuned
    inputs, labels = _task(128, seed=1)  # held out
    logits = ax.predict(model, state, inputs)
    accuracy = float(np.mean(np.argmax(logits, -1) == labels))
    assert accuracy >= 0.9, accuracy
    for name in (
        "embeddings.word_embeddings",
        "embeddings.position_embeddings",
        "embeddings.LayerNorm",
    ):
        jax.tree.map(
            np.testing.assert_array_equal, state.params["bert"][name], imported.params[name]
        )
    moved = state.params["bert"]["encoder.layer.0.attention.self.query"]["kernel"]
    assert not np.array_equal(
        moved, initial.params["bert"]["encoder.layer.0.attention.self.query"]["kernel"]
    )


def test_finetuned_bert_exports_to_onnx_with_the_same_logits(finetuned, tmp_path):
    if not hasattr(ax, "export_onnx"):
        pytest.skip("axonnx.export_onnx is not available yet")
    import onnxruntime

    model, _, _, state = finetuned
    path = tmp_path / "finetuned.onnx"
    ax.export_onnx(model, state, str(path))
    inputs, _ = _task(16, seed=2)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: inputs[i.name].astype(np.int64) for i in session.get_inputs()}
    (expected,) = session.run(None, feeds)
    np.testing.assert_allclose(ax.predict(model, state, inputs), expected, rtol=1e-4, atol=1e-4)
