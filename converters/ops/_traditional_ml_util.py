"""Helpers of the traditional-ML op family (domain ai.onnx.ml): inputs as float rows,
score post-transforms, class labels, key → value lookups, and tree ensembles laid out
as flat arrays evaluated with `jax.numpy`.

A tree ensemble (any of TreeEnsemble-5, TreeEnsembleRegressor/Classifier-1..3) becomes
a `Forest`: internal nodes are numbered `0..M-1` and leaves `M..M+L-1` in one index
space, so every tree walks the same arrays; all trees of all samples advance one level
per step, `depth` steps in all. A leaf holds `E` (target, weight) entries (padded).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, static
from axonnx.converters.ops._elementwise_util import is_strings
from axonnx.errors import InvalidModelError, UnsupportedOpError

__all__ = [
    "ML",
    "Forest",
    "as_float32",
    "as_floating",
    "as_rows",
    "attr_array",
    "class_labels",
    "first_given",
    "forest_from_nodes",
    "key_index",
    "legacy_forest",
    "post_transform",
    "set_members",
    "take_or_default",
]

ML = "ai.onnx.ml"

# TreeEnsemble-5 numbering of node modes; the older ops spell them as strings.
MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4,
         "BRANCH_NEQ": 5, "BRANCH_MEMBER": 6}  # fmt: skip
AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


# ---------------------------------------------------------------- inputs


def as_float32(X) -> jax.Array:
    return jnp.asarray(X).astype(jnp.float32)


def as_floating(X) -> jax.Array:
    """X as floats: its own float type, or float32 for integers."""
    x = jnp.asarray(X)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def as_rows(X) -> jax.Array:
    """X as a matrix (N, C); a vector is one row."""
    x = jnp.asarray(X)
    return x.reshape(1, -1) if x.ndim <= 1 else x.reshape(x.shape[0], math.prod(x.shape[1:]))


def first_given(*candidates):
    """The first attribute that is set (e.g. `nodes_values_as_tensor`, `nodes_values`)."""
    return next((c for c in candidates if c is not None), None)


# ---------------------------------------------------------------- post-transforms


def post_transform(scores: jax.Array, name: str, op: str) -> jax.Array:
    """Scores (N, K) after the ONNX-ML `post_transform` `name`."""
    if name == "NONE":
        return scores
    if name == "SOFTMAX":
        return jax.nn.softmax(scores, axis=-1)
    if name == "LOGISTIC":
        return jax.nn.sigmoid(scores)
    if name == "SOFTMAX_ZERO":
        return _softmax_zero(scores)
    if name == "PROBIT":
        return (math.sqrt(2.0) * jax.lax.erf_inv(2.0 * scores - 1.0)).astype(scores.dtype)
    raise UnsupportedOpError(f"{op}: expected post_transform in {POST_TRANSFORMS}, got {name!r}.")


def _softmax_zero(scores: jax.Array) -> jax.Array:
    """Softmax over the non-zero scores of each row; zeros stay zero (onnxruntime's)."""
    top = jnp.max(scores, axis=-1, keepdims=True)
    nonzero = jnp.abs(scores) > 1e-7
    exp = jnp.where(nonzero, jnp.exp(scores - top), scores * jnp.exp(-top))
    total = jnp.sum(exp, axis=-1, keepdims=True)
    return jnp.where(total == 0, 0.5, exp / jnp.where(total == 0, 1, total)).astype(scores.dtype)


def class_labels(index, ints, strings, op: str):
    """The labels at `index` (int array) from `classlabels_int64s`/`_strings`; string
    labels need `index` known (the model then outputs strings and runs eagerly)."""
    if strings:
        table = np.empty(len(strings), dtype=object)
        table[:] = list(strings)
        return table[static(index, f"{op} class index of a string label")]
    if ints:
        return jnp.asarray(np.asarray(ints, dtype=np.int64), int64())[index]
    return jnp.asarray(index, int64())


# ---------------------------------------------------------------- lookups


def attr_array(values, dtype) -> np.ndarray:
    """An attribute list as a NumPy array of `dtype` (object for strings)."""
    array = np.empty(len(values or ()), dtype=dtype)
    array[:] = list(values or ())
    return array


def key_index(X, keys: np.ndarray):
    """For each element of X, the position of its value in `keys`, or `len(keys)` when
    absent (NaN keys match NaN). NumPy for strings, `jax.numpy` for numbers."""
    if is_strings(X):
        table = {k: i for i, k in enumerate(keys.tolist())}
        x = np.asarray(X)
        if x.size == 0:
            return np.zeros(x.shape, np.int64)
        return np.vectorize(lambda v: table.get(v, len(keys)), otypes=[np.int64])(x)
    x = jnp.asarray(X)
    keys = keys.astype(x.dtype) if keys.dtype.kind in "iuf" else keys
    nan = np.flatnonzero(np.isnan(keys)) if keys.dtype.kind == "f" else np.array([], int)
    order = np.array([i for i in np.argsort(keys, kind="stable") if i not in set(nan)], int)
    if len(order) == 0:
        index = jnp.full(x.shape, len(keys))
    else:
        position = jnp.clip(jnp.searchsorted(jnp.asarray(keys[order]), x), 0, len(order) - 1)
        found = jnp.asarray(keys[order])[position] == x
        index = jnp.where(found, jnp.asarray(order)[position], len(keys))
    if len(nan) and jnp.issubdtype(x.dtype, jnp.floating):
        index = jnp.where(jnp.isnan(x), int(nan[0]), index)
    return index


def take_or_default(values: np.ndarray, default, index, op: str):
    """`values[index]`, with `default` where index == len(values)."""
    table = np.append(values, np.asarray([default], dtype=values.dtype))
    if table.dtype == object:
        return table[static(index, f"{op} lookup of a string value")]
    return jnp.asarray(table)[index]


# ---------------------------------------------------------------- tree ensembles


@dataclass(frozen=True)
class Forest:
    """Trees as flat arrays (see the module docstring)."""

    features: np.ndarray  # (M,) feature index of each internal node
    modes: np.ndarray  # (M,) MODES value
    splits: np.ndarray  # (M,) threshold
    missing_true: np.ndarray  # (M,) bool: NaN goes to the true branch
    members: np.ndarray  # (M, S) set of BRANCH_MEMBER nodes, NaN-padded
    true_next: np.ndarray  # (M,) combined index of the true child
    false_next: np.ndarray  # (M,) combined index of the false child
    roots: np.ndarray  # (T,) combined index of each root
    leaf_targets: np.ndarray  # (L, E) target of each entry
    leaf_weights: np.ndarray  # (L, E) weight of each entry
    leaf_valid: np.ndarray  # (L, E) bool: the entry exists (not padding)
    depth: int

    def leaves(self, X: jax.Array) -> jax.Array:
        """The leaf (0..L-1) each tree reaches for each row of X (N, F): (N, T)."""
        n_internal = len(self.features)
        current = jnp.broadcast_to(jnp.asarray(self.roots), (X.shape[0], len(self.roots)))
        if n_internal == 0:
            return current
        go_true = self._decisions(X)
        true_next, false_next = jnp.asarray(self.true_next), jnp.asarray(self.false_next)

        def step(_, current):
            node = jnp.minimum(current, n_internal - 1)
            decision = jnp.take_along_axis(go_true, node, axis=1)
            nxt = jnp.where(decision, true_next[node], false_next[node])
            return jnp.where(current < n_internal, nxt, current)

        return jax.lax.fori_loop(0, self.depth, step, current) - n_internal

    def _decisions(self, X: jax.Array) -> jax.Array:
        """Whether each internal node sends each row to its true child: (N, M)."""
        x = X[:, jnp.asarray(self.features)]
        split = jnp.asarray(self.splits, X.dtype)
        member = jnp.any(x[..., None] == jnp.asarray(self.members, X.dtype), axis=-1)
        outcomes = [x <= split, x < split, x >= split, x > split, x == split, x != split, member]
        modes = jnp.asarray(self.modes)
        decision = jnp.select([modes == m for m in range(len(outcomes))], outcomes)
        return decision | (jnp.isnan(x) & jnp.asarray(self.missing_true))

    def scores(self, X: jax.Array, n_targets: int, aggregate: str, op: str) -> jax.Array:
        """Per-target aggregate of the weights of the leaves reached: (N, n_targets)."""
        if aggregate not in AGGREGATES:
            raise UnsupportedOpError(
                f"{op}: expected aggregate_function in {AGGREGATES}, got {aggregate!r}."
            )
        leaves = self.leaves(X)
        targets = jnp.asarray(self.leaf_targets)[leaves].reshape(X.shape[0], -1)
        weights = jnp.asarray(self.leaf_weights, X.dtype)[leaves].reshape(X.shape[0], -1)
        valid = jnp.asarray(self.leaf_valid)[leaves].reshape(X.shape[0], -1)
        rows = jnp.arange(X.shape[0])[:, None]
        if aggregate in ("SUM", "AVERAGE"):
            total = (
                jnp.zeros((X.shape[0], n_targets), X.dtype)
                .at[rows, targets]
                .add(jnp.where(valid, weights, 0))
            )
            return total / len(self.roots) if aggregate == "AVERAGE" else total
        info = jnp.finfo(X.dtype)
        fill = info.max if aggregate == "MIN" else info.min
        start = jnp.full((X.shape[0], n_targets), fill, X.dtype)
        padded = jnp.where(valid, weights, fill)
        if aggregate == "MIN":
            return start.at[rows, targets].min(padded)
        return start.at[rows, targets].max(padded)


def forest_from_nodes(
    *,
    features,
    modes,
    splits,
    missing_true,
    members,
    true_ids,
    true_leaf,
    false_ids,
    false_leaf,
    roots,
    leaf_entries: list[list[tuple[int, float]]],
    op: str,
) -> Forest:
    """A `Forest` from per-internal-node arrays where children are numbered in the node
    list (`*_leaf` false) or in `leaf_entries` (`*_leaf` true); `roots` are combined
    indices (a leaf root is `M + leaf`)."""
    n = len(features)
    true_next = np.where(np.asarray(true_leaf, bool), n, 0) + np.asarray(true_ids, np.int64)
    false_next = np.where(np.asarray(false_leaf, bool), n, 0) + np.asarray(false_ids, np.int64)
    width = max((len(e) for e in leaf_entries), default=1) or 1
    targets = np.zeros((len(leaf_entries), width), np.int64)
    weights = np.zeros((len(leaf_entries), width), np.float64)
    valid = np.zeros((len(leaf_entries), width), bool)
    for leaf, entries in enumerate(leaf_entries):
        for slot, (target, weight) in enumerate(entries):
            targets[leaf, slot], weights[leaf, slot], valid[leaf, slot] = target, weight, True
    roots = np.asarray(roots, np.int64).reshape(-1)
    depth = _depth(true_next.reshape(-1), false_next.reshape(-1), roots, n, op)
    return Forest(
        np.asarray(features, np.int64).reshape(n),
        np.asarray(modes, np.int64).reshape(n),
        np.asarray(splits, np.float64).reshape(n),
        np.asarray(missing_true, bool).reshape(n),
        members,
        true_next.reshape(n),
        false_next.reshape(n),
        roots,
        targets,
        weights,
        valid,
        depth,
    )


def _depth(true_next: np.ndarray, false_next: np.ndarray, roots, n: int, op: str) -> int:
    """The number of steps from the deepest root to its deepest leaf."""
    depth, level, seen = 0, {int(r) for r in roots if r < n}, 0
    while level:
        seen += len(level)
        if seen > n * (n + 1):
            raise InvalidModelError(f"{op}: expected trees, got a cycle among the nodes.")
        depth += 1
        level = {int(c) for i in level for c in (true_next[i], false_next[i]) if c < n}
    return depth


def set_members(modes, membership_values, op: str) -> np.ndarray:
    """(M, S) NaN-padded member sets of the BRANCH_MEMBER nodes, in node order, from
    `membership_values` (the sets one after another, each closed by a NaN)."""
    member_nodes = [i for i, m in enumerate(modes) if m == MODES["BRANCH_MEMBER"]]
    values = np.asarray(membership_values if membership_values is not None else [], float)
    ends = np.flatnonzero(np.isnan(values))
    sets = np.split(values, ends + 1)[: len(ends)] if len(ends) else []
    if len(sets) < len(member_nodes):
        raise InvalidModelError(
            f"{op}: expected {len(member_nodes)} NaN-closed sets in membership_values "
            f"(one per BRANCH_MEMBER node), got {len(sets)}."
        )
    width = max((len(s) - 1 for s in sets), default=0) or 1
    members = np.full((len(modes), width), np.nan)
    for node, members_of_node in zip(member_nodes, sets, strict=False):
        members[node, : len(members_of_node) - 1] = members_of_node[:-1]
    return members


def legacy_forest(
    *,
    nodes_treeids,
    nodes_nodeids,
    nodes_modes,
    nodes_values,
    nodes_featureids,
    nodes_truenodeids,
    nodes_falsenodeids,
    nodes_missing_value_tracks_true,
    entry_treeids,
    entry_nodeids,
    entry_ids,
    entry_weights,
    op: str,
) -> Forest:
    """A `Forest` from the attributes of TreeEnsembleRegressor/Classifier-1..3 (nodes
    named by (tree id, node id), modes as strings, `LEAF` for leaves)."""
    keys = list(zip(nodes_treeids, nodes_nodeids, strict=True))
    is_leaf = [m == "LEAF" for m in nodes_modes]
    unknown = sorted({m for m in nodes_modes if m != "LEAF" and m not in MODES})
    if unknown:
        raise UnsupportedOpError(
            f"{op}: expected nodes_modes in {[*MODES, 'LEAF']}, got {unknown}."
        )
    internal = [i for i, leaf in enumerate(is_leaf) if not leaf]
    leaves = [i for i, leaf in enumerate(is_leaf) if leaf]
    combined = {keys[i]: k for k, i in enumerate(internal)}
    combined.update({keys[i]: len(internal) + k for k, i in enumerate(leaves)})
    entries = defaultdict(list)
    for tree, node, target, weight in zip(
        entry_treeids, entry_nodeids, entry_ids, entry_weights, strict=True
    ):
        entries[(tree, node)].append((int(target), float(weight)))
    roots = {}
    for index, tree in enumerate(nodes_treeids):
        roots.setdefault(tree, index)

    def child(ids, i):
        return combined[(nodes_treeids[i], ids[i])]

    missing = nodes_missing_value_tracks_true or [0] * len(keys)
    return forest_from_nodes(
        features=[nodes_featureids[i] for i in internal],
        modes=[MODES[nodes_modes[i]] for i in internal],
        splits=[nodes_values[i] for i in internal],
        missing_true=[missing[i] for i in internal],
        members=np.full((len(internal), 1), np.nan),
        true_ids=[child(nodes_truenodeids, i) for i in internal],
        true_leaf=[False] * len(internal),
        false_ids=[child(nodes_falsenodeids, i) for i in internal],
        false_leaf=[False] * len(internal),
        roots=[combined[keys[roots[t]]] for t in sorted(roots)],
        leaf_entries=[entries[keys[i]] for i in leaves],
        op=op,
    )
