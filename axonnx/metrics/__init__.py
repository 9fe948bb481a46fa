"""Metrics: pure functions ``metric(y_true, y_pred, **options) -> scalar``.

Binary metrics read ``y_true`` as labels in ``{0, 1}`` (positive when above 0.5) and
``y_pred`` as probabilities, positive when above ``threshold``. Counts are integer
scalars; rates are float scalars, ``0`` when their denominator is ``0``.

:func:`running_average` and :func:`running_sum` fold a metric over the steps of a
training loop.
"""

from collections.abc import Callable

import jax

from axonnx.lookup import by_name
from axonnx.metrics.classification import (
    accuracy,
    false_negatives,
    false_positives,
    precision,
    recall,
    sensitivity,
    specificity,
    top_k_categorical_accuracy,
    true_negatives,
    true_positives,
)
from axonnx.metrics.regression import mean_absolute_error, mean_squared_error
from axonnx.metrics.running import running_average, running_sum

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
    return by_name("metric", _METRICS, name_or_fn)
