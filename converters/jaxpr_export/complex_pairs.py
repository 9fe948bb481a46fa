"""Complex values as (real, imaginary) pairs: fft, complex, real, imag, conj.

onnxruntime has no complex tensors, so `realify` rewrites a jaxpr that holds complex
values into one that holds real values only: it evaluates the jaxpr with each complex
value bound to a (re, im) pair of real JAX values and traces that again. A complex input
or output of shape S becomes a float array of shape S + (2,), real and imaginary part on
the trailing axis (ONNX DFT's layout; complex64 → float32, complex128 → float64).

`fft` becomes forward one-axis DFTs (this module's private primitive, also named `fft`,
written as ONNX DFT): the inverse transforms conjugate around the forward one, IRFFT
builds the Hermitian completion of its half spectrum first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.core import ShapedArray
from jax.extend.core import Jaxpr, Literal, Primitive

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError

__all__ = ["PAIR_RULES", "pair_array", "pair_struct", "realify", "unrealified"]

Pair = tuple[Any, Any]
"""The real and imaginary part of a complex value, real JAX (or NumPy) arrays."""


def _is_complex(var: Any) -> bool:
    dtype = getattr(var.aval, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.complexfloating)


def _real_dtype(dtype: Any) -> np.dtype:
    """float32 for complex64, float64 for complex128, any real dtype itself."""
    return np.zeros((), dtype).real.dtype


def _jaxprs(params: dict) -> Iterator[Jaxpr]:
    """The jaxprs an equation calls (its params' jaxprs and closed jaxprs)."""
    for value in params.values():
        for sub in value if isinstance(value, tuple | list) else [value]:
            inner = getattr(sub, "jaxpr", sub)
            if isinstance(inner, Jaxpr):
                yield inner


def _eqn_complex(eqn) -> bool:
    return any(_is_complex(v) for v in [*eqn.invars, *eqn.outvars]) or any(
        _has_complex(j) for j in _jaxprs(eqn.params)
    )


def _has_complex(jaxpr: Jaxpr) -> bool:
    own = [*jaxpr.constvars, *jaxpr.invars, *jaxpr.outvars]
    return any(_is_complex(v) for v in own) or any(_eqn_complex(e) for e in jaxpr.eqns)


def pair_struct(struct: Any) -> jax.ShapeDtypeStruct:
    """The real stand-in of an array (or aval) `struct`: complex shape S → float S + (2,)."""
    if not jnp.issubdtype(struct.dtype, jnp.complexfloating):
        return jax.ShapeDtypeStruct(struct.shape, struct.dtype)
    return jax.ShapeDtypeStruct((*struct.shape, 2), _real_dtype(struct.dtype))


def pair_array(value: Any) -> np.ndarray:
    """`value` as export_function feeds it: complex [...] → float [..., 2] (real, imag)."""
    array = np.asarray(value)
    if not np.iscomplexobj(array):
        return array
    return np.stack([array.real, array.imag], axis=-1)


def realify(closed, where: str = "export_function"):
    """The real-only closed jaxpr of `closed` (itself if no value is complex): complex
    inputs and outputs of shape S become float S + (2,)."""
    if not _has_complex(closed.jaxpr):
        return closed
    invars = closed.jaxpr.invars

    def real_fn(*args):
        values = [_split(a) if _is_complex(v) else a for a, v in zip(args, invars)]
        outs = _evaluate(closed.jaxpr, closed.consts, values, where)
        return [_stack(o) if isinstance(o, tuple) else o for o in outs]

    return jax.make_jaxpr(real_fn)(*[pair_struct(v.aval) for v in invars])


def _split(x: Any) -> Pair:
    return lax.index_in_dim(x, 0, -1, False), lax.index_in_dim(x, 1, -1, False)


def _stack(z: Pair) -> Any:
    return jnp.stack(z, axis=-1)


def _constant(value: Any, dtype: Any) -> Any:
    array = np.asarray(value, dtype)
    return (array.real, array.imag) if np.iscomplexobj(array) else value


def _evaluate(jaxpr: Jaxpr, consts: list, args: list, where: str) -> list:
    """The outputs of `jaxpr` on `args`, complex values as pairs."""
    env: dict[Any, Any] = {}

    def read(var: Any) -> Any:
        return _constant(var.val, var.aval.dtype) if isinstance(var, Literal) else env[var]

    for var, value in zip(jaxpr.constvars, consts):
        env[var] = _constant(value, var.aval.dtype)
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        env.update(zip(eqn.outvars, _apply(eqn, [read(v) for v in eqn.invars], where)))
    return [read(v) for v in jaxpr.outvars]


def _apply(eqn, values: list, where: str) -> list:
    name = eqn.primitive.name
    if not _eqn_complex(eqn):
        out = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(eqn.params))
        return out if eqn.primitive.multiple_results else [out]
    if name in _INLINED:
        inner = eqn.params[_INLINED[name]]  # a closed jaxpr, or a bare one (remat2)
        consts = getattr(inner, "consts", [])
        return _evaluate(getattr(inner, "jaxpr", inner), consts, values, where)
    if name in _PARTWISE:
        return _partwise(eqn, values)
    if name not in PAIR_RULES:
        raise UnsupportedOpError(
            f"{where}: the jaxpr primitive {name!r} on complex values has no ONNX mapping "
            f"(mapped on complex values: {', '.join(sorted([*PAIR_RULES, *_PARTWISE]))})"
        )
    try:
        out = PAIR_RULES[name](eqn, *values)
    except UnsupportedOpError as error:
        raise UnsupportedOpError(f"{where}: {error}") from None
    return list(out) if isinstance(out, list) else [out]


_INLINED = {
    "jit": "jaxpr",
    "remat2": "jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}
"""Calls whose inner jaxpr is evaluated in place (custom derivatives dropped)."""

_PARTWISE = {
    *("add", "add_any", "sub", "neg", "reduce_sum", "cumsum", "copy", "select_n"),
    *("reshape", "transpose", "broadcast_in_dim", "slice", "squeeze"),
    *("concatenate", "split", "rev", "pad", "dynamic_slice", "dynamic_update_slice"),
    "gather",
}
"""Primitives linear in their complex operands: applied to the real and the imaginary
parts alike (their other operands, such as indices and predicates, are real)."""


def _partwise(eqn, values: list, **changes: Any) -> list:
    params = {**eqn.params, **changes}
    parts = [
        eqn.primitive.bind(*[v[k] if isinstance(v, tuple) else v for v in values], **params)
        for k in (0, 1)
    ]
    if eqn.primitive.multiple_results:
        return list(zip(*parts))
    return [tuple(parts)]


def _bilinear(op: Callable, x: Pair, y: Pair) -> Pair:
    (a, b), (c, d) = x, y
    return op(a, c) - op(b, d), op(a, d) + op(b, c)


def _mul(x: Pair, y: Pair) -> Pair:
    return _bilinear(lax.mul, x, y)


def _inverse(z: Pair) -> Pair:
    a, b = z
    norm = a * a + b * b
    return a / norm, -b / norm


def _hypot(a: Any, b: Any) -> Any:
    """|a + bi|, scaled so that it neither overflows nor underflows."""
    big, small = jnp.maximum(jnp.abs(a), jnp.abs(b)), jnp.minimum(jnp.abs(a), jnp.abs(b))
    ratio = small / jnp.where(big == 0, 1, big)
    return big * jnp.sqrt(1 + ratio * ratio)


def _div(eqn, x: Pair, y: Pair) -> Pair:
    (a, b), (c, d) = x, y
    norm = c * c + d * d
    return (a * c + b * d) / norm, (b * c - a * d) / norm


def _exp(eqn, z: Pair) -> Pair:
    scale = jnp.exp(z[0])
    return scale * jnp.cos(z[1]), scale * jnp.sin(z[1])


def _log(eqn, z: Pair) -> Pair:
    return jnp.log(_hypot(*z)), jnp.arctan2(z[1], z[0])


def _sqrt(eqn, z: Pair) -> Pair:
    """The principal root, without cancellation: t = sqrt((|a| + |z|) / 2) is the larger part."""
    a, b = z
    t = jnp.sqrt((jnp.abs(a) + _hypot(a, b)) / 2)
    other = b / (2 * jnp.where(t == 0, 1, t))
    right = a >= 0
    return jnp.where(right, t, jnp.abs(other)), jnp.where(right, other, jnp.copysign(t, b))


def _sign(eqn, z: Pair) -> Pair:
    size = _hypot(*z)
    safe = jnp.where(size == 0, 1, size)
    return z[0] / safe, z[1] / safe


def _integer_pow(eqn, z: Pair) -> Pair:
    """z ** y by repeated squaring; a negative y inverts the result."""
    y = eqn.params["y"]
    result, power = (jnp.ones_like(z[0]), jnp.zeros_like(z[0])), z
    for bit in bin(abs(y))[:1:-1]:
        if bit == "1":
            result = _mul(result, power)
        power = _mul(power, power)
    return _inverse(result) if y < 0 else result


def _convert(eqn, x: Any) -> Any:
    dtype = eqn.params["new_dtype"]
    part = _real_dtype(dtype)
    if not isinstance(x, tuple):  # real → complex
        return lax.convert_element_type(x, part), jnp.zeros_like(x, part)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return _partwise(eqn, [x], new_dtype=part)[0]
    return lax.convert_element_type(x[0], dtype)  # complex → real keeps the real part


def _dot_general(eqn, x: Pair, y: Pair) -> Pair:
    params = dict(eqn.params)
    if params.get("preferred_element_type") is not None:
        params["preferred_element_type"] = _real_dtype(params["preferred_element_type"])
    return _bilinear(lambda p, q: lax.dot_general_p.bind(p, q, **params), x, y)


def _conj(eqn, z: Any) -> Pair:
    return (z[0], -z[1]) if isinstance(z, tuple) else (z, jnp.zeros_like(z))


def _dft_shape(signal: Any, *, axis: int, onesided: bool) -> ShapedArray:
    shape = list(signal.shape)
    if onesided:
        shape[axis] = shape[axis] // 2 + 1
    return ShapedArray((*shape[:-1], 2), signal.dtype)


_dft_p = Primitive("fft")
"""The forward DFT of a signal [..., 1] (real) or [..., 2] (complex) along `axis`, as
ONNX DFT computes it: [..., 2], the first n // 2 + 1 frequencies where `onesided`."""
_dft_p.def_abstract_eval(_dft_shape)


def _dfts(signal: Any, axes: range) -> Any:
    for axis in axes:
        signal = _dft_p.bind(signal, axis=axis, onesided=False)
    return signal


def _fft(eqn, x: Any) -> Any:
    """FFT, IFFT, RFFT and IRFFT over the trailing len(fft_lengths) axes as forward DFTs:
    ifft(z) = conj(fft(conj(z))) / n. IRFFT transforms conj(z) on the leading axes, completes
    the last one (completion commutes with conj) and keeps the real part of its transform."""
    kind, lengths = eqn.params["fft_type"], eqn.params["fft_lengths"]
    rank = eqn.outvars[0].aval.ndim
    axes, last, size = range(rank - len(lengths), rank), rank - 1, int(np.prod(lengths))
    if kind == lax.FftType.FFT:
        return _split(_dfts(_stack(x), axes))
    if kind == lax.FftType.RFFT:
        return _split(_dfts(_dft_p.bind(x[..., None], axis=last, onesided=True), axes[:-1]))
    inverse = kind == lax.FftType.IFFT
    spectrum = _split(_dfts(_stack(_conj(eqn, x)), axes if inverse else axes[:-1]))
    if inverse:
        return spectrum[0] / size, -spectrum[1] / size
    full = _stack(_hermitian(spectrum, lengths[-1]))
    return lax.index_in_dim(_dft_p.bind(full, axis=last, onesided=False), 0, -1, False) / size


def _hermitian(z: Pair, n: int) -> Pair:
    """The n-point spectrum of a real signal from its first n // 2 + 1 frequencies `z`
    (last axis): X[n - k] = conj(X[k])."""
    mirror = [jnp.flip(part[..., 1 : n - z[0].shape[-1] + 1], -1) for part in z]
    return jnp.concatenate([z[0], mirror[0]], -1), jnp.concatenate([z[1], -mirror[1]], -1)


PAIR_RULES: dict[str, Callable] = {
    "complex": lambda eqn, x, y: tuple(jnp.broadcast_arrays(x, y)),  # a part may be a scalar
    "real": lambda eqn, z: z[0],
    "imag": lambda eqn, z: z[1],
    "conj": _conj,
    "mul": lambda eqn, x, y: _mul(x, y),
    "square": lambda eqn, z: _mul(z, z),
    "div": _div,
    "abs": lambda eqn, z: _hypot(*z),
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "sign": _sign,
    "integer_pow": _integer_pow,
    "convert_element_type": _convert,
    "dot_general": _dot_general,
    "eq": lambda eqn, x, y: (x[0] == y[0]) & (x[1] == y[1]),
    "ne": lambda eqn, x, y: (x[0] != y[0]) | (x[1] != y[1]),
    "fft": _fft,
}
"""Each primitive with a complex operand or result that is not linear, as a formula
on the parts (a list of results where it has several); other modules add theirs."""


_PAIRS = (
    "realified by export_function: {}; complex inputs and outputs are float [..., 2] "
    "(split by Slice, stacked by Concat)"
)


@rule(
    "complex",
    onnx=_PAIRS.format(
        "the pair (x, y), no node; mul, div, abs, exp, log, sqrt, sign, integer_pow, "
        "dot_general, eq, ne and conversions of complex values become real formulas on the "
        "parts, linear and structural primitives act on both parts"
    ),
)
@rule("real", "imag", onnx=_PAIRS.format("one part of the pair, no node"))
@rule("conj", onnx=_PAIRS.format("Neg of the imaginary part"))
def unrealified(t: Tracer, eqn, args: list[str]) -> str:
    """The rule of a primitive that `realify` removes: reached only by a jaxpr that was
    not realified, which it refuses with the way to export it."""
    raise UnsupportedOpError(
        f"{t.where}: the jaxpr primitive {eqn.primitive.name!r} reached the writer with "
        "complex values; export the function with ax.export_function (or ax.export_grad), "
        "which carries them as float [..., 2] pairs"
    )


@rule(
    "fft",
    onnx=_PAIRS.format(
        "one DFT (computed in float64) per transformed axis; IFFT and IRFFT "
        "conjugate around the forward DFT (Neg) and scale by 1/n (Div), IRFFT completes its "
        "half spectrum first (Slice, Neg, Concat) and keeps the real part"
    ),
)
def _dft(t: Tracer, eqn, args: list[str]) -> str:
    """The private `fft` of `realify` (lax's own complex `fft` is refused)."""
    if "fft_type" in eqn.params:
        return unrealified(t, eqn, args)
    if t.w.opset < 17:
        raise UnsupportedOpError(
            f"{t.where}: fft needs ONNX DFT, opset 17 or newer; got {t.w.opset}"
        )
    # float64 inside: onnxruntime's float32 DFT of lengths that are not powers of 2 is off
    # by up to 2e-5 of the largest magnitude at n = 100; in float64 it matches JAX's float32
    # FFT to 1.5e-7 (JAX's own error).
    dtype = eqn.invars[0].aval.dtype
    signal = t.cast(args[0], np.float64) if dtype != np.float64 else args[0]
    axis, onesided = eqn.params["axis"], int(eqn.params["onesided"])
    if t.w.opset >= 20:
        out = t.op("DFT", [signal, "", t.const(np.int64(axis))], onesided=onesided)
    else:
        out = t.op("DFT", [signal], axis=axis, onesided=onesided)
    return t.cast(out, dtype) if dtype != np.float64 else out
