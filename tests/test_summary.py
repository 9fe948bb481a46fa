"""Tests of the model summary table (`print(model)`)."""

import math

import numpy as np

import axonnx as ax


def _seed_model():
    x = ax.input("x", shape=(None, 784))
    return x.dense(128, activation="relu").dropout(rate=0.5).dense(10, activation="softmax")


def _rows(text):
    """Body rows of the table: the lines between the second '=' rule and the '-' rule."""
    lines = text.splitlines()
    start = [i for i, line in enumerate(lines) if line and set(line) == {"="}][-1] + 1
    end = next(i for i in range(start, len(lines)) if lines[i] and set(lines[i]) == {"-"})
    return [line.split("   ") for line in lines[start:end]]


def _cells(row):
    return [c.strip() for c in row if c.strip()]


def test_seed_model_totals():
    text = str(_seed_model())
    expected = (784 * 128 + 128) + (128 * 10 + 10)
    assert expected == 101770
    assert f"Total Parameters: {expected}" in text
    assert f"Total Parameters Memory: {expected * 4} bytes" in text
    assert 'Inputs: {"x": (None, 784)}' in text


def test_print_equals_summary():
    model = _seed_model()
    assert repr(model) == ax.summary(model)


def test_seed_model_rows():
    rows = [_cells(r) for r in _rows(ax.summary(_seed_model()))]
    assert [r[0] for r in rows] == [
        "x ( input )",
        'dense_0 ( dense["x"] )',
        'relu_0 ( relu["dense_0"] )',
        'dropout_0 ( dropout["relu_0"] )',
        'dense_1 ( dense["dropout_0"] )',
        'softmax_0 ( softmax["dense_1"] )',
    ]
    assert [r[1] for r in rows] == [
        "(None, 784)",
        "(None, 128)",
        "(None, 128)",
        "(None, 128)",
        "(None, 10)",
        "(None, 10)",
    ]
    assert {r[2] for r in rows} == {"p=f32 c=f32 o=f32"}
    counts = [int(r[3]) for r in rows]
    assert counts == [0, 784 * 128 + 128, 0, 0, 128 * 10 + 10, 0]
    assert [r[4] for r in rows] == [f"{4 * c} bytes" for c in counts]


def test_row_counts_match_initialized_parameters():
    model = _seed_model()
    state = ax.init(model)
    rows = {_cells(r)[0].split(" ")[0]: int(_cells(r)[3]) for r in _rows(ax.summary(model))}
    for layer, values in state.params.items():
        assert rows[layer] == sum(math.prod(np.shape(v)) for v in values.values())


def test_state_and_policy_are_counted():
    x = ax.input("img", shape=(None, 4, 4, 3))
    model = ax.apply_policy(x.batch_norm(), ax.policy("bfloat16"))
    text = ax.summary(model)
    # scale, bias, mean, var: 4 vectors of 3, stored in bfloat16 (2 bytes each).
    assert "Total Parameters: 12" in text
    assert "Total Parameters Memory: 24 bytes" in text
    row = _cells(_rows(text)[1])
    assert row[0] == 'batch_norm_0 ( batch_norm["img"] )'
    assert row[2] == "p=bf16 c=bf16 o=bf16"


def test_multi_input_and_container_rows():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(2,))
    model = ax.container({"sum": ax.concatenate([a, a]), "b": b})
    text = ax.summary(model)
    assert 'Inputs: {"a": (None, 3), "b": (2,)}' in text
    last = _cells(_rows(text)[-1])
    # parents in JAX's pytree order: dict keys sorted
    assert last[0] == 'container_0 ( container["b", "concatenate_0"] )'
    assert last[1] == "{b: (2,), sum: (None, 6)}"


def test_namespaced_and_user_named_layers():
    body = ax.namespace(ax.input("x", shape=(None, 3)).dense(2, name="proj"), "body")
    text = ax.summary(body.dense(1))
    names = [_cells(r)[0].split(" ")[0] for r in _rows(text)]
    assert names == ["x", "proj", "namespace_0", "dense_0"]
    assert "Total Parameters: 11" in text


def test_table_columns_are_aligned():
    text = ax.summary(_seed_model())
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith(" Layer"))
    body = _rows(text)
    starts = [header.index(h) for h in ("Shape", "Policy", "Parameters ")]
    for row in body:
        line = "   ".join(row)
        assert [line[s - 1] for s in starts] == [" "] * 3
        assert all(line[s] != " " for s in starts)
