"""Convolution, pooling, resizing and normalization ops: forms the ONNX backend cases
leave out (old opsets, attribute forms, storage orders, dynamic RoiAlign sampling, …),
compared with onnx's reference evaluator or a NumPy formula."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from onnx import helper as oh
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep

RNG = np.random.default_rng(0)
IMAGE = RNG.normal(size=(2, 3, 7, 6)).astype(np.float32)


def one_node_model(node, inputs: dict, opset: int, constants: dict | None = None):
    """A model of `node` alone: graph inputs typed from `inputs`, initializers from
    `constants`."""
    values = [
        oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in inputs.items()
    ]
    initializers = [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()]
    outputs = [oh.make_empty_tensor_value_info(o) for o in node.output]
    graph = oh.make_graph([node], "one_node", values, outputs, initializers)
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])


def run_axonnx(node, inputs: dict, opset: int, constants: dict | None = None) -> list:
    model = one_node_model(node, inputs, opset, constants)
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        return list(AxonnxRep(model).run(dict(inputs)))


def run_reference(node, inputs: dict, opset: int, constants: dict | None = None) -> list:
    model = one_node_model(node, inputs, opset, constants)
    return list(ReferenceEvaluator(model).run(None, inputs))


def assert_close(actual: list, expected: list, rtol=1e-5, atol=1e-6) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def assert_same(node, inputs: dict, opset: int, constants: dict | None = None, **tol) -> None:
    expected = run_reference(node, inputs, opset, constants)
    assert_close(run_axonnx(node, inputs, opset, constants), expected, **tol)


# ---------------------------------------------------------------- pooling


def test_max_pool_opset_7_has_one_output():
    node = oh.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], pads=[1, 1, 1, 1])
    assert_same(node, {"x": IMAGE}, 7)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices_with_ceil_mode_dilations_and_storage_order(storage_order):
    node = oh.make_node(
        "MaxPool",
        ["x"],
        ["y", "i"],
        kernel_shape=[2, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        dilations=[1, 2],
        ceil_mode=1,
        storage_order=storage_order,
    )
    assert_same(node, {"x": IMAGE}, 12)


def test_lp_pool_p3_same_lower():
    node = oh.make_node(
        "LpPool", ["x"], ["y"], kernel_shape=[3, 3], p=3, auto_pad="SAME_LOWER", strides=[2, 2]
    )
    assert_same(node, {"x": IMAGE}, 18, rtol=1e-4)


# ---------------------------------------------------------------- convolution


def test_conv_transpose_output_shape_with_same_upper():
    w = RNG.normal(size=(3, 4, 3, 3)).astype(np.float32)
    node = oh.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        strides=[2, 2],
        output_shape=[13, 11],
        auto_pad="SAME_UPPER",
    )
    assert_same(node, {"x": IMAGE}, 22, {"w": w}, rtol=1e-4, atol=1e-5)


def test_grouped_conv_1d_same_lower_dilated():
    x = RNG.normal(size=(2, 4, 9)).astype(np.float32)
    w = RNG.normal(size=(6, 2, 3)).astype(np.float32)
    node = oh.make_node(
        "Conv", ["x", "w"], ["y"], group=2, dilations=[2], auto_pad="SAME_LOWER", strides=[2]
    )
    assert_same(node, {"x": x}, 11, {"w": w}, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- resizing


def test_resize_10_and_upsample_repeat_for_integer_scales():
    scales = np.array([1, 1, 2, 3], np.float32)
    expected = IMAGE.repeat(2, axis=2).repeat(3, axis=3)
    resize = oh.make_node("Resize", ["x", "s"], ["y"], mode="nearest")
    assert_close(run_axonnx(resize, {"x": IMAGE}, 10, {"s": scales}), [expected])
    upsample_9 = oh.make_node("Upsample", ["x", "s"], ["y"], mode="nearest")
    assert_close(run_axonnx(upsample_9, {"x": IMAGE}, 9, {"s": scales}), [expected])
    upsample_7 = oh.make_node("Upsample", ["x"], ["y"], mode="nearest", scales=list(scales))
    assert_close(run_axonnx(upsample_7, {"x": IMAGE}, 7), [expected])


def test_resize_10_linear_is_asymmetric():
    scales = np.array([1, 1, 1.5, 0.5], np.float32)
    old = oh.make_node("Resize", ["x", "s"], ["y"], mode="linear")
    new = oh.make_node(
        "Resize", ["x", "", "s"], ["y"], mode="linear", coordinate_transformation_mode="asymmetric"
    )
    expected = run_reference(new, {"x": IMAGE}, 13, {"s": scales})
    assert_close(run_axonnx(old, {"x": IMAGE}, 10, {"s": scales}), expected)


def test_resize_uint8_linear_rounds_and_sizes_from_graph_input():
    x = RNG.integers(0, 255, size=(1, 2, 5, 4)).astype(np.uint8)
    sizes = np.array([1, 2, 8, 7], np.int64)
    node = oh.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")
    assert_same(node, {"x": x, "sizes": sizes}, 19)


# ---------------------------------------------------------------- sampling


def _grid(shape) -> np.ndarray:
    return RNG.uniform(-1.3, 1.3, size=shape).astype(np.float32)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_cubic_padding_modes(padding_mode, align_corners):
    node = oh.make_node(
        "GridSample",
        ["x", "g"],
        ["y"],
        mode="cubic",
        padding_mode=padding_mode,
        align_corners=align_corners,
    )
    assert_same(node, {"x": IMAGE, "g": _grid((2, 4, 5, 2))}, 20, rtol=1e-4, atol=1e-5)


def test_grid_sample_16_names():
    inputs = {"x": IMAGE, "g": _grid((2, 4, 5, 2))}
    old = oh.make_node("GridSample", ["x", "g"], ["y"], mode="bicubic", padding_mode="border")
    new = oh.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode="border")
    assert_close(run_axonnx(old, inputs, 16), run_reference(new, inputs, 20), rtol=1e-4, atol=1e-5)


ROIS = np.array([[0.5, 0.5, 4.0, 5.5], [1.0, 0.0, 5.9, 3.0], [-2.0, -1.0, 9.0, 12.0]], np.float32)
BATCH = np.array([0, 1, 1], np.int64)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_adaptive_sampling_under_jit(mode):
    node = oh.make_node(
        "RoiAlign",
        ["x", "rois", "b"],
        ["y"],
        mode=mode,
        output_height=3,
        output_width=2,
        sampling_ratio=0,
        spatial_scale=0.8,
    )
    assert_same(node, {"x": IMAGE, "rois": ROIS, "b": BATCH}, 22, rtol=1e-4, atol=1e-5)


def test_roi_align_10_has_no_half_pixel_shift():
    inputs = {"x": IMAGE, "rois": ROIS, "b": BATCH}
    attrs = {"output_height": 2, "output_width": 2, "sampling_ratio": 2}
    old = oh.make_node("RoiAlign", ["x", "rois", "b"], ["y"], **attrs)
    new = oh.make_node(
        "RoiAlign",
        ["x", "rois", "b"],
        ["y"],
        **attrs,
        coordinate_transformation_mode="output_half_pixel",
    )
    assert_close(run_axonnx(old, inputs, 10), run_reference(new, inputs, 16), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- normalization


def test_batch_normalization_7_spatial_0():
    stats = [RNG.uniform(0.5, 1.5, size=(3, 7, 6)).astype(np.float32) for _ in range(4)]
    scale, bias, mean, var = stats
    node = oh.make_node(
        "BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0, epsilon=1e-3
    )
    constants = dict(zip("sbmv", stats, strict=True))
    expected = (IMAGE - mean) / np.sqrt(var + 1e-3) * scale + bias
    assert_close(run_axonnx(node, {"x": IMAGE}, 7, constants), [expected], rtol=1e-5)


def test_group_normalization_18_scale_per_group():
    x = RNG.normal(size=(2, 6, 3, 2)).astype(np.float32)
    constants = {
        "s": np.array([0.5, 2.0, -1.0], np.float32),
        "b": np.array([0.1, 0.0, 0.3], np.float32),
    }
    node = oh.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)
    assert_same(node, {"x": x}, 18, constants, rtol=1e-4, atol=1e-5)


def test_layer_normalization_float16_stash_outputs():
    x = RNG.normal(size=(2, 3, 4)).astype(np.float16)
    constants = {"s": np.ones(4, np.float16)}
    node = oh.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv_std"], axis=-1)
    y, mean, inv_std = run_axonnx(node, {"x": x}, 17, constants)
    assert (y.dtype, mean.dtype, inv_std.dtype) == (np.float16, np.float32, np.float32)
    np.testing.assert_allclose(mean[..., 0], x.astype(np.float32).mean(-1), rtol=1e-3)


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize(("opset", "mask_dtype"), [(7, np.float32), (10, np.bool_)])
def test_old_dropout_is_identity_with_full_mask(opset, mask_dtype):
    node = oh.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.3)
    y, mask = run_axonnx(node, {"x": IMAGE}, opset)
    np.testing.assert_array_equal(y, IMAGE)
    assert mask.dtype == mask_dtype and mask.all()


def test_training_dropout_scales_kept_elements():
    node = oh.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], seed=3)
    constants = {"r": np.array(0.5, np.float32), "t": np.array(True)}
    y, mask = run_axonnx(node, {"x": IMAGE}, 22, constants)
    assert mask.dtype == np.bool_ and 0 < mask.mean() < 1
    np.testing.assert_allclose(y, np.where(mask, IMAGE * 2, 0), rtol=1e-6)
