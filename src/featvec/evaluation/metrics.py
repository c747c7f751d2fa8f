"""Top-K ranking metrics, one value per user, from ranked item lists and held-out item sets.

``ranked`` is an int array [n_users, k] of item indices, best first (``-1`` pads a shorter list);
``truth`` is the held-out items of the same users in CSR form ``(indptr, indices)``. Every function returns
one float per user; ``ranking_metrics`` averages them over users with at least one held-out item.

Definitions (k = the cut-off, T_u = user u's held-out items, hit_j = 1 when the item at rank j is in T_u):
- recall@k = sum_j hit_j / min(k, |T_u|)  (so a perfect list scores 1 even when |T_u| > k)
- precision@k = sum_j hit_j / k
- ndcg@k = sum_j hit_j / log2(j + 1) divided by the same sum for an ideal list of min(k, |T_u|) hits
- hit_rate@k = 1 if any hit_j else 0
- map@k = sum_j precision@j * hit_j / min(k, |T_u|)
- coverage@k = distinct items recommended in any list / catalogue size (one number, not per user)
"""
from __future__ import annotations

import numpy as np

from featvec.util.arrays import row_hits, rows_sorted, unique

METRICS = ("recall", "ndcg", "precision", "hit_rate", "map")


def hits(ranked: np.ndarray, truth: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Boolean [n_users, k]: is the item at each rank one of the user's held-out items? A binary search in the
    user's sorted held-out items per rank (rows not sorted are sorted first)."""
    ranked = np.asarray(ranked, dtype=np.int64)
    indptr, indices = np.asarray(truth[0], dtype=np.int64), np.asarray(truth[1])
    n, k = ranked.shape
    if len(indptr) != n + 1:
        raise ValueError(f"truth has {len(indptr) - 1} users, ranked lists have {n}")
    if not rows_sorted(indptr, indices):
        rows = np.repeat(np.arange(n), np.diff(indptr))
        indices = indices[indptr[0]:][np.lexsort((indices[indptr[0]:indptr[-1]], rows))]
        indptr = indptr - indptr[0]
    return row_hits(indptr, indices, ranked)


def _n_truth(truth) -> np.ndarray:
    return np.diff(np.asarray(truth[0], dtype=np.int64))


def recall_at_k(ranked, truth, k: int | None = None) -> np.ndarray:
    h = hits(ranked, truth)[:, :k]
    return h.sum(1) / np.maximum(np.minimum(h.shape[1], _n_truth(truth)), 1)


def precision_at_k(ranked, truth, k: int | None = None) -> np.ndarray:
    h = hits(ranked, truth)[:, :k]
    return h.sum(1) / max(h.shape[1], 1)


def hit_rate_at_k(ranked, truth, k: int | None = None) -> np.ndarray:
    return hits(ranked, truth)[:, :k].any(1).astype(np.float64)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, truth, k: int | None = None) -> np.ndarray:
    h = hits(ranked, truth)[:, :k]
    disc = _discounts(h.shape[1])
    dcg = h @ disc
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(h.shape[1], _n_truth(truth))]
    return dcg / np.where(ideal > 0, ideal, 1.0)


def map_at_k(ranked, truth, k: int | None = None) -> np.ndarray:
    h = hits(ranked, truth)[:, :k].astype(np.float64)
    prec = np.cumsum(h, 1) / np.arange(1, h.shape[1] + 1)
    return (prec * h).sum(1) / np.maximum(np.minimum(h.shape[1], _n_truth(truth)), 1)


def coverage_at_k(ranked, n_items: int, k: int | None = None) -> float:
    r = np.asarray(ranked)[:, :k]
    return float(unique(r[r >= 0]).size / max(n_items, 1))


_PER_USER = {"recall": recall_at_k, "ndcg": ndcg_at_k, "precision": precision_at_k, "hit_rate": hit_rate_at_k,
             "map": map_at_k}


def ranking_metrics(ranked, truth, ks=(20,), metrics=METRICS, n_items: int | None = None) -> dict[str, float]:
    """Means over users with held-out items: ``{"recall@20": ..., "ndcg@20": ..., "coverage@20": ...}``
    (coverage only when ``n_items`` is given)."""
    ranked = np.asarray(ranked, dtype=np.int64)
    ks = [ks] if isinstance(ks, int) else list(ks)
    if ranked.shape[1] < max(ks):
        raise ValueError(f"ranked lists are {ranked.shape[1]} long, shorter than k={max(ks)}")
    unknown = [m for m in metrics if m not in _PER_USER]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {list(_PER_USER)}")
    has = _n_truth(truth) > 0
    if not has.any():
        raise ValueError("no user has a held-out item")
    h = hits(ranked, truth)
    out: dict[str, float] = {}
    for k in ks:
        hk = h[:, :k]
        n_t = _n_truth(truth)
        denom = np.maximum(np.minimum(k, n_t), 1)
        per = {}
        if "recall" in metrics:
            per["recall"] = hk.sum(1) / denom
        if "ndcg" in metrics:
            disc = _discounts(k)
            ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(k, n_t)]
            per["ndcg"] = (hk @ disc) / np.where(ideal > 0, ideal, 1.0)
        if "precision" in metrics:
            per["precision"] = hk.sum(1) / k
        if "hit_rate" in metrics:
            per["hit_rate"] = hk.any(1).astype(np.float64)
        if "map" in metrics:
            hf = hk.astype(np.float64)
            per["map"] = (np.cumsum(hf, 1) / np.arange(1, k + 1) * hf).sum(1) / denom
        for m in metrics:
            out[f"{m}@{k}"] = float(per[m][has].mean())
        if n_items is not None:
            out[f"coverage@{k}"] = coverage_at_k(ranked[has], n_items, k)
    return out


def rank_counts(scores, target) -> tuple[np.ndarray, np.ndarray]:
    """For each row, how many other candidates score above its true one, and how many tie with it.
    ``scores`` [n, C] (C >= 2), ``target`` [n] column of each row's true candidate -> ([n], [n])."""
    scores = np.asarray(scores, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    n, c = scores.shape
    if c < 2:
        raise ValueError("percentile ranks need at least two candidates")
    if len(target) != n or ((target < 0) | (target >= c)).any():
        raise ValueError("need one target column in 0..C-1 per row")
    true = scores[np.arange(n), target][:, None]
    return (scores > true).sum(1), (scores == true).sum(1) - 1


def percentile_rank(scores, target, counts: tuple | None = None) -> np.ndarray:
    """Where each row's true candidate lands among that row's candidates: 0 = scored above every other,
    1 = below every other, 0.5 = the middle (ties count half). ``scores`` [n, C] (C >= 2), ``target`` [n]
    column of each row's true candidate -> [n]. ``counts``: ``rank_counts(scores, target)`` if the caller
    has it already."""
    higher, ties = rank_counts(scores, target) if counts is None else counts
    return (higher + 0.5 * ties) / (np.shape(scores)[1] - 1)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative
    (ties count half), by ranks. NaN when only one class is present."""
    y = np.asarray(labels).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"need one score per label, got {s.shape[0]} scores for {y.shape[0]} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(y_true, proba, classes, n_bins: int = 15) -> dict:
    """accuracy, macro-F1, log-loss (natural log, probabilities clipped at 1e-15), ECE (expected calibration
    error of the top class over ``n_bins`` equal-width confidence bins) and, for two classes, ROC-AUC of the
    second class. ``proba`` [n, k] columns in the order of ``classes``; labels outside ``classes`` are an
    error."""
    classes = list(classes)
    p = np.asarray(proba, dtype=np.float64)
    idx = np.array([classes.index(v) if v in classes else -1 for v in y_true])
    if (idx < 0).any():
        raise ValueError(f"label {list(y_true)[int(np.flatnonzero(idx < 0)[0])]!r} is not one of {classes}")
    n, k = p.shape
    pred = p.argmax(1)
    f1 = []
    for c in range(k):
        tp = np.sum((pred == c) & (idx == c))
        fp, fn = np.sum((pred == c) & (idx != c)), np.sum((pred != c) & (idx == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    present = [c for c in range(k) if np.any(idx == c) or np.any(pred == c)]
    conf = p.max(1)
    correct = pred == idx
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = sum(abs(correct[bins == b].mean() - conf[bins == b].mean()) * np.mean(bins == b)
              for b in range(n_bins) if np.any(bins == b))
    out = {"accuracy": float(correct.mean()), "macro_f1": float(np.mean([f1[c] for c in present])),
           "log_loss": float(-np.mean(np.log(np.clip(p[np.arange(n), idx], 1e-15, 1.0)))), "ece": float(ece)}
    if k == 2:
        out["auc"] = roc_auc(idx == 1, p[:, 1])
    return out
