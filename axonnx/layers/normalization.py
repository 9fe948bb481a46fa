"""Normalization layers: batch, layer, RMS, group and instance normalization.

Pure functions on JAX arrays with ONNX semantics. Statistics are computed in at
least float32 and the result is cast back to the input dtype, so a bfloat16
input gives a bfloat16 output.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from axonnx.layers._spatial import channel_axis, check_channels

__all__ = ["batch_norm", "layer_norm", "rms_norm", "group_norm", "instance_norm"]

_MODES = ("inference", "train")


def _channel_axis(x: jax.Array, channels: str, where: str) -> int:
    check_channels(channels, where)
    return channel_axis(x.ndim, channels)


def check_mode(mode: str, where: str) -> None:
    """Raises ValueError unless ``mode`` is "inference" or "train"."""
    if mode not in _MODES:
        raise ValueError(f'{where}: expected mode="inference" or "train", got {mode!r}.')


def _along(p: jax.Array, ndim: int, axis: int) -> jax.Array:
    """Reshapes a per-channel vector ``p`` (C,) so it broadcasts along ``axis``."""
    shape = [1] * ndim
    shape[axis] = -1
    return jnp.reshape(p, shape)


def _left_pad(p: jax.Array, ndim: int) -> jax.Array:
    """Adds leading unit axes to ``p`` until it has rank ``ndim``."""
    p = jnp.asarray(p)
    return jnp.reshape(p, (1,) * (ndim - p.ndim) + p.shape)


def _compute_dtype(x: jax.Array) -> jnp.dtype:
    return jnp.promote_types(x.dtype, jnp.float32)


def _moments(x: jax.Array, axes: Sequence[int]) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance of ``x`` over ``axes``, keeping dims."""
    mean = jnp.mean(x, axis=tuple(axes), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=tuple(axes), keepdims=True)
    return mean, var


def _standardize(x, mean, var, epsilon: float) -> jax.Array:
    return (x - mean) * jax.lax.rsqrt(var + epsilon)


def _affine(y: jax.Array, scale, bias, like: jax.Array) -> jax.Array:
    """Returns ``y * scale + bias`` (bias optional) cast to ``like.dtype``."""
    y = y * scale
    if bias is not None:
        y = y + bias
    return y.astype(like.dtype)


def batch_norm(
    x: jax.Array,
    scale: jax.Array,
    bias: jax.Array,
    mean: jax.Array,
    var: jax.Array,
    *,
    epsilon: float = 1e-5,
    momentum: float = 0.9,
    channels: str = "last",
    mode: str = "inference",
) -> jax.Array | tuple[jax.Array, dict[str, jax.Array]]:
    """Batch normalization (ONNX ``BatchNormalization``).

    ``y = scale * (x - mean) / sqrt(var + epsilon) + bias`` per channel.

    Args:
        x: input of shape (batch, *spatial, channels), or (batch, channels, *spatial)
            when ``channels="first"``.
        scale: (channels,).
        bias: (channels,).
        mean: running mean, (channels,).
        var: running variance, (channels,).
        epsilon: added to the variance.
        momentum: weight of the old running statistics in train mode.
        channels: "last" or "first" (ONNX NCHW).
        mode: "inference" normalizes with ``mean``/``var``; "train" normalizes with
            the batch statistics and also returns the updated running statistics.

    Returns:
        In inference mode, ``y`` with the shape and dtype of ``x``. In train mode,
        ``(y, {"mean": new_mean, "var": new_var})`` with
        ``new = momentum * old + (1 - momentum) * batch``, where the batch variance is
        the biased one (divided by N), as in ONNX's training-mode outputs.

    >>> x = jnp.ones((2, 4, 4, 3))
    >>> c = jnp.ones(3)
    >>> batch_norm(x, c, c * 0, c * 0, c).shape
    (2, 4, 4, 3)
    """
    check_mode(mode, "batch_norm")
    axis = _channel_axis(x, channels, "batch_norm")
    xc = x.astype(_compute_dtype(x))
    scale, bias = _along(scale, x.ndim, axis), _along(bias, x.ndim, axis)
    if mode == "inference":
        stats = _along(mean, x.ndim, axis), _along(var, x.ndim, axis)
        return _affine(_standardize(xc, *stats, epsilon), scale, bias, x)
    batch_mean, batch_var = _moments(xc, [a for a in range(x.ndim) if a != axis])
    y = _affine(_standardize(xc, batch_mean, batch_var, epsilon), scale, bias, x)
    updates = {
        "mean": _running(mean, batch_mean, momentum),
        "var": _running(var, batch_var, momentum),
    }
    return y, updates


def _running(old: jax.Array, batch: jax.Array, momentum: float) -> jax.Array:
    """ONNX running-statistic update, in the dtype of ``old``."""
    new = momentum * old + (1.0 - momentum) * jnp.reshape(batch, old.shape)
    return new.astype(old.dtype)


def layer_norm(
    x: jax.Array,
    scale: jax.Array,
    bias: jax.Array | None = None,
    *,
    axis: int = -1,
    epsilon: float = 1e-5,
) -> jax.Array:
    """Layer normalization (ONNX ``LayerNormalization``).

    Normalizes over the axes ``axis, axis + 1, ..., -1``.

    Args:
        x: input of any shape (..., *normalized).
        scale: shape ``x.shape[axis:]`` (or broadcastable to it).
        bias: same shape as ``scale``, or None.
        axis: first normalized axis.
        epsilon: added to the variance.

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 5, 8))
    >>> layer_norm(x, jnp.ones(8), jnp.zeros(8)).shape
    (2, 5, 8)
    """
    first = axis % x.ndim
    mean, var = _moments(x.astype(_compute_dtype(x)), range(first, x.ndim))
    y = _standardize(x.astype(mean.dtype), mean, var, epsilon)
    bias = None if bias is None else _left_pad(bias, x.ndim)
    return _affine(y, _left_pad(scale, x.ndim), bias, x)


def rms_norm(
    x: jax.Array,
    scale: jax.Array,
    *,
    axis: int = -1,
    epsilon: float = 1e-5,
) -> jax.Array:
    """Root-mean-square normalization (ONNX ``RMSNormalization``, opset 23).

    ``x / sqrt(mean(x**2 over axis, axis + 1, ..., -1) + epsilon) * scale``: layer
    normalization without centering and without bias.

    Args:
        x: input of any shape (..., *normalized).
        scale: shape ``x.shape[axis:]`` (or broadcastable to it).
        axis: first normalized axis.
        epsilon: added to the mean square.

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 5, 8))
    >>> rms_norm(x, jnp.ones(8)).shape
    (2, 5, 8)
    """
    first = axis % x.ndim
    wide = x.astype(_compute_dtype(x))
    square = jnp.mean(jnp.square(wide), axis=tuple(range(first, x.ndim)), keepdims=True)
    y = wide * jax.lax.rsqrt(square + jnp.asarray(epsilon, wide.dtype))
    return (y * _left_pad(scale, x.ndim).astype(wide.dtype)).astype(x.dtype)


def group_norm(
    x: jax.Array,
    scale: jax.Array,
    bias: jax.Array,
    *,
    num_groups: int,
    epsilon: float = 1e-5,
    channels: str = "last",
) -> jax.Array:
    """Group normalization (ONNX ``GroupNormalization``, opset 21: per-channel affine).

    Channels are split into ``num_groups`` contiguous groups; each group is
    normalized over its channels and all spatial positions, per example.

    Args:
        x: (batch, *spatial, channels), or (batch, channels, *spatial) when
            ``channels="first"``.
        scale: (channels,).
        bias: (channels,).
        num_groups: number of groups; must divide ``channels``.
        epsilon: added to the variance.
        channels: "last" or "first".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 4, 4, 6))
    >>> group_norm(x, jnp.ones(6), jnp.zeros(6), num_groups=3).shape
    (2, 4, 4, 6)
    """
    axis = _channel_axis(x, channels, "group_norm")
    num_channels = x.shape[axis]
    if num_groups <= 0 or num_channels % num_groups:
        raise ValueError(
            f"group_norm: expected num_groups dividing {num_channels} channels, "
            f"got num_groups={num_groups}. Pick a divisor of the channel count."
        )
    xc = jnp.moveaxis(x.astype(_compute_dtype(x)), axis, -1)
    grouped = jnp.reshape(xc, (*xc.shape[:-1], num_groups, num_channels // num_groups))
    mean, var = _moments(grouped, [*range(1, grouped.ndim - 2), grouped.ndim - 1])
    y = jnp.moveaxis(jnp.reshape(_standardize(grouped, mean, var, epsilon), xc.shape), -1, axis)
    return _affine(y, _along(scale, x.ndim, axis), _along(bias, x.ndim, axis), x)


def instance_norm(
    x: jax.Array,
    scale: jax.Array,
    bias: jax.Array,
    *,
    epsilon: float = 1e-5,
    channels: str = "last",
) -> jax.Array:
    """Instance normalization (ONNX ``InstanceNormalization``).

    Each (example, channel) pair is normalized over its spatial positions.

    Args:
        x: (batch, *spatial, channels), or (batch, channels, *spatial) when
            ``channels="first"``.
        scale: (channels,).
        bias: (channels,).
        epsilon: added to the variance.
        channels: "last" or "first".

    Returns:
        Array with the shape and dtype of ``x``.

    >>> x = jnp.ones((2, 4, 4, 3))
    >>> instance_norm(x, jnp.ones(3), jnp.zeros(3)).shape
    (2, 4, 4, 3)
    """
    axis = _channel_axis(x, channels, "instance_norm")
    spatial = [a for a in range(1, x.ndim) if a != axis]
    mean, var = _moments(x.astype(_compute_dtype(x)), spatial)
    y = _standardize(x.astype(mean.dtype), mean, var, epsilon)
    return _affine(y, _along(scale, x.ndim, axis), _along(bias, x.ndim, axis), x)
