"""Convolution, pooling, resizing and normalization ops: forms the ONNX backend cases
leave out (old opsets, attribute forms, storage orders, dynamic RoiAlign sampling, …),
compared with onnx's reference evaluator or a NumPy formula."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper as oh

RNG = np.random.default_rng(0)
IMAGE = RNG.normal(size=(2, 3, 7, 6)).astype(np.float32)


# ---------------------------------------------------------------- pooling


def test_max_pool_opset_7_has_one_output(one_node):
    node = oh.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], pads=[1, 1, 1, 1])
    one_node.assert_same(node, {"x": IMAGE}, 7)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices_with_ceil_mode_dilations_and_storage_order(one_node, storage_order):
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
    one_node.assert_same(node, {"x": IMAGE}, 12)


def test_lp_pool_p3_same_lower(one_node):
    node = oh.make_node(
        "LpPool", ["x"], ["y"], kernel_shape=[3, 3], p=3, auto_pad="SAME_LOWER", strides=[2, 2]
    )
    one_node.assert_same(node, {"x": IMAGE}, 18, rtol=1e-4)


# ---------------------------------------------------------------- convolution


def test_conv_transpose_output_shape_with_same_upper(one_node):
    w = RNG.normal(size=(3, 4, 3, 3)).astype(np.float32)
    node = oh.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        strides=[2, 2],
        output_shape=[13, 11],
        auto_pad="SAME_UPPER",
    )
    one_node.assert_same(node, {"x": IMAGE}, 22, {"w": w}, rtol=1e-4, atol=1e-5)


def test_grouped_conv_1d_same_lower_dilated(one_node):
    x = RNG.normal(size=(2, 4, 9)).astype(np.float32)
    w = RNG.normal(size=(6, 2, 3)).astype(np.float32)
    node = oh.make_node(
        "Conv", ["x", "w"], ["y"], group=2, dilations=[2], auto_pad="SAME_LOWER", strides=[2]
    )
    one_node.assert_same(node, {"x": x}, 11, {"w": w}, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- resizing


def test_resize_10_and_upsample_repeat_for_integer_scales(one_node):
    scales = np.array([1, 1, 2, 3], np.float32)
    expected = IMAGE.repeat(2, axis=2).repeat(3, axis=3)
    resize = oh.make_node("Resize", ["x", "s"], ["y"], mode="nearest")
    one_node.compare(one_node.run_node(resize, {"x": IMAGE}, 10, {"s": scales}), [expected])
    upsample_9 = oh.make_node("Upsample", ["x", "s"], ["y"], mode="nearest")
    one_node.compare(one_node.run_node(upsample_9, {"x": IMAGE}, 9, {"s": scales}), [expected])
    upsample_7 = oh.make_node("Upsample", ["x"], ["y"], mode="nearest", scales=list(scales))
    one_node.compare(one_node.run_node(upsample_7, {"x": IMAGE}, 7), [expected])


def test_resize_10_linear_is_asymmetric(one_node):
    scales = np.array([1, 1, 1.5, 0.5], np.float32)
    old = oh.make_node("Resize", ["x", "s"], ["y"], mode="linear")
    new = oh.make_node(
        "Resize", ["x", "", "s"], ["y"], mode="linear", coordinate_transformation_mode="asymmetric"
    )
    expected = one_node.reference_node(new, {"x": IMAGE}, 13, {"s": scales})
    one_node.compare(one_node.run_node(old, {"x": IMAGE}, 10, {"s": scales}), expected)


def test_resize_uint8_linear_rounds_and_sizes_from_graph_input(one_node):
    x = RNG.integers(0, 255, size=(1, 2, 5, 4)).astype(np.uint8)
    sizes = np.array([1, 2, 8, 7], np.int64)
    node = oh.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")
    (actual,) = one_node.run_node(node, {"x": x, "sizes": sizes}, 19)
    (expected,) = one_node.reference_node(node, {"x": x, "sizes": sizes}, 19)
    (exact,) = one_node.reference_node(node, {"x": x.astype(np.float64), "sizes": sizes}, 19)
    # a value that interpolates to (almost) exactly .5 rounds either way, depending on
    # the float rounding of the weights (onnxruntime: 18.5 → 18, 21.5 → 21; onnx's
    # reference: 19, 22); every other value must agree exactly
    halves = np.isclose(exact % 1, 0.5, atol=1e-4)
    assert actual.dtype == np.uint8 and actual.shape == expected.shape == (1, 2, 8, 7)
    np.testing.assert_array_equal(actual[~halves], expected[~halves])
    assert np.all(np.abs(actual[halves].astype(int) - expected[halves]) <= 1)


# ---------------------------------------------------------------- sampling


def _grid(shape) -> np.ndarray:
    return RNG.uniform(-1.3, 1.3, size=shape).astype(np.float32)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_cubic_padding_modes(one_node, padding_mode, align_corners):
    node = oh.make_node(
        "GridSample",
        ["x", "g"],
        ["y"],
        mode="cubic",
        padding_mode=padding_mode,
        align_corners=align_corners,
    )
    one_node.assert_same(node, {"x": IMAGE, "g": _grid((2, 4, 5, 2))}, 20, rtol=1e-4, atol=1e-5)


def test_grid_sample_16_names(one_node):
    inputs = {"x": IMAGE, "g": _grid((2, 4, 5, 2))}
    old = oh.make_node("GridSample", ["x", "g"], ["y"], mode="bicubic", padding_mode="border")
    new = oh.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode="border")
    one_node.compare(
        one_node.run_node(old, inputs, 16),
        one_node.reference_node(new, inputs, 20),
        rtol=1e-4,
        atol=1e-5,
    )


ROIS = np.array([[0.5, 0.5, 4.0, 5.5], [1.0, 0.0, 5.9, 3.0], [-2.0, -1.0, 9.0, 12.0]], np.float32)
BATCH = np.array([0, 1, 1], np.int64)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_adaptive_sampling_under_jit(one_node, mode):
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
    one_node.assert_same(node, {"x": IMAGE, "rois": ROIS, "b": BATCH}, 22, rtol=1e-4, atol=1e-5)


def test_roi_align_10_has_no_half_pixel_shift(one_node):
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
    one_node.compare(
        one_node.run_node(old, inputs, 10),
        one_node.reference_node(new, inputs, 16),
        rtol=1e-4,
        atol=1e-5,
    )


# ---------------------------------------------------------------- normalization


def test_batch_normalization_7_spatial_0(one_node):
    stats = [RNG.uniform(0.5, 1.5, size=(3, 7, 6)).astype(np.float32) for _ in range(4)]
    scale, bias, mean, var = stats
    node = oh.make_node(
        "BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0, epsilon=1e-3
    )
    constants = dict(zip("sbmv", stats, strict=True))
    expected = (IMAGE - mean) / np.sqrt(var + 1e-3) * scale + bias
    one_node.compare(one_node.run_node(node, {"x": IMAGE}, 7, constants), [expected], rtol=1e-5)


def test_group_normalization_18_scale_per_group(one_node):
    x = RNG.normal(size=(2, 6, 3, 2)).astype(np.float32)
    constants = {
        "s": np.array([0.5, 2.0, -1.0], np.float32),
        "b": np.array([0.1, 0.0, 0.3], np.float32),
    }
    node = oh.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)
    one_node.assert_same(node, {"x": x}, 18, constants, rtol=1e-4, atol=1e-5)


def test_layer_normalization_float16_stash_outputs(one_node):
    x = RNG.normal(size=(2, 3, 4)).astype(np.float16)
    constants = {"s": np.ones(4, np.float16)}
    node = oh.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv_std"], axis=-1)
    y, mean, inv_std = one_node.run_node(node, {"x": x}, 17, constants)
    assert (y.dtype, mean.dtype, inv_std.dtype) == (np.float16, np.float32, np.float32)
    np.testing.assert_allclose(mean[..., 0], x.astype(np.float32).mean(-1), rtol=1e-3)


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize(("opset", "mask_dtype"), [(7, np.float32), (10, np.bool_)])
def test_old_dropout_is_identity_with_full_mask(one_node, opset, mask_dtype):
    node = oh.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.3)
    y, mask = one_node.run_node(node, {"x": IMAGE}, opset)
    np.testing.assert_array_equal(y, IMAGE)
    assert mask.dtype == mask_dtype and mask.all()


def test_training_dropout_scales_kept_elements(one_node):
    node = oh.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], seed=3)
    constants = {"r": np.array(0.5, np.float32), "t": np.array(True)}
    y, mask = one_node.run_node(node, {"x": IMAGE}, 22, constants)
    assert mask.dtype == np.bool_ and 0 < mask.mean() < 1
    np.testing.assert_allclose(y, np.where(mask, IMAGE * 2, 0), rtol=1e-6)
