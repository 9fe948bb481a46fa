"""Tests of the model summary (`print(model)`, `ax.summary`, `summary_data`)."""

import math
import re
from pathlib import Path

import jax
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import axonnx as ax
from axonnx.plan import plan
from axonnx.summary import summary_data

MODELS = Path(__file__).resolve().parents[1] / "models"
HEADER = ("Layer", "Op", "Output", "Params", "Non-train", "Bytes")


def _seed_model():
    x = ax.input("x", shape=(None, 784))
    return x.dense(128, activation="relu").dropout(rate=0.5).dense(10, activation="softmax")


def _rows(text):
    """Body rows of the table (between the second '=' rule and the '-' rule) as
    `(level, cells)`: the tree level from the indentation, cells split on 2+ spaces."""
    lines = text.splitlines()
    start = [i for i, line in enumerate(lines) if line and set(line) == {"="}][-1] + 1
    end = next(i for i in range(start, len(lines)) if lines[i] and set(lines[i]) == {"-"})
    rows = []
    for line in lines[start:end]:
        level = (len(line) - len(line.lstrip()) - 1) // 2
        rows.append((level, re.split(r"\s{2,}", line.strip())))
    return rows


def _cells(text):
    return [cells for _, cells in _rows(text)]


def _footer(text):
    lines = text.splitlines()
    return lines[[i for i, line in enumerate(lines) if line and set(line) == {"-"}][-1] + 1 :]


@pytest.fixture(autouse=True)
def _not_a_terminal(monkeypatch):
    """The defaults off a terminal (120 columns, 80 lines): pytest-xdist sets COLUMNS
    and LINES for its workers."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="module")
def torchscript():
    return ax.import_onnx(MODELS / "bert_tiny_torchscript.onnx")[0]


@pytest.fixture(scope="module")
def dynamo():
    return ax.import_onnx(MODELS / "bert_tiny_dynamo.onnx")[0]


# ---------------------------------------------------------------- hand-built models


def test_seed_model_totals():
    text = str(_seed_model())
    expected = (784 * 128 + 128) + (128 * 10 + 10)
    assert expected == 101770
    assert f"Total Parameters: {expected} (trainable: {expected}, {4 * expected} bytes;" in text
    assert f"Total Parameters Memory: {expected * 4} bytes" in text
    assert "Constants: 0 values, 0 bytes" in text
    assert "Inputs: x f32[?,784]" in text
    assert "Outputs: softmax_0 f32[?,10]" in text


def test_print_equals_summary():
    model = _seed_model()
    assert repr(model) == ax.summary(model)


def test_seed_model_rows():
    text = ax.summary(_seed_model())
    assert re.split(r"\s{2,}", text.splitlines()[3].strip()) == list(HEADER)  # no policy set
    rows = _cells(text)
    assert [r[0] for r in rows] == ["x", "dense_0", "relu_0", "dropout_0", "dense_1", "softmax_0"]
    assert [r[1] for r in rows] == [
        "input",
        "dense(x)",
        "relu(dense_0)",
        "dropout(relu_0)",
        "dense(dropout_0)",
        "softmax(dense_1)",
    ]
    assert [r[2] for r in rows] == ["f32[?,784]"] + ["f32[?,128]"] * 3 + ["f32[?,10]"] * 2
    counts = [int(r[3].replace(",", "")) for r in rows]
    assert counts == [0, 784 * 128 + 128, 0, 0, 128 * 10 + 10, 0]
    assert [r[4] for r in rows] == ["0"] * 6
    assert [r[5] for r in rows] == ["0 B", "392 KiB", "0 B", "0 B", "5.04 KiB", "0 B"]


def test_row_counts_match_initialized_parameters():
    model = _seed_model()
    state = ax.init(model)
    rows = {r[0]: int(r[3].replace(",", "")) for r in _cells(ax.summary(model))}
    for layer, values in state.params.items():
        assert rows[layer] == sum(math.prod(np.shape(v)) for v in values.values())


def test_state_and_policy_are_counted():
    x = ax.input("img", shape=(None, 4, 4, 3))
    model = ax.apply_policy(x.batch_norm(), ax.policy("bfloat16"))
    text = ax.summary(model)
    # scale and bias train; mean and var are state: 4 vectors of 3, in bfloat16.
    assert "Total Parameters: 12 (trainable: 6, 12 bytes; non-trainable: 6, 12 bytes)" in text
    assert "Total Parameters Memory: 24 bytes" in text
    assert text.splitlines()[3].split()[-1] == "Policy"
    image, norm = _cells(text)
    assert image == ["img", "input", "f32[?,4,4,3]", "0", "0", "0 B"]  # no policy on inputs
    assert norm == [
        "batch_norm_0",
        "batch_norm(img)",
        "f32[?,4,4,3]",
        "6",
        "6",
        "24 B",
        "p=bf16 c=bf16 o=bf16",
    ]


def test_frozen_parameters_are_non_trainable():
    model = ax.freeze(_seed_model(), name="dense_0")
    text = ax.summary(model)
    assert "(trainable: 1290, 5160 bytes; non-trainable: 100480, 401920 bytes)" in text
    assert _cells(text)[1][3:5] == ["0", "100,480"]


def test_multi_input_and_container():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(2,))
    text = ax.summary(ax.container({"sum": ax.concatenate([a, a]), "b": b}))
    assert [r[:3] for r in _cells(text)] == [
        ["a", "input", "f32[?,3]"],
        ["b", "input", "f32[2]"],
        ["concatenate_0", "concatenate(a, a)", "f32[?,6]"],
    ]
    assert "Inputs: a f32[?,3], b f32[2]" in text
    assert "Outputs: b f32[2], sum f32[?,6]" in text  # JAX's pytree order: keys sorted


def test_namespaces_are_scopes_shown_to_a_depth():
    x = ax.input("x", shape=(None, 3))
    body = ax.namespace(x.dense(4, name="proj").relu(), "body")
    model = body.dense(1)
    deep = _rows(ax.summary(model, depth=2))
    assert [(level, cells[0], cells[1]) for level, cells in deep] == [
        (0, "x", "input"),
        (0, "body", "2 nodes"),
        (1, "proj", "dense(x)"),
        (1, "relu_0", "relu(proj)"),
        (0, "dense_0", "dense(relu_0)"),  # the namespace passes relu_0 on
    ]
    assert deep[1][1][2:4] == ["f32[?,4]", "16"]  # a scope: its output and its totals
    shallow = _cells(ax.summary(model, depth=1))
    assert [r[0] for r in shallow] == ["x", "body", "dense_0"]
    assert ax.summary(model) == ax.summary(model, depth=2)  # the default shows all that fits
    single = ax.namespace(x.dense(2, name="proj"), "head")
    assert [r[0] for r in _cells(ax.summary(single))] == ["x", "head.proj"]


def _heads(sizes):
    x = ax.input("x", shape=(None, 8))
    heads = {f"head_{i}": ax.namespace(x.dense(n).relu(), f"head_{i}") for i, n in enumerate(sizes)}
    return ax.container(heads)


def test_identical_sibling_blocks_collapse():
    text = ax.summary(_heads([4, 4, 4]), depth=2)
    rows = _rows(text)
    assert [(level, cells[:2]) for level, cells in rows] == [
        (0, ["x", "input"]),
        (0, ["head_{0..2}", "×3"]),
        (1, ["dense_0", "dense(x)"]),  # one block's rows
        (1, ["relu_0", "relu(dense_0)"]),
    ]
    assert rows[1][1][3] == f"{3 * (8 * 4 + 4)}"  # the group counts all its blocks
    assert "Total Parameters: 108 " in text


def test_different_blocks_do_not_collapse():
    rows = _cells(ax.summary(_heads([4, 5, 4]), depth=1))
    assert [r[:2] for r in rows] == [
        ["x", "input"],
        ["head_{0,2}", "×2"],
        ["head_1", "2 nodes"],
    ]


def test_constants_fold_into_the_layer_that_uses_them():
    x = ax.input("x", shape=(None, 3))
    scale = ax.constant(np.arange(3, dtype=np.float32).reshape(1, 3))
    model = ax.layer(_scale, [x, scale])
    text = ax.summary(model)
    assert len(_cells(text)) == 2
    assert _cells(text)[1][3:6] == ["0", "3", "12 B"]
    assert "Constants: 3 values, 12 bytes" in text
    assert "Total: 3 values, 12 bytes" in text


def _scale(x, w):
    return x * w


def test_shared_parameter_keeps_its_row():
    w = ax.param("w", (1, 3), initializer="ones")
    model = ax.layer(_scale, [ax.layer(_scale, [ax.input("x", shape=(None, 3)), w]), w])
    rows = _cells(ax.summary(model))
    assert rows[0][:4] == ["w", "param", "f32[1,3]", "3"]


def test_numeric_columns_are_right_aligned():
    text = ax.summary(_seed_model())
    lines = text.splitlines()
    header = lines[3]
    ends = [header.index(h) + len(h) for h in ("Params", "Non-train", "Bytes")]
    body = lines[5 : 5 + len(_rows(text))]
    for line in body:
        assert all(line[end - 1] != " " and line[end : end + 1] in ("", " ") for end in ends)


def test_width_is_respected_and_names_shortened_in_the_middle():
    x = ax.input("x", shape=(None, 3))
    model = x.dense(2, name="a_very_long_layer_name_that_does_not_fit_anywhere_at_all")
    text = ax.summary(model, width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    name = _cells(text)[1][0]
    assert "…" in name and name.startswith("a_very") and name.endswith("at_all")


# ---------------------------------------------------------------- imported models


def test_torchscript_bert_collapses_its_layers(torchscript):
    text = ax.summary(torchscript, depth=1)
    rows = _cells(text)
    names = [r[0] for r in rows]
    assert names[:4] == ["input_ids", "attention_mask", "token_type_ids", "embeddings"]
    layers = rows[names.index("encoder.layer.{0..1}")]
    assert layers[1:3] == ["×2", "f32[batch,sequence,64]"]
    assert layers[3] == f"{2 * 33472:,}"
    assert "pooler" in names
    assert "Total Parameters: 143552 (trainable: 143552," in text


def test_dynamo_bert_collapses_its_layers(dynamo):
    rows = _rows(ax.summary(dynamo, depth=2))
    found = [(level, cells) for level, cells in rows if cells[0] == "layer.{0..1}"]
    assert [(level, cells[1:3]) for level, cells in found] == [
        (1, ["×2", "f32[batch,sequence,64]"])
    ]
    encoder = next(cells for level, cells in rows if cells[0] == "encoder")
    assert encoder[2] == "f32[batch,sequence,64]"  # its output, though a mask is computed last


def test_depth_expands_scopes(torchscript):
    counts = [len(_rows(ax.summary(torchscript, depth=d))) for d in (1, 2, 3, 4)]
    assert counts == sorted(counts) and len(set(counts)) == 4
    deepest = _rows(ax.summary(torchscript, depth=4))
    assert max(level for level, _ in deepest) == 3
    assert ax.summary(torchscript, depth=4) == ax.summary(torchscript, depth=40)
    rows = {cells[0]: cells for _, cells in deepest}
    assert rows["query"][1:4] == ["dense", "f32[batch,sequence,64]", "4,160"]


@pytest.mark.parametrize("fixture", ["torchscript", "dynamo"])
def test_shape_arithmetic_is_folded(fixture, request):
    model = request.getfixturevalue(fixture)
    rows = _cells(ax.summary(model, depth=10))
    ops = {r[1] for r in rows}
    assert not ops & {"Shape", "Constant", "Unsqueeze", "Concat", "constant", "param", "getitem"}
    data = summary_data(model, depth=10)
    # every graph node but the output container is in exactly one row
    graph_nodes = len([n for n in plan(model).order if n.op != "none"]) - 1
    assert sum(r["nodes"] for r in data["rows"]) == graph_nodes


def test_dim_names_from_the_onnx_file(torchscript):
    text = ax.summary(torchscript, depth=1)
    rows = {r[0]: r for r in _cells(text)}
    assert rows["input_ids"][2] == "i64[batch,sequence]"
    assert rows["embeddings"][2] == "f32[batch,sequence,64]"
    assert rows["pooler"][2] == "f32[batch,64]"
    assert "Outputs: last_hidden_state f32[batch,sequence,64], pooler_output f32[batch,64]" in text
    assert "None" not in text


def test_bound_dims_show_their_size():
    model, _ = ax.import_onnx(MODELS / "bert_tiny_torchscript.onnx", dims={"batch": 2})
    rows = {r[0]: r for r in _cells(ax.summary(model, depth=1))}
    assert rows["input_ids"][2] == "i64[2,sequence]"
    assert rows["encoder.layer.{0..1}"][2] == "f32[2,sequence,64]"


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("fixture", ["torchscript", "dynamo"])
def test_width_follows_columns(fixture, columns, request, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    model = request.getfixturevalue(fixture)
    for depth in (None, 1, 10):
        lines = ax.summary(model, depth=depth).splitlines()
        assert max(len(line) for line in lines) <= columns
    if columns == 80:
        assert "…" in ax.summary(model, depth=10)  # some names were shortened


def test_default_fits_the_terminal_height(torchscript, monkeypatch):
    monkeypatch.setenv("LINES", "40")
    short = ax.summary(torchscript).splitlines()
    assert len(short) <= 40 and "encoder.layer.{0..1}" in "\n".join(short)
    monkeypatch.setenv("LINES", "80")
    assert len(ax.summary(torchscript).splitlines()) <= 80
    assert len(ax.summary(torchscript).splitlines()) > len(short)


def test_policy_column_skips_shape_and_mask_rows(torchscript):
    model = ax.apply_policy(torchscript, ax.policy("float32", "bfloat16"))
    rows = _cells(ax.summary(model, depth=2))
    policies = {r[0]: r[6] if len(r) > 6 else "" for r in rows}
    assert policies["word_embeddings"] == "p=f32 c=bf16 o=f32"
    assert policies["embeddings"] == "p=f32 c=bf16 o=f32"
    assert policies["Cast"] == ""  # a boolean mask
    assert policies["input_ids"] == ""


def test_summary_survives_save_and_load(dynamo, tmp_path):
    state = ax.init(dynamo)
    ax.save(tmp_path / "bert.axonnx", dynamo, state)
    loaded, _ = ax.load(tmp_path / "bert.axonnx")
    assert ax.summary(loaded, depth=3) == ax.summary(dynamo, depth=3)


@pytest.mark.parametrize("name", ["bert_tiny_torchscript.onnx", "bert_tiny_dynamo.onnx"])
def test_data_totals_add_up_to_the_initializers(name):
    arrays = [numpy_helper.to_array(t) for t in onnx.load(MODELS / name).graph.initializer]
    raw, _ = ax.import_onnx(MODELS / name, simplify=False)  # every initializer still used
    assert summary_data(raw, depth=1)["totals"]["total"] == {
        "count": sum(a.size for a in arrays),
        "bytes": sum(a.nbytes for a in arrays),
    }
    model, state = ax.import_onnx(MODELS / name)  # simplified: the file's line adds up
    data = summary_data(model, depth=1)
    in_file = data["onnx_initializers"]
    assert in_file["trainable"] + in_file["constants"] == sum(a.size for a in arrays)
    totals = data["totals"]
    for key in ("count", "bytes"):
        parts = ("trainable", "non_trainable", "constants")
        assert totals["total"][key] == sum(totals[p][key] for p in parts)
    trainable = sum(a.size for a in jax.tree_util.tree_leaves(state.params))
    assert totals["trainable"]["count"] == trainable
    assert sum(r["params"] for r in data["rows"]) == trainable
    assert sum(r["constants"] for r in data["rows"]) == totals["constants"]["count"]
    assert data["inputs"][0] == {
        "name": "input_ids",
        "shape": ["batch", "sequence"],
        "dtype": "int64",
    }
