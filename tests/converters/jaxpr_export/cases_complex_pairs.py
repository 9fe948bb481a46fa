"""Primitive cases: Complex values as (real, imaginary) pairs: fft, complex, real, imag, conj.

Complex arguments and results are compared as float [..., 2] (check.py packs them)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

RNG = np.random.default_rng(16)


def _normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _complex(*shape):
    return (_normal(*shape) + 1j * _normal(*shape)).astype(np.complex64)


def _arith(z, w):
    """Complex arithmetic around the pair constructors."""
    u = lax.complex(jnp.real(z) * jnp.abs(w), jnp.imag(z))
    return jnp.conj(u) * w / (w + 2), jnp.abs(jnp.exp(z / 4) * u), jnp.real(u * u)


def _more(z, w, x):
    """The remaining mapped complex primitives: log, sqrt, sign, powers, dot_general,
    reductions, comparisons, conversions and the partwise structural primitives."""
    m, n = jnp.concatenate([z, w], -1), z.shape[-1]
    products = z @ jnp.swapaxes(w, -1, -2) + jnp.sum(m, -1, keepdims=True)
    return (
        jnp.log(z) + jnp.sqrt(w) - jnp.sign(z) + z**3 - w**-2 + jnp.square(z),
        products,
        jnp.cumsum(m[..., ::-1], -1)[..., :n]
        + jnp.pad(z[..., 1:], [(0, 0)] * (z.ndim - 1) + [(1, 0)]),
        jnp.where(jnp.abs(z) > 1, z, x.astype(jnp.complex64)).T.reshape(-1)[::2],
        (z == w) | (z != z[..., :1]),
        z.astype(jnp.complex64).real.astype(jnp.int32),
    )


def _indexing(z, i):
    """Indexing and splitting of complex arrays: gather, dynamic slices, split, squeeze."""
    first, rest = jnp.split(-z, [1], axis=-1)
    window = lax.dynamic_slice_in_dim(z, i[0], 2, axis=-1)
    return (
        lax.dynamic_update_slice_in_dim(z, window * 1j, i[1], axis=-1),
        jnp.take(z, i, axis=-1) * lax.squeeze(first, [first.ndim - 1])[..., None],
        jnp.array(rest, copy=True),
    )


@jax.custom_jvp
def _doubled(z):
    return 2 * z


_doubled.defjvp(lambda primals, tangents: (_doubled(*primals), 2 * tangents[0]))


@jax.custom_vjp
def _tripled(z):
    return 3 * z


_tripled.defvjp(lambda z: (3 * z, None), lambda _, g: (3 * g,))


def _calls(z):
    """Complex values through remat, custom_jvp and custom_vjp calls."""
    return jax.checkpoint(lambda u: _doubled(u) * u)(z) + _tripled(z)


def _spectrum_grad(x):
    """Real in, real out; the gradient sums complex cotangents (add_any)."""

    def energy(v):
        spectrum = jnp.fft.rfft(v)
        return jnp.sum(jnp.abs(spectrum * spectrum[..., ::-1]))

    return jax.grad(energy)(x)


def _fft_conv(x, h):
    """Linear convolution of real signals through rfft/irfft (real in, real out)."""
    n = x.shape[-1] + h.shape[-1] - 1
    return jnp.fft.irfft(jnp.fft.rfft(x, n) * jnp.fft.rfft(h, n), n)


def _spectral(z):
    """Complex in, complex out: an FFT-domain filter, back with ifft."""
    return jnp.fft.ifft(jnp.fft.fft(z) * jnp.conj(z)), jnp.fft.fftshift(jnp.fft.fft2(z))


def _lax_fft(kind, lengths):
    return lambda x: lax.fft(x, kind, lengths)


def _two(fn, *makes):
    """A case at two shapes: each `make(shape)` gives an argument."""
    return [(fn, tuple(m(2, 4) for m in makes)), (fn, tuple(m(3, 2, 6) for m in makes))]


FFT, IFFT, RFFT, IRFFT = lax.FftType.FFT, lax.FftType.IFFT, lax.FftType.RFFT, lax.FftType.IRFFT

CASES: dict = {
    "complex": _two(lax.complex, lambda *s: _normal(*s), lambda *s: _normal(*s)),
    "real": _two(jnp.real, _complex),
    "imag": _two(jnp.imag, _complex),
    "conj": _two(jnp.conj, _complex),
    "complex_arithmetic": _two(_arith, _complex, _complex),
    "complex_more": [
        (_more, (_complex(2, 4, 4), _complex(2, 4, 4), _normal(2, 4, 4))),
        (_more, (_complex(3, 3), _complex(3, 3), _normal(3, 3))),
    ],
    "complex_indexing": [
        (_indexing, (_complex(3, 5), np.array([1, 3, 2], np.int32))),
        (_indexing, (_complex(2, 3, 4), np.array([2, 0], np.int32))),
    ],
    "complex_calls": _two(_calls, _complex),
    "complex_grad": _two(_spectrum_grad, _normal),
    "fft": [
        (_lax_fft(FFT, (8,)), (_complex(3, 8),)),
        (_lax_fft(FFT, (6, 5)), (_complex(2, 6, 5),)),
    ],
    "ifft": [
        (_lax_fft(IFFT, (7,)), (_complex(2, 3, 7),)),
        (_lax_fft(IFFT, (3, 4, 5)), (_complex(2, 3, 4, 5),)),
    ],
    "rfft": [(jnp.fft.rfft, (_normal(3, 10),)), (_lax_fft(RFFT, (4, 6)), (_normal(2, 4, 6),))],
    "irfft": [
        (jnp.fft.irfft, (_complex(3, 6),)),
        (_lax_fft(IRFFT, (3, 4, 7)), (_complex(2, 3, 4, 4),)),
    ],
    "fft2": [(jnp.fft.fft2, (_complex(4, 6),)), (jnp.fft.fft2, (_complex(2, 3, 5, 4),))],
    "rfftn": [
        (lambda x: jnp.fft.irfftn(jnp.fft.rfftn(x, axes=(-2, -1)), x.shape[-2:]), (_normal(4, 8),)),
        (lambda x: jnp.fft.rfftn(x, axes=(-3, -2, -1)), (_normal(2, 3, 4, 5),)),
    ],
    "power_spectrum": _two(lambda x: jnp.abs(jnp.fft.rfft(x)) ** 2, _normal),
    "fft_convolution": _two(_fft_conv, _normal, _normal),
    "complex_in_out": _two(_spectral, _complex),
}
"""Primitive name → [(function, example arguments), …], two shapes each."""

TOLERANCE: dict[str, float] = {}
"""Primitive name → rtol = atol where 1e-5 is too tight, with the reason."""
