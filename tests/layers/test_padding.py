"""pad against ONNX Pad (reference evaluator; onnxruntime for negative pads)."""

import jax.numpy as jnp
import numpy as np
import pytest

from axonnx.layers.padding import pad

CASES = [
    ((5,), [(2, 3)]),
    ((3, 4), [(1, 2), (3, 0)]),
    ((2, 3, 4), [(0, 1), (2, 2), (1, 3)]),
    ((2, 3, 4, 5), [(0, 0), (0, 0), (1, 2), (2, 1)]),
]
CROPPING = [
    ((6,), [(-2, 1)]),
    ((4, 5), [(1, -1), (-2, 2)]),
    ((3, 4, 5), [(0, -1), (2, 0), (-1, -2)]),
]
MODES = ["constant", "reflect", "edge", "wrap"]


def onnx_pads(padding) -> np.ndarray:
    return np.array([lo for lo, _ in padding] + [hi for _, hi in padding], np.int64)


def random(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "padding"), CASES)
def test_pad_matches_onnx(onnx_node, shape, padding, mode):
    x, value = random(*shape), np.array(1.5, np.float32)
    inputs = {"x": x, "pads": onnx_pads(padding), "value": value}
    expected = onnx_node("Pad", inputs, mode=mode)
    got = pad(jnp.asarray(x), padding, value=1.5, mode=mode)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "padding"), CROPPING)
def test_negative_pad_crops_like_onnxruntime(onnx_node, shape, padding, mode):
    x = random(*shape)
    inputs = {"x": x, "pads": onnx_pads(padding), "value": np.array(-2.0, np.float32)}
    expected = onnx_node("Pad", inputs, engine="ort", mode=mode)
    got = pad(jnp.asarray(x), padding, value=-2.0, mode=mode)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
def test_pad_bfloat16_keeps_dtype(mode):
    x = random(3, 4)
    got = pad(jnp.asarray(x, jnp.bfloat16), [(1, 2), (2, 1)], mode=mode, value=0.5)
    assert got.dtype == jnp.bfloat16
    kwargs = {"constant_values": 0.5} if mode == "constant" else {}
    expected = np.pad(x, [(1, 2), (2, 1)], mode=mode, **kwargs)
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, rtol=1e-2, atol=1e-2)


def test_pad_errors():
    with pytest.raises(ValueError, match=r"pad: expected 2 \(low, high\) pairs"):
        pad(jnp.ones((2, 3)), [(1, 1)])
    with pytest.raises(ValueError, match="pad: expected mode in"):
        pad(jnp.ones((2, 3)), [(1, 1), (0, 0)], mode="symmetric")
