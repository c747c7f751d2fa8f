"""What the command line reads: tables from files (by extension), ratings with named columns, saved models,
and list cells. The commands import from here; this module imports only the library."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".data": "\t", ".base": "\t", ".test": "\t", ".txt": "\t",
               ".dat": "::"}
_PARQUET = {".parquet", ".pq"}
_COMPRESSION = {".gz", ".bz2", ".xz", ".zip", ".zst"}


def read_table(path, what: str = "table") -> pd.DataFrame:
    """Read a CSV (``,``), TSV / .data / .base / .test (tab), .dat (``::``) or Parquet file, optionally
    compressed (.gz, .bz2, ...). A file whose first line is all numbers is read as headerless."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{what} file not found: {p}")
    if p.is_dir():
        raise ValueError(f"{what} must be a file, but {p} is a folder")
    suffixes = [s.lower() for s in p.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    if ext in _PARQUET:
        try:
            return pd.read_parquet(p)
        except ImportError as exc:
            raise ImportError(f"reading the Parquet {what} file {p} needs pyarrow: pip install 'featvec[parquet]'") from exc
    if ext not in _SEPARATORS:
        raise ValueError(f"cannot tell the format of {what} file {p} from its extension {ext or '(none)'!r}; "
                         f"use one of {', '.join(sorted([*_SEPARATORS, *_PARQUET]))}")
    sep = _SEPARATORS[ext]
    kw = {"sep": sep, "engine": "python"} if len(sep) > 1 else {"sep": sep}
    df = pd.read_csv(p, **kw)
    if len(df.columns) and all(_is_number(c) for c in df.columns):
        df = pd.read_csv(p, header=None, **kw)
        df.attrs["headerless"] = True
    return df


def _is_number(text) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def read_ratings(path, user_col: str, item_col: str, rating_col: str | None, what: str = "ratings") -> pd.DataFrame:
    """A ratings table with the given columns. Headerless files get the names user, item, rating, timestamp
    in that order."""
    from featvec.validation import require_columns

    df = read_table(path, what)
    if df.attrs.get("headerless"):
        names = [user_col, item_col, rating_col or "rating", "timestamp"]
        df.columns = names[:len(df.columns)] + [f"col{k}" for k in range(len(names), len(df.columns))]
    require_columns(df, [c for c in (user_col, item_col, rating_col) if c], f"{what} file {path}")
    return df


def load_model(path):
    """The model saved in folder ``path``."""
    from featvec.io.persistence import load

    return load(Path(path).expanduser())


def split_lists(col: pd.Series, sep: str) -> pd.Series:
    """Each cell as a list: lists kept, missing cells empty, text split on ``sep``."""
    def one(cell):
        if isinstance(cell, (list, tuple, np.ndarray)):
            return list(cell)
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            return []
        text = str(cell).strip()
        return [v for v in text.split(sep) if v] if text else []

    return col.map(one)
