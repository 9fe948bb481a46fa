"""Convolution layers against one-node ONNX models (channels-first reference)."""

import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axonnx.layers.convolution import (
    conv,
    conv_transpose,
    depthwise_conv,
    separable_conv2d,
    separable_conv3d,
)

# spatial, c_in, c_out, kernel, strides, padding, dilation, groups
CONV_CASES = [
    ((9,), 4, 6, (3,), 1, "valid", 1, 1),
    ((9,), 4, 6, (4,), 2, "same", 1, 1),
    ((10,), 4, 6, (3,), 1, "same_lower", 2, 2),
    ((7, 8), 3, 5, (3, 2), (2, 1), ((1, 0), (2, 1)), 1, 1),
    ((6, 6), 4, 6, (3, 3), 1, "same", 2, 2),
    ((7, 7), 2, 4, (2, 3), 2, "same_lower", 1, 1),
    ((5, 4, 6), 2, 3, (3, 2, 3), (1, 2, 1), 1, (1, 1, 2), 1),
    ((5, 5, 5), 4, 4, (2, 2, 2), 1, "same", 1, 4),
]

# spatial, c_in, c_out, kernel, strides, padding, output_padding, dilation, groups
TRANSPOSE_CASES = [
    ((5,), 3, 2, (3,), 2, "valid", 1, 1, 1),
    ((4, 5), 2, 3, (3, 2), (2, 3), ((1, 0), (0, 1)), (1, 0), (1, 2), 1),
    ((4, 4), 4, 6, (3, 3), 2, "same", 0, 1, 2),
    ((3, 4, 3), 2, 2, (2, 2, 2), 2, "same_lower", 0, 1, 1),
    ((4, 3), 4, 2, (2, 3), 1, 1, 0, 2, 2),
]


def to_layout(a: np.ndarray, channels: str) -> jnp.ndarray:
    """Channels-first NumPy array -> JAX array in ``channels`` layout."""
    return jnp.asarray(a if channels == "first" else np.moveaxis(a, 1, -1))


def to_first(a, channels: str) -> np.ndarray:
    """Array in ``channels`` layout -> channels-first float32 NumPy array."""
    a = np.asarray(a, np.float32)
    return a if channels == "first" else np.moveaxis(a, -1, 1)


def onnx_padding(padding, n: int) -> dict:
    """ONNX ``auto_pad`` / ``pads`` attributes for a layer ``padding`` option."""
    if isinstance(padding, str):
        return {"auto_pad": {"valid": "VALID", "same": "SAME_UPPER"}.get(padding, "SAME_LOWER")}
    pairs = [(padding, padding)] * n if isinstance(padding, int) else padding
    return {"pads": [lo for lo, _ in pairs] + [hi for _, hi in pairs]}


def per_dim(value, n: int) -> list[int]:
    return [value] * n if isinstance(value, int) else list(value)


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_onnx(onnx_node, case, channels):
    spatial, c_in, c_out, kernel, strides, padding, dilation, groups = case
    n = len(spatial)
    x, w, b = random(2, c_in, *spatial), random(c_out, c_in // groups, *kernel), random(c_out)
    expected = onnx_node(
        "Conv",
        {"x": x, "w": w, "b": b},
        strides=per_dim(strides, n),
        dilations=per_dim(dilation, n),
        group=groups,
        **onnx_padding(padding, n),
    )
    got = conv(
        to_layout(x, channels),
        jnp.asarray(w),
        jnp.asarray(b),
        strides=strides,
        padding=padding,
        kernel_dilation=dilation,
        feature_group_count=groups,
        channels=channels,
    )
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels", ["first", "last"])
def test_conv_input_dilation_is_conv_of_zero_interleaved_input(onnx_node, channels):
    x, w = random(1, 2, 4, 5), random(3, 2, 2, 2)
    dilated = np.zeros((1, 2, 7, 13), np.float32)
    dilated[:, :, ::2, ::3] = x
    expected = onnx_node("Conv", {"x": dilated, "w": w}, pads=[1, 1, 1, 1])
    got = conv(
        to_layout(x, channels), jnp.asarray(w), input_dilation=(2, 3), padding=1, channels=channels
    )
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


def test_conv_bfloat16_keeps_dtype(onnx_node):
    x, w, b = random(2, 3, 6, 6), random(4, 3, 3, 3), random(4)
    expected = onnx_node("Conv", {"x": x, "w": w, "b": b}, auto_pad="SAME_UPPER")
    bf16 = [jnp.asarray(a, jnp.bfloat16) for a in (to_layout(x, "last"), w, b)]
    got = conv(*bf16, padding="same")
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(to_first(got, "last"), expected, rtol=5e-2, atol=1e-1)


@pytest.mark.parametrize("channels", ["first", "last"])
def test_conv_gradients(channels):
    x, w, b = to_layout(random(1, 4, 5, 5), channels), random(4, 2, 3, 2), random(4)

    def f(x, w, b):
        return conv(
            x,
            w,
            b,
            strides=(2, 1),
            padding="same",
            feature_group_count=2,
            kernel_dilation=(1, 2),
            channels=channels,
        )

    check_grads(f, (x, jnp.asarray(w), jnp.asarray(b)), order=1, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_matches_onnx(onnx_node, case, channels):
    spatial, c_in, c_out, kernel, strides, padding, output_padding, dilation, groups = case
    n = len(spatial)
    x, w, b = random(2, c_in, *spatial), random(c_in, c_out // groups, *kernel), random(c_out)
    # onnxruntime: the reference evaluator's ConvTranspose fails for group > 1.
    expected = onnx_node(
        "ConvTranspose",
        {"x": x, "w": w, "b": b},
        engine="ort",
        strides=per_dim(strides, n),
        output_padding=per_dim(output_padding, n),
        dilations=per_dim(dilation, n),
        group=groups,
        **onnx_padding(padding, n),
    )
    got = conv_transpose(
        to_layout(x, channels),
        jnp.asarray(w),
        jnp.asarray(b),
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        kernel_dilation=dilation,
        feature_group_count=groups,
        channels=channels,
    )
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


def test_conv_transpose_gradients():
    x, w = jnp.asarray(random(1, 4, 3, 4)), jnp.asarray(random(4, 3, 2, 3))

    def f(x, w):
        return conv_transpose(x, w, strides=2, padding="same", feature_group_count=1)

    check_grads(f, (x, w), order=1, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("spatial", [(8,), (6, 5), (4, 5, 4)])
def test_depthwise_conv_is_grouped_onnx_conv(onnx_node, spatial, channels):
    n, c, multiplier = len(spatial), 3, 2
    x, w, b = random(1, c, *spatial), random(c * multiplier, 1, *[2] * n), random(c * multiplier)
    expected = onnx_node(
        "Conv", {"x": x, "w": w, "b": b}, group=c, strides=[2] * n, auto_pad="SAME_UPPER"
    )
    got = depthwise_conv(
        to_layout(x, channels),
        jnp.asarray(w),
        jnp.asarray(b),
        channel_multiplier=multiplier,
        strides=2,
        padding="same",
        channels=channels,
    )
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


def test_depthwise_conv_rejects_wrong_multiplier():
    with pytest.raises(ValueError, match=r"depthwise_conv: expected a kernel of shape \(9, 1"):
        depthwise_conv(jnp.ones((1, 5, 3)), jnp.ones((6, 1, 3)), channel_multiplier=3)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("padding", ["valid", "same", ((1, 0), (2, 1), (0, 1))])
@pytest.mark.parametrize("rank", [2, 3])
def test_separable_conv_is_conv_with_outer_product_kernel(onnx_node, rank, padding, channels):
    c, windows = 2, (3, 2, 3)[:rank]
    padding = padding if isinstance(padding, str) else padding[:rank]
    x = random(1, c, *(6, 7, 5)[:rank])
    unit = np.eye(rank, dtype=int)
    factors = [random(2 * c, 1, *(unit[i] * (windows[i] - 1) + 1), seed=i) for i in range(rank)]
    # Inner biases only without padding: a padded border does not carry them.
    biases = [random(2 * c, seed=10 + i) for i in range(rank)]
    biases = [b if padding == "valid" or i == rank - 1 else None for i, b in enumerate(biases)]
    full = np.prod(np.stack(np.broadcast_arrays(*factors)), axis=0)
    bias = np.zeros(2 * c, np.float32)
    for factor, b in zip(factors, biases, strict=True):
        bias = bias * factor.sum(axis=tuple(range(1, rank + 2))) + (0 if b is None else b)
    expected = onnx_node(
        "Conv",
        {"x": x, "w": full, "b": bias},
        group=c,
        strides=[2] * rank,
        **onnx_padding(padding, rank),
    )
    layer = separable_conv2d if rank == 2 else separable_conv3d
    pairs = zip(factors, biases, strict=True)
    params = [p if p is None else jnp.asarray(p) for pair in pairs for p in pair]
    got = layer(to_layout(x, channels), *params, strides=2, padding=padding, channels=channels)
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"channels": "middle"}, 'conv: expected channels "first" or "last"'),
        ({"padding": "full"}, "padding: expected one of"),
        ({"strides": (1, 2, 3)}, "strides: expected an int or 2 values"),
        ({"padding": [(1, 1)]}, r"padding: expected 2 \(low, high\) pairs"),
    ],
)
def test_conv_option_errors(options, message):
    with pytest.raises(ValueError, match=message):
        conv(jnp.ones((1, 5, 5, 3)), jnp.ones((4, 3, 3, 3)), **options)


def test_conv_rank_error_names_the_fix():
    with pytest.raises(ValueError, match="conv: expected input .* Add a batch dimension"):
        conv(jnp.ones((5, 3)), jnp.ones((4, 3, 3)))
