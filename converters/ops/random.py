"""Random ONNX ops: uniform and normal samples, Bernoulli and multinomial draws.

Keys: a node with a `seed` attribute draws from `jax.random.key(int(seed))`; a node
without one draws from `jax.random.key(DEFAULT_SEED)` (0). Every run of a model thus
gives the same samples (the model is a pure function); to vary them, set different
seeds in the model. Samples follow JAX's generator, so they differ from other ONNX
runtimes' samples, but have the same distribution, shape and type.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.converters.ops._common import static
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError

__all__ = ["DEFAULT_SEED"]

DEFAULT_SEED = 0


def _key(seed) -> jax.Array:
    return jax.random.key(DEFAULT_SEED if seed is None else int(seed))


def _dtype(code, like, op: str) -> np.dtype:
    """The JAX dtype of ONNX data type `code`, or of `like` when `code` is unset."""
    if code is None or code == 0:
        return jnp.asarray(like).dtype
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidModelError(
            f"{op}: expected attribute dtype to be an ONNX TensorProto data type, got {code!r}."
        ) from error
    return jax.dtypes.canonicalize_dtype(dtype)


def _float_dtype(code, like, op: str) -> np.dtype:
    dtype = _dtype(code, like, op)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InvalidModelError(f"{op}: expected a float output dtype, got {dtype.name}.")
    return dtype


def _shape(shape, op: str) -> tuple[int, ...]:
    if shape is None:
        raise InvalidModelError(f"{op}: expected attribute shape, got none.")
    return tuple(int(d) for d in static(shape, f"{op} shape"))


def _uniform(shape, dtype, high, low, seed):
    return jax.random.uniform(_key(seed), shape, dtype, minval=low, maxval=high)


def _normal(shape, dtype, mean, scale, seed):
    return (jax.random.normal(_key(seed), shape, dtype) * scale + mean).astype(dtype)


@onnx_op("RandomUniform", 1, 22)
def random_uniform(*, dtype=1, high=1.0, low=0.0, seed=None, shape=None):
    """ONNX RandomUniform-1,22: samples of U[low, high) of the given shape and dtype."""
    out = _float_dtype(dtype, None, "RandomUniform")
    return _uniform(_shape(shape, "RandomUniform"), out, high, low, seed)


@onnx_op("RandomNormal", 1, 22)
def random_normal(*, dtype=1, mean=0.0, scale=1.0, seed=None, shape=None):
    """ONNX RandomNormal-1,22: samples of N(mean, scale²) of the given shape and dtype."""
    out = _float_dtype(dtype, None, "RandomNormal")
    return _normal(_shape(shape, "RandomNormal"), out, mean, scale, seed)


@onnx_op("RandomUniformLike", 1, 22)
def random_uniform_like(input, *, dtype=None, high=1.0, low=0.0, seed=None):  # noqa: A002
    """ONNX RandomUniformLike-1,22: U[low, high) samples of `input`'s shape; dtype
    defaults to `input`'s."""
    out = _float_dtype(dtype, input, "RandomUniformLike")
    return _uniform(jnp.shape(input), out, high, low, seed)


@onnx_op("RandomNormalLike", 1, 22)
def random_normal_like(input, *, dtype=None, mean=0.0, scale=1.0, seed=None):  # noqa: A002
    """ONNX RandomNormalLike-1,22: N(mean, scale²) samples of `input`'s shape; dtype
    defaults to `input`'s."""
    out = _float_dtype(dtype, input, "RandomNormalLike")
    return _normal(jnp.shape(input), out, mean, scale, seed)


@onnx_op("Bernoulli", 15, 22)
def bernoulli(input, *, dtype=None, seed=None):  # noqa: A002
    """ONNX Bernoulli-15,22: 1 with probability `input`, else 0, of `input`'s shape;
    dtype (any numeric or bool) defaults to `input`'s."""
    out = _dtype(dtype, input, "Bernoulli")
    return jax.random.bernoulli(_key(seed), jnp.asarray(input)).astype(out)


@onnx_op("Multinomial", 7, 22)
def multinomial(input, *, dtype=6, sample_size=1, seed=None):  # noqa: A002
    """ONNX Multinomial-7,22: `sample_size` class indices per batch row drawn from
    unnormalised log-probabilities `input` (batch, classes) -> (batch, sample_size),
    int32 or int64 (`dtype`)."""
    logits = jnp.asarray(input)
    if logits.ndim != 2:
        raise ShapeError(
            f"Multinomial: expected input (batch_size, class_size), got shape {logits.shape}."
        )
    out = _dtype(dtype, None, "Multinomial")
    if not jnp.issubdtype(out, jnp.integer):
        raise InvalidModelError(f"Multinomial: expected dtype int32 or int64, got {out.name}.")
    draws = jax.random.categorical(
        _key(seed), logits, axis=-1, shape=(int(sample_size), logits.shape[0])
    )
    return draws.T.astype(out)
