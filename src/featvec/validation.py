"""Input checks that name the column, the row and the value, before anything reaches torch."""
from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np
import pandas as pd


def check_frame(df, what: str = "data") -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError(f"{what} is empty: it has no rows")
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str = "data") -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; it has {list(df.columns)[:20]}"
        )


def plain(value):
    """A numpy scalar as the Python value, so messages read 10 / nan, not np.int64(10) / np.float64(nan)."""
    return value.item() if isinstance(value, np.generic) else value


def _first_bad(df: pd.DataFrame, mask: np.ndarray) -> tuple[int, object]:
    pos = int(np.flatnonzero(mask)[0])
    return pos, plain(df.index[pos])


def check_no_missing(df: pd.DataFrame, column: str, what: str = "data") -> None:
    mask = df[column].isna().to_numpy()
    if mask.any():
        pos, label = _first_bad(df, mask)
        raise ValueError(
            f"{what}: column {column!r} has {int(mask.sum())} missing value(s) (NaN/None); "
            f"first at row {pos} (index {label!r})"
        )


def numeric_values(df: pd.DataFrame, column: str, what: str = "data", allow_nan: bool = False) -> np.ndarray:
    """The column as float64, or a ValueError naming the first value that is not a number."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = (conv.isna() & s.notna()).to_numpy()
        if bad.any() or not pd.api.types.is_numeric_dtype(s):
            if bad.any():
                pos, label = _first_bad(df, bad)
                raise ValueError(
                    f"{what}: column {column!r} must be numeric, but row {pos} (index {label!r}) "
                    f"holds {s.iloc[pos]!r} (dtype {s.dtype})"
                )
        s = conv
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        pos, label = _first_bad(df, bad)
        raise ValueError(
            f"{what}: column {column!r} has {'an infinite' if allow_nan else 'a missing or infinite'} value at "
            f"row {pos} (index {label!r}): {plain(values[pos])!r}"
        )
    return values


def as_names(x) -> list[str]:
    """A name or several as a list (None: none)."""
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def id_list(ids) -> list:
    """One id or a sequence of ids, as a list."""
    return list(ids) if not (np.isscalar(ids) or isinstance(ids, str)) else [ids]


def check_k(k, what: str = "k") -> int:
    """``k`` (how many results) as an int, or a ValueError: a whole number >= 1 (not a bool, a float or NaN)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {k!r}")
    return int(k)
