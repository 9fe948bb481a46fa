"""Padding layer: constant, reflect, edge and wrap padding (ONNX ``Pad``)."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp

__all__ = ["pad"]

_MODES = ("constant", "reflect", "edge", "wrap")


def _pairs(x: jax.Array, padding: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    pairs = [(int(lo), int(hi)) for lo, hi in padding]
    if len(pairs) != x.ndim:
        raise ValueError(
            f"pad: expected {x.ndim} (low, high) pairs (one per axis of an input of shape "
            f"{x.shape}), got {len(pairs)}. Use (0, 0) for axes left unpadded."
        )
    return pairs


def pad(
    x: jax.Array,
    padding: Sequence[tuple[int, int]],
    *,
    value: float = 0.0,
    mode: str = "constant",
) -> jax.Array:
    """Pads (or, with negative amounts, crops) every axis of ``x``.

    Args:
      x: array of any shape ``(d_0, ..., d_{r-1})``.
      padding: one ``(low, high)`` pair per axis; negative amounts crop that side. Cropping
        happens first, so ``"reflect"``, ``"edge"`` and ``"wrap"`` use the cropped data (as
        onnxruntime does).
      value: fill value for ``mode="constant"``.
      mode: ``"constant"``, ``"reflect"`` (mirror without repeating the edge), ``"edge"``
        (repeat the edge) or ``"wrap"`` (periodic), as in ONNX ``Pad`` and ``numpy.pad``.

    Returns:
      ``(d_0 + low_0 + high_0, ...)``, same dtype as ``x``.

    >>> pad(jnp.array([1.0, 2.0, 3.0]), [(1, -1)], mode="edge")
    Array([1., 1., 2.], dtype=float32)
    """
    pairs = _pairs(x, padding)
    if mode not in _MODES:
        raise ValueError(f"pad: expected mode in {_MODES}, got {mode!r}.")
    crops = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pairs]
    cropped = x[tuple(slice(lo, n - hi) for (lo, hi), n in zip(crops, x.shape, strict=True))]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    fill = {"constant_values": jnp.asarray(value, x.dtype)} if mode == "constant" else {}
    return jnp.pad(cropped, widths, mode=mode, **fill)
