"""Deep and large graphs: no recursion limit, time about linear in the number of nodes.

The jitted run and the save/export of a 10,000-node chain take tens of seconds (XLA
compiles the whole chain), so they are marked slow: `pytest -m slow tests/reliability`.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from onnx import TensorProto, helper

import axonnx as ax
from axonnx.compiler import run
from axonnx.converters.safety import check_model
from axonnx.plan import plan


def chain(n: int):
    """x → Neg → Relu → Neg → … (n nodes) → y, all of shape (3,)."""
    ops = ("Neg", "Relu")
    nodes = [helper.make_node(ops[i % 2], [f"v{i}"], [f"v{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("v0", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, [3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _expected(x: np.ndarray, n: int) -> np.ndarray:
    value = x
    for i in range(n):
        value = -value if i % 2 == 0 else np.maximum(value, 0)
    return value


X = np.array([1.5, -2.0, 0.0], np.float32)


def test_chain_of_10000_nodes_imports_compiles_and_runs():
    n = 10_000
    model, state = ax.import_onnx(chain(n))
    laid_out = plan(model)
    assert len(laid_out.order) == n + 2  # input, n nodes, output container
    ax.build(model)
    outputs, _, _ = run(laid_out, state, {"v0": X})
    np.testing.assert_array_equal(np.asarray(outputs[f"v{n}"]), _expected(X, n))


def test_nested_subgraphs_import_and_run():
    depth = 20
    out = helper.make_tensor_value_info("r0", TensorProto.FLOAT, [3])
    body = leaf = helper.make_graph([helper.make_node("Neg", ["x"], ["r0"])], "leaf", [], [out])
    for level in range(depth):
        name = f"r{level + 1}"
        node = helper.make_node("If", ["c"], [name], then_branch=body, else_branch=leaf)
        value = helper.make_tensor_value_info(name, TensorProto.FLOAT, [3])
        body = helper.make_graph([node], f"g{level}", [], [value])
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
        helper.make_tensor_value_info("c", TensorProto.BOOL, []),
    ]
    graph = helper.make_graph(list(body.node), "nested", inputs, list(body.output))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model, state = ax.import_onnx(proto.SerializeToString())
    result = ax.predict(model, state, {"x": X, "c": np.array(True)})
    np.testing.assert_array_equal(result[f"r{depth}"], -X)


def _import_seconds(n: int) -> float:
    proto = chain(n)
    start = time.perf_counter()
    ax.import_onnx(proto)
    return time.perf_counter() - start


def test_100000_nodes_import_in_seconds_and_time_grows_linearly():
    small, large = _import_seconds(25_000), _import_seconds(100_000)
    assert large < 60, f"100,000 nodes took {large:.1f} s to import"
    # Four times the nodes: about four times the time; 8 leaves room for noise.
    assert large / small < 8, f"25k nodes: {small:.2f} s, 100k nodes: {large:.2f} s"


def test_checks_are_linear_on_a_wide_graph():
    n = 20_000
    nodes = [helper.make_node("Neg", ["x"], [f"n{i}"]) for i in range(n)]
    nodes.append(helper.make_node("Sum", [f"n{i}" for i in range(n)], ["y"]))
    graph = helper.make_graph(
        nodes,
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    start = time.perf_counter()
    check_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert time.perf_counter() - start < 10


@pytest.mark.slow
def test_chain_of_10000_nodes_runs_jitted_and_round_trips(tmp_path):
    n = 10_000
    model, state = ax.import_onnx(chain(n))
    np.testing.assert_array_equal(ax.predict(model, state, {"v0": X})[f"v{n}"], _expected(X, n))
    ax.save(tmp_path / "chain.axonnx", model, state)
    loaded, loaded_state = ax.load(tmp_path / "chain.axonnx")
    assert len(plan(loaded).order) == n + 2
    ax.export_onnx(model, state, tmp_path / "chain.onnx")
    again, _ = ax.import_onnx(tmp_path / "chain.onnx")
    assert len(plan(again).order) == n + 2
