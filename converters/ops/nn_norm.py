"""ONNX normalization and dropout ops (channels-first layout)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from jax import lax

from axonnx.converters.ops._common import normalize_axis
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, UnsupportedOpError
from axonnx.layers import normalization as norm_layers


def _stash_dtype(X, stash_type: int) -> np.dtype:
    """Dtype of the statistics: ONNX `stash_type`, at least as wide as X."""
    stash = onnx.helper.tensor_dtype_to_np_dtype(int(stash_type))
    return jnp.promote_types(X.dtype, stash)


def _per_channel(p, ndim: int):
    """A (C,) parameter as (C, 1, ..., 1); a (C, *spatial) one (spatial=0) unchanged."""
    return p.reshape(p.shape[0], *([1] * (ndim - 2))) if p.ndim == 1 else p


# ---------------------------------------------------------------- batch normalization


def _batch_norm_inference(X, scale, B, mean, var, epsilon):
    """`scale * (X - mean) / sqrt(var + epsilon) + B`, computed in at least float32."""
    if mean.ndim == 1:
        return norm_layers.batch_norm(X, scale, B, mean, var, epsilon=epsilon, channels="first")
    dtype = jnp.promote_types(X.dtype, jnp.float32)
    params = [_per_channel(p.astype(dtype), X.ndim) for p in (scale, B, mean, var)]
    s, b, m, v = params
    return ((X.astype(dtype) - m) * lax.rsqrt(v + epsilon) * s + b).astype(X.dtype)


@onnx_op("BatchNormalization", 7, 9, weight_inputs=(1, 2, 3, 4))
def batch_normalization_7(X, scale, B, mean, var, *, epsilon=1e-5, momentum=0.9, spatial=1):
    """ONNX BatchNormalization-7..9 (inference): normalize with the running statistics.

    The optional training outputs (mean, var, saved_mean, saved_var) return the given
    running statistics unchanged. `spatial=0` takes (C, *spatial) parameters.
    """
    y = _batch_norm_inference(X, scale, B, mean, var, epsilon)
    return y, mean, var, mean, var


@onnx_op("BatchNormalization", 14, 15, weight_inputs=(1, 2, 3, 4))
def batch_normalization(
    X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0
):
    """ONNX BatchNormalization-14..15: with training_mode, normalize with the batch
    statistics and also return the updated running mean and (biased) variance."""
    if not training_mode:
        y = _batch_norm_inference(X, scale, B, input_mean, input_var, epsilon)
        return y, input_mean, input_var
    y, stats = norm_layers.batch_norm(
        X,
        scale,
        B,
        input_mean,
        input_var,
        epsilon=epsilon,
        momentum=momentum,
        channels="first",
        mode="train",
    )
    return y, stats["mean"], stats["var"]


# ---------------------------------------------------------------- per-sample norms


@onnx_op("InstanceNormalization", 6, 22, weight_inputs=(1, 2))
def instance_normalization(input, scale, B, *, epsilon=1e-5):  # noqa: A002
    """ONNX InstanceNormalization-6..22: normalize each (sample, channel) over space."""
    return norm_layers.instance_norm(input, scale, B, epsilon=epsilon, channels="first")


def _moments(x, axes):
    mean = jnp.mean(x, axis=axes, keepdims=True)
    return mean, jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)


@onnx_op("LayerNormalization", 17, weight_inputs=(1, 2))
def layer_normalization(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """ONNX LayerNormalization-17: normalize over axes axis..-1; also returns the Mean
    and InvStdDev (shape X.shape[:axis] + ones), in the stash dtype."""
    first = normalize_axis(axis, X.ndim)
    dtype = _stash_dtype(X, stash_type)
    mean, var = _moments(X.astype(dtype), tuple(range(first, X.ndim)))
    inv_std = lax.rsqrt(var + jnp.asarray(epsilon, dtype))
    y = (X.astype(dtype) - mean) * inv_std * Scale.astype(dtype)
    y = y if B is None else y + B.astype(dtype)
    return y.astype(X.dtype), mean, inv_std


@onnx_op("RMSNormalization", 23, weight_inputs=(1,))
def rms_normalization(X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """ONNX RMSNormalization-23: `X / sqrt(mean(X^2 over axis..-1) + epsilon) * scale`."""
    first = normalize_axis(axis, X.ndim)
    x = X.astype(_stash_dtype(X, stash_type))
    square = jnp.mean(jnp.square(x), axis=tuple(range(first, X.ndim)), keepdims=True)
    return (x * lax.rsqrt(square + epsilon) * scale.astype(x.dtype)).astype(X.dtype)


def _group_norm(X, scale, bias, num_groups, epsilon):
    if num_groups is None:
        raise InvalidModelError("GroupNormalization: the num_groups attribute is required")
    return norm_layers.group_norm(
        X, scale, bias, num_groups=int(num_groups), epsilon=epsilon, channels="first"
    )


@onnx_op("GroupNormalization", 18, weight_inputs=(1, 2))
def group_normalization_18(X, scale, bias, *, epsilon=1e-5, num_groups=None):
    """ONNX GroupNormalization-18: scale and bias are per group (num_groups,)."""
    per_group = X.shape[1] // int(num_groups or 1)
    return _group_norm(
        X, jnp.repeat(scale, per_group), jnp.repeat(bias, per_group), num_groups, epsilon
    )


@onnx_op("GroupNormalization", 21, weight_inputs=(1, 2))
def group_normalization(X, scale, bias, *, epsilon=1e-5, num_groups=None, stash_type=1):
    """ONNX GroupNormalization-21: scale and bias are per channel (C,)."""
    return _group_norm(X, scale, bias, num_groups, epsilon)


@onnx_op("LRN", 1, 13)
def lrn(X, *, alpha=1e-4, beta=0.75, bias=1.0, size=None):
    """ONNX LRN-1..13: `X / (bias + alpha / size * sum of squares over nearby channels)^beta`."""
    if size is None:
        raise InvalidModelError("LRN: the size attribute is required")
    size = int(size)
    window = (1, size) + (1,) * (X.ndim - 2)
    pads = [(0, 0), ((size - 1) // 2, size // 2)] + [(0, 0)] * (X.ndim - 2)
    squares = lax.reduce_window(
        jnp.square(X), np.zeros((), X.dtype), lax.add, window, (1,) * X.ndim, pads
    )
    return X / (bias + alpha / size * squares) ** beta


@onnx_op("LpNormalization", 1, 22)
def lp_normalization(input, *, axis=-1, p=2):  # noqa: A002
    """ONNX LpNormalization-1..22: divide by the L1 or L2 norm along `axis` (0 where the
    norm is 0)."""
    if p not in (1, 2):
        raise UnsupportedOpError(f"LpNormalization: expected p 1 or 2, got {p}")
    axis = normalize_axis(axis, input.ndim)
    if p == 1:
        norm = jnp.sum(jnp.abs(input), axis=axis, keepdims=True)
    else:
        norm = jnp.sqrt(jnp.sum(jnp.square(input), axis=axis, keepdims=True))
    safe = jnp.where(norm == 0, jnp.ones((), norm.dtype), norm)
    return jnp.where(norm == 0, jnp.zeros((), input.dtype), input / safe)


@onnx_op("MeanVarianceNormalization", 9, 13)
def mean_variance_normalization(X, *, axes=(0, 2, 3)):
    """ONNX MeanVarianceNormalization-9..13: `(X - mean) / (std + 1e-9)` over `axes`."""
    axes = tuple(normalize_axis(a, X.ndim) for a in axes)
    mean = jnp.mean(X, axis=axes, keepdims=True)
    variance = jnp.mean(jnp.square(X), axis=axes, keepdims=True) - jnp.square(mean)
    return (X - mean) / (jnp.sqrt(variance) + jnp.asarray(1e-9, X.dtype))


# ---------------------------------------------------------------- dropout


def _dropout(data, ratio, seed):
    """Inverted dropout with a mask drawn from `jax.random.key(seed)` (key 0 without seed)."""
    ratio = jnp.asarray(ratio, jnp.float32)
    key = jax.random.key(0 if seed is None else int(seed))
    keep = jax.random.bernoulli(key, 1.0 - ratio, data.shape)
    scale = (1.0 / (1.0 - ratio)).astype(data.dtype)
    return jnp.where(keep, data * scale, jnp.zeros((), data.dtype)), keep


@onnx_op("Dropout", 7)
def dropout_7(data, *, ratio=0.5):
    """ONNX Dropout-7 (inference): the input unchanged and a mask of ones (data type)."""
    return data, jnp.ones(data.shape, data.dtype)


@onnx_op("Dropout", 10)
def dropout_10(data, *, ratio=0.5):
    """ONNX Dropout-10 (inference): the input unchanged and an all-true mask."""
    return data, jnp.ones(data.shape, bool)


@onnx_op("Dropout", 12, 13, 22)
def dropout(data, ratio=None, training_mode=None, *, seed=None):
    """ONNX Dropout-12..22: identity with an all-true mask unless training_mode is true;
    in training, elements are kept with probability 1 - ratio and scaled by 1 / (1 - ratio).
    The mask comes from `jax.random.key(seed)` (key 0 without seed): fixed per model."""
    keep_all = jnp.ones(data.shape, bool)
    if training_mode is None:
        return data, keep_all
    dropped, keep = _dropout(data, 0.5 if ratio is None else ratio, seed)
    training = jnp.asarray(training_mode, bool)
    return jnp.where(training, dropped, data), jnp.where(training, keep, keep_all)
