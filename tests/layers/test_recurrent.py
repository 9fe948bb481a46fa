"""Recurrent layers against one-node ONNX LSTM / GRU models and a NumPy conv LSTM.

onnx's reference evaluator covers directions, biases, initial states and peepholes;
it ignores clip, input_forget, activations and sequence_lens, so those are
checked against onnxruntime. ONNX is time-major: X (seq, batch, features),
Y (seq, num_directions, batch, hidden); axonnx is batch-major.
"""

import jax
import jax.numpy as jnp
import numpy as np
import onnxruntime as ort
import pytest
from jax.test_util import check_grads
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from axonnx.layers import recurrent
from axonnx.layers.conv_recurrent import conv_lstm, conv_lstm_cell

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
BATCH, TIME, FEATURES, HIDDEN = 3, 5, 4, 6
F32_TOL, BF16_TOL = 1e-5, 3e-2

lstm = jax.jit(
    recurrent.lstm,
    static_argnames=("direction", "activations", "clip", "input_forget"),
)
gru = jax.jit(
    recurrent.gru,
    static_argnames=("direction", "activations", "clip", "linear_before_reset"),
)


def run_onnx(op, inputs, outputs, *, engine="reference", **attributes):
    """Runs a one-node opset-14 model; ``inputs`` is an ONNX-ordered list of (name, array|None)."""
    while inputs[-1][1] is None:
        inputs = inputs[:-1]
    present = {n: np.asarray(v) for n, v in inputs if v is not None}
    node = helper.make_node(
        op, [n if v is not None else "" for n, v in inputs], outputs, **attributes
    )
    graph = helper.make_graph(
        [node],
        op,
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for n, v in present.items()
        ],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    if engine == "reference":
        return ReferenceEvaluator(model).run(None, present)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, present)


def onnx_weights(gates, num_dirs, *, peephole=False, seed=0, time=TIME):
    """Random ONNX-layout X, W, R, B, initial_h (and initial_c, P for LSTM), float32."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    w = {
        "X": normal(time, BATCH, FEATURES),
        "W": normal(num_dirs, gates * HIDDEN, FEATURES),
        "R": normal(num_dirs, gates * HIDDEN, HIDDEN),
        "B": normal(num_dirs, 2 * gates * HIDDEN),
        "initial_h": normal(num_dirs, BATCH, HIDDEN),
    }
    if gates == 4:
        w["initial_c"] = normal(num_dirs, BATCH, HIDDEN)
        w["P"] = normal(num_dirs, 3 * HIDDEN) if peephole else None
    return w


def lstm_onnx_inputs(w, sequence_lens=None):
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    return [(n, sequence_lens if n == "sequence_lens" else w.get(n)) for n in names]


def gru_onnx_inputs(w, sequence_lens=None):
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    return [(n, sequence_lens if n == "sequence_lens" else w.get(n)) for n in names]


def axonnx_args(w, dtype=jnp.float32):
    """(x, input_kernel, hidden_kernel, bias) in axonnx layout; x rounded to ``dtype``."""
    x = jnp.asarray(np.swapaxes(w["X"], 0, 1), dtype)
    return x, w["W"].transpose(0, 2, 1), w["R"].transpose(0, 2, 1), w["B"]


def rounded_x(w, dtype):
    """``w`` with X as axonnx sees it in ``dtype``."""
    return {**w, "X": np.asarray(jnp.asarray(w["X"], dtype), np.float32)}


def assert_sequence_close(y, expected_y, tol):
    """Compares axonnx (batch, time, dirs, hidden) with ONNX (time, dirs, batch, hidden)."""
    np.testing.assert_allclose(
        np.asarray(y, np.float32), expected_y.transpose(2, 0, 1, 3), rtol=tol, atol=tol
    )


def assert_close(a, b, tol):
    np.testing.assert_allclose(np.asarray(a, np.float32), b, rtol=tol, atol=tol)


# --- LSTM -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction,dtype,tol",
    [
        ("forward", jnp.float32, F32_TOL),
        ("reverse", jnp.float32, F32_TOL),
        ("bidirectional", jnp.float32, F32_TOL),
        ("reverse", jnp.bfloat16, BF16_TOL),
    ],
)
def test_lstm_matches_onnx_reference(direction, dtype, tol):
    w = rounded_x(onnx_weights(4, DIRECTIONS[direction], peephole=True), dtype)
    expected = run_onnx(
        "LSTM", lstm_onnx_inputs(w), ["Y", "Y_h", "Y_c"], hidden_size=HIDDEN, direction=direction
    )
    y, (h, c) = lstm(
        *axonnx_args(w, dtype),
        hidden_state=w["initial_h"],
        cell_state=w["initial_c"],
        peephole=w["P"],
        direction=direction,
    )
    assert y.dtype == h.dtype == c.dtype == dtype
    assert y.shape == (BATCH, TIME, DIRECTIONS[direction], HIDDEN)
    assert_sequence_close(y, expected[0], tol)
    assert_close(h, expected[1], tol)
    assert_close(c, expected[2], tol)


def test_lstm_defaults_match_onnx_without_optional_inputs():
    w = onnx_weights(4, 1)
    inputs = [("X", w["X"]), ("W", w["W"]), ("R", w["R"])]
    expected_y, expected_h = run_onnx("LSTM", inputs, ["Y", "Y_h"], hidden_size=HIDDEN)
    x, input_kernel, hidden_kernel, _ = axonnx_args(w)
    y, (h, _) = lstm(x, input_kernel, hidden_kernel)
    assert_sequence_close(y, expected_y, F32_TOL)
    assert_close(h, expected_h, F32_TOL)


LSTM_ORT_CASES = [
    ("forward", {"clip": 0.3, "activations": ("HardSigmoid", "Relu", "Softsign")}, False),
    ("forward", {}, True),
    ("reverse", {}, True),
    (
        "bidirectional",
        {
            "clip": 0.5,
            "input_forget": 1,
            "activations": ("Sigmoid", "Tanh", "Tanh", "Softsign", "Tanh", "Relu"),
        },
        True,
    ),
]


@pytest.mark.parametrize("direction,options,use_lengths", LSTM_ORT_CASES)
def test_lstm_options_match_onnxruntime(direction, options, use_lengths):
    w = onnx_weights(4, DIRECTIONS[direction], peephole=True, seed=1)
    lengths = np.array([TIME, 2, 4], np.int32) if use_lengths else None
    expected = run_onnx(
        "LSTM",
        lstm_onnx_inputs(w, lengths),
        ["Y", "Y_h", "Y_c"],
        engine="ort",
        hidden_size=HIDDEN,
        direction=direction,
        **options,
    )
    y, (h, c) = lstm(
        *axonnx_args(w),
        hidden_state=w["initial_h"],
        cell_state=w["initial_c"],
        peephole=w["P"],
        sequence_lengths=lengths,
        direction=direction,
        **{k: bool(v) if k == "input_forget" else v for k, v in options.items()},
    )
    assert_sequence_close(y, expected[0], 1e-4)
    assert_close(h, expected[1], 1e-4)
    assert_close(c, expected[2], 1e-4)


# full sequences (no sequence_lens) run unmasked and unrolled (`_recurrent_core.UNROLL`
# steps an iteration): a length that is not a multiple of it checks the remainder steps
LONG = 19
FAST_PATH_CASES = [
    ("LSTM", "forward", {}),
    ("LSTM", "reverse", {"clip": 0.4}),
    ("LSTM", "bidirectional", {"input_forget": 1}),
    ("LSTM", "forward", {"activations": ("HardSigmoid", "Relu", "Softsign")}),
    ("GRU", "forward", {"linear_before_reset": 1}),
    ("GRU", "reverse", {}),
    ("GRU", "bidirectional", {"linear_before_reset": 1, "clip": 0.4}),
]


@pytest.mark.parametrize("op,direction,options", FAST_PATH_CASES)
def test_full_sequences_without_peepholes_match_onnxruntime(op, direction, options):
    gates, layer = (4, lstm) if op == "LSTM" else (3, gru)
    w = onnx_weights(gates, DIRECTIONS[direction], seed=7, time=LONG)
    names = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    inputs = lstm_onnx_inputs(w) if op == "LSTM" else gru_onnx_inputs(w)
    expected = run_onnx(
        op, inputs, names, engine="ort", hidden_size=HIDDEN, direction=direction, **options
    )
    states = {"hidden_state": w["initial_h"]}
    if op == "LSTM":
        states["cell_state"] = w["initial_c"]
    flags = {
        k: bool(v) if k in ("input_forget", "linear_before_reset") else v
        for k, v in options.items()
    }
    y, final = layer(*axonnx_args(w), direction=direction, **states, **flags)
    assert_sequence_close(y, expected[0], 1e-5)
    for got, want in zip(final if op == "LSTM" else (final,), expected[1:], strict=True):
        assert_close(got, want, 1e-5)


def test_lstm_cell_matches_one_onnx_step():
    w = onnx_weights(4, 2, peephole=True, seed=2)
    w["X"] = w["X"][:1]
    _, expected_h, expected_c = run_onnx(
        "LSTM",
        lstm_onnx_inputs(w),
        ["Y", "Y_h", "Y_c"],
        hidden_size=HIDDEN,
        direction="bidirectional",
    )
    x, input_kernel, hidden_kernel, bias = axonnx_args(w)
    for d in range(2):
        h, c = jax.jit(recurrent.lstm_cell)(
            x[:, 0],
            w["initial_h"][d],
            w["initial_c"][d],
            input_kernel[d],
            hidden_kernel[d],
            bias[d],
            peephole=w["P"][d],
        )
        assert_close(h, expected_h[d], F32_TOL)
        assert_close(c, expected_c[d], F32_TOL)


def test_lstm_gradients():
    w = onnx_weights(4, 1, peephole=True, seed=3)
    x, input_kernel, hidden_kernel, bias = (jnp.asarray(a) for a in axonnx_args(w))

    @jax.jit
    def loss(x, input_kernel, hidden_kernel, bias):
        y, (h, c) = recurrent.lstm(x, input_kernel, hidden_kernel, bias, direction="reverse")
        return jnp.sum(y**2) + jnp.sum(c)

    check_grads(
        loss, (x, input_kernel, hidden_kernel, bias), order=1, modes=["rev"], atol=5e-2, rtol=5e-2
    )


# --- GRU ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction,linear_before_reset",
    [("forward", False), ("forward", True), ("reverse", True), ("bidirectional", False)],
)
def test_gru_matches_onnx_reference(direction, linear_before_reset):
    w = onnx_weights(3, DIRECTIONS[direction], seed=4)
    expected_y, expected_h = run_onnx(
        "GRU",
        gru_onnx_inputs(w),
        ["Y", "Y_h"],
        hidden_size=HIDDEN,
        direction=direction,
        linear_before_reset=int(linear_before_reset),
    )
    y, h = gru(
        *axonnx_args(w),
        hidden_state=w["initial_h"],
        direction=direction,
        linear_before_reset=linear_before_reset,
    )
    assert_sequence_close(y, expected_y, F32_TOL)
    assert_close(h, expected_h, F32_TOL)


def test_gru_bfloat16_keeps_dtype():
    w = rounded_x(onnx_weights(3, 1, seed=5), jnp.bfloat16)
    expected_y, expected_h = run_onnx("GRU", gru_onnx_inputs(w), ["Y", "Y_h"], hidden_size=HIDDEN)
    y, h = gru(*axonnx_args(w, jnp.bfloat16), hidden_state=w["initial_h"])
    assert y.dtype == h.dtype == jnp.bfloat16
    assert_sequence_close(y, expected_y, BF16_TOL)
    assert_close(h, expected_h, BF16_TOL)


GRU_ORT_CASES = [
    ("forward", {"clip": 0.3, "activations": ("HardSigmoid", "Softsign")}, False),
    ("reverse", {"linear_before_reset": 1}, True),
    ("bidirectional", {}, True),
]


@pytest.mark.parametrize("direction,options,use_lengths", GRU_ORT_CASES)
def test_gru_options_match_onnxruntime(direction, options, use_lengths):
    w = onnx_weights(3, DIRECTIONS[direction], seed=6)
    lengths = np.array([TIME, 2, 4], np.int32) if use_lengths else None
    expected_y, expected_h = run_onnx(
        "GRU",
        gru_onnx_inputs(w, lengths),
        ["Y", "Y_h"],
        engine="ort",
        hidden_size=HIDDEN,
        direction=direction,
        **options,
    )
    y, h = gru(
        *axonnx_args(w),
        hidden_state=w["initial_h"],
        sequence_lengths=lengths,
        direction=direction,
        **{k: bool(v) if k == "linear_before_reset" else v for k, v in options.items()},
    )
    assert_sequence_close(y, expected_y, 1e-4)
    assert_close(h, expected_h, 1e-4)


@pytest.mark.parametrize("linear_before_reset", [False, True])
def test_gru_cell_matches_one_onnx_step(linear_before_reset):
    w = onnx_weights(3, 1, seed=7)
    w["X"] = w["X"][:1]
    _, expected_h = run_onnx(
        "GRU",
        gru_onnx_inputs(w),
        ["Y", "Y_h"],
        hidden_size=HIDDEN,
        linear_before_reset=int(linear_before_reset),
    )
    x, input_kernel, hidden_kernel, bias = axonnx_args(w)
    h = jax.jit(recurrent.gru_cell, static_argnames="linear_before_reset")(
        x[:, 0],
        w["initial_h"][0],
        input_kernel[0],
        hidden_kernel[0],
        bias[0],
        linear_before_reset=linear_before_reset,
    )
    assert_close(h, expected_h[0], F32_TOL)


# --- conv LSTM --------------------------------------------------------------------


def conv2d_same(x, kernel, stride):
    """NumPy channels-last 2-D cross-correlation with TensorFlow-style "SAME" padding."""
    (n, height, width, _), (kh, kw, _, out) = x.shape, kernel.shape
    oh, ow = -(-height // stride), -(-width // stride)
    pad_h = max((oh - 1) * stride + kh - height, 0)
    pad_w = max((ow - 1) * stride + kw - width, 0)
    x = np.pad(
        x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    )
    y = np.zeros((n, oh, ow, out))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
            y += patch @ kernel[i, j]
    return y


def numpy_conv_lstm(x, input_kernel, hidden_kernel, bias, stride):
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    frames = [conv2d_same(x[:, t], input_kernel, stride) + bias for t in range(x.shape[1])]
    h = np.zeros(frames[0].shape[:-1] + (hidden_kernel.shape[-2],))
    c = np.zeros_like(h)
    outputs = []
    for frame in frames:
        i, o, f, g = np.split(frame + conv2d_same(h, hidden_kernel, 1), 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_lstm_matches_numpy(stride):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 3, 5, 6, 2)).astype(np.float32)
    input_kernel = rng.normal(0, 0.3, (3, 3, 2, 16)).astype(np.float32)
    hidden_kernel = rng.normal(0, 0.3, (3, 3, 4, 16)).astype(np.float32)
    bias = rng.normal(0, 0.3, 16).astype(np.float32)
    expected_y, expected_h, expected_c = numpy_conv_lstm(
        x, input_kernel, hidden_kernel, bias, stride
    )
    y, (h, c) = jax.jit(conv_lstm, static_argnames="strides")(
        x, input_kernel, hidden_kernel, bias, strides=stride
    )
    assert_close(y, expected_y, 1e-4)
    assert_close(h, expected_h, 1e-4)
    assert_close(c, expected_c, 1e-4)
    h1, c1 = conv_lstm_cell(
        x[:, 0],
        np.zeros_like(h),
        np.zeros_like(c),
        input_kernel,
        hidden_kernel,
        bias,
        strides=stride,
    )
    assert_close(h1, expected_y[:, 0], 1e-4)


def test_conv_lstm_bfloat16_keeps_dtype():
    x = jnp.ones((1, 2, 4, 4, 2), jnp.bfloat16)
    y, (h, c) = conv_lstm(x, jnp.ones((3, 3, 2, 8)) * 0.1, jnp.ones((3, 3, 2, 8)) * 0.1)
    assert y.dtype == h.dtype == c.dtype == jnp.bfloat16
    assert y.shape == (1, 2, 4, 4, 2)


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,message",
    [
        ({"direction": "backward"}, "direction"),
        ({"direction": "bidirectional"}, "input_kernel"),
        ({"activations": ("sigmoid", "tanh", "swish")}, "activation"),
        ({"activations": ("sigmoid", "tanh")}, "activations"),
        ({"hidden_state": np.zeros((1, 2, HIDDEN))}, "hidden_state"),
    ],
)
def test_lstm_errors_name_the_option(options, message):
    w = onnx_weights(4, 1)
    with pytest.raises(ValueError, match=message):
        recurrent.lstm(*axonnx_args(w), **options)
