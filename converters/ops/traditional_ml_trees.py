"""Tree-ensemble ONNX-ML ops: TreeEnsemble-5 and TreeEnsembleRegressor/Classifier-1..5,
evaluated as a `Forest` (see `_traditional_ml_util`) with `jax.numpy`."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64
from axonnx.converters.ops._traditional_ml_util import (
    AGGREGATES,
    ML,
    POST_TRANSFORMS,
    as_floating,
    as_rows,
    class_labels,
    first_given,
    forest_from_nodes,
    legacy_forest,
    set_members,
)
from axonnx.converters.ops._traditional_ml_util import (
    post_transform as apply_post_transform,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import UnsupportedOpError


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
    x = as_floating(as_rows(X))
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
        "nodes_values": np.ravel(first_given(kw["nodes_values_as_tensor"], kw["nodes_values"])),
        "nodes_featureids": kw["nodes_featureids"],
        "nodes_truenodeids": kw["nodes_truenodeids"],
        "nodes_falsenodeids": kw["nodes_falsenodeids"],
        "nodes_missing_value_tracks_true": kw["nodes_missing_value_tracks_true"],
    }


def _with_base(scores, base_values, base_values_as_tensor):
    base = first_given(base_values_as_tensor, base_values)
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
        entry_weights=np.ravel(first_given(target_weights_as_tensor, target_weights)),
        op="TreeEnsembleRegressor",
    )
    x = as_floating(as_rows(X))
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
        entry_weights=np.ravel(first_given(class_weights_as_tensor, class_weights)),
        op="TreeEnsembleClassifier",
    )
    x = as_floating(as_rows(X)).astype(jnp.float32)
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
