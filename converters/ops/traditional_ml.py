"""Traditional machine-learning ONNX ops (domain `ai.onnx.ml`): feature transforms,
label encoding (LabelEncoder, CategoryMapper, OneHotEncoder) and linear models. Tree
ensembles are in `traditional_ml_trees`, SVMs in `traditional_ml_svm`, the ops over
maps (ZipMap, CastMap, DictVectorizer) in `traditional_ml_maps`.

Numeric work runs with `jax.numpy` (under `jax.jit` too); string tensors are NumPy
object arrays. An op whose output is a string tensor computed from numeric data (a
classifier with string labels, a LabelEncoder to strings) needs that data known, so
such a model runs eagerly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, static
from axonnx.converters.ops._elementwise_util import is_strings
from axonnx.converters.ops._traditional_ml_util import (
    ML,
    as_float32,
    as_rows,
    attr_array,
    class_labels,
    key_index,
    take_or_default,
)
from axonnx.converters.ops._traditional_ml_util import (
    post_transform as apply_post_transform,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_NORMS = ("MAX", "L1", "L2")


# ---------------------------------------------------------------- feature transforms


@onnx_op("Binarizer", 1, domain=ML)
def binarizer(X, *, threshold=0.0):
    """ONNX-ML Binarizer-1: 1 where X > threshold, else 0 (X's type)."""
    x = jnp.asarray(X)
    return (x > threshold).astype(x.dtype)


@onnx_op("Scaler", 1, domain=ML)
def scaler(X, *, offset=None, scale=None):
    """ONNX-ML Scaler-1: (X - offset) * scale as float32; offset and scale hold one value
    or one per feature (last axis)."""
    x = as_float32(X)
    offset = jnp.asarray(offset if offset is not None else 0.0, jnp.float32)
    scale = jnp.asarray(scale if scale is not None else 1.0, jnp.float32)
    return (x - offset) * scale


@onnx_op("Normalizer", 1, domain=ML)
def normalizer(X, *, norm="MAX"):
    """ONNX-ML Normalizer-1: each row of X (N, C) or (C,) divided by its max (as the
    spec and onnxruntime: the signed maximum), L1 or L2 norm, as float32; rows whose
    divisor is 0 stay as they are."""
    x = as_float32(X)
    if norm == "MAX":
        divisor = jnp.max(x, axis=-1, keepdims=True)
    elif norm == "L1":
        divisor = jnp.sum(jnp.abs(x), axis=-1, keepdims=True)
    elif norm == "L2":
        divisor = jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True))
    else:
        raise UnsupportedOpError(f"Normalizer: expected norm in {_NORMS}, got {norm!r}.")
    return x / jnp.where(divisor == 0, 1, divisor)


@onnx_op("Imputer", 1, domain=ML)
def imputer(
    X,
    *,
    imputed_value_floats=None,
    imputed_value_int64s=None,
    replaced_value_float=0.0,
    replaced_value_int64=0,
):
    """ONNX-ML Imputer-1: entries of X equal to the replaced value (NaN matches NaN)
    become the imputed value (one, or one per feature)."""
    x = jnp.asarray(X)
    floats = jnp.issubdtype(x.dtype, jnp.floating)
    imputed = imputed_value_floats if floats else imputed_value_int64s
    if not imputed:
        raise InvalidModelError(
            f"Imputer: expected imputed_value_{'floats' if floats else 'int64s'} for input "
            f"of dtype {x.dtype}, got none."
        )
    replaced = replaced_value_float if floats else replaced_value_int64
    hit = jnp.isnan(x) if floats and np.isnan(replaced) else x == replaced
    return jnp.where(hit, jnp.asarray(imputed, x.dtype), x)


@onnx_op("ArrayFeatureExtractor", 1, domain=ML, static_inputs=(1,))
def array_feature_extractor(X, Y):
    """ONNX-ML ArrayFeatureExtractor-1: the features (last axis) of X at the indices Y
    (known when compiling: they are constants in practice, and X may hold strings).

    The output has shape X.shape[:-1] + [Y.size]; a vector X gives shape [1, Y.size].
    """
    indices = static(Y, "ArrayFeatureExtractor indices").reshape(-1)
    x = np.asarray(X) if is_strings(X) else jnp.asarray(X)
    if np.any(indices >= x.shape[-1]) or np.any(indices < -x.shape[-1]):
        raise ShapeError(
            f"ArrayFeatureExtractor: expected indices in [0, {x.shape[-1]}) for X of shape "
            f"{x.shape}, got {indices.tolist()}."
        )
    picked = x[..., indices]
    return picked.reshape(1, -1) if x.ndim == 1 else picked


@onnx_op("FeatureVectorizer", 1, domain=ML)
def feature_vectorizer(*X, inputdimensions=None):
    """ONNX-ML FeatureVectorizer-1: the inputs (N, C_i) concatenated along the features
    as float32, each cut or zero-padded to `inputdimensions[i]` features."""
    sizes = inputdimensions or [as_rows(x).shape[1] for x in X]
    if len(sizes) != len(X):
        raise InvalidModelError(
            f"FeatureVectorizer: expected one inputdimensions entry per input ({len(X)}), "
            f"got {len(sizes)}."
        )
    parts = []
    for x, size in zip(X, sizes, strict=True):
        x = as_float32(as_rows(x))[:, :size]
        parts.append(jnp.pad(x, ((0, 0), (0, size - x.shape[1]))))
    return jnp.concatenate(parts, axis=1)


# ---------------------------------------------------------------- categories and labels


def _category_map(X, strings, ints, default_int64, default_string, op: str):
    """Strings → int64 or int64 → strings through the parallel lists `strings`, `ints`."""
    strings = attr_array(strings, object)
    ints = attr_array(ints, np.int64)
    if len(strings) != len(ints):
        raise InvalidModelError(
            f"{op}: expected as many string as integer categories, got {len(strings)} "
            f"and {len(ints)}."
        )
    if is_strings(X):
        return take_or_default(ints, default_int64, key_index(X, strings), op)
    x = jnp.asarray(X).astype(int64())
    return take_or_default(strings, default_string, key_index(x, ints), op)


@onnx_op("LabelEncoder", 1, domain=ML)
def label_encoder_1(X, *, classes_strings=None, default_int64=-1, default_string="_Unused"):
    """ONNX-ML LabelEncoder-1: strings → their index in `classes_strings`, or int64
    indices → the class strings (defaults where absent)."""
    classes = classes_strings or ()
    return _category_map(
        X, classes, range(len(classes)), default_int64, default_string, "LabelEncoder"
    )


@onnx_op("CategoryMapper", 1, domain=ML)
def category_mapper(
    X, *, cats_int64s=None, cats_strings=None, default_int64=-1, default_string="_Unused"
):
    """ONNX-ML CategoryMapper-1: strings → int64 or int64 → strings through the parallel
    lists `cats_strings` and `cats_int64s`."""
    return _category_map(
        X, cats_strings, cats_int64s, default_int64, default_string, "CategoryMapper"
    )


@onnx_op("LabelEncoder", 2, 4, domain=ML)
def label_encoder(
    X,
    *,
    default_float=-0.0,
    default_int64=-1,
    default_string="_Unused",
    default_tensor=None,
    keys_floats=None,
    keys_int64s=None,
    keys_strings=None,
    keys_tensor=None,
    values_floats=None,
    values_int64s=None,
    values_strings=None,
    values_tensor=None,
):
    """ONNX-ML LabelEncoder-2..4: each element of X mapped through keys → values
    (floats, int64s, strings or, from 4, tensors); the default where absent."""
    keys = _mapping_side("keys", keys_floats, keys_int64s, keys_strings, keys_tensor)
    values = _mapping_side("values", values_floats, values_int64s, values_strings, values_tensor)
    if len(keys) != len(values):
        raise InvalidModelError(
            f"LabelEncoder: expected as many keys as values, got {len(keys)} and {len(values)}."
        )
    if default_tensor is not None:
        default = np.asarray(default_tensor).reshape(-1)[0]
    else:
        kind = values.dtype.kind
        default = default_string if kind == "O" else default_float if kind == "f" else default_int64
    return take_or_default(values, default, key_index(X, keys), "LabelEncoder")


def _mapping_side(side: str, floats, int64s, strings, tensor) -> np.ndarray:
    given = [
        a
        for a in (
            attr_array(floats, np.float32) if floats is not None else None,
            attr_array(int64s, np.int64) if int64s is not None else None,
            attr_array(strings, object) if strings is not None else None,
            np.asarray(tensor).reshape(-1) if tensor is not None else None,
        )
        if a is not None
    ]
    if len(given) != 1:
        raise InvalidModelError(
            f"LabelEncoder: expected exactly one of {side}_floats, {side}_int64s, "
            f"{side}_strings, {side}_tensor, got {len(given)}."
        )
    return given[0]


@onnx_op("OneHotEncoder", 1, domain=ML)
def one_hot_encoder(X, *, cats_int64s=None, cats_strings=None, zeros=1):
    """ONNX-ML OneHotEncoder-1: X.shape + [C] float32 one-hot rows over the categories;
    with `zeros=0` a value outside them is an error, checked only when X is known
    (strings, or a model run eagerly): under `jax.jit` such values give all-zero rows."""
    if is_strings(X):
        cats = attr_array(cats_strings, object)
        index = key_index(X, cats)
    else:
        cats = attr_array(cats_int64s, np.int64)
        index = key_index(jnp.asarray(X).astype(int64()), cats)
    if (
        not zeros
        and not isinstance(index, jax.core.Tracer)
        and np.any(np.asarray(index) == len(cats))
    ):
        raise InvalidModelError(
            "OneHotEncoder: expected every value of X among the categories (zeros=0), got "
            "values outside them. Set zeros=1 to encode them as all-zero rows."
        )
    return jax.nn.one_hot(jnp.asarray(index), len(cats), dtype=jnp.float32)


# ---------------------------------------------------------------- linear models


def _linear_scores(X, coefficients, intercepts, rows: int, op: str) -> jax.Array:
    """X (N, F) @ coefficients (rows, F).T + intercepts, as float32 (N, rows)."""
    x = as_float32(as_rows(X))
    if len(coefficients) != rows * x.shape[1]:
        raise ShapeError(
            f"{op}: expected {len(coefficients)} coefficients to be {rows} rows of the "
            f"{x.shape[1]} features of X (shape {x.shape}), got another count."
        )
    weights = jnp.asarray(coefficients, jnp.float32).reshape(rows, -1)
    scores = x @ weights.T
    return scores + jnp.asarray(intercepts, jnp.float32) if intercepts else scores


@onnx_op("LinearRegressor", 1, domain=ML)
def linear_regressor(X, *, coefficients=None, intercepts=None, post_transform="NONE", targets=1):
    """ONNX-ML LinearRegressor-1: X (N, F) @ W.T + b, W of shape (targets, F): (N, targets)."""
    scores = _linear_scores(X, coefficients, intercepts, targets, "LinearRegressor")
    return apply_post_transform(scores, post_transform, "LinearRegressor")


@onnx_op("LinearClassifier", 1, domain=ML)
def linear_classifier(
    X,
    *,
    classlabels_ints=None,
    classlabels_strings=None,
    coefficients=None,
    intercepts=None,
    multi_class=0,
    post_transform="NONE",
):
    """ONNX-ML LinearClassifier-1: scores X @ W.T + b (N, classes) and the label of the
    best score; one coefficient row with two labels scores (-s, s)."""
    n_labels = len(classlabels_ints or classlabels_strings or ())
    rows = max(1, len(coefficients) // as_rows(X).shape[1])
    scores = _linear_scores(X, coefficients, intercepts, rows, "LinearClassifier")
    if rows == 1 and n_labels == 2:
        scores = jnp.concatenate([-scores, scores], axis=1)
    scores = apply_post_transform(scores, post_transform, "LinearClassifier")
    if scores.shape[1] > 1:
        index = jnp.argmax(scores, axis=1)
    else:
        threshold = 0.0 if post_transform == "NONE" else 0.5
        index = jnp.where(scores[:, 0] >= threshold, 0, -1)
        if not (classlabels_ints or classlabels_strings):
            return (index + 1).astype(int64()), scores
    return _labels_or_default(index, classlabels_ints, classlabels_strings), scores


def _labels_or_default(index, ints, strings):
    """Class labels at `index`; index -1 (a single-class model's "no") gives 0 or ""."""
    table_ints = (*ints, 0) if ints else None
    table_strings = (*strings, "") if strings else None
    return class_labels(index, table_ints, table_strings, "LinearClassifier")
