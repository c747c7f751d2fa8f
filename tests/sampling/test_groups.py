"""Feat2vec's negative sampler (featvec.sampling.groups): which unit is corrupted, which value it gets, tied
groups, the noise probabilities q and q_pos, rejection of observed records, seeding, numeric and bag groups."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from featvec.sampling.groups import GroupSampler, unit_codes, value_codes
from featvec.encoding import EncodedBag, take


def cat(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.int64))


def within_binomial(freq: float, p: float, n: int, z: float = 5.0) -> bool:
    """|freq - p| within z binomial standard deviations (plus a hair for p = 0 or 1)."""
    return abs(freq - p) <= z * np.sqrt(p * (1 - p) / n) + 1e-9


def by_hand_value_p(column, value_alpha: float, value_bias: float) -> dict:
    """p(v) ∝ (count(v) + value_bias) ** value_alpha over the distinct values of a categorical column."""
    counts = Counter(np.asarray(column).tolist())
    raw = {v: (c + value_bias) ** value_alpha for v, c in counts.items()}
    total = sum(raw.values())
    return {v: r / total for v, r in raw.items()}


def values_of(inputs: dict, name: str, rows: np.ndarray) -> list:
    """The values (hashable) of group ``name`` at training rows ``rows``."""
    x = take(inputs[name], torch.as_tensor(rows, dtype=torch.long))
    if isinstance(x, EncodedBag):
        ptr = x.indptr.tolist()
        return [tuple(x.indices[s:e].tolist()) for s, e in zip(ptr[:-1], ptr[1:])]
    if x.ndim == 2:
        return [tuple(r) for r in x.tolist()]
    return x.tolist()


def records(inputs: dict, take_rows: dict, names) -> list[tuple]:
    cols = [values_of(inputs, n, take_rows[n]) for n in names]
    return list(zip(*cols))


# ---------------------------------------------------------------- codes


def test_value_codes_and_unit_codes():
    a = cat([3, 1, 3, 2])
    codes = value_codes(a)
    assert codes.dtype == np.int64 and codes.tolist() == [2, 0, 2, 1]
    x = torch.tensor([[0.5, 1.0], [0.5, 1.0], [0.5, 2.0]])
    assert value_codes(x).tolist() == [0, 0, 1]
    bag = EncodedBag.from_lists([[1, 2], [2, 1], [1, 2], []])
    c = value_codes(bag)
    assert c[0] == c[2] and len({c[0], c[1], c[3]}) == 3
    u = unit_codes({"a": cat([1, 1, 2, 2]), "b": cat([5, 6, 5, 5])}, ["a", "b"])
    assert u[2] == u[3] and len(set(u.tolist())) == 3 and sorted(set(u.tolist())) == [0, 1, 2]


# ---------------------------------------------------------------- which unit


def test_unit_frequencies_follow_weight_power_group_alpha():
    rng = np.random.default_rng(0)
    inputs = {"a": cat(rng.integers(0, 5, 50)), "b": cat(rng.integers(0, 5, 50))}
    s = GroupSampler(inputs, [["a"], ["b"]], [100.0, 1.0], group_alpha=0.5, reject_observed=False, seed=0)
    np.testing.assert_allclose(s.unit_p, [10 / 11, 1 / 11], rtol=1e-12)
    n_per, rows = 400, np.arange(50)
    out = s.sample(rows, n_per)
    n = len(rows) * n_per
    assert out["unit"].shape == (n,)
    freq = float((out["unit"] == 0).mean())
    assert within_binomial(freq, 10 / 11, n), freq
    # group_alpha = 1: proportional to the weights; 0: uniform over the units
    s1 = GroupSampler(inputs, [["a"], ["b"]], [3.0, 1.0], group_alpha=1.0, reject_observed=False)
    np.testing.assert_allclose(s1.unit_p, [0.75, 0.25], rtol=1e-12)
    s0 = GroupSampler(inputs, [["a"], ["b"]], [100.0, 1.0], group_alpha=0.0, reject_observed=False)
    np.testing.assert_allclose(s0.unit_p, [0.5, 0.5], rtol=1e-12)


def test_a_unit_with_one_distinct_value_is_never_picked():
    rng = np.random.default_rng(1)
    inputs = {"a": cat(rng.integers(0, 4, 40)), "const": cat(np.full(40, 7)), "b": cat(rng.integers(0, 3, 40))}
    s = GroupSampler(inputs, [["a"], ["const"], ["b"]], [1.0, 1000.0, 4.0], group_alpha=0.5, seed=0)
    assert s.unit_p[1] == 0.0
    np.testing.assert_allclose(s.unit_p, [1 / 3, 0.0, 2 / 3], rtol=1e-12)
    out = s.sample(np.arange(40), 200)
    assert not (out["unit"] == 1).any()
    np.testing.assert_array_equal(out["take"]["const"], out["src"])  # never moved


def test_error_when_no_unit_has_two_values():
    inputs = {"a": cat([1, 1, 1]), "b": cat([2, 2, 2])}
    with pytest.raises(ValueError, match="two or more distinct values"):
        GroupSampler(inputs, [["a"], ["b"]], [1.0, 1.0])
    with pytest.raises(ValueError, match="one weight per unit"):
        GroupSampler({"a": cat([1, 2])}, [["a"]], [1.0, 2.0])
    with pytest.raises(ValueError, match="value_bias"):
        GroupSampler({"a": cat([1, 2])}, [["a"]], [1.0], value_bias=-1.0)


# ---------------------------------------------------------------- which value


@pytest.mark.parametrize("value_alpha, value_bias", [(0.25, 10.0), (1.0, 0.0), (0.5, 2.0)])
def test_value_frequencies_follow_flattened_counts(value_alpha, value_bias):
    column = [4] * 12 + [9] * 5 + [2] * 2 + [7]  # counts 12, 5, 2, 1
    inputs = {"a": cat(column)}
    s = GroupSampler(inputs, [["a"]], [1.0], value_alpha=value_alpha, value_bias=value_bias,
                     reject_observed=False, seed=3)
    expected = by_hand_value_p(column, value_alpha, value_bias)
    # the sampler's own table, in value-code order (sorted values)
    np.testing.assert_allclose(s.value_p[0], [expected[v] for v in sorted(expected)], rtol=1e-12)
    out = s.sample(np.arange(len(column)), 3000)
    drawn = values_of(inputs, "a", out["take"]["a"])
    n = len(drawn)
    counts = Counter(drawn)
    for v, p in expected.items():
        assert within_binomial(counts[v] / n, p, n), (v, counts[v] / n, p)


def test_value_alpha_zero_is_uniform_over_distinct_values():
    column = [1] * 30 + [2] * 3 + [3]
    inputs = {"a": cat(column)}
    s = GroupSampler(inputs, [["a"]], [1.0], value_alpha=0.0, reject_observed=False, seed=0)
    np.testing.assert_allclose(s.value_p[0], [1 / 3] * 3, rtol=1e-12)
    out = s.sample(np.arange(len(column)), 1000)
    drawn = Counter(values_of(inputs, "a", out["take"]["a"]))
    n = sum(drawn.values())
    for v in (1, 2, 3):
        assert within_binomial(drawn[v] / n, 1 / 3, n), drawn


# ---------------------------------------------------------------- ties


def tie_inputs():
    makes = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    models = [10, 11, 10, 20, 21, 30, 30, 31, 40, 40]  # a model belongs to one make
    colors = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    return {"make": cat(makes), "model": cat(models), "color": cat(colors)}


def test_tied_groups_are_resampled_together():
    inputs = tie_inputs()
    seen_pairs = set(zip(inputs["make"].tolist(), inputs["model"].tolist()))
    s = GroupSampler(inputs, [["make", "model"], ["color"]], [10.0, 3.0], reject_observed=False, seed=0)
    assert s.units == [["make", "model"], ["color"]]
    out = s.sample(np.arange(10), 500)
    take_rows, src, unit = out["take"], out["src"], out["unit"]
    np.testing.assert_array_equal(take_rows["make"], take_rows["model"])
    pairs = records(inputs, take_rows, ["make", "model"])
    assert set(pairs) <= seen_pairs
    # when the tie is corrupted the pair moves (sometimes) and the colour stays the source's
    tie = unit == 0
    assert tie.any() and (~tie).any()
    np.testing.assert_array_equal(take_rows["color"][tie], src[tie])
    src_pairs = records(inputs, {"make": src, "model": src}, ["make", "model"])
    assert any(p != q for p, q, t in zip(pairs, src_pairs, tie) if t)
    # when the colour is corrupted, make and model are the source's
    np.testing.assert_array_equal(take_rows["make"][~tie], src[~tie])
    np.testing.assert_array_equal(take_rows["model"][~tie], src[~tie])


def test_a_tie_has_one_value_per_distinct_combination():
    inputs = tie_inputs()
    s = GroupSampler(inputs, [["make", "model"], ["color"]], [1.0, 1.0], value_alpha=1.0, value_bias=0.0,
                     reject_observed=False)
    # distinct (make, model) pairs and their counts: (0,10) x2, (0,11), (1,20), (1,21), (2,30) x2, (2,31), (3,40) x2
    assert len(s.value_p[0]) == 7
    np.testing.assert_allclose(sorted(s.value_p[0]), sorted(np.array([2, 1, 1, 1, 2, 1, 2]) / 10), rtol=1e-12)


# ---------------------------------------------------------------- noise probabilities


def test_q_and_q_pos_by_hand():
    a = [1, 1, 1, 2, 2, 3]
    b = [5, 6, 5, 6, 5, 5]
    inputs = {"a": cat(a), "b": cat(b)}
    wa, wb, alpha, va, vb = 9.0, 4.0, 0.5, 0.5, 3.0
    s = GroupSampler(inputs, [["a"], ["b"]], [wa, wb], group_alpha=alpha, value_alpha=va, value_bias=vb,
                     reject_observed=False, seed=0)
    P = np.array([wa ** alpha, wb ** alpha])
    P = P / P.sum()  # [3/5, 2/5]
    np.testing.assert_allclose(P, [0.6, 0.4])
    pa, pb = by_hand_value_p(a, va, vb), by_hand_value_p(b, va, vb)
    rows = np.arange(len(a))
    out = s.sample(rows, 50)
    assert out["q"].dtype == torch.float32 and out["q"].shape == (len(rows) * 50,)
    new_a = values_of(inputs, "a", out["take"]["a"])
    new_b = values_of(inputs, "b", out["take"]["b"])
    expected_q = [P[0] * pa[x] if u == 0 else P[1] * pb[y] for u, x, y in zip(out["unit"], new_a, new_b)]
    np.testing.assert_allclose(out["q"].numpy(), expected_q, rtol=1e-6)
    expected_pos = [P[0] * pa[x] + P[1] * pb[y] for x, y in zip(a, b)]
    np.testing.assert_allclose(out["q_pos"].numpy(), expected_pos, rtol=1e-6)
    sub = s.sample(np.array([5, 0, 3]), 2)
    np.testing.assert_allclose(sub["q_pos"].numpy(), np.array(expected_pos)[[5, 0, 3]], rtol=1e-6)
    np.testing.assert_array_equal(sub["src"], [5, 5, 0, 0, 3, 3])


def test_q_of_a_tie_uses_the_combination_counts():
    inputs = tie_inputs()
    s = GroupSampler(inputs, [["make", "model"], ["color"]], [16.0, 9.0], group_alpha=0.5, value_alpha=1.0,
                     value_bias=0.0, reject_observed=False, seed=2)
    P = [4 / 7, 3 / 7]
    pairs = list(zip(inputs["make"].tolist(), inputs["model"].tolist()))
    p_pair = {k: v / 10 for k, v in Counter(pairs).items()}
    p_color = {k: v / 10 for k, v in Counter(inputs["color"].tolist()).items()}
    out = s.sample(np.arange(10), 30)
    new_pair = records(inputs, out["take"], ["make", "model"])
    new_color = values_of(inputs, "color", out["take"]["color"])
    expected = [P[0] * p_pair[pr] if u == 0 else P[1] * p_color[c] for u, pr, c in zip(out["unit"], new_pair, new_color)]
    np.testing.assert_allclose(out["q"].numpy(), expected, rtol=1e-6)
    expected_pos = [P[0] * p_pair[pr] + P[1] * p_color[c] for pr, c in zip(pairs, inputs["color"].tolist())]
    np.testing.assert_allclose(out["q_pos"].numpy(), expected_pos, rtol=1e-6)


# ---------------------------------------------------------------- rejecting observed records


def sparse_records(n: int = 40, seed: int = 0) -> dict:
    """Three groups of 8 values each: 40 records out of 512 combinations, so most corruptions are new."""
    rng = np.random.default_rng(seed)
    return {k: cat(rng.integers(0, 8, n)) for k in ("a", "b", "c")}


def test_reject_observed_never_returns_an_observed_record():
    inputs = sparse_records()
    names = ["a", "b", "c"]
    observed = set(records(inputs, {n: np.arange(40) for n in names}, names))
    s = GroupSampler(inputs, [["a"], ["b"], ["c"]], [1.0, 1.0, 1.0], reject_observed=True, seed=0, max_tries=50)
    out = s.sample(np.arange(40), 100)
    negs = records(inputs, out["take"], names)
    assert not set(negs) & observed
    # without rejection, observed records come up (at least the records themselves, value redrawn unchanged)
    raw = GroupSampler(inputs, [["a"], ["b"], ["c"]], [1.0, 1.0, 1.0], reject_observed=False, seed=0)
    out = raw.sample(np.arange(40), 100)
    assert set(records(inputs, out["take"], names)) & observed


def test_reject_observed_with_a_tie():
    inputs = tie_inputs()
    names = ["make", "model", "color"]
    observed = set(records(inputs, {n: np.arange(10) for n in names}, names))
    s = GroupSampler(inputs, [["make", "model"], ["color"]], [1.0, 1.0], reject_observed=True, seed=1,
                     max_tries=100)
    out = s.sample(np.arange(10), 50)
    assert not set(records(inputs, out["take"], names)) & observed


# ---------------------------------------------------------------- seeding


def test_same_seed_same_draws_different_seed_differs():
    inputs = sparse_records()
    units, w = [["a"], ["b", "c"]], [2.0, 5.0]
    a = GroupSampler(inputs, units, w, seed=11)
    b = GroupSampler(inputs, units, w, seed=11)
    c = GroupSampler(inputs, units, w, seed=12)
    rows = np.arange(40)
    for _ in range(2):  # the streams stay in step over several calls
        x, y, z = a.sample(rows, 20), b.sample(rows, 20), c.sample(rows, 20)
        for key in ("src", "unit", "value"):
            np.testing.assert_array_equal(x[key], y[key])
        for g in ("a", "b", "c"):
            np.testing.assert_array_equal(x["take"][g], y["take"][g])
        assert torch.equal(x["q"], y["q"]) and torch.equal(x["q_pos"], y["q_pos"])
        assert not (np.array_equal(x["unit"], z["unit"]) and np.array_equal(x["value"], z["value"]))


# ---------------------------------------------------------------- numeric and bag groups


def test_numeric_group_values_are_training_rows():
    rows = [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [2.5, -1.0], [2.5, -1.0], [9.0, 9.0]]
    x = torch.tensor(rows, dtype=torch.float32)
    inputs = {"num": x, "c": cat([1, 2, 1, 2, 1, 2])}
    s = GroupSampler(inputs, [["num"], ["c"]], [6.0, 6.0], value_alpha=1.0, value_bias=1.0,
                     reject_observed=False, seed=0)
    # distinct rows with counts 3, 2, 1 -> (count + 1) / 9
    assert len(s.value_p[0]) == 3
    np.testing.assert_allclose(sorted(s.value_p[0]), [2 / 9, 3 / 9, 4 / 9], rtol=1e-12)
    out = s.sample(np.arange(6), 2000)
    new = values_of(inputs, "num", out["take"]["num"])
    assert set(new) <= {tuple(r) for r in rows}
    moved = out["unit"] == 0
    counts = Counter(v for v, m in zip(new, moved) if m)
    n = int(moved.sum())
    for r, p in [((0.0, 1.0), 4 / 9), ((2.5, -1.0), 3 / 9), ((9.0, 9.0), 2 / 9)]:
        assert within_binomial(counts[r] / n, p, n), (r, counts[r] / n, p)
    by_row = {(0.0, 1.0): 4 / 9, (2.5, -1.0): 3 / 9, (9.0, 9.0): 2 / 9}
    p_c = by_hand_value_p([1, 2, 1, 2, 1, 2], 1.0, 1.0)
    new_c = values_of(inputs, "c", out["take"]["c"])
    expected = [0.5 * (by_row[v] if u == 0 else p_c[c]) for u, v, c in zip(out["unit"], new, new_c)]
    np.testing.assert_allclose(out["q"].numpy(), expected, rtol=1e-6)


def test_bag_group_values_are_training_bags():
    lists = [[1, 2], [3], [1, 2], [], [2, 4, 5], [3]]
    bag = EncodedBag.from_lists(lists)
    inputs = {"genres": bag, "item": cat([10, 11, 10, 12, 13, 14])}
    s = GroupSampler(inputs, [["item", "genres"]], [1.0], value_alpha=1.0, value_bias=0.0,
                     reject_observed=False, seed=0)
    # distinct (item, genres) combinations: (10,[1,2]) x2, (11,[3]), (12,[]), (13,[2,4,5]), (14,[3])
    assert len(s.value_p[0]) == 5
    out = s.sample(np.arange(6), 40)
    items = values_of(inputs, "item", out["take"]["item"])
    genres = values_of(inputs, "genres", out["take"]["genres"])
    own = {10: (1, 2), 11: (3,), 12: (), 13: (2, 4, 5), 14: (3,)}
    assert all(own[i] == g for i, g in zip(items, genres))  # each item comes with its own genres
    assert set(items) == set(own)
    np.testing.assert_allclose(sorted(s.value_p[0]), sorted(np.array([2, 1, 1, 1, 1]) / 6), rtol=1e-12)
    # a bag alone as a unit, next to a categorical group
    s2 = GroupSampler({"genres": bag, "c": cat([0, 1, 0, 1, 0, 1])}, [["genres"], ["c"]], [4.0, 1.0],
                      reject_observed=False, seed=1)
    out2 = s2.sample(np.arange(6), 100)
    drawn = values_of({"genres": bag}, "genres", out2["take"]["genres"])
    assert set(drawn) == {tuple(x) for x in lists}


def test_reject_observed_with_a_tied_bag():
    lists = [[1, 2], [3], [1, 2], [], [2, 4, 5], [3], [4], [1, 5]]
    inputs = {"item": cat([10, 11, 10, 12, 13, 14, 15, 16]), "genres": EncodedBag.from_lists(lists),
              "user": cat([1, 2, 3, 4, 5, 1, 2, 3])}
    names = ["user", "item", "genres"]
    observed = set(records(inputs, {n: np.arange(8) for n in names}, names))
    s = GroupSampler(inputs, [["item", "genres"], ["user"]], [3.0, 1.0], reject_observed=True, seed=0,
                     max_tries=100)
    out = s.sample(np.arange(8), 50)
    negs = records(inputs, out["take"], names)
    assert not set(negs) & observed
    own = dict(zip(inputs["item"].tolist(), map(tuple, lists)))
    assert all(own[i] == g for _, i, g in negs)
