"""Losses between distributions: cross-entropies, KL divergence, Poisson and CTC."""

import jax
import jax.numpy as jnp
import optax

from axonnx.losses._common import as_float, clip_probabilities, mean_over_last, pair, reduce


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
    y_true, y_pred = pair("binary_cross_entropy", y_true, y_pred)
    if from_logits:
        loss = optax.losses.sigmoid_binary_cross_entropy(y_pred, y_true)
    else:
        y_pred = clip_probabilities(y_pred)
        loss = -(y_true * jnp.log(y_pred) + (1 - y_true) * jnp.log1p(-y_pred))
    return reduce(jnp.mean(loss, axis=-1), reduction)


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
    y_true, y_pred = pair("categorical_cross_entropy", y_true, y_pred)
    if from_logits:
        loss = optax.losses.softmax_cross_entropy(y_pred, y_true)
    else:
        loss = -jnp.sum(y_true * jnp.log(clip_probabilities(y_pred)), axis=-1)
    return reduce(loss, reduction)


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
    (y_pred,) = as_float(y_pred)
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
        loss = -jnp.log(clip_probabilities(picked))
    return reduce(loss, reduction)


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
    y_true, y_pred = pair("kl_divergence", y_true, y_pred)
    loss = optax.losses.kl_divergence(jnp.log(clip_probabilities(y_pred)), y_true)
    return reduce(loss, reduction)


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
    return mean_over_last(
        "poisson",
        y_true,
        y_pred,
        reduction,
        lambda t, p: p - t * jnp.log(p + jnp.finfo(p.dtype).eps),
    )


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
    (y_pred,) = as_float(y_pred)
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
    return reduce(loss, reduction)
