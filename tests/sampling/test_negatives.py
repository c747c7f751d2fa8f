"""Negative samplers (featvec.sampling.negatives): seeding, the unknown row, rejection of positives, popularity
weights, log-probabilities, argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from featvec.sampling.negatives import NegativeSampler, in_batch_log_q


def csr(rows):
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    return indptr, np.array([i for r in rows for i in r], dtype=np.int64)


# ---------------------------------------------------------------- seeding


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_same_seed_same_draws(distribution):
    counts = np.arange(20, dtype=np.float64)
    a = NegativeSampler(20, distribution, counts=counts, seed=7)
    b = NegativeSampler(20, distribution, counts=counts, seed=7)
    for shape in [(5, 3), (100,), (2, 4)]:
        assert torch.equal(a.draw(shape), b.draw(shape))
    users = torch.arange(6)
    assert torch.equal(a.sample(users, 4), b.sample(users, 4))


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_different_seeds_differ(distribution):
    counts = np.arange(50, dtype=np.float64)
    a = NegativeSampler(50, distribution, counts=counts, seed=0).draw((1000,))
    b = NegativeSampler(50, distribution, counts=counts, seed=1).draw((1000,))
    assert not torch.equal(a, b)


def test_draw_shapes_and_dtype():
    s = NegativeSampler(10)
    assert s.draw((3, 4)).shape == (3, 4)
    assert s.draw((7,)).shape == (7,)
    assert s.draw(5).shape == (5,)
    out = s.sample([0, 1, 2], 6)
    assert out.shape == (3, 6) and out.dtype == torch.long


# ---------------------------------------------------------------- range: row 0 is the unknown row


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_never_below_low(distribution):
    n = 12
    counts = np.full(n, 5.0)
    counts[0] = 1e6  # a huge count on the unknown row must not matter
    s = NegativeSampler(n, distribution, counts=counts, beta=1.0, seed=3)
    x = s.draw((20_000,))
    assert int(x.min()) >= 1 and int(x.max()) <= n - 1
    assert set(x.tolist()) == set(range(1, n))
    s = NegativeSampler(n, distribution, counts=counts, low=4, seed=3)
    x = s.draw((20_000,))
    assert int(x.min()) >= 4 and int(x.max()) <= n - 1
    assert float(s.probs[:4].sum()) == 0.0


def test_zero_count_items_never_drawn():
    counts = np.array([0, 3, 0, 1, 0, 2], dtype=np.float64)
    s = NegativeSampler(6, "popularity", counts=counts, beta=1.0, seed=0)
    x = s.draw((50_000,))
    assert set(x.tolist()) == {1, 3, 5}


# ---------------------------------------------------------------- rejecting positives


def test_reject_positives_never_returns_a_positive():
    n_users, n_items = 40, 21  # items 1..20; each user has half of them
    rng = np.random.default_rng(0)
    rows = [sorted(rng.choice(np.arange(1, n_items), 10, replace=False).tolist()) for _ in range(n_users)]
    pos = csr(rows)
    s = NegativeSampler(n_items, positives=pos, seed=0, max_tries=100)
    users = torch.as_tensor(np.repeat(np.arange(n_users), 3))
    neg = s.sample(users, 25)
    assert s.last_unrejected == 0
    for r, u in enumerate(users.tolist()):
        assert not set(neg[r].tolist()) & set(rows[u])
        assert int(neg[r].min()) >= 1
    # without rejection, positives do come up (half the items are positive)
    raw = NegativeSampler(n_items, positives=pos, reject_positives=False, seed=0).sample(users, 25)
    assert any(set(raw[r].tolist()) & set(rows[u]) for r, u in enumerate(users.tolist()))


def test_reject_positives_popularity():
    n_items = 11
    counts = np.arange(n_items, dtype=np.float64)  # item 10 most popular
    rows = [[10, 9, 8], [1, 2, 3, 4, 5], []]
    s = NegativeSampler(n_items, "popularity", counts=counts, beta=1.0, positives=csr([sorted(r) for r in rows]),
                        seed=1, max_tries=100)
    neg = s.sample(torch.tensor([0, 1, 2]), 200)
    assert s.last_unrejected == 0
    for u in range(3):
        assert not set(neg[u].tolist()) & set(rows[u])
    assert 10 in set(neg[2].tolist())


def test_is_positive():
    s = NegativeSampler(6, positives=csr([[1, 4], [], [2, 3, 5]]))
    items = torch.tensor([[1, 2, 4], [1, 2, 4], [1, 2, 5]])
    np.testing.assert_array_equal(s.is_positive(torch.tensor([0, 1, 2]), items).numpy(),
                                  [[True, False, True], [False, False, False], [False, True, True]])
    assert not NegativeSampler(6).is_positive(torch.tensor([0]), torch.tensor([[1, 2]])).any()


def test_user_with_every_item_reports_unrejected():
    s = NegativeSampler(5, positives=csr([[1, 2, 3, 4]]), seed=0, max_tries=3)
    out = s.sample(torch.tensor([0]), 7)
    assert out.shape == (1, 7)
    assert s.last_unrejected == 7


# ---------------------------------------------------------------- distributions


def test_popularity_beta_one_matches_count_frequencies():
    counts = np.array([0, 1, 2, 3, 4, 10, 30, 50], dtype=np.float64)
    s = NegativeSampler(len(counts), "popularity", counts=counts, beta=1.0, seed=0)
    n = 200_000
    freq = np.bincount(s.draw((n,)).numpy(), minlength=len(counts)) / n
    expected = counts / counts.sum()
    np.testing.assert_allclose(s.probs.numpy(), expected, rtol=1e-12)
    # binomial std of a frequency is <= sqrt(0.25 / n) ~ 0.0011: 0.005 is > 4 std
    np.testing.assert_allclose(freq, expected, atol=0.005)


def test_popularity_beta_between():
    counts = np.array([0, 1, 4, 16], dtype=np.float64)
    s = NegativeSampler(4, "popularity", counts=counts, beta=0.5)
    # counts ** 0.5 = [., 1, 2, 4] -> [0, 1/7, 2/7, 4/7]
    np.testing.assert_allclose(s.probs.numpy(), [0, 1 / 7, 2 / 7, 4 / 7], rtol=1e-12)


def test_popularity_beta_zero_is_uniform():
    counts = np.array([0, 1, 0, 3, 100, 7], dtype=np.float64)
    s = NegativeSampler(len(counts), "popularity", counts=counts, beta=0.0, seed=0)
    u = NegativeSampler(len(counts), "uniform", seed=0)
    np.testing.assert_allclose(s.probs.numpy(), [0, 0.2, 0.2, 0.2, 0.2, 0.2], rtol=1e-12)
    np.testing.assert_allclose(s.probs.numpy(), u.probs.numpy())
    n = 200_000
    freq = np.bincount(s.draw((n,)).numpy(), minlength=len(counts)) / n
    np.testing.assert_allclose(freq, s.probs.numpy(), atol=0.005)


def test_uniform_frequencies():
    s = NegativeSampler(9, seed=2)
    n = 200_000
    freq = np.bincount(s.draw((n,)).numpy(), minlength=9) / n
    np.testing.assert_allclose(freq[1:], 1 / 8, atol=0.005)
    assert freq[0] == 0


@pytest.mark.parametrize("distribution, beta", [("uniform", 0.75), ("popularity", 1.0), ("popularity", 0.75)])
def test_log_q_is_log_probs(distribution, beta):
    counts = np.array([9, 1, 2, 3, 5, 8, 13], dtype=np.float64)
    s = NegativeSampler(7, distribution, counts=counts, beta=beta)
    items = torch.tensor([[1, 2, 3], [6, 5, 4]])
    lq = s.log_q(items)
    assert lq.shape == items.shape and lq.dtype == torch.float32
    np.testing.assert_allclose(lq.numpy(), np.log(s.probs.numpy()[items.numpy()]), rtol=1e-6)
    assert torch.exp(s.log_probs[1:].double()).sum().item() == pytest.approx(1.0, rel=1e-6)


# ---------------------------------------------------------------- argument checks


def test_errors():
    with pytest.raises(ValueError, match="distribution must be 'uniform' or 'popularity'"):
        NegativeSampler(10, "zipf")
    with pytest.raises(ValueError, match="needs item counts"):
        NegativeSampler(10, "popularity")
    with pytest.raises(ValueError, match=r"one entry per item \(10\)"):
        NegativeSampler(10, "popularity", counts=np.ones(9))
    with pytest.raises(ValueError, match="non-negative"):
        NegativeSampler(4, "popularity", counts=np.array([1.0, 2.0, -1.0, 3.0]))
    with pytest.raises(ValueError, match="non-negative"):
        NegativeSampler(4, "popularity", counts=np.array([1.0, 2.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match="count 0"):
        NegativeSampler(4, "popularity", counts=np.array([5.0, 0.0, 0.0, 0.0]), beta=1.0)
    with pytest.raises(ValueError, match="at least one item"):
        NegativeSampler(1)


# ---------------------------------------------------------------- in-batch logQ


def test_in_batch_log_q():
    counts = np.array([100, 1, 3, 0, 4])
    lq = in_batch_log_q(counts)
    assert lq.dtype == torch.float32 and lq.shape == (5,)
    # row 0 ignored: shares 1/8, 3/8, 0 (-> 1e-12), 4/8
    np.testing.assert_allclose(lq[[1, 2, 4]].numpy(), np.log([1 / 8, 3 / 8, 4 / 8]), rtol=1e-6)
    assert lq[0].item() == pytest.approx(np.log(1e-12), rel=1e-5)
    assert lq[3].item() == pytest.approx(np.log(1e-12), rel=1e-5)
    # low=0 keeps row 0
    np.testing.assert_allclose(in_batch_log_q([1, 1, 2], low=0).numpy(), np.log([0.25, 0.25, 0.5]), rtol=1e-6)
    # all-zero counts do not divide by zero
    assert torch.isfinite(in_batch_log_q(np.zeros(4))).all()


def test_in_batch_log_q_does_not_modify_its_input():
    counts = np.array([5.0, 1.0, 2.0, 3.0])
    in_batch_log_q(counts)
    np.testing.assert_array_equal(counts, [5.0, 1.0, 2.0, 3.0])
