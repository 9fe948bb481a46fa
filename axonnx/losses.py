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
import jax.numpy as jnp
import optax

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

_REDUCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "none": lambda loss: loss,
    "mean": jnp.mean,
    "sum": jnp.sum,
}


def _reduce(loss: jax.Array, reduction: str) -> jax.Array:
    """Applies ``reduction`` to a per-example ``loss``."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction: expected one of {sorted(_REDUCTIONS)}, got {reduction!r}. "
            "Use 'none' for the per-example loss."
        )
    return _REDUCTIONS[reduction](loss)


def _as_float(*arrays: jax.typing.ArrayLike) -> list[jax.Array]:
    """Casts ``arrays`` to their common floating dtype (float32 for integer inputs)."""
    dtype = jnp.result_type(float, *arrays)
    return [jnp.asarray(array, dtype) for array in arrays]


def _check_shapes(where: str, y_true: jax.Array, y_pred: jax.Array) -> None:
    """Rejects mismatched shapes, which would otherwise broadcast silently."""
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape, got "
            f"{y_true.shape} and {y_pred.shape}. Reshape one of them, e.g. add or "
            "remove a trailing axis of size 1."
        )


def _pair(
    where: str, y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike
) -> list[jax.Array]:
    """Casts ``y_true`` and ``y_pred`` to a common float dtype and checks their shapes."""
    y_true, y_pred = _as_float(y_true, y_pred)
    _check_shapes(where, y_true, y_pred)
    return [y_true, y_pred]


def _mean_over_last(
    where: str,
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    reduction: str,
    elementwise: Callable[[jax.Array, jax.Array], jax.Array],
) -> jax.Array:
    """``elementwise(y_true, y_pred)`` averaged over the last axis, then reduced."""
    y_true, y_pred = _pair(where, y_true, y_pred)
    return _reduce(jnp.mean(elementwise(y_true, y_pred), axis=-1), reduction)


def _clip_probabilities(y_pred: jax.Array) -> jax.Array:
    """Clips probabilities to ``[eps, 1 - eps]``, ``eps`` the machine epsilon of the dtype."""
    eps = jnp.finfo(y_pred.dtype).eps
    return jnp.clip(y_pred, eps, 1 - eps)


def binary_cross_entropy(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross-entropy, averaged over the last axis.

    Args:
        y_true: targets in ``[0, 1]``, shape ``(*batch, n)``.
        y_pred: probabilities (clipped to ``[eps, 1 - eps]``), or logits when
            ``from_logits``; shape ``(*batch, n)``.
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> round(float(binary_cross_entropy(jnp.array([[1.0]]), jnp.array([[0.5]]))), 4)
    0.6931
    """
    y_true, y_pred = _pair("binary_cross_entropy", y_true, y_pred)
    if from_logits:
        loss = optax.losses.sigmoid_binary_cross_entropy(y_pred, y_true)
    else:
        y_pred = _clip_probabilities(y_pred)
        loss = -(y_true * jnp.log(y_pred) + (1 - y_true) * jnp.log1p(-y_pred))
    return _reduce(jnp.mean(loss, axis=-1), reduction)


def categorical_cross_entropy(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """Cross-entropy between one-hot (or soft) targets and predicted class distributions.

    Args:
        y_true: class probabilities, shape ``(*batch, classes)``.
        y_pred: probabilities (clipped to ``[eps, 1 - eps]``), or logits when
            ``from_logits``; shape ``(*batch, classes)``.
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> round(float(categorical_cross_entropy(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.5]]))), 4)
    0.6931
    """
    y_true, y_pred = _pair("categorical_cross_entropy", y_true, y_pred)
    if from_logits:
        loss = optax.losses.softmax_cross_entropy(y_pred, y_true)
    else:
        loss = -jnp.sum(y_true * jnp.log(_clip_probabilities(y_pred)), axis=-1)
    return _reduce(loss, reduction)


def sparse_categorical_cross_entropy(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """Cross-entropy between integer class labels and predicted class distributions.

    Args:
        y_true: integer labels in ``[0, classes)``, shape ``batch``.
        y_pred: probabilities (clipped to ``[eps, 1 - eps]``), or logits when
            ``from_logits``; shape ``(*batch, classes)``.
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> round(float(sparse_categorical_cross_entropy(jnp.array([1]), jnp.array([[0.5, 0.5]]))), 4)
    0.6931
    """
    y_true = jnp.asarray(y_true)
    (y_pred,) = _as_float(y_pred)
    if y_true.shape != y_pred.shape[:-1] or not jnp.issubdtype(y_true.dtype, jnp.integer):
        raise ValueError(
            "sparse_categorical_cross_entropy: expected integer y_true of shape "
            f"{y_pred.shape[:-1]} (y_pred without its class axis), got {y_true.dtype} "
            f"{y_true.shape}. For one-hot targets use categorical_cross_entropy."
        )
    if from_logits:
        loss = optax.losses.softmax_cross_entropy_with_integer_labels(y_pred, y_true)
    else:
        picked = jnp.take_along_axis(y_pred, y_true[..., None], axis=-1)[..., 0]
        loss = -jnp.log(_clip_probabilities(picked))
    return _reduce(loss, reduction)


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
    y_true, y_pred = _pair("categorical_hinge", y_true, y_pred)
    positive = jnp.sum(y_true * y_pred, axis=-1)
    negative = jnp.max((1 - y_true) * y_pred, axis=-1)
    return _reduce(jnp.maximum(0, 1 + negative - positive), reduction)


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
    return _mean_over_last(
        "hinge", y_true, y_pred, reduction, lambda t, p: optax.losses.hinge_loss(p, t)
    )


def kl_divergence(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` over the last axis.

    Args:
        y_true: target distribution, shape ``(*batch, classes)``; zeros contribute 0.
        y_pred: predicted distribution (clipped to ``[eps, 1 - eps]``), shape
            ``(*batch, classes)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(kl_divergence(jnp.array([[0.5, 0.5]]), jnp.array([[0.5, 0.5]])))
    0.0
    """
    y_true, y_pred = _pair("kl_divergence", y_true, y_pred)
    loss = optax.losses.kl_divergence(jnp.log(_clip_probabilities(y_pred)), y_true)
    return _reduce(loss, reduction)


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
    return _mean_over_last(
        "log_cosh", y_true, y_pred, reduction, lambda t, p: optax.losses.log_cosh(p, t)
    )


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
    return _mean_over_last(
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
    return _mean_over_last(
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
    return _mean_over_last(
        "huber", y_true, y_pred, reduction, lambda t, p: optax.losses.huber_loss(p, t, delta=delta)
    )


def poisson(
    y_true: jax.typing.ArrayLike, y_pred: jax.typing.ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Poisson loss ``y_pred - y_true * log(y_pred + eps)``, averaged over the last axis.

    Args:
        y_true: observed counts, shape ``(*batch, n)``.
        y_pred: predicted rates, non-negative, shape ``(*batch, n)``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``batch`` for ``reduction="none"``, else a scalar.

    >>> float(poisson(jnp.array([[0.0]]), jnp.array([[2.0]])))
    2.0
    """
    return _mean_over_last(
        "poisson",
        y_true,
        y_pred,
        reduction,
        lambda t, p: p - t * jnp.log(p + jnp.finfo(p.dtype).eps),
    )


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
    return _mean_over_last(
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
    y_true, y_pred1, y_pred2 = _as_float(y_true, y_pred1, y_pred2)
    _check_shapes("margin_ranking", y_true, y_pred1)
    _check_shapes("margin_ranking", y_pred1, y_pred2)
    return _reduce(jnp.maximum(0, margin - y_true * (y_pred1 - y_pred2)), reduction)


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
    y_true, y_pred = _pair("cosine_similarity", y_true, y_pred)
    loss = optax.losses.cosine_similarity(y_pred, y_true, epsilon=eps)
    return _reduce(loss, reduction)


def ctc(
    y_true: jax.typing.ArrayLike,
    y_pred: jax.typing.ArrayLike,
    *,
    label_paddings: jax.typing.ArrayLike | None = None,
    logit_paddings: jax.typing.ArrayLike | None = None,
    blank_id: int = 0,
    reduction: str = "mean",
) -> jax.Array:
    """Connectionist temporal classification loss (negative log-likelihood), via optax.

    Args:
        y_true: integer label sequences, shape ``(batch, labels)``.
        y_pred: unnormalized logits, shape ``(batch, time, classes)``; ``classes``
            includes the blank.
        label_paddings: ``1.0`` where ``y_true`` is padding, else ``0.0``; shape
            ``(batch, labels)``, padding at the end only. Default: no padding.
        logit_paddings: ``1.0`` where ``y_pred`` is padding, else ``0.0``; shape
            ``(batch, time)``, padding at the end only. Default: no padding.
        blank_id: class index of the blank symbol.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        Shape ``(batch,)`` for ``reduction="none"``, else a scalar.

    >>> round(float(ctc(jnp.array([[1]]), jnp.zeros((1, 1, 2)))), 4)
    0.6931
    """
    y_true = jnp.asarray(y_true)
    (y_pred,) = _as_float(y_pred)
    if y_true.ndim != 2 or y_pred.ndim != 3 or y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            "ctc: expected y_true of shape (batch, labels) and y_pred of shape "
            f"(batch, time, classes), got {y_true.shape} and {y_pred.shape}."
        )
    if label_paddings is None:
        label_paddings = jnp.zeros(y_true.shape, y_pred.dtype)
    if logit_paddings is None:
        logit_paddings = jnp.zeros(y_pred.shape[:2], y_pred.dtype)
    loss = optax.losses.ctc_loss(y_pred, logit_paddings, y_true, label_paddings, blank_id=blank_id)
    return _reduce(loss, reduction)


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


def _lookup(
    kind: str, table: dict[str, Callable[..., jax.Array]], name_or_fn: str | Callable
) -> Callable[..., jax.Array]:
    """Returns ``table[name_or_fn]``, or ``name_or_fn`` when callable; shared with metrics."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in table:
        raise ValueError(
            f"{kind}: expected a callable or one of {sorted(table)}, got {name_or_fn!r}."
        )
    return table[name_or_fn]


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
    return _lookup("loss", _LOSSES, name_or_fn)
