"""XLA's counter-based generators, written with ONNX integer ops: rng_bit_generator
(Philox 4x32-10 and Threefry 2x32-20 in XLA's key and counter layout), the threefry2x32
hash and iota_2x32_shape, and the key-typed jax.random primitives, whose implementations
are traced and written in place (a key array is its uint32 key data; of the generic
primitives only those on its leading axes, such as slice, squeeze and concatenate,
handle key arrays correctly).

rng_bit_generator's state is u64[2] (JAX passes u32[4], its little-endian halves): word 0
is the key, word 1 the counter. XLA's CPU backend runs RNG_DEFAULT as Philox. Narrow types
keep the low bits of 32-bit words; 64-bit values join two words (low word first).
All arithmetic is on uint32/uint64, where onnxruntime's Add and Mul wrap around.

rng_uniform is XLA's stateful generator: its key is a process-wide random number drawn at
compile time and its counter hidden state that advances on every run, so no two runs agree
and its contract is only the distribution. It becomes ONNX RandomUniform (unseeded, also
stateful), scaled to [a, b), at opset 21 or older; test_rng_uniform.py checks the
distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np
from jax import lax
from jax.extend import random as jax_random

from axonnx.converters.jaxpr_export.tracer import Tracer, elem, rule
from axonnx.converters.jaxpr_export.unrolled import slice_axis
from axonnx.errors import UnsupportedOpError

U32, U64 = np.uint32, np.uint64
RANDOM_OPSET = 21
"""The newest opset of RandomUniform that onnxruntime 1.31 implements (22 changed its types)."""

THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
THREEFRY_PARITY = 0x1BD11BDA
PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
PHILOX_WEYL = (0x9E3779B9, 0xBB67AE85)
PHILOX_ROUNDS = 10

State = tuple[str, str, str, str]
"""(key word 0, key word 1) as uint32 and (key, counter) as uint64, each of shape [1]."""


def _add(t: Tracer, *xs: str) -> str:
    out = xs[0]
    for x in xs[1:]:
        out = t.op("Add", [out, x])
    return out


def _xor(t: Tracer, *xs: str) -> str:
    out = xs[0]
    for x in xs[1:]:
        out = t.op("BitwiseXor", [out, x])
    return out


def _shift(t: Tracer, x: str, k: int, dtype, direction: str) -> str:
    return t.op("BitShift", [x, t.const(k, dtype)], direction=direction)


def _low(t: Tracer, v: str) -> str:
    """The low 32 bits of the uint64 `v` (Cast truncates)."""
    return t.cast(v, U32)


def _high(t: Tracer, v: str) -> str:
    return t.cast(_shift(t, v, 32, U64, "RIGHT"), U32)


def _join(t: Tracer, low: str, high: str) -> str:
    """The uint64 `high << 32 | low` of two uint32 words."""
    return t.op("BitwiseOr", [t.cast(low, U64), _shift(t, t.cast(high, U64), 32, U64, "LEFT")])


def _rotate(t: Tracer, v: str, k: int) -> str:
    left = _shift(t, v, k, U32, "LEFT")
    return t.op("BitwiseOr", [left, _shift(t, v, 32 - k, U32, "RIGHT")])


def threefry2x32(t: Tracer, key: Sequence[str], x: Sequence[str]) -> tuple[str, str]:
    """Threefry-2x32 with 20 rounds of the uint32 words `x` under the uint32 `key` (ONNX
    broadcasting between them)."""
    ks = [key[0], key[1], _xor(t, t.const(THREEFRY_PARITY, U32), key[0], key[1])]
    x0, x1 = _add(t, x[0], ks[0]), _add(t, x[1], ks[1])
    for block in range(5):
        for k in THREEFRY_ROTATIONS[block % 2]:
            x0 = _add(t, x0, x1)
            x1 = _xor(t, x0, _rotate(t, x1, k))
        x0 = _add(t, x0, ks[(block + 1) % 3])
        x1 = _add(t, x1, ks[(block + 2) % 3], t.const(block + 1, U32))
    return x0, x1


def _mul_high_low(t: Tracer, x: str, multiplier: int) -> tuple[str, str]:
    """The high and low words of the 64-bit product of the uint32 `x` and `multiplier`."""
    product = t.op("Mul", [t.cast(x, U64), t.const(multiplier, U64)])
    return _high(t, product), _low(t, product)


def philox4x32(t: Tracer, key: Sequence[str], x: Sequence[str]) -> list[str]:
    """Philox-4x32 with 10 rounds of the four uint32 words `x` under the uint32 `key`."""
    k0, k1 = key
    for _ in range(PHILOX_ROUNDS):
        high0, low0 = _mul_high_low(t, x[0], PHILOX_MULTIPLIERS[0])
        high1, low1 = _mul_high_low(t, x[2], PHILOX_MULTIPLIERS[1])
        x = [_xor(t, high1, x[1], k0), low1, _xor(t, high0, x[3], k1), low0]
        k0 = _add(t, k0, t.const(PHILOX_WEYL[0], U32))
        k1 = _add(t, k1, t.const(PHILOX_WEYL[1], U32))
    return x


def _iota(t: Tracer, n: int) -> str:
    """[0, 1, …, n-1] as uint64 (Range on int64, then Cast)."""
    bounds = [t.const(v, np.int64) for v in (0, n, 1)]
    return t.cast(t.op("Range", bounds), U64)


def _interleave(t: Tracer, lanes: list[str], grid: tuple[int, int, int], size: int, shape):
    """Lanes of shape `grid` = (outer, h, inner) side by side along the middle axis (lane j
    of row i at row i·len(lanes) + j), cut to `size` rows and reshaped to `shape`."""
    outer, h, inner = grid
    parts = [t.op("Reshape", [y, t.shape((outer, h, 1, inner))]) for y in lanes]
    x = t.concat(parts, 2)
    x = t.op("Reshape", [x, t.shape((outer, h * len(lanes), inner))])
    if h * len(lanes) != size:
        x = slice_axis(t, x, 1, 0, size)
    return t.op("Reshape", [x, t.shape(shape)])


def _split_axis(shape: tuple[int, ...]) -> int:
    """XLA's SplitShapeIntoHalves: the first even axis, else the first longest."""
    even = [i for i, d in enumerate(shape) if d % 2 == 0]
    return even[0] if even else int(np.argmax(shape))


def _threefry_bits(t: Tracer, state: State, shape: tuple, width: int) -> tuple[str, int]:
    """Threefry bits (uint32, or uint64 for `width` 64) and the number of counters used:
    32-bit values take both words of a counter, interleaved along the split axis."""
    k0, k1, _, counter = state
    if width == 64:
        n = int(np.prod(shape))
        c = _add(t, counter, _iota(t, n))
        y = threefry2x32(t, (k0, k1), (_low(t, c), _high(t, c)))
        return _interleave(t, [_join(t, *y)], (1, n, 1), n, shape), n
    dims = shape or (1,)
    axis = _split_axis(dims)
    grid = (int(np.prod(dims[:axis])), (dims[axis] + 1) // 2, int(np.prod(dims[axis + 1 :])))
    n = int(np.prod(grid))
    c = _add(t, counter, _iota(t, n))
    y = threefry2x32(t, (k0, k1), (_low(t, c), _high(t, c)))
    return _interleave(t, list(y), grid, dims[axis], shape), n


def _philox_bits(t: Tracer, state: State, shape: tuple, width: int) -> tuple[str, int]:
    """Philox bits and the number of counters used: the 128-bit counter is (counter word +
    i) with its carry into the key word, and each counter gives 4 words (2 joined)."""
    k0, k1, key, counter = state
    per = 2 if width == 64 else 4
    size = int(np.prod(shape))
    n = -(-size // per)
    low = _add(t, counter, _iota(t, n))
    high = _add(t, key, t.cast(t.op("Less", [low, counter]), U64))
    y = philox4x32(t, (k0, k1), [_low(t, low), _high(t, low), _low(t, high), _high(t, high)])
    if width == 64:
        y = [_join(t, y[0], y[1]), _join(t, y[2], y[3])]
    return _interleave(t, y, (1, n, 1), size, shape), n


def _word(t: Tracer, x: str, i: int) -> str:
    return slice_axis(t, x, 0, i, i + 1)


def _state(t: Tracer, key: str, aval) -> State:
    """The generator state of a u32[4] or u64[2] key."""
    kind = (tuple(aval.shape), np.dtype(aval.dtype))
    if kind == ((4,), np.dtype(U32)):
        w = [_word(t, key, i) for i in range(4)]
        return w[0], w[1], _join(t, w[0], w[1]), _join(t, w[2], w[3])
    if kind == ((2,), np.dtype(U64)):
        first = _word(t, key, 0)
        return _low(t, first), _high(t, first), first, _word(t, key, 1)
    raise UnsupportedOpError(
        f"{t.where}: rng_bit_generator expected a key of shape u32[4] or u64[2], got "
        f"{aval.str_short()}"
    )


def _new_key(t: Tracer, key: str, aval, counter: str) -> str:
    """The key with its counter word replaced (u32[4]: its two halves)."""
    if np.dtype(aval.dtype) == np.dtype(U32):
        words = [slice_axis(t, key, 0, 0, 2), _low(t, counter), _high(t, counter)]
        return t.op("Concat", words, axis=0)
    return t.op("Concat", [_word(t, key, 0), counter], axis=0)


_GENERATORS = {
    lax.RandomAlgorithm.RNG_DEFAULT: _philox_bits,  # XLA's CPU backend default
    lax.RandomAlgorithm.RNG_PHILOX: _philox_bits,
    lax.RandomAlgorithm.RNG_THREE_FRY: _threefry_bits,
}


@rule(
    "rng_bit_generator",
    onnx="Philox 4x32-10 (RNG_DEFAULT, as on CPU) or Threefry 2x32-20 unrolled: Add, Mul "
    "(uint64 product), BitShift, BitwiseXor/Or, Less (counter carry), Cast; static shapes",
)
def _rng_bit_generator(t: Tracer, eqn, args: list[str]) -> list[str]:
    key_aval, bits_aval = eqn.invars[0].aval, eqn.outvars[1].aval
    shape = t.static(bits_aval, "rng_bit_generator")
    width = np.dtype(bits_aval.dtype).itemsize * 8
    state = _state(t, args[0], key_aval)
    bits, used = _GENERATORS[eqn.params["algorithm"]](t, state, shape, width)
    counter = _add(t, state[3], t.const(used, U64))
    if width < 32:
        bits = t.cast(bits, bits_aval.dtype)
    return [_new_key(t, args[0], key_aval, counter), bits]


@rule("threefry2x32", onnx="Threefry 2x32-20 unrolled: Add, BitShift, BitwiseXor/Or on uint32")
def _threefry2x32(t: Tracer, eqn, args: list[str]) -> list[str]:
    y = threefry2x32(t, args[:2], args[2:])
    shape = t.shape(eqn.outvars[0].aval.shape)
    return [t.op("Expand", [v, shape]) for v in y]


@rule("iota_2x32_shape", onnx="Range (int64) of the flat index, its high and low uint32 words")
def _iota_2x32_shape(t: Tracer, eqn, args: list[str]) -> list[str]:
    shape = eqn.params["shape"]
    count = t.op("Reshape", [_iota(t, int(np.prod(shape))), t.shape(shape)])
    return [_high(t, count), _low(t, count)]


# -- key-typed jax.random primitives: a key array is its uint32 key data


_IMPLS = {
    impl.tag: impl
    for impl in (
        jax_random.threefry_prng_impl,
        jax_random.rbg_prng_impl,
        jax_random.unsafe_rbg_prng_impl,
    )
}


def _is_key(aval) -> bool:
    return jax.dtypes.issubdtype(aval.dtype, jax.dtypes.prng_key)


def _impl(t: Tracer, aval):
    """The PRNG implementation of the key array `aval` (one of JAX's built-in ones)."""
    tag = aval.dtype.name.removeprefix("key<").removesuffix(">")
    if tag not in _IMPLS:
        raise UnsupportedOpError(
            f"{t.where}: keys of the PRNG implementation {aval.dtype.name} are not mapped "
            f"(mapped: {', '.join(f'key<{tag}>' for tag in _IMPLS)})"
        )
    return _IMPLS[tag]


def _physical(t: Tracer, aval) -> jax.ShapeDtypeStruct:
    """The array that holds `aval`: a key array's key data, any other array itself."""
    if _is_key(aval):
        return jax.ShapeDtypeStruct((*aval.shape, *_impl(t, aval).key_shape), U32)
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype)


def _per_key(fn: Callable, ndim: int, batched: tuple[bool, ...]) -> Callable:
    """`fn` of one key, mapped over `ndim` leading axes of the arguments where `batched`."""
    for _ in range(ndim):
        fn = jax.vmap(fn, in_axes=tuple(0 if b else None for b in batched))
    return fn


def _inline(t: Tracer, eqn, args: list[str], fn: Callable) -> list[str]:
    """`fn` of the key data, traced and written in place of `eqn`."""
    ndim = len(eqn.outvars[0].aval.shape) - len(eqn.params.get("shape", ()))
    batched = []
    for var in eqn.invars:
        rank = len(var.aval.shape)
        if rank not in (0, ndim):
            raise UnsupportedOpError(
                f"{t.where}: {eqn.primitive.name} of operands of shapes "
                f"{[v.aval.shape for v in eqn.invars]}; mapped: equal shapes or scalars"
            )
        batched.append(rank == ndim)
    fn = _per_key(fn, ndim, tuple(batched))
    closed = jax.make_jaxpr(fn)(*[_physical(t, var.aval) for var in eqn.invars])
    return t.run_closed(closed, args)


@rule("random_wrap", "random_unwrap", onnx="Identity (a key array is its key data)")
def _wrap(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Identity", args)


@rule("random_seed", onnx="the key implementation's `seed`, traced and written in place")
def _random_seed(t: Tracer, eqn, args: list[str]) -> list[str]:
    return _inline(t, eqn, args, eqn.params["impl"].seed)


@rule("random_bits", onnx="the key implementation's `random_bits`, traced and written in place")
def _random_bits(t: Tracer, eqn, args: list[str]) -> list[str]:
    impl, p = _impl(t, eqn.invars[0].aval), eqn.params
    return _inline(t, eqn, args, lambda key: impl.random_bits(key, p["bit_width"], p["shape"]))


@rule("random_split", onnx="the key implementation's `split`, traced and written in place")
def _random_split(t: Tracer, eqn, args: list[str]) -> list[str]:
    impl, shape = _impl(t, eqn.invars[0].aval), eqn.params["shape"]
    return _inline(t, eqn, args, lambda key: impl.split(key, shape))


@rule("random_fold_in", onnx="the key implementation's `fold_in`, traced and written in place")
def _random_fold_in(t: Tracer, eqn, args: list[str]) -> list[str]:
    return _inline(t, eqn, args, _impl(t, eqn.invars[0].aval).fold_in)


@rule(
    "rng_uniform",
    onnx=f"RandomUniform on [0, 1) (unseeded, like XLA's), scaled to [a, b) with Mul and Add "
    f"(Floor for integers); a value rounded up to b becomes a; opset ≤ {RANDOM_OPSET}",
)
def _rng_uniform(t: Tracer, eqn, args: list[str]) -> str:
    if t.w.opset > RANDOM_OPSET:
        raise UnsupportedOpError(
            f"{t.where}: rng_uniform is written as RandomUniform, which onnxruntime runs up "
            f"to opset {RANDOM_OPSET}; export with opset={RANDOM_OPSET} (got {t.w.opset})"
        )
    low, high = args
    dtype = eqn.outvars[0].aval.dtype
    real = dtype if np.issubdtype(dtype, np.floating) else np.float64
    unit = t.op(
        "RandomUniform", [], shape=list(t.static(eqn.outvars[0].aval, "rng_uniform")),
        dtype=elem(real), low=0.0, high=1.0,
    )  # fmt: skip
    a, b = t.cast(low, real), t.cast(high, real)
    value = t.op("Add", [a, t.op("Mul", [unit, t.op("Sub", [b, a])])])
    if not np.issubdtype(dtype, np.floating):
        value = t.op("Floor", [value])
    return t.cast(t.op("Where", [t.op("Less", [value, b]), value, a]), dtype)
