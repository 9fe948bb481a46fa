"""Loss functions: pure functions of ``(y_true, y_pred)`` with a ``reduction``.

Every loss has the signature ``loss(y_true, y_pred, *, reduction="mean", **options)``.
Inputs are ``(*batch, features)`` arrays of the same shape unless stated otherwise; the
per-example loss reduces the last (feature or class) axis and has shape ``batch``.
``reduction`` then maps it to the returned value:

* ``"none"``: the per-example loss, shape ``batch``;
* ``"mean"``: its mean, a scalar;
* ``"sum"``: its sum, a scalar.

Where optax provides the same formula, the loss wraps it.
"""

from collections.abc import Callable

import jax

from axonnx.lookup import by_name
from axonnx.losses.margin import categorical_hinge, hinge, margin_ranking, soft_margin
from axonnx.losses.probabilistic import (
    binary_cross_entropy,
    categorical_cross_entropy,
    ctc,
    kl_divergence,
    poisson,
    sparse_categorical_cross_entropy,
)
from axonnx.losses.regression import (
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_squared_error,
)

__all__ = [
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "categorical_hinge",
    "cosine_similarity",
    "ctc",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "margin_ranking",
    "mean_absolute_error",
    "mean_squared_error",
    "poisson",
    "soft_margin",
    "sparse_categorical_cross_entropy",
]


_LOSSES: dict[str, Callable[..., jax.Array]] = {
    "binary_cross_entropy": binary_cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
    "categorical_hinge": categorical_hinge,
    "cosine_similarity": cosine_similarity,
    "ctc": ctc,
    "hinge": hinge,
    "huber": huber,
    "kl_divergence": kl_divergence,
    "log_cosh": log_cosh,
    "margin_ranking": margin_ranking,
    "mean_absolute_error": mean_absolute_error,
    "mean_squared_error": mean_squared_error,
    "poisson": poisson,
    "soft_margin": soft_margin,
    "sparse_categorical_cross_entropy": sparse_categorical_cross_entropy,
}


def get(name_or_fn: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Returns the loss function called ``name_or_fn``; callables pass through.

    Args:
        name_or_fn: a loss name such as ``"categorical_cross_entropy"``, or a callable.

    Returns:
        The loss function.

    Raises:
        ValueError: if the name is unknown; the message lists the valid names.

    >>> get("mean_squared_error") is mean_squared_error
    True
    """
    return by_name("loss", _LOSSES, name_or_fn)
