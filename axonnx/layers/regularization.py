"""Dropout layers: standard, alpha, feature-alpha and spatial dropout.

Every function is the identity in mode "inference". In mode "train" a PRNG
``key`` is required; the same key always drops the same elements.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from axonnx.layers._spatial import channel_axis, check_channels
from axonnx.layers.normalization import check_mode

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "spatial_dropout"]

# SELU constants (Klambauer et al., 2017); alpha dropout keeps SELU's fixed point.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _is_active(rate: float, key: jax.Array | None, mode: str, where: str) -> bool:
    """Validates the options; True when elements must actually be dropped."""
    check_mode(mode, where)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{where}: expected 0 <= rate < 1, got rate={rate}.")
    if mode == "inference" or rate == 0.0:
        return False
    if key is None:
        raise ValueError(
            f'{where}: mode="train" needs a PRNG key, got key=None. '
            f"Pass key=jax.random.key(0) (split it for every call)."
        )
    return True


def _keep_mask(key: jax.Array, rate: float, shape: tuple[int, ...]) -> jax.Array:
    return jax.random.bernoulli(key, 1.0 - rate, shape)


def _feature_shape(x: jax.Array, channels: str, where: str) -> tuple[int, ...]:
    """Mask shape that drops whole feature maps: (batch, 1, ..., 1, channels)."""
    check_channels(channels, where)
    axis = channel_axis(x.ndim, channels)
    return tuple(d if a in (0, axis) else 1 for a, d in enumerate(x.shape))


def _inverted(x: jax.Array, keep: jax.Array, rate: float) -> jax.Array:
    """Zeroes the dropped elements and rescales the kept ones by 1 / (1 - rate)."""
    keep = jnp.broadcast_to(keep, x.shape)
    return jnp.where(keep, x / jnp.asarray(1.0 - rate, x.dtype), jnp.zeros((), x.dtype))


def _alpha(x: jax.Array, keep: jax.Array, rate: float) -> jax.Array:
    """Sets dropped elements to SELU's saturation value, then restores mean and variance."""
    saturation = -_SELU_ALPHA * _SELU_SCALE
    a = ((1.0 - rate) * (1.0 + rate * saturation**2)) ** -0.5
    b = -a * saturation * rate
    y = jnp.where(jnp.broadcast_to(keep, x.shape), x, jnp.asarray(saturation, x.dtype))
    return (a * y + b).astype(x.dtype)


def _drop(where, x, shape, rate, key, mode, apply) -> jax.Array:
    """``apply(x, keep, rate)`` with a ``keep`` mask of ``shape`` when active, else ``x``."""
    if not _is_active(rate, key, mode, where):
        return x
    return apply(x, _keep_mask(key, rate, shape), rate)


def dropout(
    x: jax.Array,
    *,
    rate: float,
    key: jax.Array | None = None,
    mode: str = "inference",
) -> jax.Array:
    """Inverted dropout: zeroes each element with probability ``rate`` in train mode.

    Kept elements are scaled by ``1 / (1 - rate)`` so the expected value is unchanged.

    Args:
        x: input of any shape.
        rate: drop probability, in [0, 1).
        key: PRNG key, required in train mode.
        mode: "inference" (identity) or "train".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((4, 8))
    >>> dropout(x, rate=0.5, key=jax.random.key(0), mode="train").shape
    (4, 8)
    """
    return _drop("dropout", x, x.shape, rate, key, mode, _inverted)


def alpha_dropout(
    x: jax.Array,
    *,
    rate: float,
    key: jax.Array | None = None,
    mode: str = "inference",
) -> jax.Array:
    """Alpha dropout for SELU networks: keeps zero mean and unit variance.

    Dropped elements are set to ``-alpha * scale`` of SELU, then an affine map
    restores the mean and variance of a standard-normal input.

    Args:
        x: input of any shape.
        rate: drop probability, in [0, 1).
        key: PRNG key, required in train mode.
        mode: "inference" (identity) or "train".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((4, 8))
    >>> alpha_dropout(x, rate=0.1, key=jax.random.key(0), mode="train").shape
    (4, 8)
    """
    return _drop("alpha_dropout", x, x.shape, rate, key, mode, _alpha)


def feature_alpha_dropout(
    x: jax.Array,
    *,
    rate: float,
    key: jax.Array | None = None,
    mode: str = "inference",
    channels: str = "last",
) -> jax.Array:
    """Alpha dropout that drops whole feature maps (one draw per example and channel).

    Args:
        x: (batch, *spatial, channels), or (batch, channels, *spatial) when
            ``channels="first"``.
        rate: drop probability, in [0, 1).
        key: PRNG key, required in train mode.
        mode: "inference" (identity) or "train".
        channels: "last" or "first".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 5, 5, 3))
    >>> feature_alpha_dropout(x, rate=0.1, key=jax.random.key(0), mode="train").shape
    (2, 5, 5, 3)
    """
    shape = _feature_shape(x, channels, "feature_alpha_dropout")
    return _drop("feature_alpha_dropout", x, shape, rate, key, mode, _alpha)


def spatial_dropout(
    x: jax.Array,
    *,
    rate: float,
    key: jax.Array | None = None,
    mode: str = "inference",
    channels: str = "last",
) -> jax.Array:
    """Inverted dropout of whole feature maps (one draw per example and channel).

    Args:
        x: (batch, *spatial, channels), or (batch, channels, *spatial) when
            ``channels="first"``.
        rate: drop probability, in [0, 1).
        key: PRNG key, required in train mode.
        mode: "inference" (identity) or "train".
        channels: "last" or "first".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 5, 5, 3))
    >>> spatial_dropout(x, rate=0.5, key=jax.random.key(0), mode="train").shape
    (2, 5, 5, 3)
    """
    shape = _feature_shape(x, channels, "spatial_dropout")
    return _drop("spatial_dropout", x, shape, rate, key, mode, _inverted)
