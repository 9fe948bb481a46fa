"""The layout the engine's convolution forms compute in (`axonnx/engine/conv_forms.py`,
`rewrites.py`): pointwise convolutions on NHWC data unless the graph has grouped
convolutions, depthwise ones on NHWC data computed once; same outputs as onnxruntime."""

from __future__ import annotations

import jax
import numpy as np
import onnxruntime as ort
import pytest
from jax import lax
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.engine import engine_for
from axonnx.engine.conv_forms import CONV_HWIO, choose_form, conv_hwio


def _two_convs(c_in: int, per_group: int, groups: int):
    """A grouped or depthwise 3×3 conv (`groups` groups of `per_group` channels), ReLU,
    then a pointwise conv to 5 channels, on a (batch, c_in, 9, 10) input."""
    rng = np.random.default_rng(0)
    first = rng.standard_normal((c_in, per_group, 3, 3)).astype(np.float32)
    second = rng.standard_normal((5, c_in, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["h"], group=groups, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two_convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c_in, 9, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(first, "w1"), numpy_helper.from_array(second, "w2")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize(
    ("per_group", "groups", "layout"),
    [(1, 8, "nhwc"), (2, 4, "nchw")],  # depthwise beside NHWC, grouped beside NCHW
)
def test_pointwise_layout_follows_the_graph_and_matches_onnxruntime(per_group, groups, layout):
    proto = _two_convs(8, per_group, groups)
    x = np.random.default_rng(1).standard_normal((2, 8, 9, 10)).astype(np.float32)
    expected = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    model, state = ax.import_onnx(proto)
    convs = [n for n in engine_for(model).fast.plan.order if n.op == CONV_HWIO]
    assert [n.options["layout"] for n in convs] == [layout, layout]
    got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_pointwise_form_follows_the_layout():
    same = ((0, 0), (0, 0))
    args = ((1, 64, 56, 56), (1, 1, 64, 256), (1, 1), same, (1, 1), 1)
    assert choose_form(*args) == "matmul"
    assert choose_form(*args, layout="nchw") == "matmul_nchw"
    with pytest.raises(ValueError, match="conv_hwio: expected layout in"):
        choose_form(*args, layout="nwhc")


def test_depthwise_form_computes_its_padded_input_and_its_result_once():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 8, 9, 10)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 1, 8)).astype(np.float32)

    def depthwise(x, kernel):
        return conv_hwio(lax.exp(x), kernel, padding=((1, 1), (1, 1)), feature_group_count=8)

    text = jax.jit(depthwise).lower(x, kernel).as_text()
    assert text.count("optimization_barrier") == 2
    expected = lax.conv_general_dilated(
        np.exp(x),
        kernel.transpose(3, 2, 0, 1),
        (1, 1),
        ((1, 1), (1, 1)),
        feature_group_count=8,
    )
    np.testing.assert_allclose(
        np.asarray(jax.jit(depthwise)(x, kernel)), expected, rtol=1e-5, atol=1e-5
    )
