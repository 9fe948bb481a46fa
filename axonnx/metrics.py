"""Metrics: pure functions ``metric(y_true, y_pred, **options) -> scalar``.

Binary metrics read ``y_true`` as labels in ``{0, 1}`` (positive when above 0.5) and
``y_pred`` as probabilities, positive when above ``threshold``. Counts are integer
scalars; rates are float scalars, ``0`` when their denominator is ``0``.

:func:`running_average` and :func:`running_sum` fold a metric over the steps of a
training loop.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from axonnx import losses
from axonnx.losses import _lookup

__all__ = [
    "accuracy",
    "false_negatives",
    "false_positives",
    "get",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "recall",
    "running_average",
    "running_sum",
    "sensitivity",
    "specificity",
    "top_k_categorical_accuracy",
    "true_negatives",
    "true_positives",
]


def _binary(
    where: str, y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, threshold: float
) -> tuple[jax.Array, jax.Array]:
    """Returns boolean ``(actual, predicted)`` positives, after checking the shapes match."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape, got {y_true.shape} "
            f"and {y_pred.shape}. Reshape one of them, e.g. add or remove a trailing "
            "axis of size 1."
        )
    return y_true > 0.5, y_pred > threshold


def _confusion(
    where: str, y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, threshold: float
) -> dict[str, jax.Array]:
    """The confusion counts ``tp``, ``fp``, ``tn`` and ``fn``, integer scalars."""
    actual, predicted = _binary(where, y_true, y_pred, threshold)
    return {
        "tp": jnp.sum(actual & predicted),
        "fp": jnp.sum(~actual & predicted),
        "tn": jnp.sum(~actual & ~predicted),
        "fn": jnp.sum(actual & ~predicted),
    }


def _rate(
    where: str,
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    threshold: float,
    hit: str,
    miss: str,
) -> jax.Array:
    """``hit / (hit + miss)`` of two confusion counts, ``0`` where the denominator is ``0``."""
    counts = _confusion(where, y_true, y_pred, threshold)
    return counts[hit] / jnp.maximum(counts[hit] + counts[miss], 1)


def _class_labels(where: str, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Integer labels from one-hot ``(*batch, classes)`` or integer ``batch`` targets."""
    if y_true.shape == y_pred.shape:
        return jnp.argmax(y_true, axis=-1)
    if y_true.shape == y_pred.shape[:-1]:
        return y_true
    raise ValueError(
        f"{where}: expected y_true of shape {y_pred.shape} (one-hot) or {y_pred.shape[:-1]} "
        f"(integer labels) for y_pred of shape {y_pred.shape}, got {y_true.shape}."
    )


def true_positives(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Number of positives predicted positive.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Integer scalar.

    >>> int(true_positives(jnp.array([1, 1, 0]), jnp.array([0.9, 0.2, 0.7])))
    1
    """
    return _confusion("true_positives", y_true, y_pred, threshold)["tp"]


def false_positives(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Number of negatives predicted positive.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Integer scalar.

    >>> int(false_positives(jnp.array([1, 1, 0]), jnp.array([0.9, 0.2, 0.7])))
    1
    """
    return _confusion("false_positives", y_true, y_pred, threshold)["fp"]


def true_negatives(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Number of negatives predicted negative.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Integer scalar.

    >>> int(true_negatives(jnp.array([1, 0, 0]), jnp.array([0.9, 0.2, 0.1])))
    2
    """
    return _confusion("true_negatives", y_true, y_pred, threshold)["tn"]


def false_negatives(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Number of positives predicted negative.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Integer scalar.

    >>> int(false_negatives(jnp.array([1, 1, 0]), jnp.array([0.9, 0.2, 0.7])))
    1
    """
    return _confusion("false_negatives", y_true, y_pred, threshold)["fn"]


def precision(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Fraction of positive predictions that are positive: ``TP / (TP + FP)``.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Float scalar, ``0`` when nothing is predicted positive.

    >>> float(precision(jnp.array([1, 1, 0]), jnp.array([0.9, 0.2, 0.7])))
    0.5
    """
    return _rate("precision", y_true, y_pred, threshold, "tp", "fp")


def recall(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Fraction of positives predicted positive: ``TP / (TP + FN)``.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Float scalar, ``0`` when there are no positives.

    >>> float(recall(jnp.array([1, 1, 0]), jnp.array([0.9, 0.2, 0.7])))
    0.5
    """
    return _rate("recall", y_true, y_pred, threshold, "tp", "fn")


def sensitivity(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """True positive rate ``TP / (TP + FN)``; the same as :func:`recall`.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Float scalar, ``0`` when there are no positives.

    >>> float(sensitivity(jnp.array([1, 1, 0]), jnp.array([0.9, 0.8, 0.7])))
    1.0
    """
    return recall(y_true, y_pred, threshold=threshold)


def specificity(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """True negative rate ``TN / (TN + FP)``.

    Args:
        y_true: labels in ``{0, 1}``, any shape.
        y_pred: probabilities, same shape as ``y_true``.
        threshold: ``y_pred`` above it counts as a positive prediction.

    Returns:
        Float scalar, ``0`` when there are no negatives.

    >>> float(specificity(jnp.array([1, 0, 0]), jnp.array([0.9, 0.8, 0.1])))
    0.5
    """
    return _rate("specificity", y_true, y_pred, threshold, "tn", "fp")


def accuracy(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, threshold: float = 0.5
) -> jax.Array:
    """Fraction of correct predictions, binary or categorical depending on the shapes.

    Binary when ``y_pred`` is 1-D or its last axis has size 1: labels in ``{0, 1}``
    against ``y_pred > threshold``. Otherwise categorical: ``argmax(y_pred, -1)``
    against one-hot ``y_true`` of the same shape or integer labels of shape ``batch``.

    Args:
        y_true: labels, shape ``(*batch, 1)``, ``(batch,)``, ``(*batch, classes)`` or
            ``batch`` (see above).
        y_pred: probabilities or scores, shape ``(*batch, 1)``, ``(batch,)`` or
            ``(*batch, classes)``.
        threshold: binary case only: ``y_pred`` above it predicts the positive class.

    Returns:
        Float scalar.

    >>> float(accuracy(jnp.array([[0, 1], [1, 0]]), jnp.array([[0.2, 0.8], [0.3, 0.7]])))
    0.5
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        actual, predicted = _binary("accuracy", y_true, y_pred, threshold)
        return jnp.mean(actual == predicted)
    return jnp.mean(_class_labels("accuracy", y_true, y_pred) == jnp.argmax(y_pred, axis=-1))


def top_k_categorical_accuracy(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, k: int = 5
) -> jax.Array:
    """Fraction of examples whose true class is among the ``k`` highest scores.

    Args:
        y_true: one-hot labels of shape ``(*batch, classes)``, or integer labels of
            shape ``batch``.
        y_pred: scores, shape ``(*batch, classes)``.
        k: how many of the highest scores count as a hit.

    Returns:
        Float scalar.

    >>> float(top_k_categorical_accuracy(jnp.array([2, 0]), jnp.array([[0.1, 0.5, 0.4],
    ...                                                               [0.1, 0.5, 0.4]]), k=2))
    0.5
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if not 1 <= k <= y_pred.shape[-1]:
        raise ValueError(
            f"top_k_categorical_accuracy: expected 1 <= k <= {y_pred.shape[-1]} (the "
            f"number of classes), got k={k}."
        )
    labels = _class_labels("top_k_categorical_accuracy", y_true, y_pred)
    _, top = jax.lax.top_k(y_pred, k)
    return jnp.mean(jnp.any(top == labels[..., None], axis=-1))


def mean_absolute_error(y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike) -> jax.Array:
    """Mean of ``|y_true - y_pred|`` over all elements.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, same shape.

    Returns:
        Float scalar.

    >>> float(mean_absolute_error(jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0])))
    0.5
    """
    return losses.mean_absolute_error(y_true, y_pred, reduction="mean")


def mean_squared_error(y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike) -> jax.Array:
    """Mean of ``(y_true - y_pred) ** 2`` over all elements.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, same shape.

    Returns:
        Float scalar.

    >>> float(mean_squared_error(jnp.array([0.0, 1.0]), jnp.array([2.0, 1.0])))
    2.0
    """
    return losses.mean_squared_error(y_true, y_pred, reduction="mean")


def running_average(previous: Any, value: Any, step: int | jax.Array) -> Any:
    """Folds ``value`` into the mean ``previous`` of the ``step`` values seen so far.

    Works leaf by leaf on pytrees, e.g. a dict of metrics.

    Args:
        previous: the mean of the first ``step`` values (ignored when ``step`` is 0).
        value: the next value, same structure and shapes as ``previous``.
        step: how many values ``previous`` already averages.

    Returns:
        The mean of the ``step + 1`` values.

    >>> float(running_average(jnp.array(2.0), jnp.array(5.0), 2))
    3.0
    """
    return jax.tree.map(lambda p, v: p + (v - p) / (step + 1), previous, value)


def running_sum(previous: Any, value: Any, step: int | jax.Array) -> Any:
    """Adds ``value`` to the running total ``previous``, leaf by leaf on pytrees.

    Args:
        previous: the sum so far.
        value: the next value, same structure and shapes as ``previous``.
        step: how many values ``previous`` already sums; unused, kept so that
            ``running_sum`` and :func:`running_average` are interchangeable.

    Returns:
        ``previous + value``.

    >>> int(running_sum(jnp.array(3), jnp.array(4), 1))
    7
    """
    del step
    return jax.tree.map(jnp.add, previous, value)


_METRICS: dict[str, Callable[..., jax.Array]] = {
    "accuracy": accuracy,
    "false_negatives": false_negatives,
    "false_positives": false_positives,
    "mean_absolute_error": mean_absolute_error,
    "mean_squared_error": mean_squared_error,
    "precision": precision,
    "recall": recall,
    "sensitivity": sensitivity,
    "specificity": specificity,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "true_negatives": true_negatives,
    "true_positives": true_positives,
}


def get(name_or_fn: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Returns the metric called ``name_or_fn``; callables pass through.

    Args:
        name_or_fn: a metric name such as ``"accuracy"``, or a callable.

    Returns:
        The metric function.

    Raises:
        ValueError: if the name is unknown; the message lists the valid names.

    >>> get("accuracy") is accuracy
    True
    """
    return _lookup("metric", _METRICS, name_or_fn)
