"""Attention layers against softmax(Q K^T / sqrt(d)) V written in NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axonnx.layers import attention
from axonnx.layers.regularization import dropout

BATCH, Q_SEQ, K_SEQ, HEADS, HEAD_DIM = 2, 4, 6, 2, 3
DIM = HEADS * HEAD_DIM
RATE = 0.25

dot_product_attention = jax.jit(
    attention.dot_product_attention, static_argnames=("causal", "scale")
)
multi_head_attention = jax.jit(
    attention.multi_head_attention, static_argnames=("num_heads", "causal", "dropout_rate", "mode")
)


def numpy_attention(q, k, v, mask=None, causal=False, scale=None, keep=None):
    """Reference on (batch, seq, heads, head_dim); ``keep`` drops weights at rate RATE."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) * scale
    allowed = np.ones(logits.shape, bool)
    if mask is not None:
        allowed &= np.broadcast_to(mask, logits.shape)
    if causal:
        allowed &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(allowed, logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    if keep is not None:
        weights = np.where(keep, weights / (1 - RATE), 0)
    return np.einsum("bhqk,bkhd->bqhd", weights, v)


def random_mask(rng, shape):
    """Random boolean mask that keeps at least the first key of every row."""
    mask = rng.random(shape) < 0.6
    mask[..., 0] = True
    return mask


def mask_case(name, rng):
    shapes = {
        "none": None,
        "2d": (Q_SEQ, K_SEQ),
        "per_batch": (BATCH, 1, Q_SEQ, K_SEQ),
        "full": (BATCH, HEADS, Q_SEQ, K_SEQ),
    }
    return None if shapes[name] is None else random_mask(rng, shapes[name])


def heads(rng, seq, dtype=jnp.float32):
    x = rng.normal(size=(BATCH, seq, HEADS, HEAD_DIM)).astype(np.float32)
    return np.asarray(jnp.asarray(x, dtype), np.float32)


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 3e-2)])
@pytest.mark.parametrize("mask_name", ["none", "2d", "per_batch", "full"])
@pytest.mark.parametrize("causal", [False, True])
def test_dot_product_attention_matches_numpy(mask_name, causal, dtype, tol):
    rng = np.random.default_rng(0)
    q, k, v = heads(rng, Q_SEQ, dtype), heads(rng, K_SEQ, dtype), heads(rng, K_SEQ, dtype)
    mask = mask_case(mask_name, rng)
    y = dot_product_attention(*(jnp.asarray(a, dtype) for a in (q, k, v)), mask=mask, causal=causal)
    assert y.dtype == dtype and y.shape == q.shape
    expected = numpy_attention(q, k, v, mask, causal)
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=tol, atol=tol)


def test_dot_product_attention_custom_scale():
    rng = np.random.default_rng(1)
    q, k, v = heads(rng, Q_SEQ), heads(rng, K_SEQ), heads(rng, K_SEQ)
    y = dot_product_attention(q, k, v, scale=0.7)
    np.testing.assert_allclose(y, numpy_attention(q, k, v, scale=0.7), rtol=1e-5, atol=1e-5)


def mha_params(rng, k_dim=DIM, v_dim=DIM, out_dim=DIM):
    def normal(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    kernels = [normal(DIM, DIM), normal(k_dim, DIM), normal(v_dim, DIM), normal(DIM, out_dim)]
    biases = [normal(DIM), normal(DIM), normal(DIM), normal(out_dim)]
    return kernels, biases


def numpy_mha(query, key_input, value, kernels, biases, **attention_options):
    def split(x):
        return x.reshape(*x.shape[:2], HEADS, -1)

    q, k, v = (
        split(x @ w + b)
        for x, w, b in zip((query, key_input, value), kernels[:3], biases[:3], strict=True)
    )
    out = numpy_attention(q, k, v, **attention_options)
    return out.reshape(*out.shape[:2], -1) @ kernels[3] + biases[3]


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 5e-2)])
@pytest.mark.parametrize("mask_name,causal", [("none", False), ("per_batch", False), ("2d", True)])
def test_multi_head_attention_matches_numpy(mask_name, causal, dtype, tol):
    rng = np.random.default_rng(2)
    kernels, biases = mha_params(rng, k_dim=5, v_dim=7, out_dim=4)
    query = np.asarray(jnp.asarray(rng.normal(size=(BATCH, Q_SEQ, DIM)), dtype), np.float32)
    key_input, value = rng.normal(size=(BATCH, K_SEQ, 5)), rng.normal(size=(BATCH, K_SEQ, 7))
    mask = mask_case(mask_name, rng)
    y = multi_head_attention(
        jnp.asarray(query, dtype),
        jnp.asarray(key_input, dtype),
        jnp.asarray(value, dtype),
        *kernels,
        *biases,
        num_heads=HEADS,
        mask=mask,
        causal=causal,
    )
    assert y.dtype == dtype and y.shape == (BATCH, Q_SEQ, 4)
    key_input, value = (np.asarray(jnp.asarray(a, dtype), np.float32) for a in (key_input, value))
    expected = numpy_mha(query, key_input, value, kernels, biases, mask=mask, causal=causal)
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=tol, atol=tol)


def test_multi_head_attention_without_biases():
    rng = np.random.default_rng(3)
    kernels, _ = mha_params(rng)
    x = rng.normal(size=(BATCH, Q_SEQ, DIM)).astype(np.float32)
    y = multi_head_attention(x, x, x, *kernels, num_heads=HEADS)
    expected = numpy_mha(x, x, x, kernels, [np.zeros(DIM, np.float32)] * 4)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_attention_dropout_matches_numpy_with_the_same_mask():
    rng = np.random.default_rng(4)
    kernels, biases = mha_params(rng)
    x = rng.normal(size=(BATCH, Q_SEQ, DIM)).astype(np.float32)
    source = rng.normal(size=(BATCH, K_SEQ, DIM)).astype(np.float32)
    mask = mask_case("per_batch", rng)
    key = jax.random.key(5)
    options = {"num_heads": HEADS, "mask": mask, "causal": True, "dropout_rate": RATE}
    y = multi_head_attention(x, source, source, *kernels, *biases, key=key, mode="train", **options)
    again = multi_head_attention(
        x, source, source, *kernels, *biases, key=key, mode="train", **options
    )
    np.testing.assert_array_equal(y, again)
    # The layer drops attention weights of shape (batch, heads, q_seq, k_seq) with `key`.
    ones = jnp.ones((BATCH, HEADS, Q_SEQ, K_SEQ))
    keep = np.asarray(dropout(ones, rate=RATE, key=key, mode="train")) != 0
    expected = numpy_mha(x, source, source, kernels, biases, mask=mask, causal=True, keep=keep)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_attention_dropout_is_off_in_inference_and_needs_a_key_in_train():
    rng = np.random.default_rng(6)
    kernels, biases = mha_params(rng)
    x = rng.normal(size=(BATCH, Q_SEQ, DIM)).astype(np.float32)
    y = multi_head_attention(x, x, x, *kernels, *biases, num_heads=HEADS, dropout_rate=0.5)
    np.testing.assert_allclose(y, numpy_mha(x, x, x, kernels, biases), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="key"):
        attention.multi_head_attention(
            x, x, x, *kernels, num_heads=HEADS, dropout_rate=0.5, mode="train"
        )


def test_multi_head_attention_gradients():
    rng = np.random.default_rng(7)
    kernels, biases = mha_params(rng)
    x = jnp.asarray(rng.normal(size=(BATCH, Q_SEQ, DIM)), jnp.float32)
    mask = random_mask(rng, (Q_SEQ, Q_SEQ))

    @jax.jit
    def loss(x, q_kernel, k_kernel, v_kernel, o_kernel):
        y = attention.multi_head_attention(
            x, x, x, q_kernel, k_kernel, v_kernel, o_kernel, num_heads=HEADS, mask=mask
        )
        return jnp.sum(jnp.sin(y))

    args = (x, *(jnp.asarray(w) for w in kernels))
    check_grads(loss, args, order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


def test_num_heads_must_divide_the_width():
    x = jnp.ones((BATCH, Q_SEQ, DIM))
    w = jnp.eye(DIM)
    with pytest.raises(ValueError, match="num_heads=4"):
        attention.multi_head_attention(x, x, x, w, w, w, w, num_heads=4)
