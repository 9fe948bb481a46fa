"""Control flow and sequences: the compiled paths the ONNX backend cases leave out
(lax.cond, lax.scan / lax.while_loop loops, run-time positions), Scan axes and
directions, Scan-8 sequence lengths, sequence ops without cases, and the errors for
what cannot compile; compared with onnxruntime."""

from __future__ import annotations

import jax
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper
from onnx import helper as oh

from axonnx.compiler import run as run_graph
from axonnx.converters.backend import AxonnxRep
from axonnx.converters.onnx_import import import_onnx
from axonnx.errors import ShapeError
from axonnx.plan import plan

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def const(name: str, value) -> oh.NodeProto:
    return oh.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value)))


def model(nodes, inputs: dict, outputs, opset: int = 17, initializers: dict | None = None):
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    outs = [oh.make_empty_tensor_value_info(o) for o in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in (initializers or {}).items()]
    graph = oh.make_graph(nodes, "g", values, outs, inits)
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=8)


def body_graph(nodes, inputs, outputs, name="body"):
    """A subgraph; `inputs`/`outputs` as (name, elem type, shape or None)."""
    return oh.make_graph(
        nodes,
        name,
        [oh.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [oh.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )


def run_jitted(proto, inputs: dict):
    """The imported graph under `jax.jit` (whatever the Runtime would fall back to)."""
    model, state = import_onnx(proto)
    laid_out = plan(model)
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return jax.jit(lambda feed: run_graph(laid_out, state, feed)[0])(inputs)


def run(proto, inputs: dict) -> list:
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return list(AxonnxRep(proto).run(dict(inputs)))


def reference(proto, inputs: dict) -> list:
    """onnxruntime's outputs (onnx's reference evaluator gets Loop and Scan wrong)."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def assert_matches(proto, inputs: dict) -> None:
    expected = reference(proto, inputs)
    actual = run(proto, inputs)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


X = np.array([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], np.float32)


# ---------------------------------------------------------------- If


def _if_model(else_shape_differs: bool = False):
    then_g = body_graph([oh.make_node("Mul", ["x", "x"], ["t"])], [], [("t", F, None)], "then")
    else_nodes = [oh.make_node("Neg", ["x"], ["e"])]
    if else_shape_differs:
        else_nodes = [oh.make_node("ReduceSum", ["x"], ["e"], keepdims=0)]
    else_g = body_graph(else_nodes, [], [("e", F, None)], "else")
    nodes = [
        oh.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        const("zero", np.float32(0)),
        oh.make_node("Greater", ["s", "zero"], ["c"]),
        oh.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    return model(nodes, {"x": X}, ["y"])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_with_a_run_time_condition_compiles_both_branches(sign):
    assert_matches(_if_model(), {"x": X * np.float32(sign)})


def test_if_with_a_run_time_condition_and_different_branch_shapes_is_an_error():
    with pytest.raises(ShapeError, match="different shapes"):
        run_jitted(_if_model(else_shape_differs=True), {"x": X})


def test_if_1_with_a_constant_condition_runs_one_branch_whatever_the_other_gives():
    then_g = body_graph([oh.make_node("Relu", ["x"], ["t"])], [], [("t", F, None)], "then")
    else_g = body_graph([const("e", np.zeros(7, np.float32))], [], [("e", F, None)], "else")
    nodes = [
        const("c", np.array([True])),
        oh.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    (y,) = run(model(nodes, {"x": X}, ["y"], opset=9), {"x": X})
    np.testing.assert_array_equal(y, np.maximum(X, 0))


# ---------------------------------------------------------------- Loop


def _accumulate_body():
    """carried y + x (x captured), scan output y * 2."""
    return body_graph(
        [
            oh.make_node("Identity", ["cond_in"], ["cond_out"]),
            oh.make_node("Add", ["y_in", "x"], ["y_out"]),
            const("two", np.float32(2)),
            oh.make_node("Mul", ["y_out", "two"], ["scan"]),
        ],
        [("i", I64, []), ("cond_in", B, []), ("y_in", F, [2, 3])],
        [("cond_out", B, []), ("y_out", F, [2, 3]), ("scan", F, [2, 3])],
    )


@pytest.mark.parametrize("trips", [0, 4])
def test_loop_with_a_known_trip_count_runs_as_a_scan(trips):
    nodes = [
        const("M", np.int64(trips)),
        const("cond", np.array(True)),
        oh.make_node("Loop", ["M", "cond", "y0"], ["y", "ys"], body=_accumulate_body()),
    ]
    proto = model(nodes, {"x": X, "y0": X}, ["y", "ys"], opset=9)
    assert_matches(proto, {"x": X, "y0": X})


def _doubling_body(with_scan: bool):
    nodes = [
        oh.make_node("Mul", ["y_in", "y_in"], ["sq"]),
        oh.make_node("Add", ["y_in", "sq"], ["y_out"]),
        oh.make_node("ReduceSum", ["y_out"], ["total"], keepdims=0),
        const("limit", np.float32(100)),
        oh.make_node("Less", ["total", "limit"], ["cond_out"]),
    ]
    outputs = [("cond_out", B, []), ("y_out", F, [3])]
    if with_scan:
        nodes.append(oh.make_node("Identity", ["y_out"], ["scan"]))
        outputs.append(("scan", F, [3]))
    return body_graph(nodes, [("i", I64, []), ("cond_in", B, []), ("y_in", F, [3])], outputs)


def test_loop_with_a_run_time_condition_runs_as_a_while_loop():
    nodes = [
        const("M", np.int64(50)),
        oh.make_node("Loop", ["M", "", "y0"], ["y"], body=_doubling_body(False)),
    ]
    y0 = np.array([0.1, 0.2, 0.3], np.float32)
    assert_matches(model(nodes, {"y0": y0}, ["y"]), {"y0": y0})


def test_loop_with_a_run_time_condition_and_scan_outputs_is_an_error_under_jit():
    nodes = [oh.make_node("Loop", ["", "", "y0"], ["y", "ys"], body=_doubling_body(True))]
    y0 = np.array([0.1, 0.2, 0.3], np.float32)
    with pytest.raises(ShapeError, match="scan output"):
        run_jitted(model(nodes, {"y0": y0}, ["y", "ys"]), {"y0": y0})


def test_loop_reads_a_sequence_at_the_run_time_iteration_number():
    body = body_graph(
        [
            oh.make_node("Identity", ["cond_in"], ["cond_out"]),
            oh.make_node("SequenceAt", ["seq", "i"], ["row"]),
            oh.make_node("Add", ["acc_in", "row"], ["acc_out"]),
        ],
        [("i", I64, []), ("cond_in", B, []), ("acc_in", F, [1, 3])],
        [("cond_out", B, []), ("acc_out", F, [1, 3])],
    )
    nodes = [
        oh.make_node("SplitToSequence", ["x"], ["seq"], axis=0),
        const("n", np.int64(2)),
        const("zeros", np.zeros((1, 3), np.float32)),
        oh.make_node("Loop", ["n", "", "zeros"], ["acc"], body=body),
    ]
    assert_matches(model(nodes, {"x": X}, ["acc"]), {"x": X})


def test_loop_body_needing_the_iteration_number_or_growing_a_sequence_is_unrolled():
    body = body_graph(
        [
            oh.make_node("Identity", ["cond_in"], ["cond_out"]),
            const("one", np.array([1], np.int64)),
            oh.make_node("Unsqueeze", ["i", "axes"], ["start"]),
            oh.make_node("Add", ["start", "one"], ["end"]),
            oh.make_node("Slice", ["x", "start", "end"], ["row"]),
            oh.make_node("Add", ["y_in", "row"], ["y_out"]),
            oh.make_node("SequenceInsert", ["seq_in", "y_out"], ["seq_out"]),
        ],
        [("i", I64, []), ("cond_in", B, []), ("y_in", F, [1, 3])],
        [("cond_out", B, []), ("y_out", F, [1, 3])],
    )
    body.input.append(oh.make_tensor_sequence_value_info("seq_in", F, None))
    body.output.append(oh.make_tensor_sequence_value_info("seq_out", F, None))
    nodes = [
        const("axes", np.array([0], np.int64)),
        const("M", np.int64(2)),
        const("cond", np.array(True)),
        const("y0", np.zeros((1, 3), np.float32)),
        oh.make_node("SequenceEmpty", [], ["empty"], dtype=F),
        oh.make_node("Loop", ["M", "cond", "y0", "empty"], ["y", "seq"], body=body),
        oh.make_node("ConcatFromSequence", ["seq"], ["rows"], axis=0),
    ]
    assert_matches(model(nodes, {"x": X}, ["y", "rows"]), {"x": X})


# ---------------------------------------------------------------- Scan


def _sum_body(state_shape, element_shape):
    return body_graph(
        [
            oh.make_node("Add", ["s_in", "e"], ["s_out"]),
            oh.make_node("Mul", ["s_out", "e"], ["out"]),
        ],
        [("s_in", F, state_shape), ("e", F, element_shape)],
        [("s_out", F, state_shape), ("out", F, element_shape)],
    )


def test_scan_9_input_and_output_axes_and_directions():
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3) / 10
    node = oh.make_node(
        "Scan",
        ["s0", "x"],
        ["s", "ys"],
        body=_sum_body([2, 3], [2, 3]),
        num_scan_inputs=1,
        scan_input_axes=[1],
        scan_input_directions=[1],
        scan_output_axes=[-1],
        scan_output_directions=[1],
    )
    s0 = np.ones((2, 3), np.float32)
    assert_matches(model([node], {"s0": s0, "x": x}, ["s", "ys"], opset=11), {"s0": s0, "x": x})


@pytest.mark.parametrize("direction", [0, 1])
def test_scan_8_batch_with_sequence_lengths(direction):
    inputs = {
        "lens": np.array([3, 2], np.int64),
        "s0": np.zeros((2, 2), np.float32),
        "x": np.arange(12, dtype=np.float32).reshape(2, 3, 2),
    }
    node = oh.make_node(
        "Scan",
        ["lens", "s0", "x"],
        ["s", "ys"],
        body=_sum_body([2], [2]),
        num_scan_inputs=1,
        directions=[direction],
    )
    assert_matches(model([node], inputs, ["s", "ys"], opset=8), inputs)


# ---------------------------------------------------------------- sequences, optionals


def test_sequence_erase_insert_at_and_concat():
    nodes = [
        oh.make_node("SplitToSequence", ["x"], ["seq"], axis=1, keepdims=1),
        const("minus_one", np.int64(-1)),
        oh.make_node("SequenceErase", ["seq", "minus_one"], ["shorter"]),
        oh.make_node("SequenceErase", ["shorter"], ["one"]),
        const("zero", np.int64(0)),
        oh.make_node("SequenceAt", ["one", "zero"], ["one_col"]),
        oh.make_node("SequenceInsert", ["seq", "one_col", "minus_one"], ["longer"]),
        oh.make_node("ConcatFromSequence", ["longer"], ["joined"], axis=1),
        oh.make_node("ConcatFromSequence", ["shorter"], ["stacked"], axis=-1, new_axis=1),
    ]
    assert_matches(model(nodes, {"x": X}, ["joined", "stacked"]), {"x": X})


def test_split_to_sequence_with_a_scalar_split_leaves_a_shorter_last_piece():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    nodes = [
        const("split", np.int64(2)),
        oh.make_node("SplitToSequence", ["x", "split"], ["seq"]),
        const("last", np.int64(-1)),
        oh.make_node("SequenceAt", ["seq", "last"], ["tail"]),
        oh.make_node("SequenceLength", ["seq"], ["n"]),
    ]
    assert_matches(model(nodes, {"x": x}, ["tail", "n"]), {"x": x})


def test_an_empty_optional_has_no_element():
    nodes = [
        oh.make_node("Optional", [], ["empty"], type=oh.make_tensor_type_proto(F, [2])),
        oh.make_node("OptionalHasElement", ["empty"], ["no"]),
        oh.make_node("Optional", ["x"], ["full"]),
        oh.make_node("OptionalHasElement", ["full"], ["yes"]),
        oh.make_node("OptionalGetElement", ["full"], ["back"]),
    ]
    assert_matches(model(nodes, {"x": X}, ["no", "yes", "back"], opset=18), {"x": X})
