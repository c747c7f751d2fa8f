"""featvec.evaluation.splits: the exact protocol definitions of BENCHMARKS.md (E, I) and the other splits."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featvec.evaluation.splits import leave_last_out, per_user_split, random_split, temporal_split, user_holdout

PROPERTY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def interactions(n: int, n_users: int = 30, n_items: int = 50, seed: int = 0, index=None) -> pd.DataFrame:
    """Rows in 'file order': users not sorted, sparse non-contiguous ids, a 'pos' column = row position."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": rng.integers(0, n_users, n) * 7 + 3,
                       "item_id": rng.integers(0, n_items, n) * 11 + 5,
                       "rating": rng.integers(1, 6, n).astype(float),
                       "timestamp": rng.integers(0, n // 3 + 2, n),  # many ties
                       "pos": np.arange(n)})
    if index is not None:
        df.index = index
    return df


@st.composite
def frames(draw, min_rows=1, max_rows=80):
    n = draw(st.integers(min_rows, max_rows))
    n_users = draw(st.integers(1, 12))
    n_items = draw(st.integers(1, 15))
    seed = draw(st.integers(0, 2**32 - 1))
    df = interactions(n, n_users, n_items, seed)
    # shuffled, non-default index labels: splits must keep them
    labels = np.random.default_rng(seed).permutation(n) * 3 + 100
    df.index = pd.Index(labels, name="row")
    return df


def _partition(df, train, test, complete=True):
    tr, te = train["pos"].to_numpy(), test["pos"].to_numpy()
    assert not set(tr) & set(te)
    assert len(set(tr)) == len(tr) and len(set(te)) == len(te)
    if complete:
        assert sorted(np.r_[tr, te]) == list(range(len(df)))
    # rows are kept whole, with their index labels
    for part in (train, test):
        pd.testing.assert_frame_equal(part, df.iloc[part["pos"].to_numpy()])


def _in_file_order(part):
    assert (np.diff(part["pos"].to_numpy()) > 0).all()


# ---------------------------------------------------------------------------------------- random_split (E)

@pytest.mark.parametrize("n, seed", [(1, 0), (9, 0), (10, 0), (11, 3), (999, 1), (100_000, 0), (100_836, 2)])
def test_random_split_is_protocol_e(n, seed):
    df = pd.DataFrame({"pos": np.arange(n)})
    train, test = random_split(df, test_frac=0.1, seed=seed)
    perm = np.random.default_rng(seed).permutation(n)
    np.testing.assert_array_equal(test["pos"].to_numpy(), perm[: n // 10])  # the test rows, in perm order
    np.testing.assert_array_equal(train["pos"].to_numpy(), np.sort(perm[n // 10:]))  # the rest, in file order


@PROPERTY
@given(frames(), st.integers(0, 2**32 - 1), st.floats(0.01, 0.99))
def test_random_split_partitions(df, seed, frac):
    train, test = random_split(df, test_frac=frac, seed=seed)
    _partition(df, train, test)
    assert len(test) == int(len(df) * frac)
    _in_file_order(train)
    perm = np.random.default_rng(seed).permutation(len(df))
    np.testing.assert_array_equal(test["pos"].to_numpy(), perm[: len(test)])


def test_random_split_seeds():
    df = interactions(500)
    a1, b1 = random_split(df, seed=1)
    a2, b2 = random_split(df, seed=1)
    _, b3 = random_split(df, seed=2)
    pd.testing.assert_frame_equal(b1, b2)
    pd.testing.assert_frame_equal(a1, a2)
    assert not b1.index.equals(b3.index)


# ---------------------------------------------------------------------------------------- per_user_split (I)

def naive_protocol_i(df: pd.DataFrame, seed: int, test_frac: float = 0.2, min_count: int = 5,
                     user_col="user_id", item_col="item_id") -> tuple[list[int], list[int]]:
    """BENCHMARKS.md protocol I, written out as literally as possible: (train positions, test positions)."""
    rng = np.random.default_rng(seed)
    users = df[user_col].tolist()
    test = set()
    for u in sorted(set(users)):  # ascending user id
        idx = [p for p in range(len(df)) if users[p] == u]  # that user's row positions in file order
        if len(idx) >= min_count:
            test.update(int(p) for p in rng.choice(idx, math.ceil(test_frac * len(idx)), replace=False))
    train = [p for p in range(len(df)) if p not in test]
    train_users = {users[p] for p in train}
    items = df[item_col].tolist() if item_col else None
    train_items = {items[p] for p in train} if item_col else None
    kept = [p for p in sorted(test) if users[p] in train_users and (item_col is None or items[p] in train_items)]
    return train, kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_user_split_is_protocol_i(seed):
    df = interactions(2000, n_users=60, n_items=400, seed=seed)  # many items seen once: some test pairs drop
    positives = df[df["rating"] >= 4]
    train, test = per_user_split(positives, test_frac=0.2, min_count=5, seed=seed)
    want_train, want_test = naive_protocol_i(positives, seed)
    assert positives.iloc[want_train].index.equals(train.index)
    assert positives.iloc[want_test].index.equals(test.index)
    assert len(want_test) < sum(1 for p in range(len(positives)) if p not in set(want_train))  # drops happened


@PROPERTY
@given(frames(max_rows=60), st.integers(0, 2**32 - 1), st.sampled_from([0.2, 0.3, 0.5]), st.integers(1, 6),
       st.booleans())
def test_per_user_split_matches_naive(df, seed, frac, min_count, check_items):
    item_col = "item_id" if check_items else None
    train, test = per_user_split(df, test_frac=frac, min_count=min_count, seed=seed, item_col=item_col)
    want_train, want_test = naive_protocol_i(df, seed, frac, min_count, item_col=item_col)
    assert train["pos"].tolist() == want_train
    assert test["pos"].tolist() == want_test
    _partition(df, train, test, complete=False)
    _in_file_order(train)
    _in_file_order(test)
    # rows in neither part are dropped test rows: their user (or item) is absent from train
    dropped = df[~df["pos"].isin(np.r_[train["pos"], test["pos"]])]
    for u, i in zip(dropped["user_id"], dropped["item_id"]):
        assert u not in set(train["user_id"]) or (check_items and i not in set(train["item_id"]))
    assert set(test["user_id"]) <= set(train["user_id"])
    if check_items:
        assert set(test["item_id"]) <= set(train["item_id"])


def test_per_user_split_small_users_stay_in_train():
    df = pd.DataFrame({"user_id": [1] * 4 + [2] * 10, "item_id": list(range(4)) + list(range(10)),
                       "pos": range(14)})
    train, test = per_user_split(df, test_frac=0.2, min_count=5, seed=0, item_col=None)
    assert (train["user_id"] == 1).sum() == 4
    assert len(test) == 2 and set(test["user_id"]) == {2}  # ceil(0.2 * 10)


def test_per_user_split_drops_test_pairs_with_unseen_items():
    """A test pair whose item occurs nowhere in train is dropped, not moved back to train."""
    df = pd.DataFrame({"user_id": [1] * 5 + [2] * 5, "item_id": [1, 2, 3, 4, 99, 1, 2, 3, 4, 5],
                       "pos": range(10)})
    for seed in range(50):
        train, test = per_user_split(df, test_frac=0.2, min_count=5, seed=seed)
        _, kept_all = per_user_split(df, test_frac=0.2, min_count=5, seed=seed, item_col=None)
        if 4 in kept_all["pos"].tolist():  # item 99 was drawn into test
            assert 4 not in train["pos"].tolist() and 4 not in test["pos"].tolist()
            assert 99 not in set(train["item_id"])
            break
    else:
        pytest.fail("no seed drew the row with item 99 into test")


def test_per_user_split_user_columns():
    df = interactions(300).rename(columns={"user_id": "u", "item_id": "i"})
    train, test = per_user_split(df, user_col="u", item_col="i", seed=4)
    want_train, want_test = naive_protocol_i(df, 4, user_col="u", item_col="i")
    assert train["pos"].tolist() == want_train and test["pos"].tolist() == want_test


# ---------------------------------------------------------------------------------------- user_holdout

@pytest.mark.parametrize("n_users, frac, n_test", [(10, 0.3, 3), (10, 0.25, 3), (10, 0.24, 2), (5, 0.3, 2),
                                                   (2, 0.01, 1), (2, 0.99, 1), (4, 0.9, 3)])
def test_user_holdout_counts(n_users, frac, n_test):
    df = pd.DataFrame({"user_id": np.repeat(np.arange(n_users) * 5, 3), "pos": np.arange(3 * n_users)})
    train, test = user_holdout(df, test_frac=frac, seed=0)
    assert test["user_id"].nunique() == n_test
    users = np.sort(df["user_id"].unique())
    want = set(np.random.default_rng(0).permutation(users)[:n_test])
    assert set(test["user_id"]) == want


@PROPERTY
@given(frames(), st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_user_holdout_partitions_by_user(df, seed, frac):
    if df["user_id"].nunique() < 2:
        with pytest.raises(ValueError, match="at least 2 distinct"):
            user_holdout(df, test_frac=frac, seed=seed)
        return
    train, test = user_holdout(df, test_frac=frac, seed=seed)
    _partition(df, train, test)
    _in_file_order(train)
    _in_file_order(test)
    assert not set(train["user_id"]) & set(test["user_id"])
    n_users = df["user_id"].nunique()
    assert test["user_id"].nunique() == min(max(math.floor(frac * n_users + 0.5), 1), n_users - 1)


# ---------------------------------------------------------------------------------------- temporal_split

def test_temporal_split_ties_go_to_train_in_file_order():
    df = pd.DataFrame({"timestamp": [5, 1, 5, 5, 2], "pos": range(5)})
    train, test = temporal_split(df, test_frac=0.4)
    assert test["pos"].tolist() == [2, 3]  # the latest two by a stable sort; row 0 (same time) stays in train
    assert train["pos"].tolist() == [0, 1, 4]


@PROPERTY
@given(frames(), st.floats(0.01, 0.99))
def test_temporal_split_partitions(df, frac):
    train, test = temporal_split(df, test_frac=frac)
    _partition(df, train, test)
    _in_file_order(train)
    _in_file_order(test)
    assert len(test) == int(len(df) * frac)
    if len(test) and len(train):
        assert test["timestamp"].min() >= train["timestamp"].max()
    want = np.argsort(df["timestamp"].to_numpy(), kind="stable")[len(df) - len(test):]
    assert sorted(test["pos"]) == sorted(want)


def test_temporal_split_time_col():
    df = pd.DataFrame({"t": [3, 2, 1], "pos": range(3)})
    train, test = temporal_split(df, test_frac=0.5, time_col="t")
    assert test["pos"].tolist() == [0] and train["pos"].tolist() == [1, 2]


# ---------------------------------------------------------------------------------------- leave_last_out

def test_leave_last_out_semantics():
    df = pd.DataFrame({"user_id": [1, 2, 1, 1, 2, 3, 1],
                       "timestamp": [10, 5, 30, 20, 1, 7, 30],
                       "pos": range(7)})
    train, test = leave_last_out(df)
    # user 1: times 10, 30 (row 2), 20, 30 (row 6): the tie at 30 goes to the later row
    # user 2: the time-5 row is last although it comes first in the file; user 3 has one row: train
    assert test["pos"].tolist() == [1, 6]
    assert train["pos"].tolist() == [0, 2, 3, 4, 5]
    train2, test2 = leave_last_out(df, n=2)
    assert test2["pos"].tolist() == [2, 6]  # user 1's two latest; user 2 has only 2 rows: all train
    _, test3 = leave_last_out(df, n=4)
    assert len(test3) == 0


@PROPERTY
@given(frames(), st.integers(1, 4))
def test_leave_last_out_partitions(df, n):
    train, test = leave_last_out(df, n=n)
    _partition(df, train, test)
    _in_file_order(train)
    _in_file_order(test)
    sizes = df["user_id"].value_counts()
    for u, size in sizes.items():
        tu, ru = test[test["user_id"] == u], train[train["user_id"] == u]
        if size <= n:
            assert len(tu) == 0
            continue
        assert len(tu) == n
        # every held-out row is at least as late as every kept row; on equal times, later in the file
        for t_time, t_pos in zip(tu["timestamp"], tu["pos"]):
            assert ((ru["timestamp"] < t_time) | ((ru["timestamp"] == t_time) & (ru["pos"] < t_pos))).all()


# ---------------------------------------------------------------------------------------- errors

ALL = [lambda df: random_split(df), lambda df: per_user_split(df), lambda df: user_holdout(df),
       lambda df: temporal_split(df), lambda df: leave_last_out(df)]


@pytest.mark.parametrize("split", ALL)
def test_errors_common(split):
    with pytest.raises(ValueError, match="expected a pandas DataFrame, got list"):
        split([[1, 2]])
    with pytest.raises(ValueError, match="cannot split an empty frame"):
        split(interactions(5).iloc[:0])


@pytest.mark.parametrize("split, column", [(per_user_split, "user_id"), (user_holdout, "user_id"),
                                           (temporal_split, "timestamp"), (leave_last_out, "timestamp"),
                                           (leave_last_out, "user_id")])
def test_missing_column(split, column):
    df = interactions(20).drop(columns=[column])
    with pytest.raises(ValueError, match=f"missing column '{column}'; frame has \\['"):
        split(df)


def test_missing_item_column_unless_none():
    df = interactions(50).drop(columns=["item_id"])
    with pytest.raises(ValueError, match="missing column 'item_id'"):
        per_user_split(df)
    per_user_split(df, item_col=None)


@pytest.mark.parametrize("split", [random_split, per_user_split, user_holdout, temporal_split])
@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_test_frac_range(split, frac):
    with pytest.raises(ValueError, match=r"test_frac must be in \(0, 1\)"):
        split(interactions(20), test_frac=frac)


def test_other_argument_errors():
    df = interactions(20)
    with pytest.raises(ValueError, match="min_count must be >= 1, got 0"):
        per_user_split(df, min_count=0)
    for n in (0, -1, 1.5):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            leave_last_out(df, n=n)
    with pytest.raises(ValueError, match="at least 2 distinct values in 'user_id'"):
        user_holdout(df.assign(user_id=1))
