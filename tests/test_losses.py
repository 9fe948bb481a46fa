"""Tests for axonnx.losses against float64 NumPy references written out here."""

import itertools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axonnx import losses

DTYPES = [jnp.float32, jnp.float16, jnp.bfloat16]
SHAPES = [(4, 3), (2, 3, 5), (7, 1)]
REDUCTIONS = ["none", "mean", "sum"]
TOLERANCE = {jnp.float32: 1e-5, jnp.float16: 1e-2, jnp.bfloat16: 5e-2}


# Input generators: (rng, shape) -> (y_true, y_pred) as float64 NumPy arrays.


def _binary_probs(rng, shape):
    return rng.integers(0, 2, shape).astype(float), rng.uniform(0.05, 0.95, shape)


def _binary_logits(rng, shape):
    return rng.integers(0, 2, shape).astype(float), rng.normal(0, 2, shape)


def _distribution(rng, shape):
    p = rng.uniform(0.2, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _onehot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]


def _onehot_probs(rng, shape):
    return _onehot(rng, shape), _distribution(rng, shape)


def _onehot_logits(rng, shape):
    return _onehot(rng, shape), rng.normal(0, 2, shape)


def _two_distributions(rng, shape):
    return _distribution(rng, shape), _distribution(rng, shape)


def _labels_probs(rng, shape):
    return rng.integers(0, shape[-1], shape[:-1]), _distribution(rng, shape)


def _labels_logits(rng, shape):
    return rng.integers(0, shape[-1], shape[:-1]), rng.normal(0, 2, shape)


def _signs_scores(rng, shape):
    return rng.choice([-1.0, 1.0], shape), rng.normal(0, 1.5, shape)


def _regression(rng, shape):
    return rng.normal(0, 1, shape), rng.normal(0, 1.5, shape)


def _counts_rates(rng, shape):
    return rng.poisson(2.0, shape).astype(float), rng.uniform(0.5, 4.0, shape)


# References: (y_true, y_pred) float64 -> per-example loss, the last axis reduced.


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _log_softmax(z):
    shifted = z - z.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _bce(t, p):
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), -1)


def _huber(t, p, delta):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)), -1)


def _sparse_cce(labels, p):
    return -np.log(np.take_along_axis(p, labels[..., None], -1)[..., 0])


def _categorical_hinge(t, p):
    return np.maximum(0, 1 + np.max((1 - t) * p, -1) - np.sum(t * p, -1))


def _cosine(t, p):
    return np.sum(t * p, -1) / (np.linalg.norm(t, axis=-1) * np.linalg.norm(p, axis=-1))


class Case(NamedTuple):
    name: str
    generate: Callable
    reference: Callable
    options: dict = {}
    clips: bool = False  # y_pred holds probabilities, clipped to the dtype's epsilon


CASES = [
    Case("binary_cross_entropy", _binary_probs, _bce, clips=True),
    Case(
        "binary_cross_entropy",
        _binary_logits,
        lambda t, z: _bce(t, _sigmoid(z)),
        {"from_logits": True},
    ),
    Case(
        "categorical_cross_entropy",
        _onehot_probs,
        lambda t, p: -np.sum(t * np.log(p), -1),
        clips=True,
    ),
    Case(
        "categorical_cross_entropy",
        _onehot_logits,
        lambda t, z: -np.sum(t * _log_softmax(z), -1),
        {"from_logits": True},
    ),
    Case("sparse_categorical_cross_entropy", _labels_probs, _sparse_cce, clips=True),
    Case(
        "sparse_categorical_cross_entropy",
        _labels_logits,
        lambda t, z: _sparse_cce(t, np.exp(_log_softmax(z))),
        {"from_logits": True},
    ),
    Case("categorical_hinge", _onehot_logits, _categorical_hinge),
    Case("hinge", _signs_scores, lambda t, p: np.mean(np.maximum(0, 1 - t * p), -1)),
    Case(
        "kl_divergence",
        _two_distributions,
        lambda t, p: np.sum(t * np.log(t / p), -1),
        clips=True,
    ),
    Case("log_cosh", _regression, lambda t, p: np.mean(np.log(np.cosh(p - t)), -1)),
    Case("mean_absolute_error", _regression, lambda t, p: np.mean(np.abs(t - p), -1)),
    Case("mean_squared_error", _regression, lambda t, p: np.mean((t - p) ** 2, -1)),
    Case("huber", _regression, lambda t, p: _huber(t, p, 1.0)),
    Case("huber", _regression, lambda t, p: _huber(t, p, 0.3), {"delta": 0.3}),
    Case("poisson", _counts_rates, lambda t, p: np.mean(p - t * np.log(p), -1)),
    Case("soft_margin", _signs_scores, lambda t, p: np.mean(np.log1p(np.exp(-t * p)), -1)),
    Case("cosine_similarity", _regression, _cosine),
]


def _case_id(case: Case) -> str:
    return "-".join([case.name, *(f"{k}={v}" for k, v in case.options.items())])


def _reduce(per_example: np.ndarray, reduction: str):
    return {"none": per_example, "mean": per_example.mean(), "sum": per_example.sum()}[reduction]


def _cast(array: np.ndarray, dtype) -> jax.Array:
    """Floats to ``dtype``, integer labels to int32."""
    return jnp.asarray(array, dtype if array.dtype.kind == "f" else jnp.int32)


def _inputs(case: Case, shape, dtype, seed=0):
    """JAX inputs in ``dtype`` and their exact float64 values, for the reference."""
    y_true, y_pred = (_cast(a, dtype) for a in case.generate(np.random.default_rng(seed), shape))
    exact = [np.asarray(a, np.float64 if a.dtype == dtype else a.dtype) for a in (y_true, y_pred)]
    return (y_true, y_pred), exact


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_matches_numpy_reference(case, shape, dtype, reduction):
    (y_true, y_pred), (t, p) = _inputs(case, shape, dtype)
    if case.clips:
        eps = float(jnp.finfo(dtype).eps)
        p = np.clip(p, eps, 1 - eps)
    got = losses.get(case.name)(y_true, y_pred, reduction=reduction, **case.options)
    expected = _reduce(case.reference(t, p), reduction)
    assert got.dtype == dtype
    assert got.shape == np.shape(expected)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_loss_under_jit_matches_eager(case):
    (y_true, y_pred), _ = _inputs(case, (3, 4), jnp.float32)
    fn = jax.jit(losses.get(case.name), static_argnames=("reduction", *case.options))
    eager = losses.get(case.name)(y_true, y_pred, reduction="none", **case.options)
    jitted = fn(y_true, y_pred, reduction="none", **case.options)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


def test_integer_targets_are_promoted_to_float():
    got = losses.mean_squared_error(jnp.array([[1, 2]]), jnp.array([[1.5, 2.0]]))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, 0.125)


@pytest.mark.parametrize(
    "name, y_true, y_pred",
    [
        ("binary_cross_entropy", [[1.0, 0.0]], [[0.0, 1.0]]),
        ("categorical_cross_entropy", [[1.0, 0.0]], [[0.0, 1.0]]),
        ("kl_divergence", [[1.0, 0.0]], [[0.0, 1.0]]),
    ],
)
def test_probabilities_are_clipped_to_machine_epsilon(name, y_true, y_pred):
    got = losses.get(name)(jnp.array(y_true), jnp.array(y_pred))
    np.testing.assert_allclose(got, -np.log(np.finfo(np.float32).eps), rtol=1e-5)


def test_sparse_matches_categorical_on_one_hot_targets():
    rng = np.random.default_rng(1)
    labels = jnp.asarray(rng.integers(0, 5, (6,)))
    logits = jnp.asarray(rng.normal(size=(6, 5)), jnp.float32)
    sparse = losses.sparse_categorical_cross_entropy(labels, logits, from_logits=True)
    dense = losses.categorical_cross_entropy(jax.nn.one_hot(labels, 5), logits, from_logits=True)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_matches_numpy_reference(dtype, margin, reduction):
    rng = np.random.default_rng(2)
    arrays = [_cast(a, dtype) for a in _signs_scores(rng, (9,)) + (rng.normal(size=9),)]
    t, p1, p2 = (np.asarray(a, np.float64) for a in arrays)
    got = losses.margin_ranking(*arrays, margin=margin, reduction=reduction)
    expected = _reduce(np.maximum(0, margin - t * (p1 - p2)), reduction)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=tol, atol=tol)


# CTC against a brute-force sum over every alignment of a tiny problem.


def _collapse(path, blank):
    merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    return tuple(s for s in merged if s != blank)


def _ctc_brute_force(labels, logits, label_length, time_length, blank):
    log_probs = _log_softmax(logits[:time_length])
    target = tuple(labels[:label_length])
    likelihood = sum(
        np.exp(sum(log_probs[t, s] for t, s in enumerate(path)))
        for path in itertools.product(range(logits.shape[-1]), repeat=time_length)
        if _collapse(path, blank) == target
    )
    return -np.log(likelihood)


@pytest.mark.parametrize("blank_id", [0, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_matches_brute_force(blank_id, reduction):
    rng = np.random.default_rng(3)
    a, b = (s for s in range(3) if s != blank_id)
    # A repeat (needs a blank between), a padded label, an empty one, padded frames.
    labels = np.array([[a, a], [b, 0], [0, 0], [b, a]])
    label_lengths = np.array([2, 1, 0, 2])
    time_lengths = np.array([5, 5, 3, 4])
    logits = rng.normal(size=(4, 5, 3))
    label_paddings = (np.arange(2) >= label_lengths[:, None]).astype(np.float32)
    logit_paddings = (np.arange(5) >= time_lengths[:, None]).astype(np.float32)
    got = losses.ctc(
        jnp.asarray(labels),
        jnp.asarray(logits, jnp.float32),
        label_paddings=jnp.asarray(label_paddings),
        logit_paddings=jnp.asarray(logit_paddings),
        blank_id=blank_id,
        reduction=reduction,
    )
    per_example = np.array(
        [
            _ctc_brute_force(*args, blank_id)
            for args in zip(labels, logits, label_lengths, time_lengths, strict=True)
        ]
    )
    np.testing.assert_allclose(got, _reduce(per_example, reduction), rtol=1e-5)


def test_ctc_without_paddings_uses_every_label_and_frame():
    logits = np.random.default_rng(4).normal(size=(1, 3, 3))
    got = losses.ctc(jnp.array([[1, 2]]), jnp.asarray(logits, jnp.float32), reduction="none")
    expected = _ctc_brute_force(np.array([1, 2]), logits[0], 2, 3, 0)
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


# Gradients, in float64.


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_loss_gradients(case):
    with jax.enable_x64(True):
        (y_true, y_pred), _ = _inputs(case, (3, 4), jnp.float64, seed=5)
        loss = losses.get(case.name)
        check_grads(
            jax.jit(lambda p: loss(y_true, p, **case.options)), (y_pred,), order=2, modes=["rev"]
        )


def test_ctc_gradient():
    with jax.enable_x64(True):
        logits = jnp.asarray(np.random.default_rng(6).normal(size=(2, 4, 3)))
        check_grads(
            jax.jit(lambda z: losses.ctc(jnp.array([[1, 2], [2, 2]]), z)), (logits,), order=1
        )


# Errors and lookup.


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_unknown_reduction_names_the_valid_ones(case):
    (y_true, y_pred), _ = _inputs(case, (2, 3), jnp.float32)
    expected = r"reduction: expected one of \['mean', 'none', 'sum'\], got 'average'"
    with pytest.raises(ValueError, match=expected):
        losses.get(case.name)(y_true, y_pred, reduction="average", **case.options)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"mean_squared_error: .* got \(3,\) and \(3, 1\)"):
        losses.mean_squared_error(jnp.zeros(3), jnp.zeros((3, 1)))


def test_sparse_rejects_one_hot_targets():
    with pytest.raises(ValueError, match="use categorical_cross_entropy"):
        losses.sparse_categorical_cross_entropy(jnp.eye(3), jnp.eye(3))


def test_ctc_rejects_bad_ranks():
    with pytest.raises(ValueError, match=r"ctc: expected y_true of shape \(batch, labels\)"):
        losses.ctc(jnp.zeros(3, jnp.int32), jnp.zeros((1, 3, 2)))


def test_get_returns_every_public_loss_and_passes_callables_through():
    names = set(losses.__all__) - {"get"}
    assert {name: losses.get(name) for name in names} == {n: getattr(losses, n) for n in names}
    assert losses.get(np.sum) is np.sum


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"loss: expected a callable or one of \[.*'ctc'.*\]"):
        losses.get("cross_entropy")
