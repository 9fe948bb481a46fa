"""Regression metrics: the mean absolute and squared errors over all elements."""

import jax
import jax.numpy as jnp  # noqa: F401 (the examples use it)

from axonnx import losses


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
