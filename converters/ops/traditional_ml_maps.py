"""ONNX-ML ops over maps: ZipMap (tensor → sequence of maps), CastMap and DictVectorizer
(map → tensor).

Representation, as onnxruntime's Python API gives and takes them: a map is a Python
`dict` (keys `int` or `str`), a sequence of maps a `list` of dicts (a tuple is taken
too). A dict of numbers passes through `jax.jit` as a pytree (its keys are part of the
structure, its values are traced), so these ops compile unless strings are involved;
a model with ONNX-ML ops runs eagerly in `Runtime` anyway.

Map values that are Python numbers count as float32 (`float`) or int64 (`int`), the
types converters declare (`map(string, float)`, `map(int64, float)`); NumPy and JAX
scalars keep their own dtype (pass `np.float64` values for a `map(..., double)`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, static
from axonnx.converters.ops._traditional_ml_util import ML, as_rows
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError


def _map(value, op: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise InvalidModelError(f"{op}: expected a map (a dict), got {type(value).__name__}.")
    return value


def _one_of(ints, strings, what: str, op: str) -> tuple:
    if bool(ints) == bool(strings):
        raise InvalidModelError(
            f"{op}: expected exactly one of {what}, got {'both' if ints else 'none'}."
        )
    return tuple(ints or strings)


def _is_string(value) -> bool:
    return isinstance(value, str | np.str_) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "OUS"
    )


def _explicit_dtype(value) -> np.dtype | None:
    """The dtype of a NumPy/JAX value, or None for a Python number or a weakly typed
    JAX value (what a Python number becomes under `jax.jit`)."""
    if isinstance(value, jax.Array):
        return None if value.weak_type else np.dtype(value.dtype)
    dtype = getattr(value, "dtype", None)  # NumPy scalars (np.float64 is a float too)
    return None if dtype is None else np.dtype(dtype)


def _number_dtype(values: list) -> np.dtype:
    """float32 for Python floats, int64 for Python ints, else the widest explicit dtype
    among values of the same kind (floats win over integers)."""
    floats = [v for v in values if jnp.issubdtype(jnp.result_type(v), jnp.floating)]
    chosen = floats or values
    explicit = [d for d in map(_explicit_dtype, chosen) if d is not None]
    if explicit:
        dtype = np.result_type(*explicit)
    else:
        dtype = np.dtype(np.float32) if floats or not values else np.dtype(np.int64)
    return jax.dtypes.canonicalize_dtype(dtype)


# ---------------------------------------------------------------- ZipMap


@onnx_op("ZipMap", 1, domain=ML)
def zip_map(X, *, classlabels_int64s=None, classlabels_strings=None):
    """ONNX-ML ZipMap-1: for each row of X (N, C) or (C,), a dict of label → score, as
    onnxruntime gives it: keys in ascending order (a repeated label keeps its last
    column), values Python floats when X is known (jax scalars under `jax.jit`)."""
    op = "ZipMap"
    keys = _one_of(
        classlabels_int64s, classlabels_strings, "classlabels_int64s, classlabels_strings", op
    )
    x = jnp.asarray(X)
    if x.ndim not in (1, 2) or x.shape[-1] != len(keys):
        raise ShapeError(
            f"{op}: expected X of shape (N, {len(keys)}) or ({len(keys)},) (one column per "
            f"label), got {x.shape}."
        )
    x = as_rows(x).astype(jnp.float32)
    column = {key: index for index, key in enumerate(keys)}
    order = sorted(column)
    rows = x if isinstance(x, jax.core.Tracer) else np.asarray(x).tolist()
    return [{key: row[column[key]] for key in order} for row in rows]


# ---------------------------------------------------------------- CastMap

_FLOAT_PREFIX = re.compile(
    r"\s*[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)", re.IGNORECASE
)
_INT_PREFIX = re.compile(r"\s*[+-]?\d+")


def _parse(text: str, pattern: re.Pattern, convert, op: str):
    """The number at the start of `text` (C's `stof`/`stoll`: leading blanks skipped,
    the longest numeric prefix read)."""
    found = pattern.match(str(text))
    if found is None:
        raise InvalidModelError(f"{op}: expected a number in the map value {text!r}.")
    return convert(found.group().strip())


def _cast_strings(values: list, cast_to: str, op: str) -> list:
    if cast_to == "TO_STRING":
        return [str(v) for v in values]
    if cast_to == "TO_FLOAT":
        return [np.float32(_parse(v, _FLOAT_PREFIX, float, op)) for v in values]
    return [np.int64(_parse(v, _INT_PREFIX, int, op)) for v in values]


@onnx_op("CastMap", 1, domain=ML)
def cast_map(X, *, cast_to="TO_FLOAT", map_form="DENSE", max_map=1):
    """ONNX-ML CastMap-1: the values of an int64-keyed map in ascending key order, as a
    (1, n) tensor of float32, int64 or strings.

    DENSE: n is the map's size. SPARSE: n is `max_map`; key k fills column k (keys from
    `max_map` on are dropped), absent keys pad with 0 (or the string "0.f", as
    onnxruntime). Strings convert to numbers like C's `stof`/`stoll`, floats to int64 by
    truncation and to strings with six decimals ("%f")."""
    op = "CastMap"
    if cast_to not in ("TO_FLOAT", "TO_STRING", "TO_INT64"):
        raise UnsupportedOpError(
            f"{op}: expected cast_to TO_FLOAT, TO_STRING or TO_INT64, got {cast_to!r}."
        )
    items = sorted((int(k), v) for k, v in _map(X, op).items())
    if map_form == "DENSE":
        keys = [k for k, _ in items]
    elif map_form == "SPARSE":
        if items and items[0][0] < 0:
            raise InvalidModelError(
                f"{op}: expected non-negative keys for SPARSE, got {items[0][0]}."
            )
        keys = list(range(int(max_map)))
    else:
        raise UnsupportedOpError(f"{op}: expected map_form DENSE or SPARSE, got {map_form!r}.")
    given = dict(items)
    values = [given[k] for k in keys if k in given]
    if any(_is_string(v) for v in values):
        cast = _cast_strings(values, cast_to, op)
    elif cast_to == "TO_STRING":
        cast = [f"{v:f}" for v in static(jnp.asarray(values, jnp.float32), f"{op} value").tolist()]
    else:
        dtype = jnp.float32 if cast_to == "TO_FLOAT" else int64()
        cast = [jnp.asarray(v, jnp.float32).astype(dtype) for v in values]
    pad = {"TO_FLOAT": np.float32(0), "TO_INT64": np.int64(0), "TO_STRING": "0.f"}[cast_to]
    found = iter(cast)
    row = [next(found) if k in given else pad for k in keys]
    if cast_to == "TO_STRING":
        out = np.empty((1, len(row)), object)
        out[0, :] = row
        return out
    dtype = jnp.float32 if cast_to == "TO_FLOAT" else int64()
    if not row:
        return jnp.zeros((1, 0), dtype)
    return jnp.stack([jnp.asarray(v, dtype) for v in row]).reshape(1, -1)


# ---------------------------------------------------------------- DictVectorizer


@onnx_op("DictVectorizer", 1, domain=ML)
def dict_vectorizer(X, *, int64_vocabulary=None, string_vocabulary=None):
    """ONNX-ML DictVectorizer-1: a map's values in vocabulary order, 0 (or "") where a
    key is absent: (1, V) for one map (onnxruntime's form), (N, V) for a sequence of N
    maps (onnx's reference); keys outside the vocabulary are ignored, as onnxruntime.
    The dtype follows the values (see the module docstring)."""
    op = "DictVectorizer"
    vocabulary = _one_of(
        int64_vocabulary, string_vocabulary, "int64_vocabulary, string_vocabulary", op
    )
    if isinstance(X, Mapping):
        maps = [X]
    elif isinstance(X, Sequence) and not isinstance(X, str):
        maps = [_map(m, op) for m in X]
    else:
        raise InvalidModelError(
            f"{op}: expected a map or a sequence of maps, got {type(X).__name__}."
        )
    rows = [[m.get(key) for key in vocabulary] for m in maps]
    present = [v for row in rows for v in row if v is not None]
    if any(_is_string(v) for v in present):
        out = np.full((len(rows), len(vocabulary)), "", dtype=object)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    out[r, c] = str(value)
        return out
    dtype = _number_dtype(present)
    if not present:
        return jnp.zeros((len(rows), len(vocabulary)), dtype)
    zero = jnp.zeros((), dtype)
    cells = [jnp.asarray(v, dtype) if v is not None else zero for row in rows for v in row]
    return jnp.stack(cells).reshape(len(rows), len(vocabulary))
