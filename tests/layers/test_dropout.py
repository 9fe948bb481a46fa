"""Dropout layers: statistics, determinism per key, inference identity, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axonnx.layers.regularization import (
    alpha_dropout,
    dropout,
    feature_alpha_dropout,
    spatial_dropout,
)

ALL = [dropout, alpha_dropout, feature_alpha_dropout, spatial_dropout]
# One data shape throughout, so the PRNG kernels compile once (channels last / first).
SHAPES = {"last": (32, 4, 4, 64), "first": (32, 64, 4, 4)}
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def normal(shape=SHAPES["last"], dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(0).standard_normal(shape, np.float32), dtype)


def alpha_affine(rate):
    """NumPy reference of alpha dropout's affine correction (a, b) and dropped value."""
    saturation = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * saturation**2)) ** -0.5
    return a, -a * saturation * rate, a * saturation - a * saturation * rate


@pytest.mark.parametrize("layer", ALL)
def test_inference_is_identity(layer):
    x = normal()
    assert layer(x, rate=0.5) is x
    assert layer(x, rate=0.5, key=jax.random.key(1), mode="inference") is x


@pytest.mark.parametrize("layer", ALL)
def test_train_needs_a_key(layer):
    with pytest.raises(ValueError, match="key"):
        layer(normal((4, 3)), rate=0.5, mode="train")


@pytest.mark.parametrize("layer", ALL)
@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_rate_out_of_range(layer, rate):
    with pytest.raises(ValueError, match="rate"):
        layer(normal((4, 3)), rate=rate, key=jax.random.key(0), mode="train")


@pytest.mark.parametrize("layer", ALL)
def test_bad_mode(layer):
    with pytest.raises(ValueError, match="mode"):
        layer(normal((4, 3)), rate=0.5, key=jax.random.key(0), mode="eval")


@pytest.mark.parametrize("layer", ALL)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_same_key_same_mask_and_dtype_kept(layer, dtype):
    x = normal(dtype=dtype)
    a, b, c = (layer(x, rate=0.3, key=jax.random.key(k), mode="train") for k in (7, 7, 8))
    assert a.dtype == dtype and a.shape == x.shape
    np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
    assert not np.array_equal(np.asarray(a, np.float32), np.asarray(c, np.float32))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_zero_rate_and_scaling(rate):
    x = jnp.abs(normal()) + 0.5
    y = np.asarray(dropout(x, rate=rate, key=jax.random.key(3), mode="train"))
    kept = y != 0
    assert abs(1 - kept.mean() - rate) < 0.01
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / (1 - rate), rtol=1e-6)
    np.testing.assert_allclose(y.mean(), float(x.mean()), rtol=0.05)


def test_dropout_zero_rate_is_identity_in_train():
    x = normal((4, 3))
    assert dropout(x, rate=0.0, mode="train") is x


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(rate):
    x = normal()
    y = np.asarray(alpha_dropout(x, rate=rate, key=jax.random.key(4), mode="train"))
    a, b, dropped = alpha_affine(rate)
    is_dropped = np.isclose(y, dropped, atol=1e-6)
    assert abs(is_dropped.mean() - rate) < 0.01
    np.testing.assert_allclose(y[~is_dropped], a * np.asarray(x)[~is_dropped] + b, atol=1e-5)
    assert abs(y.mean()) < 0.02
    assert abs(y.var() - 1.0) < 0.03


@pytest.mark.parametrize("channels,axis", [("last", -1), ("first", 1)])
def test_feature_alpha_dropout_drops_whole_channels(channels, axis):
    rate = 0.3
    x = normal(SHAPES[channels])
    y = np.asarray(
        feature_alpha_dropout(x, rate=rate, key=jax.random.key(5), mode="train", channels=channels)
    )
    spatial = tuple(a for a in range(1, 4) if a != axis % 4)
    a, b, dropped = alpha_affine(rate)
    is_dropped = np.isclose(y, dropped, atol=1e-6).all(axis=spatial, keepdims=True)
    assert abs(is_dropped.mean() - rate) < 0.04
    np.testing.assert_allclose(y, np.where(is_dropped, dropped, a * np.asarray(x) + b), atol=1e-5)
    assert abs(y.mean()) < 0.05 and abs(y.var() - 1.0) < 0.1


@pytest.mark.parametrize("channels,axis", [("last", -1), ("first", 1)])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_spatial_dropout_drops_whole_channels(channels, axis, dtype):
    rate = 0.4
    x = jnp.abs(normal(SHAPES[channels], dtype)) + 1
    y = spatial_dropout(x, rate=rate, key=jax.random.key(6), mode="train", channels=channels)
    assert y.dtype == dtype
    y, x = np.asarray(y, np.float32), np.asarray(x, np.float32)
    spatial = tuple(a for a in range(1, 4) if a != axis % 4)
    per_map = (y == 0).mean(axis=spatial)
    assert set(np.unique(per_map)) <= {0.0, 1.0}
    assert abs(per_map.mean() - rate) < 0.04
    np.testing.assert_allclose(y[y != 0], x[y != 0] / (1 - rate), rtol=1e-2)
