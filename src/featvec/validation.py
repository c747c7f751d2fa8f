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
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise ValueError(f"{what}: column name {plain(dup[0])!r} appears more than once; rename or drop the duplicates")
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


def json_value(value):
    """``plain(value)``, with a missing or non-finite one (NaN, inf, pd.NA, NaT) as None: a JSON cell."""
    value = plain(value)
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value


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


# ---- ids and categorical values: one check for every model and side table

_KINDS = {"integer": "number", "floating": "number", "mixed-integer-float": "number", "decimal": "number",
          "complex": "number", "boolean": "bool", "string": "str", "bytes": "bytes"}
_PLURAL = {"number": "numbers", "str": "strings", "bool": "booleans", "bytes": "bytes"}


def value_kind(v) -> str:
    """What kind of id one value is: number, bool, str, bytes, or its type's name."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, numbers.Number):
        return "number"
    return "str" if isinstance(v, str) else "bytes" if isinstance(v, bytes) else type(v).__name__


def values_kind(values) -> str | None:
    """The one kind of all the values ("mixed" when they differ; None for no values)."""
    t = pd.api.types.infer_dtype(values, skipna=True)
    if t == "empty":
        return None
    if t in _KINDS:
        return _KINDS[t]
    return "mixed" if t.startswith("mixed") else t


def bad_cell(values: list, mixed_ok: bool = False) -> tuple[int, str] | None:
    """The first value that is not a single value of the column's one kind (numbers and bools never mix:
    True == 1 would merge them), as (position, what is wrong), or None."""
    first = None
    for pos, v in enumerate(values):
        if isinstance(v, (list, tuple, dict, set, np.ndarray, pd.Series)):
            return pos, f"holds a {type(v).__name__} ({str(v)[:60]}), not a single value"
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pos, "holds a missing value (None/NaN)"
        k = value_kind(v)
        if first is None:
            first = (pos, v, k)
        elif k != first[2] and not (mixed_ok and "bool" not in (k, first[2])):
            return pos, (f"holds {v!r} ({k}) while earlier values are of kind {first[2]} (like {first[1]!r}): mixed "
                         f"kinds in one column; convert it to one type (e.g. .astype(str)) so that equal-looking "
                         f"values are not merged or told apart by accident")
    return None


def check_values(df: pd.DataFrame, column: str, what: str = "data", mixed_ok: bool = False) -> pd.Series:
    """A column of ids or categories, checked and normalised: no missing or infinite value, no list/dict
    cells, one kind of value (``mixed_ok``: numbers and strings may mix, bools never); a pandas categorical
    becomes its plain values, so that categories no row uses are not ids."""
    s = df[column]
    if isinstance(s, pd.DataFrame):
        raise ValueError(f"{what}: column name {column!r} appears {s.shape[1]} times; rename the duplicates")
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = pd.Series(np.asarray(s), index=s.index, name=s.name)
        df = df.assign(**{column: s})
    check_no_missing(df, column, what)
    kind = values_kind(s)
    if s.dtype.kind in "fc" or (kind == "number" and s.dtype == object):  # integer dtypes hold no inf
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64) if s.dtype.kind != "f" else s.to_numpy()
        bad = np.isinf(x)
        if bad.any():
            pos, label = _first_bad(df, bad)
            raise ValueError(f"{what}: column {column!r} holds an infinite value at row {pos} (index {label!r}): "
                             f"{plain(x[pos])!r}")
    elif kind not in ("str", "bool", "bytes") and s.dtype == object:
        bad = bad_cell(s.tolist(), mixed_ok)
        if bad:
            raise ValueError(f"{what}: column {column!r} row {bad[0]} (index {plain(s.index[bad[0]])!r}) {bad[1]}")
    return s


def with_values(df: pd.DataFrame, columns, what: str = "data", mixed_ok: bool = False) -> pd.DataFrame:
    """``df`` with each of ``columns`` checked by ``check_values`` (a copy only where one changed)."""
    out = df
    for c in columns:
        s = check_values(out, c, what, mixed_ok)
        if isinstance(out[c].dtype, pd.CategoricalDtype):  # the one normalisation check_values makes
            out = out.assign(**{c: s})
    return out


def check_kind(known: str | None, values, column: str, what: str, known_as: str = "the model was trained on",
               strict: bool = True) -> None:
    """Refuse values of another kind than those the model learned (``'1'`` for int ids would all be unknown).
    ``strict=False`` (categorical features) lets a mix of kinds through: some values are then merely unseen."""
    given = values_kind(values)
    if known in (None, "mixed") or given is None or given == known or (given == "mixed" and not strict):
        return
    sample = next((v for v in (values.tolist() if hasattr(values, "tolist") else list(values))
                   if value_kind(v) != known), None)
    plural = _PLURAL.get(known, known + " values")
    got = value_kind(sample) if sample is not None else given
    raise ValueError(f"{what}: {column!r} values must be {plural} like the ones {known_as}, got {sample!r} ({got}); "
                     f"convert them (e.g. .astype(int) or .astype(str))")
