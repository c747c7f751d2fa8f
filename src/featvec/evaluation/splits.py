"""Train/test splits of interaction frames, with exact, documented protocols.

Every function returns (train, test) as row subsets of `df` that keep its index labels.
Unless stated otherwise both are in the original row order.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _check(df: pd.DataFrame, columns: list[str | None], test_frac: float | None = None) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("cannot split an empty frame")
    for col in columns:
        if col is not None and col not in df.columns:
            raise ValueError(f"missing column {col!r}; frame has {list(df.columns)}")
    if test_frac is not None and not 0.0 < test_frac < 1.0:
        raise ValueError(f"test_frac must be in (0, 1), got {test_frac}")


def random_split(df: pd.DataFrame, test_frac: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Uniform random row split.

    perm = numpy.random.default_rng(seed).permutation(len(df)); test = df.iloc[perm[:int(len(df) * test_frac)]]
    (in perm order); train = the other rows in original order.
    """
    _check(df, [], test_frac)
    n = len(df)
    perm = np.random.default_rng(seed).permutation(n)
    k = int(n * test_frac)
    mask = np.ones(n, bool)
    mask[perm[:k]] = False
    return df.iloc[np.flatnonzero(mask)], df.iloc[perm[:k]]


def per_user_split(df: pd.DataFrame, test_frac: float = 0.2, min_count: int = 5, seed: int = 0,
                   user_col: str = "user_id", item_col: str | None = "item_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a fraction of each user's rows.

    rng = numpy.random.default_rng(seed); for each user with >= min_count rows, in ascending user id
    order: idx = that user's row positions in file order, test += rng.choice(idx, ceil(test_frac * len(idx)),
    replace=False). All other rows are train. Then test rows whose user (or item, unless item_col is
    None) never occurs in train are dropped (not moved to train). Both frames are in original row order.
    """
    _check(df, [user_col, item_col], test_frac)
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    users = df[user_col].to_numpy()
    order = np.argsort(users, kind="stable")  # grouped by user ascending, file order within a user
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    ends = np.r_[starts[1:], len(order)]
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(df), bool)
    for s, e in zip(starts, ends):
        n_u = e - s
        if n_u >= min_count:
            is_test[rng.choice(order[s:e], math.ceil(test_frac * n_u), replace=False)] = True
    keep = is_test.copy()
    train_pos = np.flatnonzero(~is_test)
    for col in (user_col, item_col):
        if col is not None:
            values = df[col].to_numpy()
            keep &= np.isin(values, values[train_pos])
    return df.iloc[train_pos], df.iloc[np.flatnonzero(keep)]


def user_holdout(df: pd.DataFrame, test_frac: float = 0.3, seed: int = 0,
                 user_col: str = "user_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out whole users (cold-start users at test time).

    users = sorted unique ids; perm = numpy.random.default_rng(seed).permutation(users);
    n_test = floor(test_frac * n_users + 0.5) (round half up), clipped to [1, n_users - 1];
    test = all rows of the users perm[:n_test], train = all other rows.
    """
    _check(df, [user_col], test_frac)
    users = np.sort(df[user_col].unique())
    if len(users) < 2:
        raise ValueError(f"user_holdout needs at least 2 distinct values in {user_col!r}")
    perm = np.random.default_rng(seed).permutation(users)
    n_test = min(max(int(math.floor(test_frac * len(users) + 0.5)), 1), len(users) - 1)
    is_test = df[user_col].isin(perm[:n_test]).to_numpy()
    return df.iloc[np.flatnonzero(~is_test)], df.iloc[np.flatnonzero(is_test)]


def temporal_split(df: pd.DataFrame, test_frac: float = 0.2,
                   time_col: str = "timestamp") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global time cut: the int(len(df) * test_frac) latest rows are test.

    Rows are ordered by time with a stable sort, so equal times at the cut go to train in file order
    first. Both frames are in original row order.
    """
    _check(df, [time_col], test_frac)
    n = len(df)
    k = int(n * test_frac)
    order = np.argsort(df[time_col].to_numpy(), kind="stable")
    is_test = np.zeros(n, bool)
    is_test[order[n - k:]] = True
    return df.iloc[np.flatnonzero(~is_test)], df.iloc[np.flatnonzero(is_test)]


def leave_last_out(df: pd.DataFrame, n: int = 1, user_col: str = "user_id",
                   time_col: str = "timestamp") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's last n rows by time (ties broken by row order) are test; users with <= n rows stay
    entirely in train. Both frames are in original row order."""
    _check(df, [user_col, time_col])
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    users = df[user_col].to_numpy()
    pos = np.arange(len(df))
    order = np.lexsort((pos, df[time_col].to_numpy(), users))  # by user, then time, then row
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    size = np.repeat(sizes, sizes)
    rank_from_end = np.repeat(starts + sizes, sizes) - 1 - np.arange(len(order))
    is_test = np.zeros(len(df), bool)
    is_test[order] = (rank_from_end < n) & (size > n)
    return df.iloc[np.flatnonzero(~is_test)], df.iloc[np.flatnonzero(is_test)]
