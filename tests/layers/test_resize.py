"""resize against ONNX Resize (reference evaluator) with the documented attributes."""

import jax.numpy as jnp
import numpy as np
import pytest

from axonnx.layers.resizing import resize

ONNX_ATTRIBUTES = {
    "nearest": {"mode": "nearest", "nearest_mode": "round_prefer_ceil"},
    "linear": {"mode": "linear"},
    "cubic": {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1},
}
SIZES = [
    ((6,), (11,)),
    ((7,), (3,)),
    ((4, 5), (8, 3)),
    ((6, 6), (4, 9)),
    ((3, 4, 5), (5, 2, 7)),
]


def to_layout(a: np.ndarray, channels: str) -> jnp.ndarray:
    return jnp.asarray(a if channels == "first" else np.moveaxis(a, 1, -1))


def to_first(a, channels: str) -> np.ndarray:
    a = np.asarray(a, np.float32)
    return a if channels == "first" else np.moveaxis(a, -1, 1)


def onnx_resize(onnx_node, x: np.ndarray, size, method: str) -> np.ndarray:
    sizes = np.array(x.shape[:2] + tuple(size), np.int64)
    inputs = {"x": x, "roi": None, "scales": None, "sizes": sizes}
    return onnx_node(
        "Resize", inputs, coordinate_transformation_mode="half_pixel", **ONNX_ATTRIBUTES[method]
    )


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("method", list(ONNX_ATTRIBUTES))
@pytest.mark.parametrize(("spatial", "size"), SIZES)
def test_resize_matches_onnx(onnx_node, spatial, size, method, channels):
    x = np.random.default_rng(0).standard_normal((2, 3, *spatial)).astype(np.float32)
    expected = onnx_resize(onnx_node, x, size, method)
    got = resize(to_layout(x, channels), size, method=method, channels=channels)
    np.testing.assert_allclose(to_first(got, channels), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", list(ONNX_ATTRIBUTES))
def test_resize_bfloat16_keeps_dtype(onnx_node, method):
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 4)).astype(np.float32)
    expected = onnx_resize(onnx_node, x, (8, 8), method)
    got = resize(jnp.asarray(x, jnp.bfloat16), 8, method=method, channels="first")
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, rtol=5e-2, atol=5e-2)


def test_resize_errors():
    with pytest.raises(ValueError, match="resize: expected method in"):
        resize(jnp.ones((1, 4, 4, 1)), 8, method="area")
    with pytest.raises(ValueError, match="size: expected an int or 2 values"):
        resize(jnp.ones((1, 4, 4, 1)), (8, 8, 8))
