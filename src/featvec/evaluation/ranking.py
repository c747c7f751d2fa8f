"""Full-ranking evaluation: every user's scores over the whole catalogue, training items masked, top-K
by ``argpartition``, then the metrics of ``featvec.evaluation.metrics``.

The core, ``rank_users`` / ``full_ranking``, works on any scorer ``score_fn(user_indices) -> [n, n_items]``
over a shared integer indexing, so featvec models and the benchmark's peers are ranked and scored by the
same code. ``evaluate(model, test)`` does the indexing for a fitted featvec recommender.

Sampled metrics (each held-out item ranked against ``sampled`` random unobserved items instead of the
whole catalogue) are computed only when asked for and their keys say so: ``recall@20_sampled100``.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import pandas as pd
import torch

from featvec.evaluation.metrics import METRICS, ranking_metrics
from featvec.util.arrays import distinct_csr

CSR = tuple  # (indptr, indices): row u holds indices[indptr[u]:indptr[u + 1]]


def csr_from_pairs(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (row, col) pairs as CSR, columns sorted within each row (int32 columns stay int32)."""
    return distinct_csr(rows, cols, n_rows)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest scores per row, best first; ``-inf`` (masked) scores never appear:
    their places hold -1. ``torch.topk`` on the scores' memory (no copy; forty times numpy's argpartition
    and sort of the k on 26,744 columns); ties in column order."""
    n, m = scores.shape
    k = min(k, m)
    if k == 0 or n == 0:
        return np.full((n, k), -1, dtype=np.int64)
    arr = np.ascontiguousarray(scores, dtype=np.float64 if scores.dtype == np.float64 else np.float32)
    t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    vals, idx = (a.numpy() for a in torch.topk(t, k, dim=1, largest=True, sorted=False))
    order = np.lexsort((idx, -vals), axis=-1)  # best first, ties by the lower column
    out = np.take_along_axis(idx, order, 1)
    out[np.isneginf(np.take_along_axis(vals, order, 1))] = -1
    return out


def mask_rows(scores: np.ndarray, users: np.ndarray, csr: CSR, value: float = -np.inf) -> None:
    """Set ``scores[r, item] = value`` for every item of user ``users[r]`` in ``csr`` (in place)."""
    indptr, indices = csr
    starts, ends = indptr[users], indptr[users + 1]
    lens = ends - starts
    if lens.sum() == 0:
        return
    r = np.repeat(np.arange(len(users)), lens)
    pos = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
    scores[r, indices[pos]] = value


def rank_users(score_fn: Callable[[np.ndarray], np.ndarray], users: np.ndarray, k: int,
               exclude: CSR | None = None, candidates: Callable[[np.ndarray], np.ndarray] | None = None,
               batch_size: int | None = None, n_items: int | None = None, with_scores: bool = False):
    """Top-k item indices [len(users), k] for each user, items in ``exclude`` masked (-1 pads short lists);
    with ``with_scores`` also their scores (same shape, -inf where -1).

    Memory is bounded: users go through ``score_fn`` in chunks of ``batch_size`` (default: about 16M
    scores per chunk). ``candidates(users) -> bool [n, n_items]`` optionally restricts the ranking.
    """
    users = np.asarray(users, dtype=np.int64)
    out = np.full((len(users), k), -1, dtype=np.int64)
    vals = np.full((len(users), k), -np.inf, dtype=np.float32) if with_scores else None
    step = batch_size or max(1, (1 << 24) // max(n_items or 4096, 1))
    for s in range(0, len(users), step):
        chunk = users[s:s + step]
        scores = np.array(score_fn(chunk), dtype=np.float32, copy=True)
        if exclude is not None:
            mask_rows(scores, chunk, exclude)
        if candidates is not None:
            scores[~candidates(chunk)] = -np.inf
        got = top_k(scores, k)
        out[s:s + len(chunk), :got.shape[1]] = got
        if with_scores:
            v = np.take_along_axis(scores, np.maximum(got, 0), 1)
            vals[s:s + len(chunk), :got.shape[1]] = np.where(got >= 0, v, -np.inf)
    return (out, vals) if with_scores else out


def full_ranking(score_fn: Callable[[np.ndarray], np.ndarray], n_items: int, train: CSR, test: CSR,
                 ks=(20,), metrics=METRICS, batch_size: int | None = None, sampled: int | None = None,
                 seed: int = 0) -> dict[str, float]:
    """Rank all ``n_items`` for every user with held-out items in ``test`` (both CSR over the same user
    indexing as ``score_fn``), with the user's ``train`` items masked; mean metrics at each k, coverage,
    and ``n_users``. ``sampled=N`` ranks each user's held-out items among N random items the user never
    interacted with (keys suffixed ``_sampledN``)."""
    ks = [ks] if isinstance(ks, int) else list(ks)
    n_test = np.diff(test[0])
    users = np.flatnonzero(n_test > 0)
    if users.size == 0:
        raise ValueError("no user has a held-out item to evaluate")
    cand = None
    if sampled is not None:
        cand = _sampled_candidates(train, test, n_items, int(sampled), seed)
    ranked = rank_users(score_fn, users, max(ks), exclude=train, candidates=cand, batch_size=batch_size,
                        n_items=n_items)
    truth = (np.append(test[0][users], test[0][-1]), test[1])  # the users' rows: empty rows left out, no copy
    out = ranking_metrics(ranked, truth, ks, metrics, n_items=None if sampled else n_items)
    if sampled is not None:
        out = {f"{key}_sampled{sampled}": v for key, v in out.items()}
    out["n_users"] = int(users.size)
    return out


def _sampled_candidates(train: CSR, test: CSR, n_items: int, n: int, seed: int):
    rng = np.random.default_rng(seed)

    def candidates(users: np.ndarray) -> np.ndarray:
        allowed = np.ones((len(users), n_items), dtype=bool)
        mask_rows(allowed, users, train, False)
        mask_rows(allowed, users, test, False)
        keep = np.zeros_like(allowed)
        keys = rng.random(allowed.shape)
        keys[~allowed] = np.inf
        take = np.argsort(keys, axis=1)[:, :n]
        np.put_along_axis(keep, take, True, 1)
        keep &= allowed
        mask_rows(keep, users, test, True)
        return keep

    return candidates


def evaluate(model, test: pd.DataFrame, k=20, metrics=METRICS, sampled: int | None = None,
             batch_size: int | None = None, seed: int = 0) -> dict[str, float]:
    """Full-ranking metrics of a fitted featvec recommender on held-out interactions ``test`` (user and
    item columns as in training; a rating column, if any, is ignored: every row is a relevant item).

    Every catalogue item is ranked for every test user, with the user's training items masked. Test rows
    whose user or item the model never saw are dropped and counted in ``dropped_rows``.
    """
    from featvec.validation import check_frame, check_k, require_columns

    model._check_fitted()
    for one in ([k] if not isinstance(k, (list, tuple)) else k):
        check_k(one)
    check_frame(test, "test")
    require_columns(test, [model.user_col, model.item_col], "test")
    u = model.users_.rows(test[model.user_col].to_numpy()).astype(np.int32)  # row counts fit int32 (the
    i = model.items_.rows(test[model.item_col].to_numpy()).astype(np.int32)  # arrays are a GB at 200M rows)
    ok = (u > 0) & (i > 0)
    if not ok.any():
        raise ValueError("no test row has both a user and an item seen in training")
    share = model._seen_share(u, i)
    if share > 0.5:
        warnings.warn(f"{share:.0%} of the test rows are training interactions of this model; they are masked "
                      "from the ranking, so the metrics say little: evaluate on held-out rows (featvec fit "
                      "--test-frac writes them)", UserWarning, stacklevel=2)
    n_items = len(model.items_) - 1
    test_csr = csr_from_pairs(u[ok] - 1, i[ok] - 1, len(model.users_) - 1)
    dropped = int((~ok).sum())
    del u, i, ok
    ptr, idx = (np.asarray(t) for t in model.seen_)  # each user's items (rows from 1), sorted
    train_csr = (ptr[1:] - ptr[1], idx - 1)  # drop the unknown row 0; items shift to 0-based
    out = full_ranking(lambda users: model._score_rows(users + 1), n_items, train_csr, test_csr, k, metrics,
                       batch_size, sampled, seed)
    out["dropped_rows"] = dropped
    return out
