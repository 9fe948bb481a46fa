"""Selecting outputs of a model whose outputs are named (an imported graph's container)."""

from __future__ import annotations

import pathlib

import numpy as np
import onnxruntime as ort
import pytest

import axonnx as ax
from axonnx.errors import LayerError

BERT = pathlib.Path(__file__).resolve().parents[1] / "models" / "bert_tiny_torchscript.onnx"


@pytest.fixture(scope="module")
def bert():
    return ax.import_onnx(BERT)


def _feed(length: int = 8) -> dict[str, np.ndarray]:
    ids = np.arange(length, dtype=np.int64)[None] % 50
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}


def test_positions_follow_the_graph_output_order(bert):
    model, state = bert
    session = ort.InferenceSession(BERT, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    expected = session.run(None, _feed())
    for position, name in enumerate(names):
        by_position = np.asarray(ax.predict(model[position], state, _feed()))
        by_name = np.asarray(ax.predict(model[name], state, _feed()))
        np.testing.assert_array_equal(by_position, by_name)
        np.testing.assert_allclose(by_position, expected[position], rtol=1e-4, atol=1e-5)
    assert [node.options["index"] for node in model] == names  # unpacking works too


@pytest.mark.parametrize("key", [2, -3, "logits", 1.5, ("a",)])
def test_any_other_key_is_one_line_naming_the_valid_keys(bert, key):
    model, _ = bert
    with pytest.raises(LayerError) as caught:
        model[key]
    message = str(caught.value)
    assert "\n" not in message
    assert "last_hidden_state" in message and "pooler_output" in message
    assert repr(key) in message


def test_hand_built_container_takes_names_and_positions():
    x = ax.input("x", shape=(None, 3))
    outputs = ax.container({"relu": x.relu(), "neg": ax.subtract(x.relu(), x)})
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    state = ax.init(outputs[1])  # positions follow the sorted keys: neg, relu
    np.testing.assert_array_equal(np.asarray(ax.predict(outputs[0], state, -data)), data)
    relu = np.asarray(ax.predict(outputs["relu"], state, data - 2))
    np.testing.assert_array_equal(relu, np.maximum(data - 2, 0))
