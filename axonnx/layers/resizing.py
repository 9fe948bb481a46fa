"""Resize layer: nearest, linear and cubic resampling of the spatial axes."""

from collections.abc import Sequence

import jax

from axonnx.layers._spatial import as_tuple, check_channels, spatial_axes

__all__ = ["resize"]

_METHODS = ("nearest", "linear", "cubic")


def resize(
    x: jax.Array,
    size: int | Sequence[int],
    *,
    method: str = "nearest",
    channels: str = "last",
) -> jax.Array:
    """Resizes the spatial axes of ``x`` to ``size``, without antialiasing.

    Coordinates use half-pixel centres: output cell ``i`` samples input position
    ``(i + 0.5) * in / out - 0.5``. In ONNX ``Resize`` terms
    (``coordinate_transformation_mode="half_pixel"``, ``antialias=0``):

    * ``"nearest"``: ``nearest_mode="round_prefer_ceil"`` (input cell
      ``floor((i + 0.5) * in / out)``);
    * ``"linear"``: ``mode="linear"``, samples clamped to the edge;
    * ``"cubic"``: ``mode="cubic"`` with ``cubic_coeff_a=-0.5`` and ``exclude_outside=1``
      (weights of samples outside the input are dropped and the rest renormalised).

    Args:
      x: ``(N, *spatial, C)`` (``channels="last"``) or ``(N, C, *spatial)``.
      size: output spatial size, an int or one per spatial dimension.
      method: ``"nearest"``, ``"linear"`` or ``"cubic"``.
      channels: ``"last"`` or ``"first"``.

    Returns:
      ``(N, *size, C)`` or ``(N, C, *size)``, same dtype as ``x``.

    >>> resize(jax.numpy.ones((1, 4, 4, 3)), (8, 6), method="linear").shape
    (1, 8, 6, 3)
    """
    check_channels(channels, "resize")
    if method not in _METHODS:
        raise ValueError(f"resize: expected method in {_METHODS}, got {method!r}.")
    axes = spatial_axes(x.ndim, channels)
    shape = list(x.shape)
    for axis, n in zip(axes, as_tuple(size, len(axes), "size"), strict=True):
        shape[axis] = n
    return jax.image.resize(x, shape, method, antialias=False)
