"""Pooling layers against ONNX pooling ops (onnxruntime) and NumPy formulas."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axonnx.layers.pooling import (
    adaptive_avg_pool,
    adaptive_lp_pool,
    adaptive_max_pool,
    avg_pool,
    global_avg_pool,
    global_lp_pool,
    global_max_pool,
    lp_pool,
    max_pool,
)

# spatial, kernel_size, strides, padding, dilations, ceil_mode
POOL_CASES = [
    ((8,), 2, None, "valid", 1, False),
    ((9,), 3, 2, [(1, 1)], 1, True),
    ((10,), 3, 2, "same", 1, False),
    ((5, 6), (2, 3), (1, 2), "same", 1, False),
    ((7, 7), 3, 2, "same_lower", 1, False),
    ((6, 7), 2, 2, [(1, 0), (0, 1)], 2, True),
    ((7, 6), 3, 2, 1, 1, True),
    ((4, 5, 4), 2, (1, 2, 2), "valid", 1, True),
    ((5, 4, 5), (3, 2, 2), 2, [(1, 1), (0, 1), (1, 0)], (1, 2, 1), False),
]

# The reference evaluator's ceil_mode LpPool shifts windows; onnxruntime is used throughout.
POOLS = [
    ("MaxPool", max_pool, {}),
    ("AveragePool", avg_pool, {"count_include_pad": False}),
    ("AveragePool", avg_pool, {"count_include_pad": True}),
    ("LpPool", lp_pool, {}),
]
POOL_IDS = [f"{op}-{i}" for i, (op, _, _) in enumerate(POOLS)]


def to_layout(a: np.ndarray, channels: str) -> jnp.ndarray:
    return jnp.asarray(a if channels == "first" else np.moveaxis(a, 1, -1))


def to_first(a, channels: str) -> np.ndarray:
    a = np.asarray(a, np.float32)
    return a if channels == "first" else np.moveaxis(a, -1, 1)


def per_dim(value, n: int) -> list[int]:
    return [value] * n if isinstance(value, int) else list(value)


def onnx_pool_attributes(kernel, strides, padding, dilations, ceil_mode, n: int) -> dict:
    kernel = per_dim(kernel, n)
    attributes = {"kernel_shape": kernel, "strides": per_dim(strides or kernel, n)}
    attributes.update(dilations=per_dim(dilations, n), ceil_mode=int(ceil_mode))
    if isinstance(padding, str):
        attributes["auto_pad"] = {"valid": "VALID", "same": "SAME_UPPER"}.get(padding, "SAME_LOWER")
    else:
        pairs = [(padding, padding)] * n if isinstance(padding, int) else padding
        attributes["pads"] = [lo for lo, _ in pairs] + [hi for _, hi in pairs]
    return attributes


def random(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize(("op_type", "layer", "options"), POOLS, ids=POOL_IDS)
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_matches_onnx(onnx_node, case, op_type, layer, options, channels):
    spatial, kernel, strides, padding, dilations, ceil_mode = case
    x = random(2, 3, *spatial)
    attributes = onnx_pool_attributes(kernel, strides, padding, dilations, ceil_mode, len(spatial))
    onnx_options = {k: int(v) for k, v in options.items()}
    expected = onnx_node(op_type, {"x": x}, engine="ort", **attributes, **onnx_options)
    got = layer(
        to_layout(x, channels),
        kernel_size=kernel,
        strides=strides,
        padding=padding,
        dilations=dilations,
        ceil_mode=ceil_mode,
        channels=channels,
        **options,
    )
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", [1, 3])
def test_lp_pool_norm_matches_reference_evaluator(onnx_node, norm):
    x = random(1, 2, 6, 5)
    expected = onnx_node("LpPool", {"x": x}, kernel_shape=[2, 2], strides=[1, 2], p=norm)
    got = lp_pool(jnp.asarray(x), kernel_size=2, strides=(1, 2), norm=norm, channels="first")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("op_type", "layer", "options"), POOLS, ids=POOL_IDS)
def test_pool_bfloat16_keeps_dtype(onnx_node, op_type, layer, options):
    x = random(1, 2, 6, 6)
    attributes = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    onnx_options = {k: int(v) for k, v in options.items()}
    expected = onnx_node(op_type, {"x": x}, **attributes, **onnx_options)
    x16 = jnp.asarray(x, jnp.bfloat16)
    got = layer(x16, kernel_size=3, strides=2, padding=1, channels="first", **options)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, rtol=5e-2, atol=5e-2)


def test_max_pool_gradient_routes_to_the_maximum():
    x = jnp.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]])
    grad = jax.grad(lambda x: max_pool(x, kernel_size=2, ceil_mode=True).sum())(x)
    np.testing.assert_array_equal(grad[0, :, 0], [0.0, 1.0, 1.0, 0.0, 1.0])


def adaptive_reference(x: np.ndarray, output_size, reduce) -> np.ndarray:
    """Channels-first NumPy adaptive pooling with PyTorch window bounds."""
    sizes, out = x.shape[2:], np.empty(x.shape[:2] + tuple(output_size), x.dtype)
    for index in itertools.product(*(range(o) for o in output_size)):
        window = tuple(
            slice(i * n // o, -(-(i + 1) * n // o))
            for i, n, o in zip(index, sizes, output_size, strict=True)
        )
        out[(..., *index)] = reduce(x[(..., *window)], axis=tuple(range(2, x.ndim)))
    return out


def lp2(a: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(a**2, axis=axis))


ADAPTIVE_SIZES = [((7,), (3,)), ((8, 6), (4, 4)), ((7, 9), (2, 5)), ((5, 4, 6), (2, 3, 4))]
ADAPTIVE = [
    (adaptive_avg_pool, np.mean),
    (adaptive_max_pool, np.max),
    (adaptive_lp_pool, lp2),
]


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize(("layer", "reduce"), ADAPTIVE)
@pytest.mark.parametrize(
    ("spatial", "output_size"),
    [((7,), (3,)), ((8, 6), (4, 4)), ((7, 9), (2, 5)), ((5, 4, 6), (2, 3, 4))],
)
def test_adaptive_pool_matches_numpy(layer, reduce, spatial, output_size, channels):
    x = random(2, 3, *spatial)
    jitted = jax.jit(layer, static_argnames=("output_size", "channels"))
    got = jitted(to_layout(x, channels), output_size=output_size, channels=channels)
    expected = adaptive_reference(x, output_size, reduce)
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-6)


def test_adaptive_avg_pool_equals_avg_pool_when_sizes_divide():
    x = jnp.asarray(random(1, 8, 6, 2))
    np.testing.assert_allclose(
        adaptive_avg_pool(x, output_size=(4, 2)), avg_pool(x, kernel_size=(2, 3)), rtol=1e-6
    )


GLOBAL = [
    ("GlobalAveragePool", global_avg_pool),
    ("GlobalMaxPool", global_max_pool),
    ("GlobalLpPool", global_lp_pool),
]


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize(("op_type", "layer"), GLOBAL)
@pytest.mark.parametrize("spatial", [(7,), (4, 5), (3, 4, 2)])
def test_global_pool_matches_onnx(onnx_node, op_type, layer, spatial, channels):
    x = random(2, 3, *spatial)
    expected = onnx_node(op_type, {"x": x}, engine="ort")  # reference: 1-D GlobalMaxPool bug
    kept = layer(to_layout(x, channels), keep_axes=True, channels=channels)
    np.testing.assert_allclose(to_first(kept, channels), expected, rtol=1e-5, atol=1e-6)
    flat = layer(to_layout(x, channels), channels=channels)
    np.testing.assert_allclose(flat, expected.reshape(2, 3), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("op_type", "layer"), GLOBAL)
def test_global_pool_bfloat16_keeps_dtype(onnx_node, op_type, layer):
    x = random(2, 3, 5, 5)
    got = layer(jnp.asarray(x, jnp.bfloat16), channels="first")
    assert got.dtype == jnp.bfloat16
    expected = onnx_node(op_type, {"x": x}, engine="ort").reshape(2, 3)
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, rtol=5e-2, atol=5e-2)


def test_pool_errors_name_the_option():
    with pytest.raises(ValueError, match="kernel_size: expected an int or 2 values"):
        max_pool(jnp.ones((1, 4, 4, 1)), kernel_size=(2, 2, 2))
    with pytest.raises(ValueError, match="avg_pool: expected input of rank >= 3"):
        avg_pool(jnp.ones((4, 4)), kernel_size=2)
    with pytest.raises(ValueError, match='adaptive_avg_pool: expected channels "first"'):
        adaptive_avg_pool(jnp.ones((1, 4, 1)), output_size=2, channels="NHWC")
