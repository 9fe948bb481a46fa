"""Parameter initializers.

Each public name except ``get`` is a factory: it takes hyper-parameters and
returns an initializer ``init(key, shape, dtype=jnp.float32) -> jax.Array``
(a ``jax.nn.initializers.Initializer``)::

    glorot_uniform()(key, (784, 128))
    full(0.5)(key, (128,))

Fan-in and fan-out are read from ``shape[in_axis]`` and ``shape[out_axis]``,
each multiplied by the product of the remaining (receptive-field) dimensions.
The defaults ``in_axis=-2, out_axis=-1`` fit dense kernels of shape
``(in_features, out_features)``. Convolution kernels in axonnx use the ONNX
layout ``(out_channels, in_channels // groups, *kernel_spatial)``; conv layers
pass ``in_axis=1, out_axis=0`` (and ``column_axis=0`` to ``orthogonal``).
"""

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from jax.nn.initializers import Initializer
from jax.typing import DTypeLike

__all__ = [
    "full",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "uniform",
    "variance_scaling",
    "zeros",
]

Mode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["truncated_normal", "normal", "uniform"]


def zeros() -> Initializer:
    """Initializer filling the array with 0.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype``, all zeros; ``key`` is unused.

    >>> zeros()(jax.random.key(0), (2, 3)).shape
    (2, 3)
    """
    return full(0.0)


def ones() -> Initializer:
    """Initializer filling the array with 1.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype``, all ones; ``key`` is unused.

    >>> ones()(jax.random.key(0), (2,))
    Array([1., 1.], dtype=float32)
    """
    return full(1.0)


def full(value: float) -> Initializer:
    """Initializer filling the array with a constant.

    Args:
        value: The fill value.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype`` with every entry ``value``; ``key`` is unused.

    >>> full(0.5)(jax.random.key(0), (2,))
    Array([0.5, 0.5], dtype=float32)
    """
    return jax.nn.initializers.constant(value, dtype=jnp.float32)


def uniform(scale: float = 1e-2) -> Initializer:
    """Initializer drawing i.i.d. samples from ``U[-scale, scale)``.

    Note: symmetric around 0, unlike ``jax.nn.initializers.uniform``, which
    samples ``U[0, scale)``.

    Args:
        scale: Half-width of the interval.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype``.

    >>> uniform(scale=0.05)(jax.random.key(0), (3, 4)).shape
    (3, 4)
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, minval=-scale, maxval=scale)

    return init


def normal(stddev: float = 1e-2, *, mean: float = 0.0) -> Initializer:
    """Initializer drawing i.i.d. samples from ``N(mean, stddev**2)``.

    Args:
        stddev: Standard deviation.
        mean: Mean.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype``.

    >>> normal(stddev=0.01)(jax.random.key(0), (3, 4)).shape
    (3, 4)
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        return mean + stddev * jax.random.normal(key, shape, dtype)

    return init


def identity(scale: float = 1.0) -> Initializer:
    """Initializer returning ``scale`` times the identity matrix.

    Args:
        scale: Value on the diagonal.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: for a 2-D ``shape`` ``(n, m)``,
        an array of that shape and dtype ``dtype`` with ``scale`` on the main
        diagonal and 0 elsewhere; ``key`` is unused. Raises ``ValueError`` for
        any other rank.

    >>> identity()(jax.random.key(0), (2, 2))
    Array([[1., 0.],
           [0., 1.]], dtype=float32)
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        if len(shape) != 2:
            raise ValueError(
                f"axonnx.initializers.identity: expected a 2-D shape, got {tuple(shape)}. "
                "Use it for dense kernels only."
            )
        return scale * jnp.eye(*shape, dtype=dtype)

    return init


def orthogonal(scale: float = 1.0, *, column_axis: int = -1) -> Initializer:
    """Initializer returning a (semi-)orthogonal matrix, uniformly distributed.

    The array is viewed as a matrix with ``shape[column_axis]`` columns; these
    columns are orthonormal (or the rows, whichever are fewer), times ``scale``.
    Dense kernels ``(in, out)`` use ``column_axis=-1``; conv kernels
    ``(out, in, *spatial)`` use ``column_axis=0``.

    Args:
        scale: Multiplier applied to the orthogonal matrix.
        column_axis: Axis holding the columns to make orthogonal.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        (rank >= 2) and dtype ``dtype``.

    >>> w = orthogonal()(jax.random.key(0), (4, 3))
    >>> bool(jnp.allclose(w.T @ w, jnp.eye(3), atol=1e-5))
    True
    """
    base = jax.nn.initializers.orthogonal(scale, column_axis=column_axis)

    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        # QR has no half-precision kernel on CPU: compute in at least float32, then cast.
        return base(key, shape, jnp.promote_types(dtype, jnp.float32)).astype(dtype)

    return init


def variance_scaling(
    scale: float = 1.0,
    mode: Mode = "fan_in",
    distribution: Distribution = "truncated_normal",
    *,
    in_axis: int = -2,
    out_axis: int = -1,
) -> Initializer:
    """Initializer with variance ``scale / n``, ``n`` set by ``mode``.

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``"fan_avg"``), where
    ``fan_in = shape[in_axis] * receptive_field`` and
    ``fan_out = shape[out_axis] * receptive_field`` and the receptive field is
    the product of the other dimensions. ``"truncated_normal"`` samples a
    normal truncated at two standard deviations and rescaled so its variance is
    ``scale / n``; ``"uniform"`` samples ``U[-sqrt(3 * scale / n), sqrt(3 * scale / n)]``.

    Args:
        scale: Variance multiplier.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``: an array of shape ``shape``
        and dtype ``dtype``.

    >>> init = variance_scaling(2.0, "fan_in", "normal", in_axis=1, out_axis=0)
    >>> init(jax.random.key(0), (16, 3, 3, 3)).shape
    (16, 3, 3, 3)
    """
    return jax.nn.initializers.variance_scaling(
        scale, mode, distribution, in_axis=in_axis, out_axis=out_axis, dtype=jnp.float32
    )


def lecun_uniform(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """LeCun uniform: ``variance_scaling(1.0, "fan_in", "uniform")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> lecun_uniform()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(1.0, "fan_in", "uniform", in_axis=in_axis, out_axis=out_axis)


def lecun_normal(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """LeCun normal: ``variance_scaling(1.0, "fan_in", "truncated_normal")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> lecun_normal()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis)


def glorot_uniform(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """Glorot (Xavier) uniform: ``variance_scaling(1.0, "fan_avg", "uniform")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> glorot_uniform()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis=in_axis, out_axis=out_axis)


def glorot_normal(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """Glorot (Xavier) normal: ``variance_scaling(1.0, "fan_avg", "truncated_normal")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> glorot_normal()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis=in_axis, out_axis=out_axis)


def he_uniform(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """He (Kaiming) uniform: ``variance_scaling(2.0, "fan_in", "uniform")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> he_uniform()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(2.0, "fan_in", "uniform", in_axis=in_axis, out_axis=out_axis)


def he_normal(*, in_axis: int = -2, out_axis: int = -1) -> Initializer:
    """He (Kaiming) normal: ``variance_scaling(2.0, "fan_in", "truncated_normal")``.

    Args:
        in_axis: Input-feature axis; ``-2`` for dense ``(in, out)``, ``1`` for conv.
        out_axis: Output-feature axis; ``-1`` for dense, ``0`` for conv.

    Returns:
        ``init(key, shape, dtype=jnp.float32)``; see ``variance_scaling``.

    >>> he_normal()(jax.random.key(0), (784, 128)).shape
    (784, 128)
    """
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis)


# Factories that ``get`` accepts by name: those callable without arguments.
_DEFAULTS: dict[str, Callable[[], Initializer]] = {
    "zeros": zeros,
    "ones": ones,
    "uniform": uniform,
    "normal": normal,
    "identity": identity,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "orthogonal": orthogonal,
    "variance_scaling": variance_scaling,
}


def get(name_or_fn: str | Initializer) -> Initializer:
    """Resolves an initializer given by name, or passes an initializer through.

    Args:
        name_or_fn: A factory name such as ``"glorot_uniform"`` (its default
            instance is returned), or an initializer callable (returned as is).
            ``full`` needs a value, so it has no name here: pass ``full(v)``.

    Returns:
        ``init(key, shape, dtype=jnp.float32) -> jax.Array``.

    Raises:
        ValueError: ``name_or_fn`` is a string that names no factory.
        TypeError: ``name_or_fn`` is neither a string nor callable.

    >>> get("zeros")(jax.random.key(0), (2,))
    Array([0., 0.], dtype=float32)
    """
    if callable(name_or_fn):
        return name_or_fn
    if not isinstance(name_or_fn, str):
        raise TypeError(
            "axonnx.initializers.get: expected a name or an initializer callable, "
            f"got {type(name_or_fn).__name__}."
        )
    if name_or_fn not in _DEFAULTS:
        raise ValueError(
            f"axonnx.initializers.get: expected one of {sorted(_DEFAULTS)}, got {name_or_fn!r}. "
            "For a constant, pass axonnx.initializers.full(value) instead of a name."
        )
    return _DEFAULTS[name_or_fn]()
