"""Fuzzing the importer: random small ONNX graphs, and mutated bytes of valid files.

- Random graphs of supported ops (elementwise, matmul, gemm, reshape, transpose,
  concat, slice, gather, pad, reductions, softmax, conv, pooling, …) with random shapes
  and attributes: importing raises nothing but `AxonnxError`; whenever onnxruntime
  runs the graph, axonnx gives the same outputs (eagerly, and sometimes under jit).
- Mutated bytes of valid models (`models/*.onnx`, small generated ones, a saved
  `.axonnx` file): loading finishes and raises nothing but `AxonnxError`.

CI runs the `ci` hypothesis profile (a few hundred examples, under two minutes). For a
longer hunt:

    HYPOTHESIS_PROFILE=long pytest tests/reliability/test_fuzz.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.compiler import run
from axonnx.errors import AxonnxError
from axonnx.plan import plan

PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
OPSET = 17
MODELS = Path(__file__).parents[2] / "models"
FLOAT = TensorProto.FLOAT


@dataclass
class Graph:
    """A graph being drawn: nodes, initializers, and the float values with known shapes."""

    inputs: list[tuple[str, tuple[int, ...]]]
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    values: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    extra_outputs: list[str] = field(default_factory=list)
    count: int = 0

    def name(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, array: np.ndarray) -> str:
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def model(self, outputs: list[str]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            "fuzz",
            [helper.make_tensor_value_info(n, FLOAT, list(s)) for n, s in self.inputs],
            [helper.make_tensor_value_info(n, _output_type(n), None) for n in outputs],
            self.inits,
        )
        opsets = [helper.make_opsetid("", OPSET)]
        return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def _output_type(name: str) -> int:
    return TensorProto.INT64 if name.startswith("i") else FLOAT


# ---------------------------------------------------------------- drawing one op

UNARY = ["Relu", "Neg", "Abs", "Exp", "Sigmoid", "Tanh", "Floor", "Ceil", "Softplus", "Sqrt"]
UNARY += ["Log", "Erf", "Sin", "Cos", "Softsign", "Reciprocal", "Sign", "Round", "Identity"]
BINARY = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"]
REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2"]
REDUCE += ["ReduceLogSumExp", "ReduceSumSquare", "ReduceL1"]


def _unary(d, g, x):
    op = d.draw(st.sampled_from(UNARY + ["LeakyRelu", "Elu", "HardSigmoid", "Selu"]))
    attrs = {}
    if op in ("LeakyRelu", "Elu"):
        attrs["alpha"] = d.draw(st.floats(0.01, 2.0))
    if op == "HardSigmoid":
        attrs = {"alpha": d.draw(st.floats(0.05, 1.0)), "beta": d.draw(st.floats(0.0, 1.0))}
    return helper.make_node(op, [x[0]], [g.name()], **attrs)


def _broadcastable(d, shape):
    keep = d.draw(st.integers(0, len(shape)))
    suffix = shape[len(shape) - keep :]
    return tuple(1 if d.draw(st.booleans()) else s for s in suffix)


def _binary(d, g, x):
    op = d.draw(st.sampled_from(BINARY))
    same = [v for v in g.values if v[1] == x[1]]
    if d.draw(st.booleans()) and same:
        other = d.draw(st.sampled_from(same))[0]
    else:
        shape = _broadcastable(d, x[1])
        values = np.random.default_rng(d.draw(st.integers(0, 99))).standard_normal(shape)
        other = g.const(values.astype(np.float32))
    pair = [x[0], other] if d.draw(st.booleans()) else [other, x[0]]
    return helper.make_node(op, pair, [g.name()])


def _matmul(d, g, x):
    k, m = x[1][-1] if x[1] else 1, d.draw(st.integers(1, 4))
    if not x[1]:
        return None
    w = np.random.default_rng(k * m).standard_normal((k, m)).astype(np.float32)
    if len(x[1]) == 2 and d.draw(st.booleans()):
        trans_b = d.draw(st.booleans())
        b = g.const(w.T.copy() if trans_b else w)
        c = g.const(np.arange(m, dtype=np.float32))
        alpha, beta = d.draw(st.floats(-2, 2)), d.draw(st.floats(-2, 2))
        return helper.make_node(
            "Gemm", [x[0], b, c], [g.name()], transB=int(trans_b), alpha=alpha, beta=beta
        )
    return helper.make_node("MatMul", [x[0], g.const(w)], [g.name()])


def _reshape(d, g, x):
    size = int(np.prod(x[1]))
    kind = d.draw(st.sampled_from(["flat", "first", "ones", "zero", "flatten"]))
    if kind == "flatten":
        axis = d.draw(st.integers(-len(x[1]), len(x[1])))
        return helper.make_node("Flatten", [x[0]], [g.name()], axis=axis)
    target = {
        "flat": [-1],
        "first": [x[1][0] if x[1] else 1, -1],
        "ones": [1, size, 1],
        "zero": [0, -1] if x[1] else [-1],
    }[kind]
    return helper.make_node("Reshape", [x[0], g.const(np.array(target, np.int64))], [g.name()])


def _transpose(d, g, x):
    if not x[1]:
        return None
    perm = d.draw(st.permutations(range(len(x[1]))))
    return helper.make_node("Transpose", [x[0]], [g.name()], perm=list(perm))


def _concat(d, g, x):
    if not x[1]:
        return None
    axis = d.draw(st.integers(-len(x[1]), len(x[1]) - 1))
    count = d.draw(st.integers(1, 3))
    return helper.make_node("Concat", [x[0]] * count, [g.name()], axis=axis)


def _reduce(d, g, x):
    op = d.draw(st.sampled_from(REDUCE))
    rank = len(x[1])
    axes = (
        d.draw(st.lists(st.integers(-rank, rank - 1), max_size=rank, unique=True)) if rank else []
    )
    axes = sorted({a % rank for a in axes}) if rank else []
    keepdims = int(d.draw(st.booleans()))
    if op == "ReduceSum":
        inputs = [x[0], g.const(np.array(axes, np.int64))] if axes else [x[0]]
        return helper.make_node(op, inputs, [g.name()], keepdims=keepdims)
    attrs = {"axes": axes} if axes else {}
    return helper.make_node(op, [x[0]], [g.name()], keepdims=keepdims, **attrs)


def _softmax(d, g, x):
    if not x[1]:
        return None
    op = d.draw(st.sampled_from(["Softmax", "LogSoftmax", "Hardmax"]))
    axis = d.draw(st.integers(-len(x[1]), len(x[1]) - 1))
    return helper.make_node(op, [x[0]], [g.name()], axis=axis)


def _slice(d, g, x):
    if not x[1]:
        return None
    axis = d.draw(st.integers(0, len(x[1]) - 1))
    size = x[1][axis]
    start, end = d.draw(st.integers(-size - 1, size + 1)), d.draw(st.integers(-size - 1, size + 1))
    step = d.draw(st.sampled_from([1, 2, -1, -2]))
    consts = [np.array([v], np.int64) for v in (start, end, axis, step)]
    return helper.make_node("Slice", [x[0], *map(g.const, consts)], [g.name()])


def _gather(d, g, x):
    if not x[1]:
        return None
    axis = d.draw(st.integers(0, len(x[1]) - 1))
    size = x[1][axis]
    indices = d.draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=3))
    index = g.const(np.array(indices, np.int64))
    return helper.make_node("Gather", [x[0], index], [g.name()], axis=axis)


def _pad(d, g, x):
    rank = len(x[1])
    pads = [d.draw(st.integers(0, 2)) for _ in range(2 * rank)]
    mode = d.draw(st.sampled_from(["constant", "edge", "reflect"]))
    if mode == "reflect":
        pads = [min(p, s - 1) for p, s in zip(pads, list(x[1]) * 2)]
    inputs = [x[0], g.const(np.array(pads, np.int64))]
    return helper.make_node("Pad", inputs, [g.name()], mode=mode)


def _shape_ops(d, g, x):
    op = d.draw(st.sampled_from(["Unsqueeze", "Squeeze", "Tile", "Expand", "Clip"]))
    rank = len(x[1])
    if op == "Unsqueeze":
        axis = d.draw(st.integers(-rank - 1, rank))
        return helper.make_node(op, [x[0], g.const(np.array([axis], np.int64))], [g.name()])
    if op == "Squeeze":
        ones = [i for i, s in enumerate(x[1]) if s == 1]
        return helper.make_node(op, [x[0], g.const(np.array(ones, np.int64))], [g.name()])
    if op == "Tile":
        repeats = [d.draw(st.integers(1, 2)) for _ in range(rank)]
        return helper.make_node(op, [x[0], g.const(np.array(repeats, np.int64))], [g.name()])
    if op == "Expand":
        shape = [d.draw(st.integers(1, 3))] + [s if s != 1 else 2 for s in x[1]]
        return helper.make_node(op, [x[0], g.const(np.array(shape, np.int64))], [g.name()])
    low, high = sorted([d.draw(st.floats(-2, 2)), d.draw(st.floats(-2, 2))])
    bounds = [g.const(np.array(low, np.float32)), g.const(np.array(high, np.float32))]
    return helper.make_node("Clip", [x[0], *bounds], [g.name()])


def _conv(d, g, x):
    if len(x[1]) != 4:
        return None
    _, channels, height, width = x[1]
    kh, kw = d.draw(st.integers(1, max(1, height))), d.draw(st.integers(1, max(1, width)))
    strides = [d.draw(st.integers(1, 2)), d.draw(st.integers(1, 2))]
    op = d.draw(st.sampled_from(["Conv", "MaxPool", "AveragePool"]))
    pads = [d.draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw)]
    if op != "Conv":
        attrs = {"kernel_shape": [kh, kw], "strides": strides, "pads": pads}
        if op == "AveragePool":
            attrs["count_include_pad"] = int(d.draw(st.booleans()))
        return helper.make_node(op, [x[0]], [g.name()], **attrs)
    out = d.draw(st.integers(1, 3))
    weight = np.random.default_rng(out).standard_normal((out, channels, kh, kw))
    inputs = [x[0], g.const(weight.astype(np.float32))]
    if d.draw(st.booleans()):
        inputs.append(g.const(np.arange(out, dtype=np.float32)))
    return helper.make_node("Conv", inputs, [g.name()], strides=strides, pads=pads)


def _argmax(d, g, x):
    if not x[1]:
        return None
    op = d.draw(st.sampled_from(["ArgMax", "ArgMin"]))
    axis = d.draw(st.integers(-len(x[1]), len(x[1]) - 1))
    node = helper.make_node(op, [x[0]], [g.name("i")], axis=axis, keepdims=0)
    g.extra_outputs.append(node.output[0])
    return node


OPS = [_unary, _binary, _matmul, _reshape, _transpose, _concat, _reduce, _softmax]
OPS += [_slice, _gather, _pad, _shape_ops, _conv, _argmax]


def _infer_shape(g: Graph, node: onnx.NodeProto) -> tuple[int, ...] | None:
    """The static float32 shape of the node's output (onnx shape inference), or None."""
    try:
        inferred = onnx.shape_inference.infer_shapes(g.model([node.output[0]]), strict_mode=True)
    except Exception:  # noqa: BLE001  (onnx raises several types for invalid graphs)
        return None
    for value in inferred.graph.output:
        tensor = value.type.tensor_type
        dims = tensor.shape.dim
        if tensor.elem_type == FLOAT and all(dim.HasField("dim_value") for dim in dims):
            return tuple(dim.dim_value for dim in dims)
    return None


@st.composite
def graphs(draw):
    """A random model, its inputs, and its output names."""
    d = _Drawer(draw)
    rank = draw(st.integers(0, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    g = Graph([("x", shape)])
    g.values.append(("x", shape))
    if draw(st.booleans()):
        g.inputs.append(("z", shape))
        g.values.append(("z", shape))
    for _ in range(draw(st.integers(1, 4))):
        x = draw(st.sampled_from(g.values))
        node = draw(st.sampled_from(OPS))(d, g, x)
        if node is None:
            continue
        g.nodes.append(node)
        if node.op_type in ("ArgMax", "ArgMin"):
            continue
        out_shape = _infer_shape(g, node)
        if out_shape is None or not 0 < int(np.prod(out_shape)) <= 4096:
            break  # an invalid node or an empty value is the last one
        g.values.append((node.output[0], out_shape))
    last = g.nodes[-1].output[0] if g.nodes else "x"
    outputs = list(dict.fromkeys([last, *g.extra_outputs]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    feed = {n: rng.standard_normal(s).astype(np.float32) for n, s in g.inputs}
    return g.model(outputs), feed, outputs


class _Drawer:
    """`d.draw(strategy)`, so the op functions read like the hypothesis `data` API."""

    def __init__(self, draw):
        self.draw = draw


def _onnxruntime(model: onnx.ModelProto, feed: dict):
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        return session.run(None, feed)
    except Exception:  # noqa: BLE001  (onnxruntime refuses many invalid graphs)
        return None


def _axonnx(model: onnx.ModelProto, feed: dict, jitted: bool):
    imported, state = ax.import_onnx(model)
    if jitted:
        return ax.predict(imported, state, feed)
    return run(plan(imported), state, feed)[0]


def test_onnxruntime_runs_a_plain_generated_graph():
    g = Graph([("x", (2, 3))])
    g.nodes.append(helper.make_node("Relu", ["x"], ["v1"]))
    feed = {"x": np.ones((2, 3), np.float32)}
    assert _onnxruntime(g.model(["v1"]), feed) is not None


@settings(PROFILE, suppress_health_check=list(HealthCheck))
@given(case=graphs(), jitted=st.sampled_from([False] * 7 + [True]))
def test_random_graphs_match_onnxruntime_or_fail_cleanly(case, jitted):
    model, feed, outputs = case
    expected = _onnxruntime(model, feed)
    if expected is None:
        try:
            _axonnx(model, feed, jitted)
        except AxonnxError:
            pass
        return
    actual = _axonnx(model, feed, jitted)
    for name, want in zip(outputs, expected, strict=True):
        got = np.asarray(actual[name])
        assert got.shape == want.shape, (name, got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5, err_msg=name)


# ---------------------------------------------------------------- mutated bytes


def _seed_files() -> dict[str, bytes]:
    small = {p.name: p.read_bytes() for p in sorted(MODELS.glob("*.onnx"))}
    x = helper.make_tensor_value_info("x", FLOAT, [2, 3])
    then = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", FLOAT, [2, 3])],
    )
    other = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", FLOAT, [2, 3])],
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
        helper.make_node("Conv", ["img", "w"], ["o"], pads=[1, 1, 1, 1]),
    ]
    inits = [
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w"),
    ]
    graph = helper.make_graph(
        nodes,
        "seed",
        [x, helper.make_tensor_value_info("img", FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info(n, FLOAT, None) for n in ("y", "o")],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    small["if_conv.onnx"] = model.SerializeToString()
    return small


SEEDS = _seed_files()


@st.composite
def mutations(draw, seeds: dict[str, bytes]):
    """A seed file with a few random byte edits: flips, overwrites, insertions,
    deletions, truncation, repeated slices."""
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@settings(PROFILE, max_examples=2 * PROFILE.max_examples, suppress_health_check=list(HealthCheck))
@given(data=mutations(SEEDS))
def test_mutated_onnx_bytes_load_or_fail_cleanly(data):
    try:
        ax.import_onnx(data)
    except AxonnxError:
        pass


@pytest.fixture(scope="module")
def saved_seed(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("seed") / "cnn.axonnx"
    model, state = ax.import_onnx(SEEDS["if_conv.onnx"])
    ax.save(path, model, state)
    return path.read_bytes()


@settings(PROFILE, max_examples=max(20, PROFILE.max_examples // 3))
@given(data=st.data())
def test_mutated_axonnx_bytes_load_or_fail_cleanly(data, saved_seed, tmp_path_factory):
    mutated = data.draw(mutations({"seed": saved_seed}))
    path = tmp_path_factory.mktemp("mutated") / "m.axonnx"
    path.write_bytes(mutated)
    try:
        ax.load(path)
    except AxonnxError:
        pass
