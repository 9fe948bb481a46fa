"""Default-domain ONNX ops outside the other families: TfIdfVectorizer (n-gram
counting), NonMaxSuppression (box selection) and MaxRoiPool (region max-pooling)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, static
from axonnx.converters.ops._elementwise_util import is_strings
from axonnx.converters.ops._nms_util import greedy_nms
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

_TFIDF_MODES = ("TF", "IDF", "TFIDF")

# ---------------------------------------------------------------- TfIdfVectorizer


def _pool_ngrams(pool, ngram_counts, min_gram_length, max_gram_length):
    """The pool's n-grams by length n (only min..max): {n: (grams (P, n), gram ids)},
    gram ids numbering every n-gram of the pool in order (ngram_indexes' positions)."""
    bounds = [*ngram_counts, len(pool)]
    grams, first_id = {}, 0
    for n, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True), start=1):
        count = (end - start) // n
        if min_gram_length <= n <= max_gram_length and count:
            grams[n] = (
                pool[start : start + count * n].reshape(count, n),
                first_id + np.arange(count),
            )
        first_id += count
    return grams


def _count_ngram(x: jax.Array, grams: np.ndarray, n: int, distance: int) -> jax.Array:
    """How often each n-gram of `grams` (P, n) occurs in each row of x (N, C) with its
    items `distance` apart: (N, P)."""
    windows = x.shape[1] - (n - 1) * distance
    if windows <= 0:
        return jnp.zeros((x.shape[0], len(grams)), jnp.float32)
    items = jnp.stack([x[:, k * distance : k * distance + windows] for k in range(n)], axis=-1)
    hits = jnp.all(items[:, :, None, :] == jnp.asarray(grams)[None, None], axis=-1)
    return jnp.sum(hits, axis=1, dtype=jnp.float32)


def _token_ids(X, pool) -> tuple[jax.Array, np.ndarray]:
    """X and the pool as integers: strings become their position in the pool (-1 when
    absent)."""
    if not is_strings(X):
        return jnp.asarray(X).astype(int64()), np.asarray(pool, np.int64)
    vocabulary = {s: i for i, s in enumerate(dict.fromkeys(pool))}
    x = np.asarray(X)
    ids = np.array([vocabulary.get(s, -1) for s in x.ravel().tolist()], np.int64)
    return jnp.asarray(ids.reshape(x.shape), int64()), np.array([vocabulary[s] for s in pool])


@onnx_op("TfIdfVectorizer", 9)
def tfidf_vectorizer(
    X,
    *,
    max_gram_length=None,
    max_skip_count=None,
    min_gram_length=None,
    mode=None,
    ngram_counts=None,
    ngram_indexes=None,
    pool_int64s=None,
    pool_strings=None,
    weights=None,
):
    """ONNX TfIdfVectorizer-9: counts of the pool's n-grams (lengths min..max, items up
    to `max_skip_count` apart; unigrams counted once) in X ([C] or [N, C]), weighted by
    `mode`: float32 [max(ngram_indexes) + 1] or [N, that]."""
    if mode not in _TFIDF_MODES:
        raise UnsupportedOpError(f"TfIdfVectorizer: expected mode in {_TFIDF_MODES}, got {mode!r}.")
    pool = list(pool_strings) if pool_strings is not None else list(pool_int64s or ())
    x, pool_ids = _token_ids(X, pool)
    if x.ndim not in (1, 2):
        raise ShapeError(f"TfIdfVectorizer: expected X of shape [C] or [N, C], got {x.shape}.")
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    targets = np.asarray(ngram_indexes, np.int64)
    counts = jnp.zeros((rows.shape[0], int(targets.max()) + 1), jnp.float32)
    for n, (grams, ids) in _pool_ngrams(
        pool_ids, ngram_counts, min_gram_length, max_gram_length
    ).items():
        for distance in range(1, (max_skip_count if n > 1 else 0) + 2):
            counts = counts.at[:, targets[ids]].add(_count_ngram(rows, grams, n, distance))
    scores = _tfidf_weighting(counts, mode, weights)
    return scores[0] if x.ndim == 1 else scores


def _tfidf_weighting(counts: jax.Array, mode: str, weights) -> jax.Array:
    if mode == "TF":
        return counts
    w = jnp.asarray(weights if weights else 1.0, jnp.float32)
    if mode == "IDF":
        return jnp.where(counts > 0, w, 0.0).astype(jnp.float32)
    return counts * w


# ---------------------------------------------------------------- NonMaxSuppression


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """Boxes (S, 4) as (y_min, x_min, y_max, x_max)."""
    if center_point_box:
        xc, yc, w, h = boxes.T
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    y1, x1, y2, x2 = boxes.T
    return np.stack([np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2),
                     np.maximum(x1, x2)], axis=1)  # fmt: skip


def _scalar(value, default, what: str):
    if value is None or np.size(static(value, what)) == 0:
        return default
    return np.asarray(value).reshape(-1)[0]


@onnx_op("NonMaxSuppression", 10, 11, data_dependent=True, static_inputs=(2, 3, 4))
def non_max_suppression(
    boxes,
    scores,
    max_output_boxes_per_class=None,
    iou_threshold=None,
    score_threshold=None,
    *,
    center_point_box=0,
):
    """ONNX NonMaxSuppression-10..11: per batch and class, the boxes (B, S, 4) kept by
    greedy non-max suppression on scores (B, K, S): int64 (selected, 3) rows of
    (batch, class, box)."""
    boxes, scores = np.asarray(boxes), np.asarray(scores)
    limit = int(_scalar(max_output_boxes_per_class, 0, "NonMaxSuppression max boxes"))
    iou = _scalar(iou_threshold, 0.0, "NonMaxSuppression iou_threshold")
    min_score = _scalar(score_threshold, None, "NonMaxSuppression score_threshold")
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.shape[::2] != boxes.shape[:2]:
        raise ShapeError(
            f"NonMaxSuppression: expected boxes (B, S, 4) and scores (B, K, S), got "
            f"{boxes.shape} and {scores.shape}."
        )
    selected = [np.zeros((0, 3), np.int64)]
    for b in range(boxes.shape[0]):
        corners = _corners(boxes[b], center_point_box)
        for k in range(scores.shape[1]):
            kept = greedy_nms(corners, scores[b, k], limit, iou, min_score)
            selected.append(np.stack([np.full_like(kept, b), np.full_like(kept, k), kept], 1))
    return jnp.asarray(np.concatenate(selected), int64())


# ---------------------------------------------------------------- MaxRoiPool


def _bins(start, length, bins: int, size: int) -> jax.Array:
    """Masks (bins, size) of the input positions each pooling bin covers."""
    width = length / bins
    k = jnp.arange(bins)
    low = jnp.clip(jnp.floor(k * width) + start, 0, size)
    high = jnp.clip(jnp.ceil((k + 1) * width) + start, 0, size)
    position = jnp.arange(size)
    return (position >= low[:, None]) & (position < high[:, None])


def _round_half_away(x):
    return jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)


@onnx_op("MaxRoiPool", 1, 22)
def max_roi_pool(X, rois, *, pooled_shape=None, spatial_scale=1.0):
    """ONNX MaxRoiPool-1..22: max-pool each region (batch, x1, y1, x2, y2) of rois (R, 5)
    over X (N, C, H, W) into pooled_shape bins (Caffe's rounding): (R, C, ph, pw); an
    empty bin gives 0."""
    if pooled_shape is None or len(pooled_shape) != 2:
        raise InvalidModelError(
            f"MaxRoiPool: expected pooled_shape of 2 values, got {pooled_shape!r}."
        )
    x = jnp.asarray(X)
    ph, pw = (int(v) for v in pooled_shape)
    height, width = x.shape[2], x.shape[3]

    def pool(roi):
        x1, y1, x2, y2 = (_round_half_away(v * spatial_scale) for v in roi[1:])
        rows = _bins(y1, jnp.maximum(y2 - y1 + 1, 1), ph, height)  # (ph, H)
        cols = _bins(x1, jnp.maximum(x2 - x1 + 1, 1), pw, width)  # (pw, W)
        image = x[roi[0].astype(jnp.int32)]  # (C, H, W)
        low = jnp.array(-jnp.inf, x.dtype)
        by_col = jnp.max(jnp.where(cols[None, None], image[:, :, None, :], low), axis=-1)
        pooled = jnp.max(jnp.where(rows[None, :, :, None], by_col[:, None], low), axis=2)
        return jnp.where(jnp.isneginf(pooled), 0, pooled).astype(x.dtype)

    return jax.lax.map(pool, jnp.asarray(rois, x.dtype))
