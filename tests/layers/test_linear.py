"""dense, bilinear and embedding against ONNX Gemm / Gather and NumPy einsum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axonnx.layers.linear import bilinear, dense, embedding


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_matches_onnx_gemm(onnx_node, with_bias):
    x, kernel, bias = random(4, 5), random(5, 3, seed=1), random(3, seed=2)
    inputs = {"a": x, "b": kernel, "c": bias if with_bias else None}
    expected = onnx_node("Gemm", inputs)
    got = dense(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias) if with_bias else None)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 5), (2, 1, 3, 5)])
def test_dense_any_leading_shape_matches_einsum(shape):
    x, kernel, bias = random(*shape), random(5, 4, seed=1), random(4, seed=2)
    expected = np.einsum("...i,io->...o", x, kernel) + bias
    got = dense(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_dense_bfloat16_keeps_dtype():
    x, kernel, bias = random(3, 8), random(8, 4, seed=1), random(4, seed=2)
    got = dense(*(jnp.asarray(a, jnp.bfloat16) for a in (x, kernel, bias)))
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), x @ kernel + bias, rtol=5e-2, atol=1e-1)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_dense_16_bit_accumulates_in_float32(dtype):
    # 4096 products of 1/64: 64 exactly in float32; a 16-bit running sum stalls near 4
    # (bfloat16) or 32 (float16), where one addend is below half the spacing
    x = jnp.ones((2, 4096), dtype)
    kernel = jnp.full((4096, 3), 1 / 64, dtype)
    got = dense(x, kernel)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.full((2, 3), 64.0))
    # the dot itself produces float32 (the fast form of XLA's CPU dot), then one cast
    (dot,) = [e for e in jax.make_jaxpr(dense)(x, kernel).eqns if e.primitive.name == "dot_general"]
    assert dot.outvars[0].aval.dtype == jnp.float32


def test_dense_gradients():
    args = (random(2, 3, 5), random(5, 4, seed=1), random(4, seed=2))
    check_grads(dense, tuple(map(jnp.asarray, args)), order=1, atol=1e-2, rtol=1e-2)


def test_dense_shape_error():
    with pytest.raises(ValueError, match=r"dense: expected input \(..., in_features\)"):
        dense(jnp.ones((2, 3)), jnp.ones((4, 5)))


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bilinear_matches_einsum(batch, with_bias):
    x1, x2 = random(*batch, 4), random(*batch, 5, seed=1)
    kernel, bias = random(3, 4, 5, seed=2), random(3, seed=3)
    expected = np.einsum("...i,oij,...j->...o", x1, kernel, x2) + (bias if with_bias else 0)
    got = bilinear(*map(jnp.asarray, (x1, x2, kernel)), jnp.asarray(bias) if with_bias else None)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_bilinear_bfloat16_and_gradients():
    args = tuple(map(jnp.asarray, (random(2, 4), random(2, 5, seed=1), random(3, 4, 5, seed=2))))
    assert bilinear(*(a.astype(jnp.bfloat16) for a in args)).dtype == jnp.bfloat16
    check_grads(bilinear, args, order=1, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("ids_shape", [(5,), (2, 3), (2, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, jnp.bfloat16])
def test_embedding_matches_onnx_gather(onnx_node, ids_shape, dtype):
    ids = np.random.default_rng(0).integers(0, 7, ids_shape).astype(np.int64)
    table = random(7, 4, seed=1)
    expected = onnx_node("Gather", {"table": table, "ids": ids}, axis=0)
    got = embedding(jnp.asarray(ids), jnp.asarray(table, dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, rtol=1e-2)


def test_embedding_rejects_float_ids():
    with pytest.raises(TypeError, match="embedding: expected integer ids"):
        embedding(jnp.ones(3), jnp.eye(3))
