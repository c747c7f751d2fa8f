"""Loaders for the GroupLens MovieLens datasets (100K, 1M, 10M, 20M, latest, latest-small)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BASE_URL = "https://files.grouplens.org/datasets/movielens"
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]

# name -> (format, folder names to try, zip file name)
_DATASETS = {
    "ml-100k": ("100k", ["ml-100k"], "ml-100k.zip"),
    "ml-1m": ("1m", ["ml-1m"], "ml-1m.zip"),
    "ml-1m-partial": ("1m", ["ml-1m-partial"], None),
    "ml-10m": ("dat", ["ml-10m", "ml-10M100K"], "ml-10m.zip"),
    "ml-20m": ("csv", ["ml-20m"], "ml-20m.zip"),
    "ml-latest": ("csv", ["ml-latest"], "ml-latest.zip"),
    "ml-latest-small": ("csv", ["ml-latest-small"], "ml-latest-small.zip"),
}

_FILES = {
    "100k": {"ratings": "u.data", "users": "u.user", "items": "u.item"},
    "1m": {"ratings": "ratings.dat", "users": "users.dat", "items": "movies.dat"},
    "dat": {"ratings": "ratings.dat", "items": "movies.dat"},
    "csv": {"ratings": "ratings.csv", "items": "movies.csv"},
}

GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
               "War", "Western"]

# Occupation codes of users.dat, from the ml-1m README.
OCCUPATIONS_1M = {
    0: "other", 1: "academic/educator", 2: "artist", 3: "clerical/admin", 4: "college/grad student",
    5: "customer service", 6: "doctor/health care", 7: "executive/managerial", 8: "farmer", 9: "homemaker",
    10: "K-12 student", 11: "lawyer", 12: "programmer", 13: "retired", 14: "sales/marketing", 15: "scientist",
    16: "self-employed", 17: "technician/engineer", 18: "tradesman/craftsman", 19: "unemployed", 20: "writer",
}

AGE_BUCKETS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")  # ML-1M's age groups


def age_bucket(age) -> np.ndarray:
    """ML-1M's seven age groups (``AGE_BUCKETS``) for ages in years (ML-100K gives exact ages)."""
    a = np.asarray(age, dtype=np.float64)
    if np.isnan(a).any():
        raise ValueError("age_bucket: ages must not be missing")
    edges = np.array([18, 25, 35, 45, 50, 56])
    return np.asarray(AGE_BUCKETS, dtype=object)[np.searchsorted(edges, a, side="right")]


_YEAR = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*\d{4})?\)")


@dataclass
class MovieLens:
    """A loaded MovieLens dataset. `users` is None for formats without user data."""

    name: str
    ratings: pd.DataFrame
    users: pd.DataFrame | None
    items: pd.DataFrame
    path: Path | None = None

    def __repr__(self) -> str:
        n_users = None if self.users is None else len(self.users)
        return (f"MovieLens(name={self.name!r}, ratings={len(self.ratings)}, users={n_users}, "
                f"items={len(self.items)})")


def default_data_dir() -> Path:
    """FEATVEC_DATA if set, else ~/.featvec/data."""
    env = os.environ.get("FEATVEC_DATA")
    return Path(env).expanduser() if env else Path.home() / ".featvec" / "data"


def find_data_dir() -> Path | None:
    """First existing of $FEATVEC_DATA, <repo>/../shared/data, <cwd>/../shared/data; else None."""
    candidates = []
    env = os.environ.get("FEATVEC_DATA")
    if env:
        candidates.append(Path(env).expanduser())
    here = Path(__file__).resolve()
    if len(here.parents) > 3:  # <repo>/src/featvec/datasets/movielens.py
        candidates.append(here.parents[3].parent / "shared" / "data")
    candidates.append(Path.cwd().resolve().parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def load_movielens(name: str, data_dir: str | os.PathLike | None = None, download: bool = False, *,
                   path: str | os.PathLike | None = None, require_ratings: bool = True) -> MovieLens:
    """Load a MovieLens dataset by name ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-latest", "ml-latest-small").

    The folder is `path` if given, else data_dir/<name> with data_dir = argument, $FEATVEC_DATA or
    ~/.featvec/data. "ml-1m-partial" reads a 1M folder of that name. With require_ratings=False a
    missing ratings file gives an empty ratings frame instead of an error.
    """
    if name not in _DATASETS:
        raise ValueError(f"unknown MovieLens dataset {name!r}; expected one of {sorted(_DATASETS)}")
    fmt, folders, zip_name = _DATASETS[name]
    files = _FILES[fmt]
    needed = [f for key, f in files.items() if key != "ratings" or require_ratings]

    if path is not None:
        folder = Path(path).expanduser()
        looked = [folder]
    else:
        root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        looked = [root / f for f in folders]
        # a complete folder, else the first that exists (so the error names what is really missing)
        folder = next((f for f in looked if _missing(f, needed) == []),
                      next((f for f in looked if f.is_dir()), looked[0]))
        if _missing(folder, needed) and download:
            if zip_name is None:
                raise ValueError(f"{name!r} cannot be downloaded; use 'ml-1m'")
            folder = _download(name, zip_name, root)

    missing = _missing(folder, needed)
    if missing:
        raise DatasetNotFoundError(name, missing, looked, folders[0], missing == [files["ratings"]])

    readers = {"100k": _load_100k, "1m": _load_1m, "dat": _load_dat, "csv": _load_csv}
    ratings, users, items = readers[fmt](folder)
    return MovieLens(name=name, ratings=ratings, users=users, items=items, path=folder)


class DatasetNotFoundError(FileNotFoundError):
    """A MovieLens dataset whose files are not where featvec looked: ``name``, the ``missing`` file names, the
    folders ``looked`` in and the ``folder`` name expected under a data directory; the message speaks Python
    (data_dir=, download=True), the command line words its own from the attributes."""

    def __init__(self, name: str, missing: list[str], looked: list[Path], folder: str, only_ratings: bool = False):
        self.name, self.missing, self.looked, self.folder = name, list(missing), list(looked), folder
        hint = " (or require_ratings=False to load users and items only)" if only_ratings else ""
        super().__init__(
            f"MovieLens {name!r}: missing {', '.join(missing)} in {self.where}. Pass data_dir= (the folder holding "
            f"{folder}/) or path= (the dataset folder), set FEATVEC_DATA, or use download=True{hint}.")

    @property
    def where(self) -> str:
        return ", ".join(str(p) for p in self.looked)


def _missing(folder: Path, names: list[str]) -> list[str]:
    return [n for n in names if not (folder / n).is_file()]


# ---------------------------------------------------------------------------- download

def _download(name: str, zip_name: str, root: Path) -> Path:
    """Fetch <BASE_URL>/<zip_name> into root and extract it; returns the dataset folder."""
    url = f"{BASE_URL}/{zip_name}"
    root.mkdir(parents=True, exist_ok=True)
    zip_path = root / zip_name
    if not zip_path.is_file():
        part = root / (zip_name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(part, "wb") as out:
                shutil.copyfileobj(resp, out)
        except (urllib.error.URLError, OSError) as e:
            part.unlink(missing_ok=True)
            raise ConnectionError(f"could not download {url} ({e}); check the network, or fetch the zip by hand "
                                  f"and extract it into {root}") from e
        os.replace(part, zip_path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():
                target = (tmp / member).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise ValueError(f"unsafe path {member!r} in {zip_path}")
            zf.extractall(tmp)
        tops = [p for p in tmp.iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise ValueError(f"{zip_path}: expected one top-level folder, found {[p.name for p in tops]}")
        dest = root / tops[0].name
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tops[0], dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------------------- parsing helpers

def _year(titles: pd.Series) -> pd.Series:
    """Last "(1995)" (or "(2006-2007)") in each title, as nullable Int64."""
    def one(t):
        found = _YEAR.findall(t) if isinstance(t, str) else []
        return int(found[-1]) if found else pd.NA
    return pd.Series([one(t) for t in titles], index=titles.index, dtype="Int64")


def _split_genres(s: pd.Series) -> list[list[str]]:
    out = []
    for g in s:
        if not isinstance(g, str) or g in ("", "(no genres listed)"):
            out.append([])
        else:
            out.append(g.split("|"))
    return out


def _read_text(path: Path, encoding: str | None) -> str:
    data = path.read_bytes()
    if encoding is not None:
        return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_lines(path: Path, sep: str, n_fields: int, encoding: str | None,
                 title: bool = False) -> list[list[str]]:
    """Split a small text file into rows of n_fields; with title=True field 1 may contain the separator."""
    rows = []
    for i, line in enumerate(_read_text(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if title and len(parts) > n_fields:
            k = len(parts) - n_fields + 1
            parts = parts[:1] + [sep.join(parts[1:1 + k])] + parts[1 + k:]
        if len(parts) != n_fields:
            raise ValueError(f"{path}, line {i}: expected {n_fields} fields separated by {sep!r}, got {len(parts)}")
        rows.append(parts)
    return rows


def _to_int(values, path: Path, column: str) -> np.ndarray:
    s = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = s.isna() | (s != s.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}, row {i + 1}: column {column!r} is not an integer: {values[i]!r}")
    return s.to_numpy().astype(np.int64)


def _finish_ratings(df: pd.DataFrame, path: Path, header: int = 0) -> pd.DataFrame:
    """Check for missing values and set the standard dtypes. `header`: lines before the first row."""
    cols = {}
    for col in RATING_COLUMNS:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy()
        bad = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), bool)
        if col != "rating" and values.dtype.kind == "f":
            bad |= values != np.round(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}, line {_line_of_row(path, i, header)}: column {col!r} is missing or not "
                             f"a valid number: {df[col].iloc[i]!r}")
        cols[col] = values.astype(np.float32 if col == "rating" else np.int64)
    return pd.DataFrame(cols)


def _line_of_row(path: Path, row: int, header: int) -> int:
    """1-based line number of data row `row` (0-based; pandas skips blank lines). Error path only."""
    seen = -1
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, start=1):
            if i > header and line.strip():
                seen += 1
                if seen == row:
                    return i
    return row + 1 + header


def _check_field_counts(path: Path, sep: str, n_fields: int, n_rows: int, header: int = 0) -> None:
    """pandas' usecols silently drops extra fields, so count the separator's bytes (fast, chunked); on a
    mismatch find and name the first line with the wrong number of fields."""
    char = sep[0].encode()
    per_line = (n_fields - 1) * len(sep)
    total = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            total += chunk.count(char)
    if total == per_line * (n_rows + header):
        return
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, start=1):
            if line.strip() and line.count(char) != per_line:
                got = len(line.decode("latin-1").rstrip("\r\n").split(sep))
                raise ValueError(f"{path}, line {i}: expected {n_fields} fields separated by {sep!r}, got {got}")


def _empty_ratings() -> pd.DataFrame:
    return pd.DataFrame({"user_id": np.empty(0, np.int64), "item_id": np.empty(0, np.int64),
                         "rating": np.empty(0, np.float32), "timestamp": np.empty(0, np.int64)})


def _read_table(path: Path, sep: str, names: list[str], **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=sep, header=None, names=names, **kw)
    except (ValueError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: cannot parse ({e})") from e


def _read_dat_ratings(path: Path) -> pd.DataFrame:
    """'::' separated ratings, read fast by splitting on ':' and keeping every other field."""
    if not path.is_file():
        return _empty_ratings()
    df = _read_table(path, ":", list(range(7)), usecols=[0, 2, 4, 6])
    _check_field_counts(path, "::", 4, len(df))
    df.columns = RATING_COLUMNS
    return _finish_ratings(df, path)


# ---------------------------------------------------------------------------- formats

def _load_100k(folder: Path):
    path = folder / "u.data"
    df = _read_table(path, "\t", RATING_COLUMNS)
    _check_field_counts(path, "\t", 4, len(df))
    ratings = _finish_ratings(df, path)

    path = folder / "u.user"
    rows = _split_lines(path, "|", 5, "latin-1")
    users = pd.DataFrame({
        "user_id": _to_int([r[0] for r in rows], path, "user_id"),
        "age": _to_int([r[1] for r in rows], path, "age"),
        "gender": [r[2] for r in rows],
        "occupation": [r[3] for r in rows],
        "zip": [r[4] for r in rows],
    })

    genres = GENRES_100K
    if (folder / "u.genre").is_file():
        genre_rows = _split_lines(folder / "u.genre", "|", 2, "latin-1")
        genres = [g for g, _ in sorted(genre_rows, key=lambda r: int(r[1]))]
    path = folder / "u.item"
    n_fields = 5 + len(genres)
    rows = []
    for i, line in enumerate(_read_text(path, "latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != n_fields:
            raise ValueError(f"{path}, line {i}: expected {n_fields} fields separated by '|', got {len(parts)}")
        rows.append(parts)
    titles = pd.Series([r[1].strip() for r in rows])
    year = _year(titles)
    dates = pd.Series([r[2] for r in rows])
    from_date = pd.Series([int(d[-4:]) if len(d) >= 4 and d[-4:].isdigit() else pd.NA for d in dates],
                          dtype="Int64")
    year = year.fillna(from_date)
    flags = []
    for i, r in enumerate(rows):
        if any(f not in ("0", "1") for f in r[5:]):
            raise ValueError(f"{path}, row {i + 1}: genre flags must be 0 or 1")
        flags.append([g for g, f in zip(genres, r[5:]) if f == "1"])
    items = pd.DataFrame({"item_id": _to_int([r[0] for r in rows], path, "item_id"), "title": titles,
                          "year": year, "genres": flags})
    return ratings, users, items


def _load_1m(folder: Path):
    ratings = _read_dat_ratings(folder / "ratings.dat")

    path = folder / "users.dat"
    rows = _split_lines(path, "::", 5, "latin-1")
    codes = _to_int([r[3] for r in rows], path, "occupation")
    unknown = [i for i, c in enumerate(codes) if c not in OCCUPATIONS_1M]
    if unknown:
        raise ValueError(f"{path}, row {unknown[0] + 1}: unknown occupation code {codes[unknown[0]]}")
    users = pd.DataFrame({
        "user_id": _to_int([r[0] for r in rows], path, "user_id"),
        "gender": [r[1] for r in rows],
        "age": _to_int([r[2] for r in rows], path, "age"),
        "occupation": [OCCUPATIONS_1M[c] for c in codes],
        "zip": [r[4] for r in rows],
    })
    items = _dat_movies(folder / "movies.dat", "latin-1")
    return ratings, users, items


def _dat_movies(path: Path, encoding: str | None) -> pd.DataFrame:
    rows = _split_lines(path, "::", 3, encoding, title=True)
    titles = pd.Series([r[1].strip() for r in rows])
    return pd.DataFrame({"item_id": _to_int([r[0] for r in rows], path, "item_id"), "title": titles,
                         "year": _year(titles), "genres": _split_genres(pd.Series([r[2] for r in rows]))})


def _load_dat(folder: Path):
    ratings = _read_dat_ratings(folder / "ratings.dat")
    return ratings, None, _dat_movies(folder / "movies.dat", None)


def _load_csv(folder: Path):
    path = folder / "ratings.csv"
    if path.is_file():
        df = _read_csv_columns(path, ["userId", "movieId", "rating", "timestamp"])
        with open(path, "rb") as fh:
            n_columns = fh.readline().count(b",") + 1
        _check_field_counts(path, ",", n_columns, len(df), header=1)
        df.columns = RATING_COLUMNS
        ratings = _finish_ratings(df, path, header=1)
    else:
        ratings = _empty_ratings()
    path = folder / "movies.csv"
    df = _read_csv_columns(path, ["movieId", "title", "genres"], dtype={"title": str, "genres": str})
    titles = df["title"].fillna("").astype(str).str.strip().reset_index(drop=True)
    items = pd.DataFrame({"item_id": _to_int(df["movieId"].tolist(), path, "movieId"), "title": titles,
                          "year": _year(titles), "genres": _split_genres(df["genres"])})
    return ratings, None, items


def _read_csv_columns(path: Path, columns: list[str], **kw) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, usecols=lambda c: c in columns, encoding="utf-8", **kw)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot parse ({e})") from e
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    return df[columns]
