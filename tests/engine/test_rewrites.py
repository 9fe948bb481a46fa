"""The engine's rewrites (`axonnx/engine/rewrites.py`, `conv_forms.py`): same outputs
as onnxruntime, stored parameters untouched, options reaching XLA."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.engine import CPU_COMPILER_OPTIONS, Engine, engine_for
from axonnx.engine import options as engine_options
from axonnx.engine.conv_forms import (
    CONV_HWIO,
    FORMS,
    applicable,
    choose_form,
    few_taps,
    forced_form,
)

CPU_OPTION = next(iter(CPU_COMPILER_OPTIONS))

# (kernel shape, attributes): 3×3 padded, strided, 1×1 pointwise, 1×1 strided,
# grouped, dilated, SAME_UPPER, asymmetric pads, no bias; each through XLA's
# convolution (16 input channels) and as shifted slices (2 input channels, `few_taps`),
# plus depthwise and channel-multiplier forms.
KERNEL_ATTRS = [
    ((3, 3), {"pads": [1, 1, 1, 1]}),
    ((3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 1), {}),
    ((1, 1), {"strides": [2, 2]}),
    ((3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    ((3, 3), {"dilations": [2, 2]}),
    ((3, 2), {"auto_pad": "SAME_UPPER", "strides": [2, 1]}),
    ((2, 3), {"pads": [0, 1, 2, 0]}),
    ((3, 3), {"bias": False}),
]
CASES = [
    *(((64, 16 // a.get("group", 1), *k), a) for k, a in KERNEL_ATTRS),  # XLA
    *(((6, 2 // a.get("group", 1), *k), a) for k, a in KERNEL_ATTRS),  # taps
    ((4, 1, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),  # depthwise
    ((8, 1, 3, 3), {"group": 4, "strides": [2, 2]}),  # depthwise, multiplier 2
]
# every form on shapes of its class: depthwise with asymmetric padding, strides,
# dilation, a channel multiplier, 5×5 and no bias; grouped with several channels per
# group; 1×1 strided and padded; dense strided and dilated
FORM_CASES = [
    ((6, 1, 5, 5), {"group": 6, "pads": [2, 1, 0, 2], "strides": [2, 1]}),
    ((6, 1, 3, 3), {"group": 6, "dilations": [2, 1], "pads": [2, 1, 2, 1], "bias": False}),
    ((12, 1, 3, 3), {"group": 6, "strides": [2, 2], "pads": [1, 1, 1, 1]}),  # multiplier 2
    ((9, 2, 3, 2), {"group": 3, "strides": [2, 1], "dilations": [1, 2], "bias": False}),
    ((8, 6, 1, 1), {"strides": [2, 2], "pads": [1, 0, 0, 1]}),
    ((8, 6, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2], "dilations": [1, 2]}),
]


def _hwio(kernel_shape: tuple[int, ...]) -> tuple[int, ...]:
    o, i, h, w = kernel_shape
    return (h, w, i, o)


FORM_PAIRS = [
    (form, kernel_shape, attrs)
    for form in FORMS
    for kernel_shape, attrs in FORM_CASES
    if applicable(
        form, (*kernel_shape[2:], kernel_shape[1], kernel_shape[0]), attrs.get("group", 1)
    )
]


def _channels(kernel_shape, attrs) -> int:
    return kernel_shape[1] * attrs.get("group", 1)


def _conv_model(kernel_shape, attrs) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    channels = _channels(kernel_shape, attrs)
    attrs = dict(attrs)
    bias = attrs.pop("bias", True)
    inits = [numpy_helper.from_array(rng.standard_normal(kernel_shape).astype(np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(
            numpy_helper.from_array(rng.standard_normal(kernel_shape[0]).astype(np.float32), "b")
        )
        inputs.append("b")
    nodes = [
        helper.make_node("Conv", inputs, ["c"], name="conv", **attrs),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", channels, 9, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize(("kernel_shape", "attrs"), CASES)
def test_nhwc_conv_matches_onnxruntime(kernel_shape, attrs):
    proto = _conv_model(kernel_shape, attrs)
    x = np.random.default_rng(1).standard_normal((2, _channels(kernel_shape, attrs), 9, 10))
    x = x.astype(np.float32)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    model, state = ax.import_onnx(proto)
    assert any(n.op == CONV_HWIO for n in engine_for(model).fast.plan.order)
    got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("form", "kernel_shape", "attrs"), FORM_PAIRS)
def test_every_form_matches_onnxruntime(form, kernel_shape, attrs):
    proto = _conv_model(kernel_shape, attrs)
    x = np.random.default_rng(4).standard_normal((2, _channels(kernel_shape, attrs), 9, 10))
    x = x.astype(np.float32)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    model, state = ax.import_onnx(proto)
    with forced_form(form):
        got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# one strided, padded case per form (multiplier 2 where grouped)
GRAD_PAIRS = [p for p in FORM_PAIRS if p[1:] in (FORM_CASES[2], FORM_CASES[4])]


@pytest.mark.parametrize(("form", "kernel_shape", "attrs"), GRAD_PAIRS)
def test_every_form_has_the_reference_gradient(form, kernel_shape, attrs):
    proto = _conv_model(kernel_shape, attrs)
    x = np.random.default_rng(5).standard_normal((2, _channels(kernel_shape, attrs), 9, 10))
    model, state = ax.import_onnx(proto)
    predict_fn = ax.build(model)[1]
    reference = Engine(model, fast=False).apply

    def loss(fn):
        return lambda params, x: jnp.sum(jnp.sin(fn(ax.ModelState(params, state.state), x)["y"]))

    with forced_form(form):  # traced here
        got = jax.grad(loss(predict_fn), argnums=(0, 1))(state.params, jnp.float32(x))
    expected = jax.grad(loss(reference), argnums=(0, 1))(state.params, jnp.float32(x))
    leaves = zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected), strict=True)
    for g, e in leaves:
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4, atol=1e-4)


def test_forms_are_chosen_by_shape_class():
    same = ((1, 1), (1, 1))

    def form(x_shape, kernel_shape, strides=(1, 1), dilation=(1, 1), groups=1):
        return choose_form(x_shape, kernel_shape, strides, same, dilation, groups)

    assert form((1, 64, 56, 56), (1, 1, 64, 256)) == "matmul"
    assert form((8, 512, 28, 28), (1, 1, 512, 1024), strides=(2, 2)) == "matmul"
    assert form((1, 240, 28, 28), (5, 5, 1, 240), groups=240) == "depthwise"
    assert form((8, 64, 14, 14), (3, 3, 1, 128), (2, 2), (2, 2), groups=64) == "depthwise"
    assert form((1, 512, 14, 14), (3, 3, 16, 512), groups=32) == "grouped"
    assert form((8, 128, 56, 56), (3, 3, 4, 128), groups=32) == "grouped"
    assert form((8, 512, 14, 14), (3, 3, 16, 512), groups=32) == "xla"  # small, batched
    assert form((1, 64, 56, 56), (3, 3, 64, 64)) == "xla"
    assert form((1, 3, 224, 224), (3, 3, 3, 16), strides=(2, 2)) == "taps"
    with forced_form("grouped"):  # where it applies
        assert form((1, 64, 56, 56), (3, 3, 1, 64), groups=64) == "grouped"
        assert form((1, 64, 56, 56), (3, 3, 64, 64)) == "xla"
    with pytest.raises(ValueError, match="forced_form: expected one of"):
        forced_form("winograd").__enter__()


def test_both_convolution_forms_are_covered():
    hwio = [_hwio(k) for k, _ in CASES]
    assert any(few_taps(k) for k in hwio) and any(not few_taps(k) for k in hwio)
    assert few_taps((3, 3, 1, 8)) and few_taps((3, 3, 4, 16))
    assert not few_taps((3, 3, 8, 16))  # more than TAPS_LIMIT products per output
    assert not few_taps((3, 3, 4, 64))  # more than ENTRIES_LIMIT kernel entries
    assert not few_taps((1, 1, 2, 8))  # pointwise: a matmul


def test_rewrite_leaves_the_stored_kernel_alone():
    proto = _conv_model((6, 4, 3, 3), {"pads": [1, 1, 1, 1]})
    model, state = ax.import_onnx(proto)
    before = np.asarray(state.params["conv"]["kernel"]).copy()
    ax.predict(model, state, {"x": np.zeros((1, 4, 9, 10), np.float32)})
    after = np.asarray(state.params["conv"]["kernel"])
    assert after.shape == (6, 4, 3, 3) and after.tobytes() == before.tobytes()
    assert after.tobytes() == numpy_helper.to_array(proto.graph.initializer[0]).tobytes()


def test_cpu_compiler_options_reach_xla_and_change_no_result():
    proto = _conv_model((6, 4, 1, 1), {})
    x = np.random.default_rng(2).standard_normal((3, 4, 9, 10)).astype(np.float32)
    model, state = ax.import_onnx(proto)
    tuned = np.asarray(Engine(model)(state, {"x": x})["y"])
    plain = np.asarray(Engine(model, compiler_options={})(state, {"x": x})["y"])
    np.testing.assert_allclose(tuned, plain, rtol=1e-5, atol=1e-5)
    broken = Engine(model, compiler_options={CPU_OPTION: "NOT_A_FUSION_TYPE"})
    with pytest.raises(Exception, match=CPU_OPTION):
        broken(state, {"x": x})


def test_policied_layers_run_on_parameters_cast_once():
    proto = _conv_model((6, 2, 3, 3), {"pads": [1, 1, 1, 1]})
    model, state = ax.import_onnx(proto)
    x = np.random.default_rng(3).standard_normal((2, 2, 9, 10)).astype(np.float32)
    bf16 = ax.policy("float32", "bfloat16", "float32")
    policied = ax.apply_policy(model, bf16, only=["conv"])
    engine = Engine(policied)
    # laid out once in the compute dtype for the compiled function; the caller's state
    # and the stored model keep float32
    assert engine.fast.prepare(state).params["conv"]["kernel"].dtype == jnp.bfloat16
    assert state.params["conv"]["kernel"].dtype == np.float32
    plain = np.asarray(Engine(policied, fast=False)(state, {"x": x})["y"], np.float32)
    np.testing.assert_array_equal(np.asarray(engine(state, {"x": x})["y"], np.float32), plain)


def test_default_compiler_options_fall_back_when_xla_rejects_them(monkeypatch):
    options_module = engine_options
    assert options_module.default_compiler_options() == CPU_COMPILER_OPTIONS  # this jaxlib
    options_module.default_compiler_options.cache_clear()
    monkeypatch.setitem(options_module.CPU_COMPILER_OPTIONS, CPU_OPTION, "NOT_A_FUSION_TYPE")
    try:
        assert options_module.default_compiler_options() == {}
        proto = _conv_model((6, 4, 1, 1), {})
        x = np.ones((1, 4, 9, 10), np.float32)
        expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
        model, state = ax.import_onnx(proto)
        got = Engine(model)(state, {"x": x})["y"]  # runs with XLA's defaults
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
    finally:
        options_module.default_compiler_options.cache_clear()
