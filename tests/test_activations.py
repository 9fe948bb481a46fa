"""Tests for axonnx.activations against NumPy formulas, the ONNX reference evaluator
and finite-difference gradients. One table drives every test."""

import inspect
import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from jax.test_util import check_grads
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from axonnx import activations as act


def _onnx_default(op: str, attr: str) -> Any:
    return helper.get_attribute_value(onnx.defs.get_schema(op).attributes[attr].default_value)


SELU_ALPHA = _onnx_default("Selu", "alpha")
SELU_GAMMA = _onnx_default("Selu", "gamma")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _logsumexp(x, axis, keepdims=True):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _gelu_exact(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


class Case(NamedTuple):
    fn: Callable
    ref: Callable  # float64 NumPy formula
    kwargs: dict = {}
    onnx_op: str | None = None
    onnx_attrs: dict = {}
    onnx_inputs: tuple = ()  # constant extra inputs, e.g. Clip's (min, max)


CASES = {
    "celu": Case(act.celu, lambda x: np.maximum(0, x) + np.minimum(0, np.expm1(x)), onnx_op="Celu"),
    "celu_alpha": Case(
        act.celu,
        lambda x: np.maximum(0, x) + np.minimum(0, 2.0 * np.expm1(x / 2.0)),
        {"alpha": 2.0},
        "Celu",
        {"alpha": 2.0},
    ),
    "elu": Case(act.elu, lambda x: np.where(x > 0, x, np.expm1(x)), onnx_op="Elu"),
    "elu_alpha": Case(
        act.elu,
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
        {"alpha": 0.5},
        "Elu",
        {"alpha": 0.5},
    ),
    "exp": Case(act.exp, np.exp, onnx_op="Exp"),
    "gelu": Case(act.gelu, _gelu_exact, onnx_op="Gelu"),
    "gelu_tanh": Case(act.gelu, _gelu_tanh, {"approximate": True}, "Gelu", {"approximate": "tanh"}),
    "hard_sigmoid": Case(
        act.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1), onnx_op="HardSigmoid"
    ),
    "hard_sigmoid_ab": Case(
        act.hard_sigmoid,
        lambda x: np.clip(0.3 * x + 0.4, 0, 1),
        {"alpha": 0.3, "beta": 0.4},
        "HardSigmoid",
        {"alpha": 0.3, "beta": 0.4},
    ),
    "hard_silu": Case(
        act.hard_silu, lambda x: x * np.clip(x / 6.0 + 0.5, 0, 1), onnx_op="HardSwish"
    ),
    "hard_tanh": Case(
        act.hard_tanh, lambda x: np.clip(x, -1, 1), onnx_op="Clip", onnx_inputs=(-1.0, 1.0)
    ),
    "leaky_relu": Case(
        act.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x), onnx_op="LeakyRelu"
    ),
    "leaky_relu_alpha": Case(
        act.leaky_relu,
        lambda x: np.where(x >= 0, x, 0.2 * x),
        {"alpha": 0.2},
        "LeakyRelu",
        {"alpha": 0.2},
    ),
    "linear": Case(act.linear, lambda x: x, onnx_op="Identity"),
    "log_sigmoid": Case(act.log_sigmoid, lambda x: -_softplus(-x)),
    "log_softmax": Case(act.log_softmax, lambda x: x - _logsumexp(x, -1), onnx_op="LogSoftmax"),
    "log_softmax_axis0": Case(
        act.log_softmax, lambda x: x - _logsumexp(x, 0), {"axis": 0}, "LogSoftmax", {"axis": 0}
    ),
    "log_sumexp": Case(
        act.log_sumexp, lambda x: _logsumexp(x, -1), onnx_op="ReduceLogSumExp", onnx_inputs=([-1],)
    ),
    "log_sumexp_axis0": Case(
        act.log_sumexp,
        lambda x: _logsumexp(x, 0, keepdims=False),
        {"axis": 0, "keepdims": False},
        "ReduceLogSumExp",
        {"keepdims": 0},
        ([0],),
    ),
    "mish": Case(act.mish, lambda x: x * np.tanh(_softplus(x)), onnx_op="Mish"),
    "relu": Case(act.relu, lambda x: np.maximum(x, 0), onnx_op="Relu"),
    "relu6": Case(act.relu6, lambda x: np.clip(x, 0, 6), onnx_op="Clip", onnx_inputs=(0.0, 6.0)),
    "selu": Case(
        act.selu,
        lambda x: SELU_GAMMA * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        onnx_op="Selu",
    ),
    "selu_ag": Case(
        act.selu,
        lambda x: 1.5 * np.where(x > 0, x, 2.0 * np.expm1(x)),
        {"alpha": 2.0, "gamma": 1.5},
        "Selu",
        {"alpha": 2.0, "gamma": 1.5},
    ),
    "sigmoid": Case(act.sigmoid, _sigmoid, onnx_op="Sigmoid"),
    "silu": Case(act.silu, lambda x: x * _sigmoid(x), onnx_op="Swish"),
    "softmax": Case(act.softmax, lambda x: np.exp(x - _logsumexp(x, -1)), onnx_op="Softmax"),
    "softmax_axis0": Case(
        act.softmax, lambda x: np.exp(x - _logsumexp(x, 0)), {"axis": 0}, "Softmax", {"axis": 0}
    ),
    "softplus": Case(act.softplus, _softplus, onnx_op="Softplus"),
    "softsign": Case(act.softsign, lambda x: x / (1.0 + np.abs(x)), onnx_op="Softsign"),
    "tanh": Case(act.tanh, np.tanh, onnx_op="Tanh"),
}
ONNX_CASES = [name for name, case in CASES.items() if case.onnx_op]
# Twice continuously differentiable: gradients checked to second order.
SMOOTH = set(
    "exp gelu gelu_tanh linear log_sigmoid log_softmax log_softmax_axis0 log_sumexp "
    "log_sumexp_axis0 mish sigmoid silu softmax softmax_axis0 softplus tanh".split()
)
SHAPES = [(1,), (7,), (3, 5), (2, 3, 4)]
TOLERANCES = {  # dtype: (rtol, atol)
    jnp.float32: (1e-5, 1e-6),
    jnp.float16: (3e-3, 1e-2),
    jnp.bfloat16: (2e-2, 6e-2),
}


def _input(shape: tuple[int, ...], dtype=jnp.float32, seed: int = 0) -> jax.Array:
    """Values in about [-9, 9], covering every branch of every activation."""
    return (3.0 * jax.random.normal(jax.random.key(seed), shape)).astype(dtype)


def _apply(name: str, x: jax.Array) -> jax.Array:
    case = CASES[name]
    return case.fn(x, **case.kwargs)


def _run_onnx(case: Case, x: np.ndarray) -> np.ndarray:
    extra = [
        np.asarray(v, dtype=np.int64 if isinstance(v, list) else x.dtype) for v in case.onnx_inputs
    ]
    names = [f"in{i}" for i in range(len(extra))]
    node = helper.make_node(case.onnx_op, ["x", *names], ["y"], **case.onnx_attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, n) for v, n in zip(extra, names, strict=True)],
    )
    opset = onnx.defs.get_schema(case.onnx_op).since_version
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(opset, 20))])
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def test_table_covers_every_public_activation():
    assert {case.fn for case in CASES.values()} == {getattr(act, n) for n in act.__all__}


@pytest.mark.parametrize("dtype", list(TOLERANCES), ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy_formula(name, shape, dtype):
    x = _input(shape, dtype)
    out = _apply(name, x)
    expected = CASES[name].ref(np.asarray(x, dtype=np.float64))
    assert out.dtype == jnp.dtype(dtype)
    assert out.shape == expected.shape
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ONNX_CASES)
def test_matches_onnx_reference(name, shape):
    x = _input(shape, seed=1)
    expected = _run_onnx(CASES[name], np.asarray(x))
    np.testing.assert_allclose(np.asarray(_apply(name, x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ONNX_CASES)
def test_keyword_defaults_match_onnx_schema(name):
    case = CASES[name]
    attributes = onnx.defs.get_schema(case.onnx_op).attributes
    for param in inspect.signature(case.fn).parameters.values():
        if param.kind is not param.KEYWORD_ONLY or param.name not in attributes:
            continue
        default = attributes[param.name].default_value
        if default.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT):
            assert param.default == pytest.approx(helper.get_attribute_value(default))


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_finite_differences(name):
    # A grid whose points lie >= 0.01 from every kink (0, +-1, -4/3, 2, +-2.5, +-3, 6).
    order = 2 if name in SMOOTH else 1
    x = jnp.linspace(-4.85, 4.95, 15).reshape(3, 5)
    check_grads(
        partial(_apply, name), (x,), order=order, modes=("fwd", "rev"), atol=5e-2, rtol=5e-2
    )


def test_gelu_default_is_exact_unlike_jax():
    x = _input((16,))
    np.testing.assert_allclose(act.gelu(x), jax.nn.gelu(x, approximate=False), rtol=1e-6)
    assert not np.allclose(act.gelu(x), act.gelu(x, approximate=True), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["softmax", "softmax_axis0"])
def test_softmax_sums_to_one_along_axis(name):
    x = _input((4, 6))
    axis = CASES[name].kwargs.get("axis", -1)
    np.testing.assert_allclose(jnp.sum(_apply(name, x), axis=axis), 1.0, rtol=1e-6)
