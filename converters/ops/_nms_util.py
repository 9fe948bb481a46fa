"""Greedy non-max suppression on NumPy arrays, fast for thousands of boxes.

The greedy rule (best score first, ties to the lower index; a box is dropped when its
IoU with a kept box exceeds the threshold) is decided from the sparse graph of
suppressing pairs rather than box by box:
1. pairs that can overlap are found by a sweep over the boxes sorted by their left
   edge (two boxes intersect only if each starts before the other ends), and only
   those pairs get an IoU;
2. the greedy outcome is settled in rounds over that graph: a box all of whose
   higher-scored neighbours are dropped is kept, a box with a kept higher-scored
   neighbour is dropped. The best undecided box is always settled, and real detectors
   settle in a few rounds.

IoU is computed in float32 as onnxruntime does (`SuppressByIOU`): 0 for an empty
intersection or a degenerate box.
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_nms"]

_PAIRS_PER_CHUNK = 1 << 20
_ROUNDS = 32
_UNDECIDED, _KEPT, _DROPPED = 0, 1, 2


def greedy_nms(
    corners: np.ndarray, scores: np.ndarray, limit: int, iou_threshold, score_threshold
) -> np.ndarray:
    """Indices of the boxes kept, best score first.

    Args:
        corners: (S, 4) boxes as (y_min, x_min, y_max, x_max).
        scores: (S,) scores.
        limit: the most boxes to keep.
        iou_threshold: drop a box whose IoU with a kept one is above this.
        score_threshold: consider only boxes scoring above this (`None`: all).
    """
    order = np.argsort(-scores, kind="stable")
    if score_threshold is not None:
        order = order[scores[order] > score_threshold]
    if limit <= 0 or order.size == 0:
        return order[:0]
    boxes = np.asarray(corners, np.float32)[order]
    higher, lower = _suppressing_pairs(boxes, np.float32(iou_threshold))
    kept = np.flatnonzero(_settle(len(order), higher, lower) == _KEPT)
    return order[kept[:limit]]


def _suppressing_pairs(boxes: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b), a < b in score order, whose IoU exceeds `threshold`."""
    by_left = np.argsort(boxes[:, 1], kind="stable")
    y1, x1, y2, x2 = (np.ascontiguousarray(c) for c in boxes[by_left].T)
    reach = np.searchsorted(x1, x2, side="left")  # boxes starting before my right edge
    counts = np.maximum(reach - np.arange(len(x1)) - 1, 0)
    area = (x2 - x1) * (y2 - y1)
    found_a, found_b = [], []
    for rows in _row_chunks(counts):
        n = counts[rows]
        p = np.repeat(rows, n)
        q = p + 1 + np.arange(p.size) - np.repeat(np.cumsum(n) - n, n)
        width = np.minimum(x2[p], x2[q]) - x1[q]  # x1[q] >= x1[p]: sorted
        height = np.minimum(y2[p], y2[q]) - np.maximum(y1[p], y1[q])
        meet = (width > 0) & (height > 0)
        p, q = p[meet], q[meet]
        inter = width[meet] * height[meet]
        union = area[p] + area[q] - inter
        ok = (area[p] > 0) & (area[q] > 0) & (union > 0)
        hit = ok & (inter / np.where(ok, union, np.float32(1)) > threshold)
        a, b = by_left[p[hit]], by_left[q[hit]]
        found_a.append(np.minimum(a, b))
        found_b.append(np.maximum(a, b))
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_a), np.concatenate(found_b)


def _row_chunks(counts: np.ndarray):
    """Runs of rows whose pairs together stay under `_PAIRS_PER_CHUNK` (a row alone
    may exceed it)."""
    total = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = total[start - 1] if start else 0
        if total[-1] == base:
            return
        stop = int(np.searchsorted(total, base + _PAIRS_PER_CHUNK, side="right"))
        stop = max(stop, start + 1)
        yield np.arange(start, stop)
        start = stop


def _settle(count: int, higher: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Each box's greedy outcome (`_KEPT` or `_DROPPED`) from its suppressing pairs:
    rounds while they settle many boxes at once, then box by box."""
    status = np.full(count, _UNDECIDED, np.int8)
    for _ in range(_ROUNDS):
        undecided = status == _UNDECIDED
        if not undecided.any():
            return status
        by = status[higher]
        dropped = np.zeros(count, bool)
        dropped[lower[by == _KEPT]] = True
        waiting = np.zeros(count, bool)
        waiting[lower[by == _UNDECIDED]] = True
        status[undecided & dropped] = _DROPPED
        status[undecided & ~dropped & ~waiting] = _KEPT
        live = (status[lower] == _UNDECIDED) & (status[higher] != _DROPPED)
        higher, lower = higher[live], lower[live]
    return _settle_in_order(status, higher, lower)


def _settle_in_order(status: np.ndarray, higher: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The undecided boxes settled one by one, best first (live pairs only)."""
    status[lower[status[higher] == _KEPT]] = _DROPPED
    by_higher = np.argsort(higher, kind="stable")
    higher, lower = higher[by_higher], lower[by_higher]
    starts = np.searchsorted(higher, np.arange(len(status) + 1))
    for box in np.flatnonzero(status == _UNDECIDED):
        if status[box] == _UNDECIDED:
            status[box] = _KEPT
            status[lower[starts[box] : starts[box + 1]]] = _DROPPED
    return status
