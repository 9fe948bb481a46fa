"""Classification metrics: confusion counts, rates and accuracies.

Binary metrics read ``y_true`` as labels in ``{0, 1}`` (positive when above 0.5) and
``y_pred`` as probabilities, positive when above ``threshold``. Counts are integer
scalars; rates are float scalars, ``0`` when their denominator is ``0``.
"""

import jax
import jax.numpy as jnp


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
