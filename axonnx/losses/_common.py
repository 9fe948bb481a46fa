"""Shared by the loss families: reductions, dtype casts and shape checks."""

from collections.abc import Callable

import jax
import jax.numpy as jnp

_REDUCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "none": lambda loss: loss,
    "mean": jnp.mean,
    "sum": jnp.sum,
}


def reduce(loss: jax.Array, reduction: str) -> jax.Array:
    """Applies ``reduction`` to a per-example ``loss``."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction: expected one of {sorted(_REDUCTIONS)}, got {reduction!r}. "
            "Use 'none' for the per-example loss."
        )
    return _REDUCTIONS[reduction](loss)


def as_float(*arrays: jax.typing.ArrayLike) -> list[jax.Array]:
    """Casts ``arrays`` to their common floating dtype (float32 for integer inputs)."""
    dtype = jnp.result_type(float, *arrays)
    return [jnp.asarray(array, dtype) for array in arrays]


def check_shapes(where: str, y_true: jax.Array, y_pred: jax.Array) -> None:
    """Rejects mismatched shapes, which would otherwise broadcast silently."""
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape, got "
            f"{y_true.shape} and {y_pred.shape}. Reshape one of them, e.g. add or "
            "remove a trailing axis of size 1."
        )


def pair(where: str, y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike) -> list[jax.Array]:
    """Casts ``y_true`` and ``y_pred`` to a common float dtype and checks their shapes."""
    y_true, y_pred = as_float(y_true, y_pred)
    check_shapes(where, y_true, y_pred)
    return [y_true, y_pred]


def mean_over_last(
    where: str,
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    reduction: str,
    elementwise: Callable[[jax.Array, jax.Array], jax.Array],
) -> jax.Array:
    """``elementwise(y_true, y_pred)`` averaged over the last axis, then reduced."""
    y_true, y_pred = pair(where, y_true, y_pred)
    return reduce(jnp.mean(elementwise(y_true, y_pred), axis=-1), reduction)


def clip_probabilities(y_pred: jax.Array) -> jax.Array:
    """Clips probabilities to ``[eps, 1 - eps]``, ``eps`` the machine epsilon of the dtype."""
    eps = jnp.finfo(y_pred.dtype).eps
    return jnp.clip(y_pred, eps, 1 - eps)
