"""What the command line reads: tables from files (by extension), ratings with named columns, saved models,
and list cells; what they write (tables as text, CSV or JSON); the options and help formatting every command
shares. The commands import from here; this module imports only the library."""
from __future__ import annotations

import argparse
import os
import sys
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


RECOMMENDERS = ("MatrixFactorization", "DeepRecommender", "ImplicitRecommender")


def load_model(path, kinds: tuple[str, ...] | None = None, command: str | None = None):
    """The model saved in folder ``path``; with ``kinds``, a ValueError unless it is one of them (a command
    given a model it cannot use says so in one line, instead of failing inside it)."""
    from featvec.io.persistence import load

    model = load(Path(path).expanduser())
    if kinds is not None and type(model).__name__ not in kinds:
        raise ValueError(f"{path} holds a {type(model).__name__}; 'featvec {command}' needs a "
                         f"{' or '.join(kinds)} model")
    return model


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


# ---------------------------------------------------------------- shared by the commands

FILE_HELP = ("Rating files: .csv (comma), .tsv/.data/.base/.test (tab), .dat ('::'), .parquet; optionally "
             ".gz-compressed. A file without a header row (like MovieLens u.data) is read as user, item, rating, "
             "timestamp.")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks; appends a default where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings):
            shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
            text += f" (default: {shown})"
        return text


def data_dir(args):
    if args.data:
        return args.data
    from featvec.datasets import find_data_dir

    return find_data_dir()


def load_dataset(args):
    """The MovieLens dataset ``--dataset``, from ``--data``; a missing one is explained in the command line's
    terms (the library's message names Python arguments)."""
    from featvec.datasets import DatasetNotFoundError, load_movielens

    where = data_dir(args)
    try:
        return load_movielens(args.dataset, data_dir=where)
    except DatasetNotFoundError as e:
        raise FileNotFoundError(f"MovieLens {e.name!r} not found: missing {', '.join(e.missing)} in {e.where}. Pass "
                                f"--data DIR (the folder holding {e.folder}/) or set FEATVEC_DATA; the files are at "
                                "https://grouplens.org/datasets/movielens/") from None


def parse_ids(raw: list[str], known: list, what: str) -> list:
    """Command-line ids (strings) as the type of the model's ids."""
    sample = known[:100]
    if sample and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in sample):
        kind, conv = "integers", int
    elif sample and all(isinstance(v, (float, np.floating)) for v in sample):
        kind, conv = "numbers", float
    else:
        return [str(x) for x in raw]
    out = []
    for x in raw:
        try:
            out.append(conv(x))
        except ValueError:
            raise ValueError(f"{what} id {x!r} is not valid: this model's {what} ids are {kind}") from None
    return out


def item_titles(args, item_col: str) -> pd.Series | None:
    """Item id -> title from --titles FILE or the items of --dataset; None when neither was given."""
    if getattr(args, "titles", None):
        df = read_table(args.titles, "titles")
        if "title" not in df.columns:
            raise ValueError(f"titles file {args.titles} needs a 'title' column; it has {list(df.columns)[:20]}")
        id_col = item_col if item_col in df.columns else df.columns[0]
        if id_col == "title":
            raise ValueError(f"titles file {args.titles} needs an item id column ({item_col!r} or the first one)")
        return df.drop_duplicates(id_col).set_index(id_col)["title"]
    if getattr(args, "dataset", None):
        items = load_dataset(args).items
        return items.drop_duplicates("item_id").set_index("item_id")["title"]
    return None


def emit(df: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(df.to_json(orient="records", force_ascii=False))
    else:
        print(df.to_string(index=False) if len(df) else "(nothing)")


def errors(pred: np.ndarray, y: np.ndarray) -> dict:
    d = np.asarray(pred, np.float64) - np.asarray(y, np.float64)
    return {"rmse": float(np.sqrt(np.mean(d ** 2))), "mae": float(np.mean(np.abs(d))), "n": int(len(d))}


def add_cols(p, defaults: tuple | None) -> None:
    u, i, r = defaults or (None, None, None)
    tail = " (default: the model's)" if defaults is None else ""
    p.add_argument("--user-col", default=u, help="user id column" + tail)
    p.add_argument("--item-col", default=i, help="item id column" + tail)
    p.add_argument("--rating-col", default=r, help="rating column" + tail)


def add_data(p) -> None:
    p.add_argument("--data", default=os.environ.get("FEATVEC_DATA"), metavar="DIR",
                   help="folder holding the datasets (ml-100k/, ...); default $FEATVEC_DATA, else ../shared/data "
                        "when found")


def add_titles(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--titles", metavar="FILE",
                   help="table with the item id (the model's item column, else the first column) and a 'title' "
                        "column, to show titles")
    g.add_argument("--dataset", metavar="NAME", help="take the titles from this MovieLens dataset (see --data)")
    add_data(p)


def add_format(p) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")


def bag_columns(df: pd.DataFrame, specs: list[str], pooling: str | None = None) -> tuple[list, pd.DataFrame]:
    """Bags from specs ``COL[:WEIGHTS][:SEP]`` (text cells split on SEP, default '|'). ``pooling=None``: a bag
    without weights is passed by name, so the model's recipe pools it; a weighted one is mean-pooled."""
    from featvec.schema import Bag

    bags, df = [], df.copy()
    for spec in specs:
        col, _, rest = spec.partition(":")
        weights, _, sep = rest.partition(":")
        for c in [col] + ([weights] if weights else []):
            if c not in df.columns:
                raise ValueError(f"--bags {spec!r}: no column {c!r}; the file has {list(df.columns)}")
            df[c] = split_lists(df[c], sep or "|")
        if weights:
            df[weights] = df[weights].map(lambda ws: [float(w) for w in ws])
        if weights or pooling:
            bags.append(Bag(col, weights=weights or None, pooling=pooling or "mean"))
        else:
            bags.append(col)
    return bags, df


def add_meta_options(p) -> None:
    p.add_argument("--meta", nargs="+", default=[], metavar="TABLE=FILE",
                   help="metadata for a vector table's points: a file whose first column (or index) holds the "
                        "table's ids; a 'title' or 'name' column labels them, the others colour them")
    p.add_argument("--dataset", metavar="NAME", help="take the items' (title, year, genres) and users' (age, gender, "
                   "occupation) metadata from this MovieLens dataset (see --data)")
    add_data(p)
    p.add_argument("--max-points", type=int, default=20_000, metavar="N", help="points per table on the map")
    p.add_argument("--neighbours", type=int, default=10, metavar="K", help="neighbours (and top-K items) per point")
    p.add_argument("--projection", default="auto", choices=["auto", "pca", "umap"],
                   help="2-D map: PCA, or UMAP (needs umap-learn; auto: UMAP when installed)")


def meta_tables(args) -> dict:
    """table -> metadata frame from --meta and --dataset."""
    out = {}
    if args.dataset:
        ml = load_dataset(args)
        out["items"] = ml.items.set_index("item_id")
        if getattr(ml, "users", None) is not None:
            out["users"] = ml.users.set_index("user_id")
    for item in args.meta:
        table, sep, path = item.partition("=")
        if not (sep and table and path):
            raise ValueError(f"--meta {item!r}: use TABLE=FILE, e.g. items=movies.csv")
        out[table] = read_table(path, f"--meta {table}")
    return out


def explore_options(args) -> dict:
    return {"max_points": args.max_points, "k": args.neighbours, "projection": args.projection}
