"""Private helpers shared by the spatial layers: axes, options, padding, bias.

Spatial layers accept ``channels="last"`` (``(N, *spatial, C)``) or ``channels="first"``
(``(N, C, *spatial)``, the ONNX layout). Per-dimension options (strides, dilations, ...)
are an int broadcast to every spatial dimension or one value per spatial dimension.
"""

from collections.abc import Sequence
from typing import TypeVar

import jax
from jax import lax

__all__: list[str] = []

T = TypeVar("T")
Ints = int | Sequence[int]
Padding = str | int | Sequence[int | tuple[int, int]]

_PADDING_MODES = ("valid", "same", "same_lower")


def check_channels(channels: str, where: str) -> None:
    """Raises ``ValueError`` unless ``channels`` is ``"first"`` or ``"last"``."""
    if channels not in ("first", "last"):
        raise ValueError(f'{where}: expected channels "first" or "last", got {channels!r}.')


def channel_axis(ndim: int, channels: str) -> int:
    """Index of the channel axis of a rank-``ndim`` array."""
    return ndim - 1 if channels == "last" else 1


def spatial_axes(ndim: int, channels: str) -> tuple[int, ...]:
    """Indices of the spatial axes of a rank-``ndim`` array."""
    return tuple(range(1, ndim - 1)) if channels == "last" else tuple(range(2, ndim))


def spatial_shape(x: jax.Array, channels: str) -> tuple[int, ...]:
    """Sizes of the spatial axes of ``x``."""
    return tuple(x.shape[axis] for axis in spatial_axes(x.ndim, channels))


def as_tuple(value: Ints, n: int, name: str) -> tuple[int, ...]:
    """Broadcasts an int to ``n`` spatial dimensions, or checks a sequence has ``n`` values."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(
            f"{name}: expected an int or {n} values (one per spatial dimension), got {value}."
        )
    return value


def full_rank(values: Sequence[T], fill: T, channels: str) -> tuple[T, ...]:
    """Inserts ``fill`` at the batch and channel positions of per-spatial ``values``."""
    values = tuple(values)
    return (fill, *values, fill) if channels == "last" else (fill, fill, *values)


def padding_pairs(padding: Padding, n: int) -> list[tuple[int, int]]:
    """Explicit ``(low, high)`` pairs from an int or a sequence of ints / pairs."""
    if isinstance(padding, int):
        return [(padding, padding)] * n
    pairs = [(p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding]
    if len(pairs) != n:
        raise ValueError(
            f"padding: expected {n} (low, high) pairs (one per spatial dimension), "
            f"got {len(pairs)}."
        )
    return pairs


def resolve_padding(padding: Padding, same_totals: Sequence[int]) -> list[tuple[int, int]]:
    """Explicit ``(low, high)`` pairs for every spatial dimension.

    Args:
      padding: ``"valid"`` (none), ``"same"`` (ONNX ``SAME_UPPER``: the odd cell goes
        high), ``"same_lower"`` (the odd cell goes low), an int, or one int or
        ``(low, high)`` pair per spatial dimension.
      same_totals: total padding that ``"same"`` needs, per spatial dimension.
    """
    if not isinstance(padding, str):
        return padding_pairs(padding, len(same_totals))
    mode = padding.lower()
    if mode not in _PADDING_MODES:
        raise ValueError(
            f"padding: expected one of {_PADDING_MODES} or (low, high) pairs, got {padding!r}."
        )
    if mode == "valid":
        return [(0, 0)] * len(same_totals)
    halves = [(total // 2, total - total // 2) for total in same_totals]
    return halves if mode == "same" else [(high, low) for low, high in halves]


def same_totals(
    sizes: Sequence[int], window: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> list[int]:
    """Total padding giving ``ceil(size / stride)`` outputs for a sliding window."""
    return [
        max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        for size, k, s, d in zip(sizes, window, strides, dilations, strict=True)
    ]


def conv_dimension_numbers(ndim: int, channels: str) -> lax.ConvDimensionNumbers:
    """Dimension numbers for data in ``channels`` layout and an ``(O, I, *spatial)`` kernel."""
    data = (0, channel_axis(ndim, channels), *spatial_axes(ndim, channels))
    return lax.ConvDimensionNumbers(data, tuple(range(ndim)), data)


def add_channel_bias(y: jax.Array, bias: jax.Array | None, channels: str) -> jax.Array:
    """Adds a ``(C,)`` bias along the channel axis of ``y`` (explicit broadcast)."""
    if bias is None:
        return y
    shape = [1] * y.ndim
    shape[channel_axis(y.ndim, channels)] = -1
    return y + bias.reshape(shape)
