"""Traditional machine-learning ONNX ops (domain `ai.onnx.ml`): feature transforms,
label encoding (LabelEncoder, CategoryMapper, OneHotEncoder), linear models and tree
ensembles.

Numeric work runs with `jax.numpy` (under `jax.jit` too); string tensors are NumPy
object arrays. An op whose output is a string tensor computed from numeric data (a
classifier with string labels, a LabelEncoder to strings) needs that data known, so
such a model runs eagerly.

Not implemented: ops over maps and sequences of maps (CastMap, DictVectorizer, ZipMap)
and the SVM ops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, static
from axonnx.converters.ops._elementwise_util import is_strings
from axonnx.converters.ops._traditional_ml_util import (
    AGGREGATES,
    POST_TRANSFORMS,
    attr_array,
    class_labels,
    forest_from_nodes,
    key_index,
    legacy_forest,
    set_members,
    take_or_default,
)
from axonnx.converters.ops._traditional_ml_util import (
    post_transform as apply_post_transform,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

ML = "ai.onnx.ml"
_NORMS = ("MAX", "L1", "L2")


def _float32(X) -> jax.Array:
    return jnp.asarray(X).astype(jnp.float32)


def _floating(X) -> jax.Array:
    """X as floats: its own float type, or float32 for integers."""
    x = jnp.asarray(X)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _rows(X) -> jax.Array:
    """X as a matrix (N, C); a vector is one row."""
    x = jnp.asarray(X)
    return x.reshape(1, -1) if x.ndim <= 1 else x.reshape(x.shape[0], -1)


def _given(*candidates):
    """The first attribute that is set (e.g. `nodes_values_as_tensor`, `nodes_values`)."""
    return next((c for c in candidates if c is not None), None)


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
    x = _float32(X)
    offset = jnp.asarray(offset if offset is not None else 0.0, jnp.float32)
    scale = jnp.asarray(scale if scale is not None else 1.0, jnp.float32)
    return (x - offset) * scale


@onnx_op("Normalizer", 1, domain=ML)
def normalizer(X, *, norm="MAX"):
    """ONNX-ML Normalizer-1: each row of X (N, C) or (C,) divided by its max (as the
    spec and onnxruntime: the signed maximum), L1 or L2 norm, as float32; rows whose
    divisor is 0 stay as they are."""
    x = _float32(X)
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
    sizes = inputdimensions or [_rows(x).shape[1] for x in X]
    if len(sizes) != len(X):
        raise InvalidModelError(
            f"FeatureVectorizer: expected one inputdimensions entry per input ({len(X)}), "
            f"got {len(sizes)}."
        )
    parts = []
    for x, size in zip(X, sizes, strict=True):
        x = _float32(_rows(x))[:, :size]
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
    x = _float32(_rows(X))
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
    rows = max(1, len(coefficients) // _rows(X).shape[1])
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


# ---------------------------------------------------------------- tree ensembles


@onnx_op("TreeEnsemble", 5, domain=ML)
def tree_ensemble(
    X,
    *,
    aggregate_function=1,
    leaf_targetids=None,
    leaf_weights=None,
    membership_values=None,
    n_targets=None,
    nodes_falseleafs=None,
    nodes_falsenodeids=None,
    nodes_featureids=None,
    nodes_hitrates=None,
    nodes_missing_value_tracks_true=None,
    nodes_modes=None,
    nodes_splits=None,
    nodes_trueleafs=None,
    nodes_truenodeids=None,
    post_transform=0,
    tree_roots=None,
):
    """ONNX-ML TreeEnsemble-5: per-target aggregate (N, n_targets) of the leaf weights
    the trees reach for each row of X (N, F), then the post-transform."""
    modes = np.asarray(nodes_modes).reshape(-1)
    n = len(modes)
    roots = [_root(r, n, nodes_trueleafs, nodes_falseleafs, nodes_truenodeids,
                   nodes_falsenodeids) for r in tree_roots]  # fmt: skip
    forest = forest_from_nodes(
        features=nodes_featureids,
        modes=modes,
        splits=nodes_splits,
        missing_true=nodes_missing_value_tracks_true or [0] * n,
        members=set_members(modes, membership_values, "TreeEnsemble"),
        true_ids=nodes_truenodeids,
        true_leaf=nodes_trueleafs,
        false_ids=nodes_falsenodeids,
        false_leaf=nodes_falseleafs,
        roots=roots,
        leaf_entries=[
            [(t, w)] for t, w in zip(leaf_targetids, np.ravel(leaf_weights), strict=True)
        ],
        op="TreeEnsemble",
    )
    x = _floating(_rows(X))
    scores = forest.scores(
        x, int(n_targets), _choice(AGGREGATES, aggregate_function), "TreeEnsemble"
    )
    return apply_post_transform(scores, _choice(POST_TRANSFORMS, post_transform), "TreeEnsemble")


def _choice(names: tuple[str, ...], code: int) -> str:
    return names[code] if 0 <= code < len(names) else f"<{code}>"


def _root(index, n, trueleafs, falseleafs, trueids, falseids) -> int:
    """Combined index of a root: the root itself, or `n + leaf` for a one-leaf tree."""
    leaf = trueleafs[index] and falseleafs[index] and trueids[index] == falseids[index]
    return n + trueids[index] if leaf else index


def _legacy_nodes(kw: dict) -> dict:
    """The node attributes of TreeEnsembleRegressor/Classifier in `legacy_forest` form."""
    return {
        "nodes_treeids": kw["nodes_treeids"],
        "nodes_nodeids": kw["nodes_nodeids"],
        "nodes_modes": kw["nodes_modes"],
        "nodes_values": np.ravel(_given(kw["nodes_values_as_tensor"], kw["nodes_values"])),
        "nodes_featureids": kw["nodes_featureids"],
        "nodes_truenodeids": kw["nodes_truenodeids"],
        "nodes_falsenodeids": kw["nodes_falsenodeids"],
        "nodes_missing_value_tracks_true": kw["nodes_missing_value_tracks_true"],
    }


def _with_base(scores, base_values, base_values_as_tensor):
    base = _given(base_values_as_tensor, base_values)
    return scores if base is None else scores + jnp.asarray(np.ravel(base), scores.dtype)


@onnx_op("TreeEnsembleRegressor", 1, 3, 5, domain=ML)
def tree_ensemble_regressor(
    X,
    *,
    aggregate_function="SUM",
    base_values=None,
    base_values_as_tensor=None,
    n_targets=None,
    nodes_falsenodeids=None,
    nodes_featureids=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
    nodes_missing_value_tracks_true=None,
    nodes_modes=None,
    nodes_nodeids=None,
    nodes_treeids=None,
    nodes_truenodeids=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    post_transform="NONE",
    target_ids=None,
    target_nodeids=None,
    target_treeids=None,
    target_weights=None,
    target_weights_as_tensor=None,
):
    """ONNX-ML TreeEnsembleRegressor-1..5: per-target aggregate of the leaf weights plus
    `base_values`, then the post-transform: float32 (N, n_targets)."""
    forest = legacy_forest(
        **_legacy_nodes(locals()),
        entry_treeids=target_treeids,
        entry_nodeids=target_nodeids,
        entry_ids=target_ids,
        entry_weights=np.ravel(_given(target_weights_as_tensor, target_weights)),
        op="TreeEnsembleRegressor",
    )
    x = _floating(_rows(X))
    scores = forest.scores(x, int(n_targets), aggregate_function, "TreeEnsembleRegressor")
    scores = _with_base(scores, base_values, base_values_as_tensor)
    return apply_post_transform(scores, post_transform, "TreeEnsembleRegressor").astype(jnp.float32)


@onnx_op("TreeEnsembleClassifier", 1, 3, 5, domain=ML)
def tree_ensemble_classifier(
    X,
    *,
    base_values=None,
    base_values_as_tensor=None,
    class_ids=None,
    class_nodeids=None,
    class_treeids=None,
    class_weights=None,
    class_weights_as_tensor=None,
    classlabels_int64s=None,
    classlabels_strings=None,
    nodes_falsenodeids=None,
    nodes_featureids=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
    nodes_missing_value_tracks_true=None,
    nodes_modes=None,
    nodes_nodeids=None,
    nodes_treeids=None,
    nodes_truenodeids=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    post_transform="NONE",
):
    """ONNX-ML TreeEnsembleClassifier-1..5: class scores (N, classes) summed over the
    trees plus `base_values`, post-transformed, and the label of the best score.

    When the leaves name a single class (a binary model), its score s becomes the
    second column and the first is 1 - s (NONE, PROBIT) or -s.
    """
    labels = classlabels_int64s or classlabels_strings or ()
    forest = legacy_forest(
        **_legacy_nodes(locals()),
        entry_treeids=class_treeids,
        entry_nodeids=class_nodeids,
        entry_ids=class_ids,
        entry_weights=np.ravel(_given(class_weights_as_tensor, class_weights)),
        op="TreeEnsembleClassifier",
    )
    x = _floating(_rows(X)).astype(jnp.float32)
    scores = forest.scores(x, max(len(labels), 1), "SUM", "TreeEnsembleClassifier")
    scores = _with_base(scores, base_values, base_values_as_tensor)
    if len(set(class_ids)) == 1:
        positive = scores[:, class_ids[0]]
        negative = 1 - positive if post_transform in ("NONE", "PROBIT") else -positive
        scores = jnp.stack([negative, positive], axis=1)
    scores = apply_post_transform(scores, post_transform, "TreeEnsembleClassifier")
    index = jnp.argmax(scores, axis=1)
    if len(labels) == 1:
        if classlabels_strings or classlabels_int64s[0] != 1:
            raise UnsupportedOpError(
                "TreeEnsembleClassifier: a single class label is supported only as "
                f"classlabels_int64s=[1], got {list(labels)}."
            )
        return index.astype(int64()), scores
    return class_labels(
        index, classlabels_int64s, classlabels_strings, "TreeEnsembleClassifier"
    ), scores
