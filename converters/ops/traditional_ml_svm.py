"""Support-vector-machine ONNX-ML ops: SVMClassifier and SVMRegressor (libsvm models:
sklearn's SVC, NuSVC, SVR, NuSVR, OneClassSVM as skl2onnx writes them).

Numbers are float32 as in onnxruntime (an input of another type is cast first), and
the ops run under `jax.jit` unless a classifier has string labels. Where the spec is
silent the layout follows onnxruntime:

- SVMClassifier with support vectors (`vectors_per_class`) scores the K(K-1)/2 class
  pairs one-vs-one; each pair votes, and the label is the class with the most votes
  (the first on a tie). `Z` holds the pair scores, two columns for a binary model,
  or, with `prob_a`/`prob_b`, the class probabilities from libsvm's pairwise coupling.
- Without support vectors (liblinear form) the scores are `X @ coefficients.T + rho[0]`
  (one row of coefficients per class).
- SVMRegressor gives (N, 1): the kernel expansion plus `rho[0]`, or ±1 with
  `one_class`. Its `post_transform` is applied as the spec says, where onnxruntime
  ignores it (converters write `NONE`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._traditional_ml_util import ML, as_float32, as_rows, class_labels
from axonnx.converters.ops._traditional_ml_util import post_transform as apply_post_transform
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")
_HIGHEST = jax.lax.Precision.HIGHEST


def _kernel(x: jax.Array, vectors: np.ndarray, kind: str, params, op: str) -> jax.Array:
    """The kernel of each row of x (N, F) with each vector (V, F): (N, V)."""
    gamma, coef0, degree = (list(params) + [0.0, 0.0, 0.0])[:3] if params else (0.0, 0.0, 0.0)
    v = jnp.asarray(vectors, jnp.float32)
    if kind == "RBF":
        diff = x[:, None, :] - v[None, :, :]
        return jnp.exp(-jnp.float32(gamma) * jnp.sum(diff * diff, axis=-1))
    dot = jnp.dot(x, v.T, precision=_HIGHEST)
    if kind == "LINEAR":
        return dot
    base = jnp.float32(gamma) * dot + jnp.float32(coef0)
    if kind == "SIGMOID":
        return jnp.tanh(base)
    if kind == "POLY":
        if float(degree) == int(degree):
            return jax.lax.integer_pow(base, int(degree))
        return jnp.power(base, jnp.float32(degree))
    raise UnsupportedOpError(f"{op}: expected kernel_type in {_KERNELS}, got {kind!r}.")


def _matrix(values, rows: int, what: str, op: str) -> np.ndarray:
    """An attribute list as `rows` rows, or a ShapeError when its length does not divide."""
    array = np.asarray(values if values is not None else [], np.float32)
    if rows <= 0 or array.size % rows:
        raise ShapeError(f"{op}: expected {what} to hold {rows} rows, got {array.size} values.")
    return array.reshape(rows, -1)


def _features(x: jax.Array, width: int, what: str, op: str) -> None:
    if x.shape[1] != width:
        raise ShapeError(
            f"{op}: expected X with {width} features (the width of {what}), got shape {x.shape}."
        )


# ---------------------------------------------------------------- classifier


def _pair_weights(counts: list[int], coefs: np.ndarray) -> tuple[np.ndarray, list]:
    """For each class pair (i, j), i < j, in libsvm's order: the weight of every support
    vector in that pair's decision (P, V), and the pairs."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    pairs = [(i, j) for i in range(len(counts)) for j in range(i + 1, len(counts))]
    weights = np.zeros((len(pairs), coefs.shape[1]), np.float32)
    for row, (i, j) in enumerate(pairs):
        own_i = slice(starts[i], starts[i] + counts[i])
        own_j = slice(starts[j], starts[j] + counts[j])
        weights[row, own_i] = coefs[j - 1, own_i]
        weights[row, own_j] = coefs[i, own_j]
    return weights, pairs


def _coupled_probabilities(r: jax.Array) -> jax.Array:
    """Class probabilities (N, K) from pairwise ones r (N, K, K), r[i, j] = P(i | i or j):
    libsvm's `multiclass_probability` (Wu, Lin and Weng 2004, method 2), at most 100
    sweeps, each row stopping once it is within 0.005 / K."""
    n, k = r.shape[0], r.shape[1]
    eye = jnp.eye(k, dtype=bool)
    q = jnp.where(eye, jnp.sum(r * r, axis=1)[:, None, :], -(r * jnp.swapaxes(r, 1, 2)))
    eps = jnp.float32(0.005 / k)

    def sweep(state):
        step, p, done = state
        qp = jnp.einsum("nij,nj->ni", q, p, precision=_HIGHEST)
        pqp = jnp.sum(p * qp, axis=1)
        done = done | (jnp.max(jnp.abs(qp - pqp[:, None]), axis=1) < eps)
        new = p
        for i in range(k):
            qii = q[:, i, i]
            diff = (pqp - qp[:, i]) / qii
            new = new.at[:, i].add(diff)
            pqp = (pqp + diff * (diff * qii + 2 * qp[:, i])) / (1 + diff) / (1 + diff)
            qp = (qp + diff[:, None] * q[:, i, :]) / (1 + diff)[:, None]
            new = new / (1 + diff)[:, None]
        return step + 1, jnp.where(done[:, None], p, new), done

    def more(state):
        step, _, done = state
        return (step < 100) & ~jnp.all(done)

    start = (jnp.int32(0), jnp.full((n, k), 1.0 / k, jnp.float32), jnp.zeros(n, bool))
    return jax.lax.while_loop(more, sweep, start)[1]


def _probabilities(scores: jax.Array, pairs: list, prob_a, prob_b, k: int) -> jax.Array:
    """Platt-scaled pair probabilities, clipped to [1e-7, 1 - 1e-7], then coupled."""
    a = jnp.asarray(np.asarray(prob_a, np.float32)[None, : len(pairs)])
    b = jnp.asarray(np.asarray(prob_b, np.float32)[None, : len(pairs)])
    pair = jnp.clip(1 - jax.nn.sigmoid(scores * a + b), 1e-7, 1 - 1e-7)
    first = np.array([i for i, _ in pairs], int)
    second = np.array([j for _, j in pairs], int)
    r = jnp.zeros((scores.shape[0], k, k), jnp.float32)
    r = r.at[:, first, second].set(pair).at[:, second, first].set(1 - pair)
    return _coupled_probabilities(r)


@onnx_op("SVMClassifier", 1, domain=ML)
def svm_classifier(
    X,
    *,
    classlabels_ints=None,
    classlabels_strings=None,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    post_transform="NONE",
    prob_a=None,
    prob_b=None,
    rho=None,
    support_vectors=None,
    vectors_per_class=None,
):
    """ONNX-ML SVMClassifier-1: the label (N,) and the scores `Z` (see the module
    docstring for the layout), float32."""
    op = "SVMClassifier"
    labels = classlabels_strings or classlabels_ints or ()
    k = len(labels)
    if k == 0:
        raise InvalidModelError(
            f"{op}: expected classlabels_ints or classlabels_strings, got none."
        )
    if len(prob_a or ()) != len(prob_b or ()):
        raise InvalidModelError(
            f"{op}: expected prob_a and prob_b of one length, got {len(prob_a or ())} and "
            f"{len(prob_b or ())}."
        )
    x = as_float32(as_rows(X))
    rho = np.asarray(rho if rho is not None else [0.0], np.float32)
    counts = [int(c) for c in vectors_per_class or ()]
    have_proba = bool(prob_a)
    if sum(counts) == 0:  # liblinear form: one row of coefficients per class
        coefs = _matrix(coefficients, k, "coefficients", op)
        _features(x, coefs.shape[1], "coefficients", op)
        scores = jnp.dot(x, jnp.asarray(coefs).T, precision=_HIGHEST) + rho[0]
        index = jnp.argmax(scores, axis=1)
        if k == 2 and not have_proba:
            top = jnp.max(scores, axis=1)
            to_second = top >= 0.5 if np.all(coefs >= 0) else top > 0
            index = jnp.where(to_second, 1, index)
        return _label(index, classlabels_ints, classlabels_strings), apply_post_transform(
            scores, post_transform, op
        )
    if len(counts) != k or k < 2:
        raise InvalidModelError(
            f"{op}: expected vectors_per_class for each of the {k} classes (at least 2), got "
            f"{counts}."
        )
    vectors = _matrix(support_vectors, sum(counts), "support_vectors", op)
    _features(x, vectors.shape[1], "support_vectors", op)
    weights, pairs = _pair_weights(counts, _matrix(coefficients, k - 1, "coefficients", op))
    if len(rho) < len(pairs):
        raise InvalidModelError(f"{op}: expected {len(pairs)} rho values, got {len(rho)}.")
    kernels = _kernel(x, vectors, kernel_type, kernel_params, op)
    scores = jnp.dot(kernels, jnp.asarray(weights).T, precision=_HIGHEST) + rho[None, : len(pairs)]
    first = np.eye(k, dtype=np.float32)[[i for i, _ in pairs]]
    second = np.eye(k, dtype=np.float32)[[j for _, j in pairs]]
    wins = scores > 0
    votes = jnp.dot(wins.astype(jnp.float32), first) + jnp.dot((~wins).astype(jnp.float32), second)
    label = _label(jnp.argmax(votes, axis=1), classlabels_ints, classlabels_strings)
    if have_proba:
        probabilities = _probabilities(scores, pairs, prob_a, prob_b, k)
        return label, apply_post_transform(probabilities, post_transform, op)
    if k > 2:
        return label, apply_post_transform(scores, post_transform, op)
    return label, _binary_scores(scores, post_transform, op)


def _binary_scores(scores: jax.Array, name: str, op: str) -> jax.Array:
    """onnxruntime's two columns for the one pair score s of a binary model: (-s, s)
    without a post-transform, (1 - p, p) with p = logistic(s) for LOGISTIC, and
    (1 - s, s) for SOFTMAX and SOFTMAX_ZERO (which are not applied)."""
    if name == "PROBIT":
        raise UnsupportedOpError(
            f"{op}: post_transform PROBIT on a binary model without probabilities is not "
            "supported (onnxruntime gives no defined second column)."
        )
    apply_post_transform(scores, name, op)  # rejects unknown names
    s = scores[:, 0]
    if name == "LOGISTIC":
        return jnp.stack([jax.nn.sigmoid(-s), jax.nn.sigmoid(s)], axis=1)
    return jnp.stack([-s if name == "NONE" else 1 - s, s], axis=1)


def _label(index, ints, strings):
    return class_labels(index, ints, strings, "SVMClassifier")


# ---------------------------------------------------------------- regressor


@onnx_op("SVMRegressor", 1, domain=ML)
def svm_regressor(
    X,
    *,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    n_supports=0,
    one_class=0,
    post_transform="NONE",
    rho=None,
    support_vectors=None,
):
    """ONNX-ML SVMRegressor-1: float32 (N, 1), `sum_j coefficients[j] * K(x, sv_j) +
    rho[0]` (or `x @ coefficients + rho[0]` without support vectors); with `one_class`,
    1 where that is positive, else -1."""
    op = "SVMRegressor"
    x = as_float32(as_rows(X))
    coefs = np.asarray(coefficients if coefficients is not None else [], np.float32)
    if coefs.size == 0:
        raise InvalidModelError(f"{op}: expected coefficients, got none.")
    bias = np.float32(rho[0]) if rho else np.float32(0.0)
    if n_supports > 0:
        vectors = _matrix(support_vectors, int(n_supports), "support_vectors", op)
        _features(x, vectors.shape[1], "support_vectors", op)
        if coefs.size != n_supports:
            raise ShapeError(
                f"{op}: expected one coefficient per support vector ({n_supports}), got "
                f"{coefs.size}."
            )
        kernels = _kernel(x, vectors, kernel_type, kernel_params, op)
        scores = jnp.dot(kernels, jnp.asarray(coefs), precision=_HIGHEST)[:, None] + bias
    else:
        _features(x, coefs.size, "coefficients", op)
        scores = jnp.dot(x, jnp.asarray(coefs), precision=_HIGHEST)[:, None] + bias
    if one_class:
        scores = jnp.where(scores > 0, 1.0, -1.0).astype(jnp.float32)
    return apply_post_transform(scores, post_transform, op)
