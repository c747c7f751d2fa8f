"""Full-ranking evaluation (featvec.evaluation.ranking): top-k, masking, CSR helpers, chunked ranking, metrics of a
fitted recommender; plus hypothesis properties of ``rank_users``."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import featvec
from featvec.datasets import synthetic_ratings
from featvec.evaluation.ranking import _sampled_candidates, csr_from_pairs, full_ranking, mask_rows, rank_users, top_k

INF = np.inf
L3, L4, L5 = (math.log2(x) for x in (3, 4, 5))


def csr(rows):
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    return indptr, np.array([i for r in rows for i in r], dtype=np.int64)


# ---------------------------------------------------------------- top_k


def test_top_k_argpartition_path():
    scores = np.array([[0.1, 0.5, 0.3, 0.9, 0.2],
                       [5.0, 4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(top_k(scores, 2), [[3, 1], [0, 1]])
    np.testing.assert_array_equal(top_k(scores, 3), [[3, 1, 2], [0, 1, 2]])
    assert top_k(scores, 1).dtype == np.int64


def test_top_k_k_at_least_n_columns():
    scores = np.array([[0.1, 0.5, 0.3, 0.9]])
    np.testing.assert_array_equal(top_k(scores, 4), [[3, 1, 2, 0]])
    # k is clipped to the number of columns
    np.testing.assert_array_equal(top_k(scores, 10), [[3, 1, 2, 0]])
    assert top_k(scores, 0).shape == (1, 0)


def test_top_k_ties():
    scores = np.array([[1.0, 1.0, 0.0, 1.0, -1.0]])
    got = top_k(scores, 2)[0]
    # any two of the tied best items, distinct
    assert set(got) <= {0, 1, 3} and len(set(got)) == 2
    # all three tied ones, then 2, then 4
    got = top_k(scores, 4)[0]
    assert set(got[:3]) == {0, 1, 3} and got[3] == 2
    # k >= n: stable order among ties (lowest index first)
    np.testing.assert_array_equal(top_k(scores, 5), [[0, 1, 3, 2, 4]])


def test_top_k_minus_inf_becomes_minus_one():
    scores = np.array([[-INF, 2.0, -INF, 1.0],
                       [-INF, -INF, -INF, -INF]])
    np.testing.assert_array_equal(top_k(scores, 3), [[1, 3, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(top_k(scores, 4), [[1, 3, -1, -1], [-1, -1, -1, -1]])


def test_top_k_plus_inf_is_the_best_item():
    scores = np.array([[1.0, INF, 0.0]])
    np.testing.assert_array_equal(top_k(scores, 2), [[1, 0]])


# ---------------------------------------------------------------- mask_rows


def test_mask_rows():
    seen = csr([[1, 3], [0], [4]])
    scores = np.zeros((2, 5))
    mask_rows(scores, np.array([2, 0]), seen)  # row 0 holds user 2, row 1 user 0
    expected = np.zeros((2, 5))
    expected[0, 4] = -INF
    expected[1, [1, 3]] = -INF
    np.testing.assert_array_equal(scores, expected)


def test_mask_rows_value_repeats_and_empty_users():
    seen = csr([[1, 3], [], [0, 2, 4]])
    allowed = np.ones((3, 5), dtype=bool)
    mask_rows(allowed, np.array([0, 0, 2]), seen, False)
    np.testing.assert_array_equal(allowed, [[1, 0, 1, 0, 1], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0]])
    scores = np.arange(10.0).reshape(2, 5)
    mask_rows(scores, np.array([1, 1]), seen)  # user 1 has no items: nothing changes
    np.testing.assert_array_equal(scores, np.arange(10.0).reshape(2, 5))


# ---------------------------------------------------------------- csr_from_pairs


def test_csr_from_pairs_dedups_and_sorts():
    rows = np.array([2, 0, 2, 0, 2, 2])
    cols = np.array([5, 3, 1, 3, 5, 0])
    indptr, indices = csr_from_pairs(rows, cols, 4)
    # user 0: {3}; user 1: {}; user 2: {0, 1, 5}; user 3: {}
    np.testing.assert_array_equal(indptr, [0, 1, 1, 4, 4])
    np.testing.assert_array_equal(indices, [3, 0, 1, 5])


def test_csr_from_pairs_empty():
    indptr, indices = csr_from_pairs(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 3)
    np.testing.assert_array_equal(indptr, [0, 0, 0, 0])
    assert indices.size == 0


def test_csr_from_pairs_matches_python_sets():
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 7, 60), rng.integers(0, 11, 60)
    indptr, indices = csr_from_pairs(rows, cols, 7)
    for u in range(7):
        assert list(indices[indptr[u]:indptr[u + 1]]) == sorted(set(cols[rows == u].tolist()))


# ---------------------------------------------------------------- rank_users


def _scores(seed=0, n_users=9, n_items=12):
    return np.random.default_rng(seed).normal(size=(n_users, n_items)).astype(np.float32)


def test_rank_users_respects_exclude():
    S = np.array([[5.0, 4.0, 3.0, 2.0, 1.0],
                  [1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)
    exclude = csr([[0, 2], [4]])
    got = rank_users(lambda u: S[u], np.array([0, 1]), 3, exclude=exclude)
    np.testing.assert_array_equal(got, [[1, 3, 4], [3, 2, 1]])
    # the scorer's array is not modified
    assert S[0, 0] == 5.0


def test_rank_users_pads_short_lists_and_returns_scores():
    S = np.array([[0.5, 0.1, 0.9]], dtype=np.float32)
    ranked, vals = rank_users(lambda u: S[u], np.array([0]), 5, exclude=csr([[2]]), with_scores=True)
    np.testing.assert_array_equal(ranked, [[0, 1, -1, -1, -1]])
    np.testing.assert_allclose(vals, [[0.5, 0.1, -INF, -INF, -INF]])


def test_rank_users_candidates_restrict():
    S = _scores(1, 3, 6)
    allowed = np.zeros((3, 6), dtype=bool)
    allowed[:, [1, 4]] = True
    got = rank_users(lambda u: S[u], np.arange(3), 3, candidates=lambda u: allowed[u])
    assert set(got[:, :2].ravel()) <= {1, 4}
    assert (got[:, 2] == -1).all()


def test_rank_users_chunking_matches_default():
    S = _scores(2, 23, 17)
    rng = np.random.default_rng(3)
    exclude = csr([list(rng.choice(17, rng.integers(0, 6), replace=False)) for _ in range(23)])
    users = rng.permutation(23)[:15]
    calls = []

    def score_fn(u):
        calls.append(len(u))
        return S[u]

    base = rank_users(score_fn, users, 5, exclude=exclude)
    assert calls == [15]
    calls.clear()
    one = rank_users(score_fn, users, 5, exclude=exclude, batch_size=1)
    assert calls == [1] * 15
    np.testing.assert_array_equal(one, base)
    np.testing.assert_array_equal(rank_users(score_fn, users, 5, exclude=exclude, batch_size=4), base)
    # and the same as a plain sort per user
    for r, u in enumerate(users):
        s = S[u].astype(np.float64)
        s[exclude[1][exclude[0][u]:exclude[0][u + 1]]] = -INF
        np.testing.assert_array_equal(base[r], np.argsort(-s, kind="stable")[:5])


# ---------------------------------------------------------------- full_ranking


def _tiny_problem():
    S = np.array([[5.0, 4.0, 3.0, 2.0, 1.0],
                  [1.0, 2.0, 3.0, 4.0, 5.0],
                  [9.0, 9.0, 9.0, 9.0, 9.0]], dtype=np.float32)
    train = csr([[0], [4], []])
    test = csr([[2], [0, 1], []])
    return S, train, test


def test_full_ranking_hand_computed():
    S, train, test = _tiny_problem()
    out = full_ranking(lambda u: S[u], 5, train, test, ks=(2, 4))
    # user 0: item 0 masked -> ranked [1, 2, 3, 4]; held-out {2} at rank 2
    # user 1: item 4 masked -> ranked [3, 2, 1, 0]; held-out {0, 1} at ranks 4 and 3
    # user 2: no held-out item, not evaluated
    assert out["n_users"] == 2
    # @2: user 0 recall 1, ndcg 1/log2 3, precision 1/2, map (1/2)/1; user 1 all 0
    assert out["recall@2"] == pytest.approx(0.5)
    assert out["hit_rate@2"] == pytest.approx(0.5)
    assert out["precision@2"] == pytest.approx(0.25)
    assert out["ndcg@2"] == pytest.approx(0.5 / L3)
    assert out["map@2"] == pytest.approx(0.25)
    # coverage@2 over evaluated users: {1, 2} u {3, 2} = {1, 2, 3} of 5
    assert out["coverage@2"] == pytest.approx(0.6)
    # @4: user 0 recall 1, ndcg 1/log2 3; user 1 recall 2/2, dcg 1/log2 4 + 1/log2 5 over ideal 1 + 1/log2 3
    assert out["recall@4"] == pytest.approx(1.0)
    assert out["ndcg@4"] == pytest.approx(0.5 * (1 / L3 + (1 / L4 + 1 / L5) / (1 + 1 / L3)))
    # map@4: user 0 (1/2)/1; user 1 (1/3 + 2/4)/2
    assert out["map@4"] == pytest.approx(0.5 * (0.5 + (1 / 3 + 2 / 4) / 2))
    assert out["coverage@4"] == pytest.approx(1.0)
    # chunking changes nothing
    assert full_ranking(lambda u: S[u], 5, train, test, ks=(2, 4), batch_size=1) == out


def test_full_ranking_no_test_users():
    S, train, _ = _tiny_problem()
    with pytest.raises(ValueError, match="no user has a held-out item"):
        full_ranking(lambda u: S[u], 5, train, csr([[], [], []]))


def test_full_ranking_sampled_keys_and_candidates():
    rng = np.random.default_rng(0)
    n_users, n_items = 12, 40
    train = csr([list(rng.choice(20, 5, replace=False)) for _ in range(n_users)])
    test_rows = [list(20 + rng.choice(20, rng.integers(1, 4), replace=False)) for _ in range(n_users)]
    test = csr(test_rows)
    # held-out items (20..39) score lowest, train items highest: a full ranking finds no hit in the top 6,
    # a sampled one (held-out items among 3 random others) ranks all held-out items in the top 3 + 3
    S = np.tile(np.linspace(1.0, 0.0, n_items, dtype=np.float32), (n_users, 1))
    full = full_ranking(lambda u: S[u], n_items, train, test, ks=6)
    assert full["recall@6"] == 0.0
    out = full_ranking(lambda u: S[u], n_items, train, test, ks=6, sampled=3, seed=1)
    assert set(out) == {f"{m}@6_sampled3" for m in ("recall", "ndcg", "precision", "hit_rate", "map")} | {"n_users"}
    assert out["n_users"] == n_users
    assert out["recall@6_sampled3"] == pytest.approx(1.0)
    # same seed, same result; batch size does not matter
    assert full_ranking(lambda u: S[u], n_items, train, test, ks=6, sampled=3, seed=1, batch_size=1) == out


def test_sampled_candidates_hold_test_items_and_n_unobserved():
    rng = np.random.default_rng(5)
    n_users, n_items, n = 10, 30, 4
    train_rows = [list(rng.choice(30, 6, replace=False)) for _ in range(n_users)]
    test_rows = [sorted(set(rng.choice(30, 3).tolist()) - set(t)) for t in train_rows]
    train, test = csr(train_rows), csr(test_rows)
    users = np.arange(n_users)
    cand = _sampled_candidates(train, test, n_items, n, seed=0)(users)
    assert cand.shape == (n_users, n_items) and cand.dtype == bool
    for u in users:
        on = set(np.flatnonzero(cand[u]).tolist())
        assert set(test_rows[u]) <= on
        assert not on & set(train_rows[u])
        assert len(on - set(test_rows[u])) == n
    # fewer unobserved items than asked: all of them
    cand = _sampled_candidates(train, test, n_items, 1000, seed=0)(users)
    for u in users:
        assert cand[u].sum() == n_items - len(train_rows[u])


# ---------------------------------------------------------------- evaluate(model, test)


@pytest.fixture(scope="module")
def fitted():
    df = synthetic_ratings(200, 100, 5000, rank=4, seed=0).ratings[["user_id", "item_id"]]
    is_test = np.random.default_rng(0).random(len(df)) < 0.2
    train, test = df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny sparse products: thread start-up dominates on a busy machine
    try:
        model = featvec.ImplicitRecommender(dim=8, solver="als", iterations=5).fit(train)
    finally:
        torch.set_num_threads(n)
    return model, train, test


def test_evaluate_counts_dropped_rows(fitted):
    model, train, test = fitted
    unknown_item = ~test["item_id"].isin(train["item_id"]) | ~test["user_id"].isin(train["user_id"])
    extra = pd.DataFrame({"user_id": [10**6, 10**6, int(train["user_id"].iloc[0])],
                          "item_id": [int(train["item_id"].iloc[0]), 10**6, 10**6 + 1]})
    base = featvec.evaluate(model, test)
    out = featvec.evaluate(model, pd.concat([test, extra], ignore_index=True))
    assert base["dropped_rows"] == int(unknown_item.sum())
    assert out["dropped_rows"] == base["dropped_rows"] + 3
    # the dropped rows change nothing else
    assert {k: v for k, v in out.items() if k != "dropped_rows"} == \
        {k: v for k, v in base.items() if k != "dropped_rows"}
    assert set(base) >= {"recall@20", "ndcg@20", "precision@20", "hit_rate@20", "map@20", "coverage@20",
                         "n_users", "dropped_rows"}
    assert base["n_users"] == test.loc[~unknown_item, "user_id"].nunique()
    assert 0 < base["recall@20"] <= 1


def test_evaluate_matches_recommend(fitted):
    model, train, test = fitted
    k = 10
    out = featvec.evaluate(model, test, k=k)
    known = test[test["item_id"].isin(train["item_id"]) & test["user_id"].isin(train["user_id"])]
    users = sorted(known["user_id"].unique())
    rec = model.recommend(users, k=k)
    recalls, hrs = [], []
    for u in users:
        got = rec.loc[rec["user_id"] == u, "item_id"].tolist()
        truth = set(known.loc[known["user_id"] == u, "item_id"])
        n_hit = len(set(got) & truth)
        recalls.append(n_hit / min(k, len(truth)))
        hrs.append(float(n_hit > 0))
    assert out[f"recall@{k}"] == pytest.approx(np.mean(recalls))
    assert out[f"hit_rate@{k}"] == pytest.approx(np.mean(hrs))


def test_evaluate_never_counts_training_items(fitted):
    model, train, test = fitted
    # held-out rows that are all training pairs: every one is masked, so nothing can be a hit
    seen_test = train.sample(300, random_state=0)
    with pytest.warns(UserWarning, match="100% of the test rows are training interactions"):
        out = featvec.evaluate(model, seen_test, k=20)
    assert out["dropped_rows"] == 0
    for m in ("recall", "ndcg", "precision", "hit_rate", "map"):
        assert out[f"{m}@20"] == 0.0, m
    # mixing them into the real test rows can only add misses: recall / precision never go up
    mixed = featvec.evaluate(model, pd.concat([test, seen_test], ignore_index=True), k=20)
    base = featvec.evaluate(model, test, k=20)
    assert mixed["precision@20"] <= base["precision@20"] + 1e-12
    assert mixed["n_users"] >= base["n_users"]


def test_evaluate_sampled_and_errors(fitted):
    model, _, test = fitted
    out = featvec.evaluate(model, test, k=5, sampled=50)
    assert "recall@5_sampled50" in out and "recall@5" not in out and "dropped_rows" in out
    with pytest.raises(ValueError, match="no test row"):
        featvec.evaluate(model, pd.DataFrame({"user_id": [10**6], "item_id": [10**6]}))
    with pytest.raises(ValueError, match="item_id"):
        featvec.evaluate(model, pd.DataFrame({"user_id": [1]}))


def test_evaluate_unfitted_model():
    with pytest.raises(RuntimeError, match="not fitted"):
        featvec.evaluate(featvec.ImplicitRecommender(solver="als"), pd.DataFrame({"user_id": [1], "item_id": [1]}))


# ---------------------------------------------------------------- properties of rank_users


@st.composite
def ranking_problems(draw):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 8))
    k = draw(st.integers(1, 10))
    # small integer scores make ties likely
    vals = draw(st.lists(st.integers(-3, 3), min_size=n_users * n_items, max_size=n_users * n_items))
    S = np.array(vals, dtype=np.float32).reshape(n_users, n_items)
    mask = draw(st.lists(st.booleans(), min_size=n_users * n_items, max_size=n_users * n_items))
    M = np.array(mask, dtype=bool).reshape(n_users, n_items)
    exclude = csr([list(np.flatnonzero(row)) for row in M])
    users = np.array(draw(st.lists(st.integers(0, n_users - 1), min_size=1, max_size=8)), dtype=np.int64)
    return S, M, exclude, users, k


PROPS = settings(max_examples=30, deadline=None)


@PROPS
@given(ranking_problems())
def test_prop_excluded_items_never_returned(problem):
    S, M, exclude, users, k = problem
    ranked = rank_users(lambda u: S[u], users, k, exclude=exclude)
    assert ranked.shape == (len(users), k)
    for r, u in enumerate(users):
        got = ranked[r][ranked[r] >= 0]
        assert not M[u, got].any()
        assert len(set(got.tolist())) == len(got)
        # every allowed item is listed while there is room; padding only at the end
        assert len(got) == min(k, int((~M[u]).sum()))
        assert (ranked[r][len(got):] == -1).all()


@PROPS
@given(ranking_problems())
def test_prop_scores_non_increasing(problem):
    S, M, exclude, users, k = problem
    ranked, vals = rank_users(lambda u: S[u], users, k, exclude=exclude, with_scores=True)
    for r, u in enumerate(users):
        ok = ranked[r] >= 0
        np.testing.assert_array_equal(vals[r][ok], S[u, ranked[r][ok]])
        assert (np.diff(vals[r][ok]) <= 0).all()
        assert np.isneginf(vals[r][~ok]).all()
        # the listed items are a true top: nothing left out scores higher than the last one listed
        if ok.any():
            left = np.ones(S.shape[1], dtype=bool)
            left[ranked[r][ok]] = False
            left &= ~M[u]
            assert (S[u, left] <= vals[r][ok][-1]).all()


@PROPS
@given(ranking_problems())
def test_prop_one_batch_equals_one_at_a_time(problem):
    S, M, exclude, users, k = problem
    together = rank_users(lambda u: S[u], users, k, exclude=exclude)
    single = np.concatenate([rank_users(lambda u: S[u], users[i:i + 1], k, exclude=exclude)
                             for i in range(len(users))])
    np.testing.assert_array_equal(together, single)
    np.testing.assert_array_equal(rank_users(lambda u: S[u], users, k, exclude=exclude, batch_size=1), together)
