"""Cast, CastLike, QuantizeLinear and DequantizeLinear to and from the sub-byte and
low-precision float types, against formulas written from the ONNX spec in this file
(exact Python arithmetic), never against a library's cast (ml_dtypes changed what its
float -> int4 cast does to out-of-range values between releases).

The rules (ONNX 1.23 spec text):
- int4 / uint4 / int2 / uint2 from floats: round to nearest, ties to even, then keep the
  low bits ("rounding to the nearest-even integer and truncating", int4.md / int2.md);
  from integers: keep the low bits (Cast's fixed point rule). NaN / Inf: 0 (undefined).
- float8 E4M3FN / E4M3FNUZ / E5M2 / E5M2FNUZ: round to nearest even; saturate=1 clamps
  +-Inf and overflow to +-max; saturate=0 gives NaN (E5M2: +-Inf); FNUZ has no -0.
- float4 E2M1: round to nearest even, +-Inf and overflow to +-6, NaN to +6 (float4.md).
- float8 E8M0: the Cast spec's table for saturate + up and non-saturate + nearest.
- QuantizeLinear to integers: saturate(round_half_even(x / scale) + zero_point).
Our outputs are read back by widening (exact) or by their bits.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as oh

from axonnx.converters.ops import casts, quantization

# ---------------------------------------------------------------- the spec's formulas

SMALL_INTS = {  # ONNX type: (numpy dtype, bits, signed)
    TensorProto.INT4: (ml_dtypes.int4, 4, True),
    TensorProto.UINT4: (ml_dtypes.uint4, 4, False),
    TensorProto.INT2: (ml_dtypes.int2, 2, True),
    TensorProto.UINT2: (ml_dtypes.uint2, 2, False),
}


def spec_small_int(value, bits: int, signed: bool) -> int:
    """Round half to even, then the low `bits` bits (two's complement when signed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    rounded = round(value) if isinstance(value, float) else int(value)  # round: ties to even
    low = rounded % (1 << bits)
    return low - (1 << bits) if signed and low >= 1 << (bits - 1) else low


class Format:
    """A float8 / float4 format by its bit layout and the spec's largest value."""

    def __init__(self, name, dtype, exponent_bits, mantissa_bits, bias, max_value, **flags):
        self.name, self.dtype = name, dtype
        self.mantissa_bits, self.bias, self.max = mantissa_bits, bias, Fraction(max_value)
        self.has_inf = flags.get("has_inf", False)
        self.negative_zero = flags.get("negative_zero", True)
        self.always_saturates = flags.get("always_saturates", False)
        # Every magnitude of the bit layout (one exponent past the top, for overflow
        # ties), with the parity of its mantissa: ties go to the even one.
        self.grid = []
        for code in range(1 << exponent_bits + 1):
            for m in range(1 << mantissa_bits):
                if code == 0:
                    value = Fraction(m, 1 << mantissa_bits) * Fraction(2) ** (1 - bias)
                else:
                    value = (1 + Fraction(m, 1 << mantissa_bits)) * Fraction(2) ** (code - bias)
                self.grid.append((value, m % 2))

    def values(self) -> list[Fraction]:
        """The finite non-negative values of the format."""
        return sorted({v for v, _ in self.grid if v <= self.max})

    def round(self, magnitude: Fraction) -> Fraction:
        """Round to nearest, ties to the even mantissa, over the unbounded grid."""
        best = min(self.grid, key=lambda g: (abs(g[0] - magnitude), g[1]))
        return best[0]

    def expected(self, x: float, saturate: bool) -> float:
        """The spec's result of converting float `x`, as a Python float."""
        saturate = saturate or self.always_saturates
        if math.isnan(x):
            return float(self.max) if self.always_saturates else math.nan
        sign = -1.0 if math.copysign(1.0, x) < 0 else 1.0
        if math.isinf(x):
            rounded = None
        else:
            rounded = self.round(abs(Fraction(x)))
        if rounded is None or rounded > self.max:
            if saturate:
                return sign * float(self.max)
            return sign * math.inf if self.has_inf else math.nan
        if rounded == 0 and not self.negative_zero:
            return 0.0
        return sign * float(rounded)


FORMATS = {
    TensorProto.FLOAT8E4M3FN: Format("e4m3fn", ml_dtypes.float8_e4m3fn, 4, 3, 7, 448),
    TensorProto.FLOAT8E4M3FNUZ: Format(
        "e4m3fnuz", ml_dtypes.float8_e4m3fnuz, 4, 3, 8, 240, negative_zero=False
    ),
    TensorProto.FLOAT8E5M2: Format("e5m2", ml_dtypes.float8_e5m2, 5, 2, 15, 57344, has_inf=True),
    TensorProto.FLOAT8E5M2FNUZ: Format(
        "e5m2fnuz", ml_dtypes.float8_e5m2fnuz, 5, 2, 16, 57344, negative_zero=False
    ),
    TensorProto.FLOAT4E2M1: Format(
        "e2m1", ml_dtypes.float4_e2m1fn, 2, 1, 1, 6, always_saturates=True
    ),
}


def probe_values(fmt: Format) -> np.ndarray:
    """Every value, every midpoint (a tie) and its float32 neighbours, past the maximum,
    below the smallest subnormal, +-0, +-Inf, NaN; positive and negative."""
    values = fmt.values()
    top = float(fmt.max)
    points = {float(v) for v in values}
    for a, b in zip(values, values[1:], strict=False):
        mid = np.float32((a + b) / 2)
        points |= {float(mid), float(np.nextafter(mid, np.inf)), float(np.nextafter(mid, 0))}
    points |= {top * 1.03, top * 1.07, top * 1.5, top * 2, 1e6, 3e38, float(values[1]) / 4}
    points |= {float(values[1]) / 2, 1e-30}
    positive = np.array(sorted(points), np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan], np.float32)
    return np.concatenate([positive, -positive, specials])


def assert_floats(got, want: list[float]) -> None:
    """Same values, NaNs in the same places, and zeros of the same sign."""
    got = np.asarray(got).astype(np.float64).ravel()  # widening: exact
    want = np.array(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(got[finite], want[finite])
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


# ---------------------------------------------------------------- int4 / uint4 / int2 / uint2

FLOAT_TO_INT_IN = np.array(
    [-200, -20, -17, -16, -9, -8, -5, -3, -2, -1, 0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 20, 200]
    + [k + 0.5 for k in range(-18, 18)]  # every .5 tie in and around the ranges
    + [0.4999, -0.4999, 2.3, -2.7, 6.6, -6.6, 1e30, -1e30, np.nan, np.inf, -np.inf],
    np.float32,
)


@pytest.mark.parametrize("to", sorted(SMALL_INTS), ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize("source", [np.float32, np.float16, np.float64])
def test_float_to_small_int_rounds_half_even_and_wraps(to, source):
    dtype, bits, signed = SMALL_INTS[to]
    with np.errstate(over="ignore"):  # 1e30 is Inf in float16
        x = FLOAT_TO_INT_IN.astype(source)
    with jax.enable_x64(True):
        got = casts.cast_19(x, to=to)
    assert np.asarray(got).dtype == np.dtype(dtype)
    want = [spec_small_int(float(v), bits, signed) for v in x]
    np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)


def test_float_to_uint4_example_of_issue_12():
    x = np.array([-5, -1, 0, 3, 7, 15, 16, 20, 200], np.float32)
    got = casts.cast_19(x, to=TensorProto.UINT4)
    np.testing.assert_array_equal(np.asarray(got).astype(int), [11, 15, 0, 3, 7, 15, 0, 4, 8])


@pytest.mark.parametrize("to", sorted(SMALL_INTS), ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize(
    "source", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64, np.bool_]
)
def test_integer_to_small_int_keeps_low_bits(to, source):
    dtype, bits, signed = SMALL_INTS[to]
    values = [-200, -129, -17, -9, -8, -3, -2, -1, 0, 1, 2, 3, 7, 8, 15, 16, 20, 127, 200, 255]
    if source == np.bool_:
        values = [0, 1, 1, 0]
    elif not np.issubdtype(source, np.signedinteger):
        values = [v for v in values if v >= 0]
    x = np.array(values).astype(source)
    with jax.enable_x64(True):
        got = casts.cast_19(x, to=to)
    want = [spec_small_int(int(v), bits, signed) for v in x]
    np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)


@pytest.mark.parametrize(
    "source, to",
    [
        (ml_dtypes.int4, TensorProto.UINT4),
        (ml_dtypes.uint4, TensorProto.INT4),
        (ml_dtypes.int4, TensorProto.INT2),
        (ml_dtypes.uint4, TensorProto.UINT2),
    ],
)
def test_small_int_to_small_int_keeps_low_bits(source, to):
    _, bits, signed = SMALL_INTS[to]
    info = ml_dtypes.iinfo(source)
    values = list(range(int(info.min), int(info.max) + 1))
    got = casts.cast_19(np.array(values, np.int32).astype(source), to=to)
    want = [spec_small_int(v, bits, signed) for v in values]
    np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)


@pytest.mark.parametrize("to", sorted(SMALL_INTS), ids=lambda t: TensorProto.DataType.Name(t))
def test_small_int_to_float_and_back_is_exact(to):
    dtype, bits, signed = SMALL_INTS[to]
    low = -(1 << bits - 1) if signed else 0
    values = np.arange(low, low + (1 << bits)).astype(np.float32)
    narrow = casts.cast_19(values, to=to)
    back = casts.cast_19(narrow, to=TensorProto.FLOAT)
    np.testing.assert_array_equal(np.asarray(back), values)


@pytest.mark.parametrize("op", ["Cast", "CastLike"])
@pytest.mark.parametrize("to", sorted(SMALL_INTS), ids=lambda t: TensorProto.DataType.Name(t))
def test_small_int_cast_in_a_compiled_model(one_node, op, to):
    dtype, bits, signed = SMALL_INTS[to]
    inputs = {"x": FLOAT_TO_INT_IN}
    if op == "Cast":
        node = oh.make_node("Cast", ["x"], ["y"], to=to)
    else:
        node = oh.make_node("CastLike", ["x", "t"], ["y"])
        inputs["t"] = np.zeros(2, np.int32).astype(dtype)
    (got,) = one_node.run_node(node, inputs, 25)
    want = [spec_small_int(float(v), bits, signed) for v in FLOAT_TO_INT_IN]
    np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)


# ---------------------------------------------------------------- float8 / float4


def _float_ids(to):
    return FORMATS[to].name


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_float32_to_low_float_follows_the_spec_tables(to, saturate):
    fmt = FORMATS[to]
    x = probe_values(fmt)
    got = casts.cast_19(x, to=to, saturate=saturate)
    assert np.asarray(got).dtype == np.dtype(fmt.dtype)
    assert_floats(got, [fmt.expected(float(v), bool(saturate)) for v in x])


@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_float16_to_low_float_follows_the_spec_tables(to):
    fmt = FORMATS[to]
    with np.errstate(over="ignore"):  # float16's own rounding of the probes; 3e38 is Inf
        x = probe_values(fmt).astype(np.float16)
    got = casts.cast_19(x, to=to, saturate=1)
    assert_floats(got, [fmt.expected(float(v), True) for v in x])


@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_float64_to_low_float_rounds_once(to):
    # Just above / below a tie by less than a float32 ulp: going through float32 would
    # round to the tie first, then to even.
    fmt = FORMATS[to]
    values = fmt.values()
    mids = [float((a + b) / 2) for a, b in zip(values, values[1:], strict=False)]
    x = np.array([m * (1 + s * 2.0**-40) for m in mids for s in (1, -1)], np.float64)
    with jax.enable_x64(True):
        got = casts.cast_19(x, to=to, saturate=1)
    assert_floats(got, [fmt.expected(float(v), True) for v in x])


def test_fnuz_negative_zero_is_positive_zero_not_nan():
    for to in (TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2FNUZ):
        got = casts.cast_19(np.array([-0.0, -1e-30], np.float32), to=to)
        bits = jax.lax.bitcast_convert_type(got, np.uint8)
        np.testing.assert_array_equal(np.asarray(bits), [0, 0])  # 0x80 is their NaN


def test_float4_nan_is_six_and_inf_saturates():
    x = np.array([np.nan, np.inf, -np.inf, 7.0, -7.0, 1e6], np.float32)
    got = casts.cast_19(x, to=TensorProto.FLOAT4E2M1, saturate=0)  # float4 always saturates
    assert_floats(got, [6.0, 6.0, -6.0, 6.0, -6.0, 6.0])


def test_low_float_from_integers():
    x = np.array([-100000, -300, -17, 0, 3, 17, 250, 300, 100000], np.int32)
    for to, fmt in FORMATS.items():
        for saturate in (1, 0):
            got = casts.cast_19(x, to=to, saturate=saturate)
            assert_floats(got, [fmt.expected(float(v), bool(saturate)) for v in x])


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_low_float_cast_like_in_a_compiled_model(one_node, to, saturate):
    fmt = FORMATS[to]
    x = probe_values(fmt)
    node = oh.make_node("CastLike", ["x", "t"], ["y"], saturate=saturate)
    inputs = {"x": x, "t": np.zeros(1, np.float32).astype(fmt.dtype)}
    (got,) = one_node.run_node(node, inputs, 25)
    assert_floats(got, [fmt.expected(float(v), bool(saturate)) for v in x])


def test_float8_to_float8_goes_through_the_exact_value():
    e5m2, e4m3 = FORMATS[TensorProto.FLOAT8E5M2], FORMATS[TensorProto.FLOAT8E4M3FN]
    x = np.array([float(v) for v in e5m2.values()], np.float32)
    source = casts.cast_19(x, to=TensorProto.FLOAT8E5M2)
    got = casts.cast_19(source, to=TensorProto.FLOAT8E4M3FN, saturate=0)
    assert_floats(got, [e4m3.expected(float(v), False) for v in x])


# ---------------------------------------------------------------- float8 E8M0


def _e8m0_bits(x, **attrs):
    got = casts.cast_24(np.asarray(x, np.float32), to=TensorProto.FLOAT8E8M0, **attrs)
    return np.asarray(jax.lax.bitcast_convert_type(got, np.uint8)).astype(int).tolist()


def _e8m0(exponent: int) -> int:
    """The bits of 2**exponent."""
    return exponent + 127


NAN_E8M0, MAX_E8M0, MIN_E8M0 = 0xFF, 0xFE, 0x00


def test_e8m0_saturate_up_table():
    # 0 -> 0, NaN -> NaN, Inf and x > max -> max, x < min -> min; else round away from 0.
    x = [0.0, np.nan, np.inf, 3.0e38, 1e-40, 2.0**-127, 1.1, 2.0, 0.124, 3.0, 2.0**127]
    want = [MIN_E8M0, NAN_E8M0, MAX_E8M0, MAX_E8M0, MIN_E8M0, MIN_E8M0]
    want += [_e8m0(1), _e8m0(1), _e8m0(-3), _e8m0(2), _e8m0(127)]
    assert _e8m0_bits(x, saturate=1, round_mode="up") == want


def test_e8m0_no_saturate_nearest_table():
    # 0, NaN, Inf, x > max and x < min -> NaN; else nearest, ties up.
    x = [0.0, np.nan, np.inf, 3.0e38, 1e-40, 1.4, 1.5, 3.0, 0.74, 2.0**-127]
    want = [NAN_E8M0] * 5 + [_e8m0(0), _e8m0(1), _e8m0(2), _e8m0(-1), MIN_E8M0]
    assert _e8m0_bits(x, saturate=0, round_mode="nearest") == want


def test_e8m0_down_rounds_toward_zero():
    x = [1.9, 3.99, 0.2, 2.0**127 * 1.9]
    assert _e8m0_bits(x, saturate=1, round_mode="down") == [
        _e8m0(0),
        _e8m0(1),
        _e8m0(-3),
        _e8m0(127),
    ]


# ---------------------------------------------------------------- QuantizeLinear / Dequantize

QUANT_RANGES = {  # QuantizeLinear's saturation ranges, from its spec
    TensorProto.INT4: (-8, 7),
    TensorProto.UINT4: (0, 15),
    TensorProto.INT2: (-2, 1),
    TensorProto.UINT2: (0, 3),
}


@pytest.mark.parametrize("to", sorted(QUANT_RANGES), ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize("zero", [0, 1])
def test_quantize_to_small_int_rounds_half_even_and_saturates(to, zero):
    dtype = SMALL_INTS[to][0]
    low, high = QUANT_RANGES[to]
    scale = np.float32(0.5)
    x = (np.arange(-40, 41) / 4).astype(np.float32)  # x / 0.5 hits every .5 tie
    x = np.concatenate([x, np.array([100.0, -100.0, np.inf, -np.inf], np.float32)])
    zero_point = np.array(zero, np.int32).astype(dtype)
    got = quantization.quantize_linear(x, scale, zero_point)
    assert np.asarray(got).dtype == np.dtype(dtype)
    want = [
        min(max(round(float(Fraction(float(v)) / Fraction(0.5))) + zero, low), high)
        if math.isfinite(v)
        else (high if v > 0 else low)
        for v in x
    ]
    np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_quantize_to_low_float_follows_the_cast_tables(to, saturate):
    fmt = FORMATS[to]
    scale = np.float32(0.5)
    x = probe_values(fmt) * scale  # exact: x / scale are the probes
    zero_point = np.zeros((), np.float32).astype(fmt.dtype)
    got = quantization.quantize_linear(x, scale, zero_point, saturate=saturate)
    assert np.asarray(got).dtype == np.dtype(fmt.dtype)
    # float4 adds the (zero) zero point, as onnx does: -0 + 0 is +0
    shift = 0.0 if fmt.always_saturates else -0.0
    assert_floats(got, [fmt.expected(float(v) * 2 + shift, bool(saturate)) for v in x])


@pytest.mark.parametrize("to", sorted(SMALL_INTS), ids=lambda t: TensorProto.DataType.Name(t))
def test_dequantize_small_int(to):
    dtype, bits, signed = SMALL_INTS[to]
    low = -(1 << bits - 1) if signed else 0
    values = list(range(low, low + (1 << bits)))
    x = np.array(values, np.int32).astype(dtype)
    zero = low + 1
    got = quantization.dequantize_linear(
        x, np.float32(0.25), np.array(zero, np.int32).astype(dtype)
    )
    np.testing.assert_array_equal(np.asarray(got), [(v - zero) * 0.25 for v in values])


@pytest.mark.parametrize("to", sorted(FORMATS), ids=_float_ids)
def test_dequantize_low_float(to):
    fmt = FORMATS[to]
    values = [float(v) for v in fmt.values()]
    x = casts.cast_19(np.array(values + [-v for v in values], np.float32), to=to)
    got = quantization.dequantize_linear(x, np.float32(0.5))
    want = [0.5 * v for v in values] + [-0.5 * v if v or fmt.negative_zero else 0.0 for v in values]
    assert_floats(got, want)
