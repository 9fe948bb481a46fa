"""Tests for axonnx.initializers: shapes, dtypes, determinism and the statistics
each factory promises, checked against the formulas."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axonnx import initializers as init

KEY = jax.random.key(0)
DTYPES = [jnp.float32, jnp.bfloat16, jnp.float16]
NAMED = sorted(set(init.__all__) - {"get", "full"})  # factories with a default instance
RANDOM = sorted(set(NAMED) - {"zeros", "ones", "identity"})

# name: (factory, scale, mode, distribution) — the variance-scaling family.
VARIANCE_SCALING = {
    "lecun_uniform": (init.lecun_uniform, 1.0, "fan_in", "uniform"),
    "lecun_normal": (init.lecun_normal, 1.0, "fan_in", "truncated_normal"),
    "glorot_uniform": (init.glorot_uniform, 1.0, "fan_avg", "uniform"),
    "glorot_normal": (init.glorot_normal, 1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (init.he_uniform, 2.0, "fan_in", "uniform"),
    "he_normal": (init.he_normal, 2.0, "fan_in", "truncated_normal"),
}
# Layouts: (shape, in_axis, out_axis).
LAYOUTS = {"dense": ((300, 500), -2, -1), "conv": ((64, 32, 3, 3), 1, 0)}


def _truncated_std() -> float:
    """Standard deviation of a standard normal truncated to [-2, 2]."""
    pdf = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    return math.sqrt(1 - 4 * pdf / mass)


def _expected_std(shape, in_axis, out_axis, scale, mode):
    receptive = math.prod(shape) // (shape[in_axis] * shape[out_axis])
    fan_in, fan_out = shape[in_axis] * receptive, shape[out_axis] * receptive
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return math.sqrt(scale / n)


def _check_moments(w, mean, std, rel=0.03):
    w = np.asarray(w, dtype=np.float64)
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=rel)


def _check_bound(w, distribution, std):
    bound = {
        "uniform": math.sqrt(3) * std,
        "truncated_normal": 2 * std / _truncated_std(),
        "normal": np.inf,
    }[distribution]
    assert np.max(np.abs(np.asarray(w, dtype=np.float64))) <= bound * (1 + 1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("shape", [(6, 4), (8, 3, 3, 3)], ids=str)
@pytest.mark.parametrize("name", NAMED)
def test_shape_and_dtype(name, shape, dtype):
    if name == "identity" and len(shape) != 2:
        pytest.skip("identity is 2-D only")
    w = init.get(name)(KEY, shape, dtype)
    assert w.shape == shape
    assert w.dtype == jnp.dtype(dtype)
    assert np.all(np.isfinite(np.asarray(w, dtype=np.float64)))


@pytest.mark.parametrize("name", NAMED)
def test_default_dtype_is_float32(name):
    assert init.get(name)(KEY, (4, 4)).dtype == jnp.float32


@pytest.mark.parametrize("name", RANDOM)
def test_deterministic_per_key(name):
    fn = init.get(name)
    np.testing.assert_array_equal(fn(KEY, (16, 8)), fn(KEY, (16, 8)))
    assert not np.array_equal(fn(KEY, (16, 8)), fn(jax.random.key(1), (16, 8)))


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", list(VARIANCE_SCALING))
def test_named_variance_scaling_statistics(name, layout):
    factory, scale, mode, distribution = VARIANCE_SCALING[name]
    shape, in_axis, out_axis = LAYOUTS[layout]
    w = factory(in_axis=in_axis, out_axis=out_axis)(KEY, shape)
    std = _expected_std(shape, in_axis, out_axis, scale, mode)
    _check_moments(w, 0.0, std)
    _check_bound(w, distribution, std)


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_variance_scaling_statistics(layout, mode, distribution):
    shape, in_axis, out_axis = LAYOUTS[layout]
    fn = init.variance_scaling(0.5, mode, distribution, in_axis=in_axis, out_axis=out_axis)
    w = fn(KEY, shape)
    std = _expected_std(shape, in_axis, out_axis, 0.5, mode)
    _check_moments(w, 0.0, std)
    _check_bound(w, distribution, std)


def test_uniform_is_symmetric_in_scale():
    w = init.uniform(scale=0.05)(KEY, (400, 400))
    assert -0.05 <= float(w.min()) < -0.049 and 0.049 < float(w.max()) < 0.05
    _check_moments(w, 0.0, 0.05 / math.sqrt(3))


def test_normal_moments():
    _check_moments(init.normal(stddev=0.2, mean=1.5)(KEY, (400, 400)), 1.5, 0.2)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize(
    ("factory", "value"), [(init.zeros(), 0.0), (init.ones(), 1.0), (init.full(-2.5), -2.5)]
)
def test_constants(factory, value, dtype):
    w = factory(KEY, (3, 4), dtype)
    assert w.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(w, dtype=np.float64), np.full((3, 4), value))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)], ids=str)
def test_identity(shape):
    np.testing.assert_array_equal(init.identity()(KEY, shape), np.eye(*shape))
    np.testing.assert_array_equal(init.identity(2.0)(KEY, shape), 2.0 * np.eye(*shape))


def test_identity_rejects_non_matrix_shape():
    with pytest.raises(ValueError, match=r"expected a 2-D shape, got \(2, 3, 3\)"):
        init.identity()(KEY, (2, 3, 3))


def _assert_orthonormal_columns(m, scale=1.0):
    m = np.asarray(m, dtype=np.float64)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, scale**2 * np.eye(len(gram)), atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (50, 50)], ids=str)
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_orthogonal_dense(shape, scale):
    _assert_orthonormal_columns(init.orthogonal(scale)(KEY, shape), scale)


def test_orthogonal_conv_layout_orthogonalises_output_channels():
    w = init.orthogonal(column_axis=0)(KEY, (16, 4, 3, 3))
    _assert_orthonormal_columns(np.moveaxis(np.asarray(w), 0, -1).reshape(-1, 16))


@pytest.mark.parametrize("name", NAMED)
def test_get_returns_default_instance(name):
    expected = getattr(init, name)()(KEY, (8, 8))
    np.testing.assert_array_equal(init.get(name)(KEY, (8, 8)), expected)


def test_get_passes_callables_through():
    fn = init.normal(stddev=0.5)
    assert init.get(fn) is fn


@pytest.mark.parametrize("name", ["glorot", "full", "Glorot_Uniform"])
def test_get_unknown_name_lists_valid_names(name):
    with pytest.raises(ValueError, match=rf"expected one of .*'glorot_uniform'.*got '{name}'"):
        init.get(name)


def test_get_rejects_non_string_non_callable():
    with pytest.raises(TypeError, match="got int"):
        init.get(3)
