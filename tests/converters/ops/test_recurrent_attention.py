"""Recurrent and attention ops: the import rules that make ONNX LSTM/GRU nodes built-in
`lstm`/`gru` layers, and forms the ONNX backend cases leave out (activation alpha/beta,
clip, sequence lengths with reverse directions), compared with onnxruntime (CPU)."""

from __future__ import annotations

import copy

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper
from onnx import helper as oh

from axonnx.converters.backend import AxonnxRep
from axonnx.node import topological_order

RNG = np.random.default_rng(0)
SEQ, BATCH, FEATURES, HIDDEN = 5, 3, 4, 6


def recurrent_model(op_type, dirs, gates, *, layout=0, inputs=("X",), weights=True, **attrs):
    """One LSTM/GRU/RNN node: X a graph input, W, R, B initializers (or graph inputs)."""
    shape_x = (BATCH, SEQ, FEATURES) if layout else (SEQ, BATCH, FEATURES)
    arrays = {
        "W": RNG.normal(size=(dirs, gates * HIDDEN, FEATURES)).astype(np.float32) * 0.5,
        "R": RNG.normal(size=(dirs, gates * HIDDEN, HIDDEN)).astype(np.float32) * 0.5,
        "B": RNG.normal(size=(dirs, 2 * gates * HIDDEN)).astype(np.float32) * 0.5,
    }
    outputs = ["Y", "Y_h", "Y_c"][: 3 if op_type == "LSTM" else 2]
    node_inputs = ["X", "W", "R", "B", *inputs[1:]]
    if op_type != "RNN" or layout:
        attrs["layout"] = layout
    node = oh.make_node(op_type, node_inputs, outputs, hidden_size=HIDDEN, **attrs)
    values = [oh.make_tensor_value_info("X", TensorProto.FLOAT, shape_x)]
    if "sequence_lens" in inputs:
        values.append(oh.make_tensor_value_info("sequence_lens", TensorProto.INT32, (BATCH,)))
    initializers = [numpy_helper.from_array(v, n) for n, v in arrays.items()] if weights else []
    if not weights:
        values += [
            oh.make_tensor_value_info(n, TensorProto.FLOAT, v.shape) for n, v in arrays.items()
        ]
    graph = oh.make_graph(
        [node],
        "recurrent",
        values,
        [oh.make_empty_tensor_value_info(o) for o in outputs],
        initializers,
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)], ir_version=10)
    feed = {"X": RNG.normal(size=shape_x).astype(np.float32)}
    if "sequence_lens" in inputs:
        feed["sequence_lens"] = np.array([SEQ, 2, 3][:BATCH], np.int32)
    if not weights:
        feed.update(arrays)
    return model, feed


def onnxruntime_outputs(model, feed):
    """onnxruntime's outputs; its CPU kernels lack `layout=1`, so a batch-major model runs
    as its sequence-major twin with the axes swapped around it."""
    model, feed = copy.deepcopy(model), dict(feed)
    node = model.graph.node[0]
    layout = next((a for a in node.attribute if a.name == "layout"), None)
    batch_major = layout is not None and layout.i == 1
    if batch_major:
        layout.i = 0
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[0].dim_value, dims[1].dim_value = dims[1].dim_value, dims[0].dim_value
        feed["X"] = np.swapaxes(feed["X"], 0, 1)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y, *states = session.run(None, feed)
    if batch_major:
        y, states = np.transpose(y, (2, 0, 1, 3)), [np.swapaxes(s, 0, 1) for s in states]
    return [y, *states]


def run_both(model, feed):
    rep = AxonnxRep(model)
    return rep, list(rep.run(feed)), onnxruntime_outputs(model, feed)


def assert_close(actual, expected, rtol=1e-5, atol=1e-5):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def ops_of(rep) -> list[str]:
    return [node.op for node in topological_order(rep.graph_model)]


LAYER_CASES = [
    ("LSTM", "lstm", 4, "forward", 0, {}),
    ("LSTM", "lstm", 4, "bidirectional", 0, {}),
    ("LSTM", "lstm", 4, "reverse", 1, {"clip": 1.5, "input_forget": 1}),
    ("GRU", "gru", 3, "forward", 0, {}),
    ("GRU", "gru", 3, "bidirectional", 1, {"linear_before_reset": 1}),
    ("GRU", "gru", 3, "forward", 0, {"activations": ["HardSigmoid", "Relu"]}),
]


@pytest.mark.parametrize(
    "op_type, layer, gates, direction, layout, attrs",
    LAYER_CASES,
    ids=[f"{c[0]}-{c[3]}-layout{c[4]}-{'-'.join(c[5])}" for c in LAYER_CASES],
)
def test_recurrent_with_initializer_weights_imports_as_layer(
    op_type, layer, gates, direction, layout, attrs
):
    dirs = 2 if direction == "bidirectional" else 1
    model, feed = recurrent_model(op_type, dirs, gates, layout=layout, direction=direction, **attrs)
    rep, actual, expected = run_both(model, feed)
    ops = ops_of(rep)
    assert ops.count(layer) == 1 and not any(op.startswith("onnx::") for op in ops)
    assert_close(actual, expected)


def test_layer_params_keep_their_onnx_names_and_transposition():
    model, feed = recurrent_model("LSTM", 1, 4)
    rep, _, _ = run_both(model, feed)
    (node,) = [n for n in topological_order(rep.graph_model) if n.op == "lstm"]
    params = {p.name: p for p in node.params}
    assert params["input_kernel"].shape == (1, FEATURES, 4 * HIDDEN)
    assert params["input_kernel"].meta == {"onnx_name": "W", "onnx_transposed": True}
    assert params["hidden_kernel"].meta == {"onnx_name": "R", "onnx_transposed": True}
    assert params["bias"].meta == {"onnx_name": "B"}


@pytest.mark.parametrize(
    "inputs, weights, attrs",
    [
        (("X", "sequence_lens"), True, {}),
        (("X",), False, {}),
        (("X",), True, {"activations": ["HardSigmoid", "Tanh", "Tanh"], "activation_alpha": [0.3]}),
    ],
    ids=["sequence_lens", "weights_as_inputs", "activation_alpha"],
)
def test_lstm_the_layer_cannot_express_stays_generic(inputs, weights, attrs):
    model, feed = recurrent_model("LSTM", 1, 4, inputs=inputs, weights=weights, **attrs)
    rep, actual, expected = run_both(model, feed)
    assert "lstm" not in ops_of(rep)
    assert_close(actual, expected)


# ---------------------------------------------------------------- generic ops


ACTIVATION_CASES = {
    "rnn_affine_scaledtanh": (
        "RNN",
        1,
        "bidirectional",
        {
            "activations": ["Affine", "ScaledTanh"],
            "activation_alpha": [0.5, 1.5],
            "activation_beta": [0.1, 0.7],
        },
    ),
    "rnn_leakyrelu_clip": ("RNN", 1, "forward", {"activations": ["LeakyRelu"], "clip": 0.8}),
    "gru_hardsigmoid_elu": (
        "GRU",
        3,
        "bidirectional",
        {
            "activations": ["HardSigmoid", "Softsign", "Sigmoid", "Elu"],
            "activation_alpha": [0.3, 0.9],
        },
    ),
    "lstm_thresholded_softplus": (
        "LSTM",
        4,
        "forward",
        {
            "activations": ["HardSigmoid", "ThresholdedRelu", "Softplus"],
            "activation_alpha": [0.25, 0.1],
            "activation_beta": [0.4],
        },
    ),
}


@pytest.mark.parametrize("case", ACTIVATION_CASES)
def test_activations_with_alpha_and_beta(case):
    op_type, gates, direction, attrs = ACTIVATION_CASES[case]
    dirs = 2 if direction == "bidirectional" else 1
    model, feed = recurrent_model(op_type, dirs, gates, weights=False, direction=direction, **attrs)
    _, actual, expected = run_both(model, feed)
    assert_close(actual, expected)


@pytest.mark.parametrize("op_type, gates", [("RNN", 1), ("GRU", 3), ("LSTM", 4)])
@pytest.mark.parametrize("layout", [0, 1])
def test_bidirectional_with_sequence_lengths(op_type, gates, layout):
    model, feed = recurrent_model(
        op_type,
        2,
        gates,
        layout=layout,
        inputs=("X", "sequence_lens"),
        weights=False,
        direction="bidirectional",
    )
    _, actual, expected = run_both(model, feed)
    assert_close(actual, expected)


def with_initial_states(model, value: float, count: int):
    """`model` with initial_h (and initial_c) made by ConstantOfShape, as PyTorch exports."""
    node = model.graph.node[0]
    dirs = model.graph.initializer[0].dims[0]
    shape = numpy_helper.from_array(np.array([dirs, BATCH, HIDDEN], np.int64), "state_shape")
    fill = numpy_helper.from_array(np.array([value], np.float32), "fill")
    make = oh.make_node("ConstantOfShape", ["state_shape"], ["zeros"], value=fill)
    node.input.extend(["", *["zeros"] * count])
    model.graph.initializer.append(shape)
    model.graph.node.insert(0, make)
    return model


@pytest.mark.parametrize("value, layer", [(0.0, True), (0.5, False)], ids=["zeros", "halves"])
@pytest.mark.parametrize("op_type, gates, count", [("LSTM", 4, 2), ("GRU", 3, 1)])
def test_zero_initial_states_still_import_as_layer(op_type, gates, count, value, layer):
    model, feed = recurrent_model(op_type, 1, gates)
    model = with_initial_states(model, value, count)
    rep, actual, expected = run_both(model, feed)
    assert (op_type.lower() in ops_of(rep)) == layer
    assert_close(actual, expected)
