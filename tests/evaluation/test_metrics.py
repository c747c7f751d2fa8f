"""Top-K ranking metrics (featvec.evaluation.metrics) on tiny cases whose values are worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from featvec.evaluation.metrics import (METRICS, coverage_at_k, hit_rate_at_k, hits, map_at_k, ndcg_at_k, precision_at_k,
                             ranking_metrics, recall_at_k)


def csr(rows):
    """Held-out items per user (list of lists) -> (indptr, indices)."""
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    indices = np.array([i for r in rows for i in r], dtype=np.int64)
    return indptr, indices


L2, L3, L4, L5 = (math.log2(x) for x in (2, 3, 4, 5))

# ---------------------------------------------------------------- one user, by hand


def test_single_user_hand_computed():
    ranked = np.array([[3, 1, 7]])
    truth = csr([[1, 9]])
    # hits = [0, 1, 0]
    np.testing.assert_array_equal(hits(ranked, truth), [[False, True, False]])
    # recall@3 = 1 hit / min(3, |T|=2) = 1/2
    np.testing.assert_allclose(recall_at_k(ranked, truth), [1 / 2])
    # precision@3 = 1/3
    np.testing.assert_allclose(precision_at_k(ranked, truth), [1 / 3])
    # hit_rate@3 = 1
    np.testing.assert_allclose(hit_rate_at_k(ranked, truth), [1.0])
    # ndcg@3: dcg = 1/log2(3) (hit at rank 2); ideal = 2 hits at ranks 1, 2 = 1/log2(2) + 1/log2(3)
    np.testing.assert_allclose(ndcg_at_k(ranked, truth), [(1 / L3) / (1 + 1 / L3)])
    # map@3: precision@2 * hit_2 = 1/2, divided by min(3, 2) = 2 -> 1/4
    np.testing.assert_allclose(map_at_k(ranked, truth), [1 / 4])
    out = ranking_metrics(ranked, truth, ks=3)
    assert set(out) == {f"{m}@3" for m in METRICS}
    assert out["recall@3"] == pytest.approx(1 / 2)
    assert out["precision@3"] == pytest.approx(1 / 3)
    assert out["hit_rate@3"] == pytest.approx(1.0)
    assert out["ndcg@3"] == pytest.approx((1 / L3) / (1 + 1 / L3))
    assert out["map@3"] == pytest.approx(1 / 4)


def test_hits_at_first_and_last_rank():
    ranked = np.array([[4, 0, 2, 8]])
    truth = csr([[4, 8]])
    # hits = [1, 0, 0, 1]; |T| = 2
    # recall@4 = 2/2; precision@4 = 2/4
    # ndcg@4 = (1/log2(2) + 1/log2(5)) / (1/log2(2) + 1/log2(3))
    # map@4 = (precision@1 * 1 + precision@4 * 1) / 2 = (1 + 2/4) / 2 = 3/4
    out = ranking_metrics(ranked, truth, ks=(1, 4))
    assert out["recall@4"] == pytest.approx(1.0)
    assert out["precision@4"] == pytest.approx(0.5)
    assert out["ndcg@4"] == pytest.approx((1 + 1 / L5) / (1 + 1 / L3))
    assert out["map@4"] == pytest.approx(3 / 4)
    # at k=1: the list is [4], a hit; recall@1 = 1 / min(1, 2) = 1; ndcg@1 = 1; map@1 = 1
    for m in ("recall", "precision", "ndcg", "map", "hit_rate"):
        assert out[f"{m}@1"] == pytest.approx(1.0), m


def test_no_hit_scores_zero_everywhere():
    ranked = np.array([[5, 6, 7]])
    truth = csr([[1, 2]])
    out = ranking_metrics(ranked, truth, ks=3)
    assert all(v == 0.0 for v in out.values())


def test_k_argument_truncates_the_lists():
    ranked = np.array([[3, 1, 7]])
    truth = csr([[1, 9]])
    # top-1 is [3]: no hit
    assert recall_at_k(ranked, truth, k=1)[0] == 0.0
    assert ndcg_at_k(ranked, truth, k=1)[0] == 0.0
    # top-2 is [3, 1]: 1 hit; recall = 1 / min(2, 2); precision = 1/2
    # ndcg@2 = (1/log2 3) / (1 + 1/log2 3); map@2 = (1/2) / 2
    assert recall_at_k(ranked, truth, k=2)[0] == pytest.approx(1 / 2)
    assert precision_at_k(ranked, truth, k=2)[0] == pytest.approx(1 / 2)
    assert ndcg_at_k(ranked, truth, k=2)[0] == pytest.approx((1 / L3) / (1 + 1 / L3))
    assert map_at_k(ranked, truth, k=2)[0] == pytest.approx(1 / 4)


# ---------------------------------------------------------------- padding with -1


def test_minus_one_padding_is_never_a_hit():
    # user 0: a short list [5] padded; user 1: an empty list; user 2 holds item 0 (so -1 + width tricks
    # would collide with a real key if -1 were not special-cased)
    ranked = np.array([[5, -1, -1], [-1, -1, -1], [0, -1, -1]])
    truth = csr([[5], [0, 5], [0]])
    np.testing.assert_array_equal(hits(ranked, truth), [[True, False, False], [False] * 3,
                                                        [True, False, False]])
    # user 0: recall = 1/1, precision = 1/3, ndcg = 1, map = 1
    # user 1: all 0
    # user 2: same as user 0
    np.testing.assert_allclose(recall_at_k(ranked, truth), [1, 0, 1])
    np.testing.assert_allclose(precision_at_k(ranked, truth), [1 / 3, 0, 1 / 3])
    np.testing.assert_allclose(ndcg_at_k(ranked, truth), [1, 0, 1])
    np.testing.assert_allclose(map_at_k(ranked, truth), [1, 0, 1])
    out = ranking_metrics(ranked, truth, ks=3, n_items=10)
    assert out["recall@3"] == pytest.approx(2 / 3)
    assert out["precision@3"] == pytest.approx(2 / 9)
    # coverage counts distinct real items: {0, 5} of 10
    assert out["coverage@3"] == pytest.approx(0.2)


def test_padding_in_last_row_does_not_hit_next_key():
    # keys are row * width + item with width = max item + 2; -1 in row 1 maps to row 0's key width - 1,
    # which no real item can have. Check the boundary item explicitly.
    ranked = np.array([[0, 1], [-1, -1]])
    truth = csr([[1], [0]])
    np.testing.assert_array_equal(hits(ranked, truth), [[False, True], [False, False]])


# ---------------------------------------------------------------- more held-out items than k


def test_more_held_out_items_than_k():
    # |T| = 5 > k = 2, both slots hits: recall@2 = 2 / min(2, 5) = 1, ndcg = 1, map = (1 + 1) / 2 = 1
    ranked = np.array([[1, 2]])
    truth = csr([[1, 2, 3, 4, 5]])
    out = ranking_metrics(ranked, truth, ks=2)
    for m in METRICS:
        assert out[f"{m}@2"] == pytest.approx(1.0), m


def test_more_held_out_items_than_k_partial():
    # |T| = 4 > k = 3; hits = [1, 0, 1]
    # recall@3 = 2 / min(3, 4) = 2/3; precision@3 = 2/3
    # ndcg@3 = (1 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4)  (ideal: 3 hits)
    # map@3 = (1/1 + 2/3) / 3 = 5/9
    ranked = np.array([[1, 9, 2]])
    truth = csr([[1, 2, 3, 4]])
    out = ranking_metrics(ranked, truth, ks=3)
    assert out["recall@3"] == pytest.approx(2 / 3)
    assert out["precision@3"] == pytest.approx(2 / 3)
    assert out["ndcg@3"] == pytest.approx((1 + 1 / L4) / (1 + 1 / L3 + 1 / L4))
    assert out["map@3"] == pytest.approx(5 / 9)
    np.testing.assert_allclose(recall_at_k(ranked, truth), [2 / 3])
    np.testing.assert_allclose(ndcg_at_k(ranked, truth), [(1 + 1 / L4) / (1 + 1 / L3 + 1 / L4)])
    np.testing.assert_allclose(map_at_k(ranked, truth), [5 / 9])


# ---------------------------------------------------------------- coverage


def test_coverage():
    ranked = np.array([[0, 1], [1, -1]])
    # distinct items {0, 1} of 4
    assert coverage_at_k(ranked, 4) == pytest.approx(0.5)
    ranked = np.array([[0, 1], [0, 2]])
    # k=1: {0} of 4; k=2: {0, 1, 2} of 4
    assert coverage_at_k(ranked, 4, k=1) == pytest.approx(0.25)
    assert coverage_at_k(ranked, 4, k=2) == pytest.approx(0.75)
    assert coverage_at_k(np.full((2, 3), -1), 4) == 0.0


def test_coverage_only_when_n_items_given():
    ranked = np.array([[0, 1]])
    truth = csr([[0]])
    assert not any(k.startswith("coverage") for k in ranking_metrics(ranked, truth, ks=2))
    assert ranking_metrics(ranked, truth, ks=(1, 2), n_items=8)["coverage@1"] == pytest.approx(1 / 8)


# ---------------------------------------------------------------- averaging


def test_ranking_metrics_averages_only_over_users_with_held_out_items():
    ranked = np.array([[1, 2], [3, 4], [6, 7]])
    truth = csr([[1], [], [5]])
    # user 0: recall 1; user 1: skipped (no held-out items); user 2: recall 0 -> mean 1/2 (not 1/3)
    out = ranking_metrics(ranked, truth, ks=2, n_items=10)
    assert out["recall@2"] == pytest.approx(0.5)
    assert out["hit_rate@2"] == pytest.approx(0.5)
    assert out["precision@2"] == pytest.approx(0.25)
    # coverage also only over evaluated users: {1, 2, 6, 7} of 10, items 3 and 4 not counted
    assert out["coverage@2"] == pytest.approx(0.4)


def test_ranking_metrics_matches_per_user_functions():
    rng = np.random.default_rng(0)
    n_users, n_items, width = 40, 30, 10
    ranked = np.stack([rng.permutation(n_items)[:width] for _ in range(n_users)])
    ranked[rng.random(ranked.shape) < 0.1] = -1
    truth = csr([list(rng.choice(n_items, rng.integers(0, 8), replace=False)) for _ in range(n_users)])
    has = np.diff(truth[0]) > 0
    fns = {"recall": recall_at_k, "ndcg": ndcg_at_k, "precision": precision_at_k, "hit_rate": hit_rate_at_k,
           "map": map_at_k}
    out = ranking_metrics(ranked, truth, ks=(1, 5, 10))
    for k in (1, 5, 10):
        for m, fn in fns.items():
            assert out[f"{m}@{k}"] == pytest.approx(fn(ranked, truth, k)[has].mean()), (m, k)


def test_metric_values_are_in_unit_interval():
    rng = np.random.default_rng(1)
    ranked = np.stack([rng.permutation(20)[:5] for _ in range(30)])
    truth = csr([list(rng.choice(20, rng.integers(1, 12), replace=False)) for _ in range(30)])
    for fn in (recall_at_k, ndcg_at_k, precision_at_k, hit_rate_at_k, map_at_k):
        v = fn(ranked, truth)
        assert v.shape == (30,)
        assert ((v >= 0) & (v <= 1 + 1e-12)).all(), fn.__name__


def test_metrics_subset_and_int_ks():
    ranked = np.array([[1, 2, 3]])
    truth = csr([[2]])
    out = ranking_metrics(ranked, truth, ks=2, metrics=("recall", "ndcg"))
    assert set(out) == {"recall@2", "ndcg@2"}
    # hit at rank 2: ndcg@2 = (1/log2 3) / 1
    assert out["ndcg@2"] == pytest.approx(1 / L3)


# ---------------------------------------------------------------- errors


def test_error_k_longer_than_lists():
    with pytest.raises(ValueError, match="shorter than k=5"):
        ranking_metrics(np.array([[1, 2, 3]]), csr([[1]]), ks=(1, 5))


def test_error_no_held_out_items():
    with pytest.raises(ValueError, match="no user has a held-out item"):
        ranking_metrics(np.array([[1, 2], [3, 4]]), csr([[], []]), ks=2)


def test_error_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric.*'mrr'"):
        ranking_metrics(np.array([[1, 2]]), csr([[1]]), ks=2, metrics=("recall", "mrr"))


def test_error_user_count_mismatch():
    with pytest.raises(ValueError, match="truth has 2 users, ranked lists have 1"):
        hits(np.array([[1, 2]]), csr([[1], [2]]))


def test_hits_read_unsorted_and_sliced_truth_rows():
    from featvec.evaluation.metrics import hits

    ranked = np.array([[4, 0, 2], [1, -1, 9]])
    want = [[True, False, True], [False, False, True]]
    np.testing.assert_array_equal(hits(ranked, (np.array([0, 2, 4]), np.array([2, 4, 9, 3]))), want)
    # rows starting past 0 (a slice of a larger CSR whose first rows are left out)
    np.testing.assert_array_equal(hits(ranked, (np.array([1, 3, 5]), np.array([7, 4, 2, 9, 3]))), want)
