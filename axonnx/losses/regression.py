"""Regression losses: absolute, squared, Huber, log-cosh and cosine similarity."""

import jax
import jax.numpy as jnp
import optax

from axonnx.losses._common import mean_over_last, pair, reduce


def mean_absolute_error(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """``|y_true - y_pred|``, averaged over the last axis.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(mean_absolute_error(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]])))
    0.5
    """
    return mean_over_last(
        "mean_absolute_error", y_true, y_pred, reduction, lambda t, p: jnp.abs(p - t)
    )


def mean_squared_error(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """``(y_true - y_pred) ** 2``, averaged over the last axis.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(mean_squared_error(jnp.array([[0.0, 1.0]]), jnp.array([[2.0, 1.0]])))
    2.0
    """
    return mean_over_last(
        "mean_squared_error",
        y_true,
        y_pred,
        reduction,
        lambda t, p: optax.losses.squared_error(p, t),
    )


def huber(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> jax.Array:
    """Huber loss, averaged over the last axis.

    Elementwise ``0.5 * e**2`` for ``|e| <= delta`` and ``delta * (|e| - 0.5 * delta)``
    beyond, with ``e = y_pred - y_true``.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, shape ``(*batch, n)``.
        delta: where the loss turns from quadratic to linear.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(huber(jnp.array([[0.0, 0.0]]), jnp.array([[0.5, 3.0]])))
    1.3125
    """
    return mean_over_last(
        "huber", y_true, y_pred, reduction, lambda t, p: optax.losses.huber_loss(p, t, delta=delta)
    )


def log_cosh(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """``log(cosh(y_pred - y_true))``, averaged over the last axis.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(log_cosh(jnp.array([[0.0]]), jnp.array([[0.0]])))
    0.0
    """
    return mean_over_last(
        "log_cosh", y_true, y_pred, reduction, lambda t, p: optax.losses.log_cosh(p, t)
    )


def cosine_similarity(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> jax.Array:
    """Cosine similarity along the last axis, as in Axon and optax (not negated).

    Minimizing it drives ``y_pred`` away from ``y_true``; to align them, minimize
    its negative.

    Args:
        y_true: targets, shape ``(*batch, n)``.
        y_pred: predictions, shape ``(*batch, n)``.
        eps: lower bound on the squared norms, to avoid dividing by zero.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(cosine_similarity(jnp.array([[1.0, 0.0]]), jnp.array([[2.0, 0.0]])))
    1.0
    """
    y_true, y_pred = pair("cosine_similarity", y_true, y_pred)
    loss = optax.losses.cosine_similarity(y_pred, y_true, epsilon=eps)
    return reduce(loss, reduction)
