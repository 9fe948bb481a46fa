"""Margin losses: hinge, categorical hinge, soft margin and margin ranking."""

import jax
import jax.numpy as jnp
import optax

from axonnx.losses._common import as_float, check_shapes, mean_over_last, pair, reduce


def hinge(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Hinge loss ``max(0, 1 - y_true * y_pred)``, averaged over the last axis.

    Args:
        y_true: targets in ``{-1, 1}``, shape ``(*batch, n)``.
        y_pred: scores, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(hinge(jnp.array([[1.0, -1.0]]), jnp.array([[0.5, 0.5]])))
    1.0
    """
    return mean_over_last(
        "hinge", y_true, y_pred, reduction, lambda t, p: optax.losses.hinge_loss(p, t)
    )


def categorical_hinge(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Categorical hinge: ``max(0, 1 + max_wrong(y_pred) - y_pred[true class])``.

    Args:
        y_true: one-hot targets, shape ``(*batch, classes)``.
        y_pred: class scores, shape ``(*batch, classes)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(categorical_hinge(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.25]])))
    1.25
    """
    y_true, y_pred = pair("categorical_hinge", y_true, y_pred)
    positive = jnp.sum(y_true * y_pred, axis=-1)
    negative = jnp.max((1 - y_true) * y_pred, axis=-1)
    return reduce(jnp.maximum(0, 1 + negative - positive), reduction)


def soft_margin(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Soft margin loss ``log(1 + exp(-y_true * y_pred))``, averaged over the last axis.

    Args:
        y_true: targets in ``{-1, 1}``, shape ``(*batch, n)``.
        y_pred: scores, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> round(float(soft_margin(jnp.array([[1.0]]), jnp.array([[0.0]]))), 4)
    0.6931
    """
    return mean_over_last(
        "soft_margin", y_true, y_pred, reduction, lambda t, p: jax.nn.softplus(-t * p)
    )


def margin_ranking(
    y_true: jax.typing.ArrayLike,
    y_pred1: jax.typing.ArrayLike,
    y_pred2: jax.typing.ArrayLike,
    *,
    margin: float = 0.0,
    reduction: str = "mean",
) -> jax.Array:
    """Margin ranking loss ``max(0, margin - y_true * (y_pred1 - y_pred2))``, elementwise.

    Args:
        y_true: ``1`` where ``y_pred1`` should rank higher, ``-1`` where ``y_pred2``
            should; shape ``batch``.
        y_pred1: first scores, shape ``batch``.
        y_pred2: second scores, shape ``batch``.
        margin: the required score gap.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(margin_ranking(jnp.array([1.0, -1.0]), jnp.array([2.0, 2.0]), jnp.array([1.0, 1.0])))
    0.5
    """
    y_true, y_pred1, y_pred2 = as_float(y_true, y_pred1, y_pred2)
    check_shapes("margin_ranking", y_true, y_pred1)
    check_shapes("margin_ranking", y_pred1, y_pred2)
    return reduce(jnp.maximum(0, margin - y_true * (y_pred1 - y_pred2)), reduction)
