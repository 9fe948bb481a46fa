"""Signal-processing ONNX ops: the discrete Fourier transform (DFT, STFT), window
functions and the mel filter bank.

Complex tensors are real tensors with a trailing axis of 2 (real, imag); real inputs
may have a trailing axis of 1. Transforms run with `jnp.fft` in complex64 (complex128
for float64 inputs) and return the input's dtype. Sizes (`dft_length`, `axis`,
`frame_step`, `frame_length`, window `size`, all MelWeightMatrix inputs) must be known
when the model is compiled.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import static
from axonnx.converters.ops._signal_util import (
    cosine_window,
    from_complex,
    mel_weights,
    onnx_dtype,
    to_complex,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError


def _scalar(value, what: str, cast=int):
    return cast(static(value, what).reshape(()))


def _signal_axis(axis: int, rank: int) -> int:
    """`axis` of a DFT input of rank `rank` (the last axis holds real/imag parts)."""
    if not (-rank <= axis <= -2 or 0 <= axis <= rank - 2):
        raise InvalidModelError(
            f"DFT: expected axis in [{-rank}, -2] or [0, {rank - 2}] for an input of rank "
            f"{rank}, got {axis}."
        )
    return axis % rank


def _dft(input, dft_length, axis: int, inverse: int, onesided: int):  # noqa: A002
    x = jnp.asarray(input)
    axis = _signal_axis(axis, x.ndim)
    if dft_length is None:
        length = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    else:
        length = _scalar(dft_length, "DFT dft_length")
    signal = to_complex(x, "DFT")
    if inverse and onesided:
        return jnp.fft.irfft(signal, n=length, axis=axis)[..., None].astype(x.dtype)
    if inverse:
        return from_complex(jnp.fft.ifft(signal, n=length, axis=axis), x.dtype)
    return from_complex(_forward(signal, x.shape[-1] == 1, length, axis, onesided), x.dtype)


def _forward(signal, real: bool, length: int, axis: int, onesided: int):
    """The DFT of complex `signal` along `axis` (first `length // 2 + 1` bins if
    `onesided`). A `real` signal goes through `rfft`; its full spectrum's upper half is
    the mirrored conjugate (so imaginary parts at bins 0 and length / 2 are exactly 0)."""
    if not real:
        y = jnp.fft.fft(signal, n=length, axis=axis)
        return jnp.take(y, np.arange(length // 2 + 1), axis=axis) if onesided else y
    half = jnp.fft.rfft(jnp.real(signal), n=length, axis=axis)
    if onesided:
        return half
    mirrored = jnp.take(half, np.arange(length - length // 2 - 1, 0, -1), axis=axis)
    return jnp.concatenate([half, jnp.conj(mirrored)], axis=axis)


@onnx_op("DFT", 17, static_inputs=(1,))
def dft_17(input, dft_length=None, *, axis=1, inverse=0, onesided=0):  # noqa: A002
    """ONNX DFT-17: the (inverse) DFT along attribute `axis` of (..., 1|2) input, zero
    padded or cut to `dft_length`; `onesided` returns (forward) or takes (inverse, a
    real (..., 1) output) the first `dft_length // 2 + 1` frequencies."""
    return _dft(input, dft_length, axis, inverse, onesided)


@onnx_op("DFT", 20, static_inputs=(1, 2))
def dft(input, dft_length=None, axis=None, *, inverse=0, onesided=0):  # noqa: A002
    """ONNX DFT-20: as DFT-17, with `axis` an input (default -2, the last signal axis)."""
    axis = -2 if axis is None else _scalar(axis, "DFT axis")
    return _dft(input, dft_length, axis, inverse, onesided)


def _frame_length(signal, window, frame_length) -> int:
    if frame_length is not None:
        length = _scalar(frame_length, "STFT frame_length")
        if window is not None and jnp.shape(window) != (length,):
            raise ShapeError(
                f"STFT: expected window of shape ({length},) (frame_length), "
                f"got {jnp.shape(window)}."
            )
        return length
    return jnp.shape(window)[0] if window is not None else signal.shape[1]


@onnx_op("STFT", 17, static_inputs=(1, 3))
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    """ONNX STFT-17: DFTs of windowed frames of `signal` (batch, length, 1|2) ->
    (batch, frames, bins, 2), frames = (length - frame_length) // frame_step + 1,
    bins = frame_length // 2 + 1 when `onesided` else frame_length."""
    x = jnp.asarray(signal)
    if x.ndim != 3:
        raise ShapeError(f"STFT: expected signal (batch, length, 1|2), got shape {x.shape}.")
    step = _scalar(frame_step, "STFT frame_step")
    length = _frame_length(x, window, frame_length)
    frames = (x.shape[1] - length) // step + 1
    if step < 1 or length < 1 or frames < 1:
        raise ShapeError(
            f"STFT: expected frame_step >= 1 and 1 <= frame_length <= signal length "
            f"{x.shape[1]}, got frame_step {step} and frame_length {length}."
        )
    starts = step * np.arange(frames)[:, None] + np.arange(length)
    framed = to_complex(x, "STFT")[:, starts]
    if window is not None:
        framed = framed * jnp.asarray(window).astype(jnp.real(framed).dtype)
    return from_complex(_forward(framed, x.shape[-1] == 1, length, -1, onesided), x.dtype)


def _window(size, periodic: int, output_datatype: int, coefficients, op: str):
    dtype = onnx_dtype(output_datatype, op)
    return cosine_window(_scalar(size, f"{op} size"), periodic, coefficients, dtype)


@onnx_op("HannWindow", 17, static_inputs=(0,))
def hann_window(size, *, output_datatype=1, periodic=1):
    """ONNX HannWindow-17: `0.5 - 0.5 cos(2 pi n / N)`, N = size (periodic) or size - 1."""
    return _window(size, periodic, output_datatype, (0.5, 0.5), "HannWindow")


@onnx_op("HammingWindow", 17, static_inputs=(0,))
def hamming_window(size, *, output_datatype=1, periodic=1):
    """ONNX HammingWindow-17: `25/46 - 21/46 cos(2 pi n / N)`, N = size (periodic) or
    size - 1."""
    return _window(size, periodic, output_datatype, (25 / 46, 21 / 46), "HammingWindow")


@onnx_op("BlackmanWindow", 17, static_inputs=(0,))
def blackman_window(size, *, output_datatype=1, periodic=1):
    """ONNX BlackmanWindow-17: `0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)`,
    N = size (periodic) or size - 1."""
    return _window(size, periodic, output_datatype, (0.42, 0.5, 0.08), "BlackmanWindow")


@onnx_op("MelWeightMatrix", 17, static_inputs=(0, 1, 2, 3, 4))
def mel_weight_matrix(
    num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *, output_datatype=1
):
    """ONNX MelWeightMatrix-17: triangular mel filters (dft_length // 2 + 1, num_mel_bins)
    mapping a one-sided spectrum to mel bins between the two edge frequencies."""
    weights = mel_weights(
        _scalar(num_mel_bins, "MelWeightMatrix num_mel_bins"),
        _scalar(dft_length, "MelWeightMatrix dft_length"),
        _scalar(sample_rate, "MelWeightMatrix sample_rate"),
        _scalar(lower_edge_hertz, "MelWeightMatrix lower_edge_hertz", float),
        _scalar(upper_edge_hertz, "MelWeightMatrix upper_edge_hertz", float),
    )
    return jnp.asarray(weights).astype(onnx_dtype(output_datatype, "MelWeightMatrix"))
