"""featvec's fused kernels (featvec.fused): one SGD step checked by hand, the block schedule, the shared-row
merge, the seen bitmap, and bit-identical reruns for a seed and a thread count."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from featvec.datasets import feat2vec_records
from featvec import Categorical, Feat2Vec, ImplicitRecommender, MatrixFactorization
from featvec.fused.engine import SideState, lr_factor, warn_if_diverged
from featvec.fused.kernels import pair_kernel, rating_kernel
from featvec.fused.schedule import BlockSchedule, balanced_groups
from featvec.fused.slots import Side, build_side
from featvec.fused.train import seen_bits
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.util.threads import get_num_threads, set_num_threads


@pytest.fixture
def threads():
    """Set featvec's thread count inside a test; restored afterwards."""
    before = get_num_threads()
    yield set_num_threads
    set_num_threads(before)


def plain_side(W: np.ndarray, B: np.ndarray) -> tuple:
    """A side where entity e is row e alone, weight 1, no private copy."""
    n, d = W.shape
    return (np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int32), np.ones(n, dtype=np.float32), W, B,
            np.zeros((0, d), dtype=np.float32), np.zeros(0, dtype=np.float32), np.full(n, -1, dtype=np.int32),
            np.ones(n, dtype=np.float32), np.zeros(0, dtype=np.int32))


# ---------------------------------------------------------------- one step by hand

@pytest.mark.parametrize("sigmoid", [False, True])
def test_rating_kernel_one_step_by_hand(sigmoid):
    rng = np.random.default_rng(0)
    Wu, Wi = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    Bu, Bi = np.array([0.1, 0.2, 0.3], np.float32), np.array([-0.1, 0.4], np.float32)
    p, q, bu, bi = Wu[2].copy(), Wi[1].copy(), Bu[2], Bi[1]
    offset, lo, span, lr, lr_b, reg, breg, y = 0.5, 0.8, 4.4, 0.1, 0.05, 0.02, 0.01, 4.0
    hyper = np.array([offset, lo, span, 0.0, lr, lr_b, reg, breg])
    one = np.array([0], dtype=np.int32)
    kernel = rating_kernel(True, sigmoid)
    loss = kernel(one, 0, 1, np.array([2], np.int32), np.array([1], np.int32), np.array([y], np.float32),
                  plain_side(Wu, Bu), plain_side(Wi, Bi), hyper)
    raw = offset + bu + bi + p @ q
    if sigmoid:
        s = 1 / (1 + math.exp(-raw))
        err = lo + span * s - y
        g = err * span * s * (1 - s)
    else:
        err = raw - y
        g = err
    assert loss == pytest.approx(err ** 2, rel=1e-5)
    np.testing.assert_allclose(Wu[2], p - lr * (g * q + reg * p), rtol=1e-5)
    np.testing.assert_allclose(Wi[1], q - lr * (g * p + reg * q), rtol=1e-5)
    assert Bu[2] == pytest.approx(bu - lr_b * (g + breg * bu), rel=1e-5)
    assert Bi[1] == pytest.approx(bi - lr_b * (g + breg * bi), rel=1e-5)


def test_rating_kernel_leaves_other_rows_alone():
    rng = np.random.default_rng(1)
    Wu, Wi = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    before_u, before_i = Wu.copy(), Wi.copy()
    Bu, Bi = np.zeros(5, np.float32), np.zeros(4, np.float32)
    hyper = np.array([3.0, 0.0, 1.0, 0.0, 0.1, 0.1, 0.1, 0.0])
    rating_kernel(True, False)(np.array([0], np.int32), 0, 1, np.array([3], np.int32), np.array([2], np.int32),
                               np.array([5.0], np.float32), plain_side(Wu, Bu), plain_side(Wi, Bi), hyper)
    changed_u = np.flatnonzero((Wu != before_u).any(1))
    changed_i = np.flatnonzero((Wi != before_i).any(1))
    assert changed_u.tolist() == [3] and changed_i.tolist() == [2]


def test_rating_kernel_slots_match_the_summed_vector():
    """A user as the sum of two slots (weights 1 and 0.5): the step moves each slot's row by its weight."""
    d = 3
    W = np.array([[0.0, 0.0, 0.0], [0.2, -0.1, 0.3], [0.4, 0.1, -0.2]], np.float32)
    side = (np.array([0, 0, 2], np.int64), np.array([1, 2], np.int32), np.array([1.0, 0.5], np.float32), W,
            np.zeros(3, np.float32), np.zeros((0, d), np.float32), np.zeros(0, np.float32),
            np.full(3, -1, np.int32), np.ones(3, np.float32), np.zeros(0, np.int32))
    Wi = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0]], np.float32)
    user = W[1] + 0.5 * W[2]
    lr, reg = 0.1, 0.05
    hyper = np.array([0.0, 0.0, 1.0, 0.0, lr, lr, reg, 0.0])
    w1, w2 = W[1].copy(), W[2].copy()
    rating_kernel(False, False)(np.array([0], np.int32), 0, 1, np.array([1], np.int32), np.array([1], np.int32),
                                np.array([2.0], np.float32), side, plain_side(Wi, np.zeros(2, np.float32)), hyper)
    g = float(user @ np.array([1.0, 2.0, -1.0])) - 2.0
    np.testing.assert_allclose(W[1], w1 - lr * (1.0 * g * np.array([1.0, 2.0, -1.0]) + reg * 1.0 * w1), rtol=1e-5)
    np.testing.assert_allclose(W[2], w2 - lr * (0.5 * g * np.array([1.0, 2.0, -1.0]) + reg * 0.5 * w2), rtol=1e-5)


def test_bpr_kernel_one_step_by_hand():
    """Two items, the user has item 1: the negative can only be item 2 (group 0 holds both)."""
    rng = np.random.default_rng(2)
    Wu = rng.normal(size=(2, 4)).astype(np.float32)
    Wi = rng.normal(size=(3, 4)).astype(np.float32)
    Bu, Bi = np.zeros(2, np.float32), np.array([0.0, 0.3, -0.2], np.float32)
    p, qi, qj, bi, bj = Wu[1].copy(), Wi[1].copy(), Wi[2].copy(), Bi[1], Bi[2]
    lr, reg = 0.1, 0.01
    sampler = (np.array([0, 2], np.int64), np.array([1, 2], np.int32), np.zeros(0), np.zeros(3, np.float32),
               np.array([0, 0, 1], np.int64), np.array([1], np.int32), np.zeros(0, np.uint64))
    stats = np.zeros(1, np.int64)
    user_side = plain_side(Wu, Bu)
    user_side[8][:] = 0  # users have no bias
    loss = pair_kernel(True, 0)(np.array([0], np.int32), 0, 1, np.array([1], np.int32), np.array([1], np.int32),
                                np.array([1.0], np.float32), user_side, plain_side(Wi, Bi), sampler, 0,
                                np.uint64(7), stats, np.array([lr, lr, reg, 0.0, 1, 0, 1.0, 10]))
    x = (p @ qj + bj) - (p @ qi + bi)
    c = 1 / (1 + math.exp(-x))
    assert stats[0] == 0 and loss == pytest.approx(math.log1p(math.exp(x)), rel=1e-5)
    np.testing.assert_allclose(Wi[1], qi - lr * (-c * p + reg * qi), rtol=1e-5)
    np.testing.assert_allclose(Wi[2], qj - lr * (c * p + reg * qj), rtol=1e-5)
    np.testing.assert_allclose(Wu[1], p - lr * (c * (qj - qi) + reg * p), rtol=1e-5)
    assert Bi[1] == pytest.approx(bi + lr * c) and Bi[2] == pytest.approx(bj - lr * c)


def test_bpr_fast_path_matches_the_general_kernel():
    """With one negative and plain sides BPR runs its own loop (negatives drawn ahead, rows prefetched):
    the same draws and the same steps as the general kernel, over many samples and with repeated rows."""
    rng = np.random.default_rng(5)
    n_u, n_i, d, n = 20, 30, 8, 500
    su, si = rng.integers(0, n_u, n).astype(np.int32), rng.integers(1, n_i, n).astype(np.int32)
    sw = rng.random(n).astype(np.float32) + 0.5
    ptr = np.zeros(n_u + 1, np.int64)
    pairs = sorted(set(zip(su.tolist(), si.tolist())))
    np.cumsum(np.bincount([p[0] for p in pairs], minlength=n_u), out=ptr[1:])
    seen = np.array([p[1] for p in pairs], np.int32)
    items = np.arange(1, n_i, dtype=np.int32)
    none = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.uint64))  # no rejection: j may be i
    for seen_arrays in ((ptr, seen, np.zeros(0, np.uint64)), (ptr, seen, seen_bits(ptr, seen, n_i)), none):
        sampler = (np.array([0, n_i - 1], np.int64), items, np.zeros(0), np.zeros(n_i, np.float32), *seen_arrays)
        out = []
        for plain in (True, False):
            Wu, Wi = rng.normal(size=(n_u, d)).astype(np.float32), rng.normal(size=(n_i, d)).astype(np.float32)
            if out:
                Wu, Wi = out[0][2].copy(), out[0][3].copy()
            Wu0, Wi0, Bi = Wu.copy(), Wi.copy(), np.linspace(-0.2, 0.2, n_i).astype(np.float32)
            stats = np.zeros(1, np.int64)
            loss = pair_kernel(plain, 0)(np.arange(n, dtype=np.int32), 0, n, su, si, sw, plain_side(Wu, np.zeros(n_u, np.float32)),
                                         plain_side(Wi, Bi), sampler, 0, np.uint64(11), stats,
                                         np.array([0.05, 0.05, 0.01, 0.001, 1, 0, 1.0, 10]))
            out.append((loss, stats[0], Wu0, Wi0, Wu, Wi, Bi))
        (l1, s1, *_, Wu1, Wi1, B1), (l2, s2, *_, Wu2, Wi2, B2) = out
        assert s1 == s2 and l1 == pytest.approx(l2, rel=1e-5)
        np.testing.assert_allclose(Wu1, Wu2, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(Wi1, Wi2, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(B1, B2, rtol=1e-4, atol=1e-6)
        assert not np.allclose(Wu1, out[0][2])  # it trained


# ---------------------------------------------------------------- schedule, merge, bitmap

def test_balanced_groups_cut_equal_mass():
    counts = np.r_[np.full(50, 10), np.full(50, 1)]
    g = balanced_groups(counts, 4, np.random.default_rng(0))
    mass = np.bincount(g, weights=counts, minlength=4)
    assert set(g) == {0, 1, 2, 3} and mass.max() - mass.min() <= 2 * counts.max()
    assert (balanced_groups(counts, 1, np.random.default_rng(0)) == 0).all()


def test_balanced_groups_keep_runs_of_16_together_when_there_are_enough():
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 20, 5000)
    g = balanced_groups(counts, 4, rng)
    assert (g[:4992].reshape(-1, 16) == g[:4992:16, None]).all()  # 5000 = 312 runs of 16 + 8
    mass = np.bincount(g, weights=counts, minlength=4)
    assert set(g) == {0, 1, 2, 3} and mass.max() - mass.min() <= 2 * 16 * counts.max()
    assert not (g[:-1] <= g[1:]).all()  # the runs in random order, not cut in id order


def test_block_schedule_rounds_are_disjoint_and_cover_every_sample_once():
    rng = np.random.default_rng(3)
    su, si = rng.integers(0, 40, 2000).astype(np.int32), rng.integers(0, 30, 2000).astype(np.int32)
    sy = np.arange(2000, dtype=np.float32)  # the values name the samples
    sched = BlockSchedule(su, si, sy, 40, 30, 3, seed=0)
    orders = []
    for _ in range(2):
        rounds = sched.epoch()
        seen = []
        for blocks in rounds:
            assert len({u for u, _ in blocks}) == 3 and len({i for _, i in blocks}) == 3  # disjoint groups
            for ug, ig in blocks:
                a, b = sched.block(ug, ig)
                assert (sched.user_group[sched.su[a:b]] == ug).all() and (sched.item_group[sched.si[a:b]] == ig).all()
                seen.append(sched.sy[a:b].astype(int))
        part = np.concatenate(seen)
        assert sorted(part.tolist()) == list(range(2000))  # every sample once
        where = np.argsort(sched.sy)  # where each sample lies: with its own user and item
        np.testing.assert_array_equal(sched.su[where], su)
        np.testing.assert_array_equal(sched.si[where], si)
        orders.append(sched.sy.copy())
    assert not np.array_equal(orders[0], orders[1])  # a new order every epoch
    a, b = sched.block(0, 0)
    assert not (np.diff(sched.sy[a:b]) > 0).all()  # shuffled inside the block


def test_grid_grows_with_the_tables_and_stays_a_multiple_of_the_threads():
    from featvec.fused.schedule import grid_size

    assert grid_size(2, 2_600, 260, 90_000) == 2  # ML-100K: the tables fit in cache
    assert grid_size(1, 2_600, 260, 90_000) == 1
    p = grid_size(2, 165_000, 260, 16_000_000)  # ML-20M: 43 MB of rows
    assert p % 2 == 0 and p >= 40
    assert grid_size(2, 165_000, 260, 50_000) == 2  # few samples: blocks would be too small


def test_merge_averages_the_copies_by_their_steps():
    W = np.zeros((3, 2), np.float32)
    side = Side(np.array([0, 1, 2, 3]), np.arange(3, dtype=np.int32), np.ones(3, np.float32), W,
                np.zeros(3, np.float32), np.ones(3, np.float32), [0], np.array([False, True, False]))
    state = SideState(side, parallel=True)
    assert state.shared.tolist() == [0, 2]
    a, b = state.copies(2)
    a[0][0], a[2][0] = [1.0, 1.0], 1  # block a moved row 0 once
    b[0][0], b[2][0] = [4.0, 4.0], 3  # block b moved row 0 three times
    state.merge([a, b])
    np.testing.assert_allclose(W[0], [(1 * 1 + 4 * 3) / 4] * 2)
    np.testing.assert_allclose(W[2], [0.0, 0.0])  # nobody touched row 2


def test_seen_bits_match_the_pairs():
    rng = np.random.default_rng(4)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 20, 300), rng.integers(1, 130, 300))}
    u = np.array(sorted(pairs))[:, 0]
    i = np.array(sorted(pairs))[:, 1]
    ptr = np.zeros(21, np.int64)
    np.cumsum(np.bincount(u, minlength=20), out=ptr[1:])
    bits = seen_bits(ptr, i.astype(np.int32), 130)
    words = len(bits) // 20
    for uu in range(20):
        for ii in range(130):
            assert bool((int(bits[uu * words + (ii >> 6)]) >> (ii & 63)) & 1) == ((uu, ii) in pairs)


def test_lr_factor_schedules():
    assert lr_factor("constant", 3, 10) == 1.0
    assert lr_factor("linear", 0, 10) == 1.0 and lr_factor("linear", 9, 10) == pytest.approx(0.1)
    assert lr_factor("cosine", 0, 10) == 1.0 and lr_factor("cosine", 9, 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="onecycle"):
        lr_factor("onecycle", 0, 10)


def test_build_side_stacks_groups_and_marks_the_own_rows():
    groups = [GroupSpec("id", "categorical", 4, 2), GroupSpec("x", "numeric", 2, 2)]
    emb = FeatureEmbedding(groups)
    inputs = {"id": torch.tensor([0, 1, 0, 3]), "x": torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0], [3.0, 4.0]])}
    side = build_side(emb, inputs, id_slot=inputs["id"])
    assert side.W.shape == (6, 2) and side.offsets == [0, 4]
    np.testing.assert_allclose(side.W[4:], emb.tables[1].weight.detach().numpy().T)
    assert side.ptr.tolist() == [0, 2, 4, 5, 8]  # entity 2: the unknown row only (numeric zeros are no slot)
    assert side.rows.tolist() == [0, 5, 1, 4, 0, 3, 4, 5]
    np.testing.assert_allclose(side.weights, [1, 2, 1, 1, 1, 1, 3, 4])
    assert side.exclusive.tolist() == [False, True, False, True, False, False]


# ---------------------------------------------------------------- bit-identical reruns

def interactions(seed=0, n_users=60, n_items=40, n=1500):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": rng.integers(1, n_users + 1, n), "item_id": rng.integers(1, n_items + 1, n)})
    df["rating"] = rng.integers(1, 6, n).astype(float)
    return df


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("make", [
    lambda: MatrixFactorization(dim=8, epochs=3),
    lambda: MatrixFactorization(dim=8, epochs=3, item_features=[Categorical("kind")]),
    lambda: ImplicitRecommender(dim=8, epochs=3, loss="bpr"),
    lambda: ImplicitRecommender(dim=8, epochs=3, loss="sampled_softmax"),
    lambda: ImplicitRecommender(dim=8, solver="als", iterations=3),
], ids=["mf", "mf-side", "bpr", "softmax", "als"])
def test_reruns_are_bit_identical(make, n_threads, threads):
    threads(n_threads)
    df = interactions()
    items = pd.DataFrame({"item_id": np.arange(1, 41), "kind": np.arange(40) % 3})
    kw = {"item_features": items} if getattr(make(), "item_features", None) else {}
    a, b = make().fit(df, **kw), make().fit(df, **kw)
    for name in ("users", "items"):
        np.testing.assert_array_equal(a.vectors_[name].matrix, b.vectors_[name].matrix)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_feat2vec_reruns_are_bit_identical(n_threads, threads):
    threads(n_threads)
    df = feat2vec_records(6000, seed=1).drop(columns=["latent", "attr1", "attr2", "attr3"])
    a = Feat2Vec(["item", "id", "y"], dim=4, epochs=2).fit(df)
    b = Feat2Vec(["item", "id", "y"], dim=4, epochs=2).fit(df)
    np.testing.assert_array_equal(a.vectors_["all"].matrix, b.vectors_["all"].matrix)
    assert [h["valid_loss"] for h in a.history_] == [h["valid_loss"] for h in b.history_]


def test_bpr_negatives_avoid_the_users_items(threads):
    threads(2)
    df = interactions(n_items=400, n=1200)[["user_id", "item_id"]].drop_duplicates()  # ~20 of 400 items a user
    m = ImplicitRecommender(dim=4, epochs=2, loss="bpr").fit(df)
    assert m.trainer_.unrejected == 0


def test_a_loss_that_grows_tenfold_warns_of_divergence():
    with pytest.warns(RuntimeWarning, match="diverged.*lower lr"):
        warn_if_diverged([{"train_loss": 0.69}, {"train_loss": 3.0}, {"train_loss": 33.2}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_diverged([{"train_loss": 0.69}, {"train_loss": 0.2}])  # learning: no warning
        warn_if_diverged([{"train_loss": 0.69}])


def test_bpr_takes_a_smaller_default_rate_with_fewer_than_four_negatives():
    # the gradient is a mean over the negatives: 0.4 with one negative diverged on ML-100K (loss 33)
    assert ImplicitRecommender(loss="bpr")._lr() == 0.4
    assert ImplicitRecommender(loss="bpr", negatives=1)._lr() == 0.2
    assert ImplicitRecommender(loss="bpr", negatives=8)._lr() == 0.4
    assert ImplicitRecommender(loss="bpr", negatives=1, lr=0.7)._lr() == 0.7
