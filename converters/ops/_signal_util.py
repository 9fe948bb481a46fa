"""Helpers of the signal op family: complex numbers stored as a trailing (real, imag)
axis, cosine-sum windows and the mel filter bank."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.errors import InvalidModelError, ShapeError

__all__ = ["cosine_window", "from_complex", "mel_weights", "onnx_dtype", "to_complex"]


def onnx_dtype(code: int, op: str, what: str = "output_datatype") -> np.dtype:
    """The JAX dtype of ONNX data type `code` (TensorProto enum)."""
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidModelError(
            f"{op}: expected attribute {what} to be an ONNX TensorProto data type, got {code!r}."
        ) from error
    return jax.dtypes.canonicalize_dtype(dtype)


def to_complex(x: jax.Array, op: str) -> jax.Array:
    """`x` of shape (..., 1) (real) or (..., 2) (real, imag) as a complex (...) array
    (complex64, or complex128 for float64 input)."""
    if x.ndim < 2 or x.shape[-1] not in (1, 2):
        raise ShapeError(
            f"{op}: expected input (..., 1) for real or (..., 2) for complex values, "
            f"got shape {x.shape}."
        )
    wide = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
    x = x.astype(wide)
    if x.shape[-1] == 1:
        return jax.lax.complex(x[..., 0], jnp.zeros_like(x[..., 0]))
    return jax.lax.complex(x[..., 0], x[..., 1])


def from_complex(y: jax.Array, dtype) -> jax.Array:
    """Complex `y` (...) as (..., 2) (real, imag) of `dtype`."""
    return jnp.stack([jnp.real(y), jnp.imag(y)], axis=-1).astype(dtype)


def cosine_window(size: int, periodic: int, coefficients: tuple[float, ...], dtype) -> jax.Array:
    """`sum_k (-1)^k a_k cos(2 pi k n / N)` for n in [0, size), with N = size when
    `periodic` else size - 1 (Hann, Hamming and Blackman windows)."""
    span = size if periodic else size - 1
    angle = 2 * np.pi * np.arange(size, dtype=np.float64) / span
    window = sum((-1) ** k * a * np.cos(k * angle) for k, a in enumerate(coefficients))
    return jnp.asarray(window).astype(dtype)


def _hertz_to_mel(hertz: float) -> float:
    return 2595 * np.log10(1 + hertz / 700)


def mel_weights(
    num_mel_bins: int, dft_length: int, sample_rate: int, lower_hertz: float, upper_hertz: float
) -> np.ndarray:
    """Triangular mel filters as a (dft_length // 2 + 1, num_mel_bins) float64 matrix:
    bin edges equally spaced in mel (HTK formula), snapped down to DFT bins."""
    low, high = _hertz_to_mel(lower_hertz), _hertz_to_mel(upper_hertz)
    mels = low + np.arange(num_mel_bins + 2) * (high - low) / (num_mel_bins + 2)
    hertz = 700 * (10 ** (mels / 2595) - 1)
    edges = (((dft_length + 1) * hertz) // sample_rate).astype(np.int64)
    bins = np.arange(dft_length // 2 + 1)[:, None]
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - left) / np.maximum(center - left, 1)
    falling = (right - bins) / np.maximum(right - center, 1)
    weights = np.where((bins >= left) & (bins <= center), rising, 0.0)
    weights = np.where((bins > center) & (bins < right), falling, weights)
    return np.where((center == left) & (bins == center), 1.0, weights)
