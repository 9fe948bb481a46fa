"""Tests for axonnx.metrics against NumPy counts and formulas written out here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axonnx import metrics

DTYPES = [jnp.float32, jnp.float16, jnp.bfloat16]
BINARY_SHAPES = [(50,), (20, 1), (4, 5, 3)]


def _binary_data(shape, dtype, seed=0):
    """Random 0/1 labels and probabilities, with the probabilities' exact values."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, shape)
    y_pred = jnp.asarray(rng.uniform(0, 1, shape), dtype)
    return jnp.asarray(labels, jnp.int32), y_pred, labels, np.asarray(y_pred, np.float64)


def _numpy_counts(labels, probs, threshold):
    actual, predicted = labels == 1, probs > threshold
    return {
        "true_positives": np.sum(actual & predicted),
        "false_positives": np.sum(~actual & predicted),
        "true_negatives": np.sum(~actual & ~predicted),
        "false_negatives": np.sum(actual & ~predicted),
    }


def _numpy_rates(counts):
    tp, fp, tn, fn = (
        counts[k]
        for k in ("true_positives", "false_positives", "true_negatives", "false_negatives")
    )
    recall = tp / (tp + fn)
    return {
        "precision": tp / (tp + fp),
        "recall": recall,
        "sensitivity": recall,
        "specificity": tn / (tn + fp),
    }


@pytest.mark.parametrize("shape", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_counts_and_rates_match_numpy(shape, dtype, threshold):
    y_true, y_pred, labels, probs = _binary_data(shape, dtype)
    counts = _numpy_counts(labels, probs, threshold)
    expected = counts | _numpy_rates(counts)
    got = {name: metrics.get(name)(y_true, y_pred, threshold=threshold) for name in expected}
    assert all(got[name].shape == () for name in got)
    np.testing.assert_allclose(
        [float(got[name]) for name in expected], list(expected.values()), rtol=1e-6
    )


@pytest.mark.parametrize(
    "name, y_true, y_pred",
    [
        ("precision", [1, 0], [0.1, 0.2]),  # nothing predicted positive
        ("recall", [0, 0], [0.9, 0.2]),  # no positives
        ("sensitivity", [0, 0], [0.9, 0.2]),
        ("specificity", [1, 1], [0.9, 0.2]),  # no negatives
    ],
)
def test_rates_are_zero_when_their_denominator_is_zero(name, y_true, y_pred):
    assert float(metrics.get(name)(jnp.array(y_true), jnp.array(y_pred))) == 0.0


@pytest.mark.parametrize("shape", [(50,), (20, 1), (4, 5, 1)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_binary_accuracy_matches_numpy(shape, dtype):
    y_true, y_pred, labels, probs = _binary_data(shape, dtype, seed=1)
    expected = np.mean(labels == (probs > 0.5))
    np.testing.assert_allclose(metrics.accuracy(y_true, y_pred), expected, rtol=1e-6)


def _categorical_data(shape, dtype, seed=2):
    """Random integer labels, their one-hot form and scores, with the scores' exact values."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, shape[-1], shape[:-1])
    y_pred = jnp.asarray(rng.normal(size=shape), dtype)
    one_hot = np.eye(shape[-1])[labels]
    return labels, one_hot, y_pred, np.asarray(y_pred, np.float64)


@pytest.mark.parametrize("shape", [(30, 4), (3, 7, 10)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("sparse", [False, True], ids=["one_hot", "labels"])
def test_categorical_accuracy_matches_numpy(shape, dtype, sparse):
    labels, one_hot, y_pred, scores = _categorical_data(shape, dtype)
    y_true = jnp.asarray(labels, jnp.int32) if sparse else jnp.asarray(one_hot, jnp.float32)
    expected = np.mean(labels == np.argmax(scores, -1))
    np.testing.assert_allclose(metrics.accuracy(y_true, y_pred), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(40, 6), (3, 7, 10)], ids=str)
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("sparse", [False, True], ids=["one_hot", "labels"])
def test_top_k_categorical_accuracy_matches_numpy(shape, k, sparse):
    labels, one_hot, y_pred, scores = _categorical_data(shape, jnp.float32, seed=3)
    y_true = jnp.asarray(labels, jnp.int32) if sparse else jnp.asarray(one_hot, jnp.float32)
    top_k = np.argsort(-scores, axis=-1)[..., :k]
    expected = np.mean(np.any(top_k == labels[..., None], axis=-1))
    got = metrics.top_k_categorical_accuracy(y_true, y_pred, k=k)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_top_k_with_every_class_is_always_right():
    _, one_hot, y_pred, _ = _categorical_data((8, 3), jnp.float32)
    assert float(metrics.top_k_categorical_accuracy(jnp.asarray(one_hot), y_pred, k=3)) == 1.0


@pytest.mark.parametrize("shape", [(50,), (6, 4), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_regression_metrics_match_numpy(shape, dtype):
    rng = np.random.default_rng(4)
    y_true, y_pred = (jnp.asarray(rng.normal(size=shape), dtype) for _ in range(2))
    t, p = (np.asarray(a, np.float64) for a in (y_true, y_pred))
    tol = {jnp.float32: 1e-5, jnp.float16: 1e-2, jnp.bfloat16: 5e-2}[dtype]
    got = [metrics.mean_absolute_error(y_true, y_pred), metrics.mean_squared_error(y_true, y_pred)]
    expected = [np.mean(np.abs(t - p)), np.mean((t - p) ** 2)]
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=tol)


def _fold(update, values):
    state = jnp.zeros_like(values[0])
    for step, value in enumerate(values):
        state = update(state, value, step)
    return state


def test_running_average_of_a_sequence_is_its_mean():
    values = jnp.asarray(np.random.default_rng(5).normal(size=(17, 3)), jnp.float32)
    np.testing.assert_allclose(_fold(metrics.running_average, values), values.mean(0), rtol=1e-5)


def test_running_sum_of_a_sequence_is_its_sum():
    values = jnp.asarray(np.random.default_rng(6).integers(0, 9, (11,)), jnp.int32)
    assert int(_fold(metrics.running_sum, values)) == int(np.sum(values))


def test_running_helpers_work_on_pytrees_under_jit():
    previous = {"accuracy": jnp.array(0.5), "loss": jnp.array(2.0)}
    value = {"accuracy": jnp.array(1.0), "loss": jnp.array(0.5)}
    averaged = jax.jit(metrics.running_average)(previous, value, jnp.array(1))
    summed = jax.jit(metrics.running_sum)(previous, value, jnp.array(1))
    assert {k: float(v) for k, v in averaged.items()} == {"accuracy": 0.75, "loss": 1.25}
    assert {k: float(v) for k, v in summed.items()} == {"accuracy": 1.5, "loss": 2.5}


def test_metrics_run_under_jit():
    y_true, y_pred, labels, probs = _binary_data((32,), jnp.float32)
    got = jax.jit(metrics.precision)(y_true, y_pred)
    counts = _numpy_counts(labels, probs, 0.5)
    np.testing.assert_allclose(got, _numpy_rates(counts)["precision"], rtol=1e-6)


def test_binary_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"true_positives: .* got \(4,\) and \(4, 1\)"):
        metrics.true_positives(jnp.zeros(4), jnp.zeros((4, 1)))


def test_categorical_metrics_reject_bad_label_shapes():
    with pytest.raises(ValueError, match=r"accuracy: expected y_true of shape \(4, 3\)"):
        metrics.accuracy(jnp.zeros((4, 2)), jnp.zeros((4, 3)))


@pytest.mark.parametrize("k", [0, 4])
def test_top_k_rejects_k_out_of_range(k):
    with pytest.raises(ValueError, match=rf"expected 1 <= k <= 3 .*, got k={k}"):
        metrics.top_k_categorical_accuracy(jnp.zeros(2, jnp.int32), jnp.zeros((2, 3)), k=k)


def test_get_returns_every_public_metric_and_passes_callables_through():
    names = set(metrics.__all__) - {"get", "running_average", "running_sum"}
    assert {name: metrics.get(name) for name in names} == {n: getattr(metrics, n) for n in names}
    assert metrics.get(np.mean) is np.mean


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"metric: expected a callable or one of \[.*'recall'.*\]"):
        metrics.get("f1")
