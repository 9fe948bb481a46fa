"""String ONNX ops: StringConcat, StringNormalizer, StringSplit, RegexFullMatch.

String tensors are NumPy object arrays of `str`; they are always concrete (string
graph inputs are baked into the compilation), so these ops are written with NumPy.
StringNormalizer and StringSplit have output shapes that depend on the values
(`data_dependent=True`).

ImageDecoder is not implemented: it needs an image codec library (Pillow), which
axonnx does not depend on.
"""

from __future__ import annotations

import operator
import re

import numpy as np

from axonnx.converters.ops._common import int64
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_CASE_ACTIONS = ("NONE", "LOWER", "UPPER")


def _strings(x, op: str) -> np.ndarray:
    """`x` as a NumPy object array of `str` (bytes decoded as UTF-8)."""
    array = np.asarray(x)
    if array.dtype.kind not in "OUS":
        raise InvalidModelError(f"{op}: expected a string tensor, got dtype {array.dtype}.")
    if array.dtype.kind == "S":
        return np.vectorize(lambda s: s.decode("utf-8"), otypes=[object])(array)
    return array.astype(object)


def _map(fn, x: np.ndarray, otype) -> np.ndarray:
    """`fn` applied to every element of `x`, as an array of `otype` with `x`'s shape."""
    if x.size == 0:
        return np.empty(x.shape, dtype=otype)
    return np.vectorize(fn, otypes=[otype])(x)


@onnx_op("StringConcat", 20)
def string_concat(X, Y):
    """ONNX StringConcat-20: element-wise X + Y of two string tensors (broadcasting)."""
    concat = np.frompyfunc(operator.add, 2, 1)
    return np.asarray(concat(_strings(X, "StringConcat"), _strings(Y, "StringConcat")), object)


@onnx_op("StringNormalizer", 10, data_dependent=True)
def string_normalizer(
    X, *, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None
):
    """ONNX StringNormalizer-10: drop the elements of X ([C] or [1, C]) found in
    `stopwords`, then change their case.

    Case changes follow Python's `str.lower`/`str.upper` (Unicode rules, whatever the
    `locale`). When every element is dropped the output holds one empty string:
    shape [1] (or [1, 1]).
    """
    if case_change_action not in _CASE_ACTIONS:
        raise UnsupportedOpError(
            f"StringNormalizer: expected case_change_action in {_CASE_ACTIONS}, "
            f"got {case_change_action!r}."
        )
    x = _strings(X, "StringNormalizer")
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[0] == 1)):
        raise ShapeError(f"StringNormalizer: expected X of shape [C] or [1, C], got {x.shape}.")
    words = [w for w in x.ravel() if not _is_stopword(w, stopwords or (), is_case_sensitive)]
    words = [_change_case(w, case_change_action) for w in words] or [""]
    out = np.empty(len(words), dtype=object)
    out[:] = words
    return out.reshape((1, -1) if x.ndim == 2 else (-1,))


def _is_stopword(word: str, stopwords, is_case_sensitive: int) -> bool:
    if is_case_sensitive:
        return word in stopwords
    return word.lower() in {s.lower() for s in stopwords}


def _change_case(word: str, action: str) -> str:
    if action == "LOWER":
        return word.lower()
    if action == "UPPER":
        return word.upper()
    return word


@onnx_op("StringSplit", 20, data_dependent=True)
def string_split(X, *, delimiter=None, maxsplit=None):
    """ONNX StringSplit-20: split each string of X at `delimiter` (runs of whitespace
    when absent or empty), at most `maxsplit` times.

    Returns `(Y, Z)`: Y of shape X.shape + [longest split], padded with empty strings;
    Z (int64, X's shape) the number of pieces of each string.
    """
    x = _strings(X, "StringSplit")
    limit = -1 if maxsplit is None else int(maxsplit)
    pieces = [s.split(delimiter or None, limit) for s in x.ravel()]
    counts = np.array([len(p) for p in pieces], dtype=np.int64).reshape(x.shape)
    width = max((len(p) for p in pieces), default=0)
    out = np.full((len(pieces), width), "", dtype=object)
    for row, piece in enumerate(pieces):
        out[row, : len(piece)] = piece
    return out.reshape((*x.shape, width)), counts.astype(int64())


# RE2 spellings Python's `re` writes differently: `\z` (end of text) is `\Z` in Python.
_RE2_TO_PYTHON = ((re.compile(r"(?<!\\)((?:\\\\)*)\\z"), r"\1\\Z"),)


@onnx_op("RegexFullMatch", 20)
def regex_full_match(X, *, pattern=None):
    """ONNX RegexFullMatch-20: whether each string of X fully matches the RE2 `pattern`.

    Uses Python's `re` (a superset of RE2's syntax for the common constructs; `\\z` is
    translated to Python's `\\Z`).
    """
    if pattern is None:
        raise InvalidModelError("RegexFullMatch: expected attribute 'pattern', got none.")
    python_pattern = pattern
    for re2, python in _RE2_TO_PYTHON:
        python_pattern = re2.sub(python, python_pattern)
    try:
        regex = re.compile(python_pattern)
    except re.error as error:
        raise InvalidModelError(
            f"RegexFullMatch: expected a valid regular expression, got {pattern!r} ({error})."
        ) from error
    x = _strings(X, "RegexFullMatch")
    return _map(lambda s: regex.fullmatch(s) is not None, x, np.bool_)
