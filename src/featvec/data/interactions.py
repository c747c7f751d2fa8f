"""Interaction logs larger than memory: read a folder of Parquet, CSV or JSON-lines files in record batches
(pyarrow datasets), build the user and item vocabularies in one streaming pass, and write the encoded
interactions as .npy shards that fits read without the raw log (``featvec fit --data-dir``).

Why pyarrow and not DuckDB: featvec needs a streaming scan of a few columns, not queries; pyarrow is already
what reads Parquet here (the ``parquet`` extra), reads all three formats in bounded batches, and hands over
numpy arrays without a copy. DuckDB would add a second engine for the same scan.

The folder written (format ``featvec-interactions``, version 1; docs/data-format.md):

    manifest.json      format, version, the columns read, rows kept / dropped, min_count, the shards
    users.json         the user ids kept, in row order: row r + 1 is users[r] (row 0: unknown)
    items.json         likewise for items
    shards/NNNNN.user.npy, NNNNN.item.npy (int32 rows), NNNNN.weight.npy (float32, with a weight column)

Ids seen fewer than ``min_count`` times are left out, with their rows. Peak memory: one batch, the counts of
distinct ids, the vocabularies.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from featvec.encoding import Vocabulary
from featvec.io.folders import written_folder

FORMAT, VERSION = "featvec-interactions", 1
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "json",
            ".ndjson": "json", ".json": "json"}


class InteractionsError(ValueError):
    """A source or an interactions folder that cannot be read: the message names the file and what is wrong."""


def _files(source: Path) -> tuple[list[Path], str]:
    if not source.exists():
        raise FileNotFoundError(f"interactions source not found: {source}")
    files = [source] if source.is_file() else sorted(
        f for f in source.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
    kinds = {}
    for f in files:
        suffixes = [s.lower() for s in f.suffixes if s.lower() not in (".gz", ".bz2", ".zst")]
        kind = _FORMATS.get(suffixes[-1] if suffixes else "")
        if kind is None:
            raise InteractionsError(f"{f}: cannot tell its format; use .parquet, .csv, .tsv or .jsonl files")
        kinds.setdefault(kind, f)
    if not files:
        raise InteractionsError(f"{source}: no data files in the folder")
    if len(kinds) > 1:
        raise InteractionsError(f"{source}: files of several formats ({', '.join(f'{k}: {v.name}' for k, v in kinds.items())}); "
                                f"keep one format per folder")
    return files, next(iter(kinds))


def _dataset(files: list[Path], kind: str):
    try:
        import pyarrow.csv as pcsv
        import pyarrow.dataset as ds
    except ImportError as e:
        raise ImportError(f"reading interaction folders needs pyarrow: pip install 'featvec[parquet]' ({e})") from None
    fmt = {"parquet": "parquet", "json": "json", "csv": "csv",
           "tsv": ds.CsvFileFormat(parse_options=pcsv.ParseOptions(delimiter="\t"))}[kind]
    return ds.dataset([str(f) for f in files], format=fmt)


class _Counts:
    """Occurrences of each id: a growing count array for non-negative integer ids, a dict otherwise."""

    def __init__(self, column: str):
        self.column, self.ints, self.other, self.kind = column, np.zeros(0, np.int64), {}, None

    def add(self, values: np.ndarray, where: str) -> None:
        kind = "int" if values.dtype.kind in "iu" else ("float" if values.dtype.kind == "f" else "text")
        if self.kind not in (None, kind):
            raise InteractionsError(f"{where}: column {self.column!r} holds {kind} values where earlier files "
                                    f"held {self.kind}; one kind of id per column")
        self.kind = kind
        if kind == "int" and values.size and values.min() >= 0 and values.max() < 2 ** 31 and not self.other:
            c = np.bincount(values.astype(np.int64))
            if len(c) > len(self.ints):
                self.ints = np.concatenate([self.ints, np.zeros(len(c) - len(self.ints), np.int64)])
            self.ints[:len(c)] += c
            return
        for v, n in pd.Series(values).value_counts(sort=False).items():
            v = v.item() if hasattr(v, "item") else v
            self.other[v] = self.other.get(v, 0) + int(n)

    def kept(self, min_count: int) -> list:
        values = np.flatnonzero(self.ints >= min_count).tolist()
        if self.other:
            merged = dict(self.other)
            for v in values:
                merged[v] = merged.get(v, 0) + int(self.ints[v])
            values = [v for v, n in merged.items() if n >= min_count]
        try:
            return sorted(values)
        except TypeError:
            return values


def _column(batch, name: str, where: str, kind: str) -> np.ndarray:
    col = batch.column(name)
    if col.null_count:
        first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise InteractionsError(f"{where}: column {name!r} is missing a value at row {first}")
    values = col.to_numpy(zero_copy_only=False)
    if kind == "weight":
        if values.dtype.kind not in "iuf":
            raise InteractionsError(f"{where}: column {name!r} must hold numbers, got {col.type}")
        values = values.astype(np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InteractionsError(f"{where}: column {name!r} has {values[r]} at row {r}; weights are finite and >= 0")
    elif values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InteractionsError(f"{where}: column {name!r} has {values[r]} at row {r}")
    return values


def _batches(dataset, columns: list[str], batch_rows: int):
    """(where, batch) over every file in order; ``where`` names the file and the batch's first row."""
    for frag in dataset.get_fragments():
        start = 0
        names = frag.physical_schema.names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InteractionsError(f"{frag.path}: no column(s) {missing}; it has {names[:20]}")
        for batch in frag.to_batches(columns=columns, batch_size=batch_rows):
            yield f"{frag.path} (rows from {start})", batch
            start += batch.num_rows


def ingest(source, out, user_col: str = "user_id", item_col: str = "item_id", weight_col: str | None = None,
           min_count: int = 1, batch_rows: int = 1 << 20, log: Callable[[str], None] | None = None) -> Path:
    """Read the interactions in ``source`` (a file, or a folder of Parquet / CSV / TSV / JSON-lines files, any
    size) and write them encoded to the folder ``out`` (see the module's doc); returns ``out``. Two streaming
    passes: counting the ids, then encoding and writing one shard per batch. Written beside ``out`` and renamed
    into place, so a failed ingest leaves nothing half-written."""
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    log = log or (lambda msg: None)
    files, kind = _files(Path(source))
    dataset = _dataset(files, kind)
    columns = [user_col, item_col] + ([weight_col] if weight_col else [])
    counts = {c: _Counts(c) for c in (user_col, item_col)}
    n_rows = 0
    for where, batch in _batches(dataset, columns, batch_rows):
        for c in (user_col, item_col):
            counts[c].add(_column(batch, c, where, "id"), where)
        if weight_col:
            _column(batch, weight_col, where, "weight")
        n_rows += batch.num_rows
    log(f"counted {n_rows:,} rows in {len(files)} file(s)")
    if not n_rows:
        raise InteractionsError(f"{source}: no rows")
    users, items = counts[user_col].kept(min_count), counts[item_col].kept(min_count)
    if not users or not items:
        raise InteractionsError(f"{source}: no user or no item is seen {min_count} time(s) or more (min_count)")
    with written_folder(out, "interactions") as tmp:
        (tmp / "shards").mkdir()
        shards, kept = _write_shards(tmp / "shards", dataset, columns, batch_rows, user_col, item_col, weight_col,
                                     Vocabulary(users), Vocabulary(items))
        for name, values in (("users", users), ("items", items)):
            (tmp / f"{name}.json").write_text(json.dumps(values), encoding="utf-8")
        manifest = {"format": FORMAT, "version": VERSION, "source": str(source), "files": len(files),
                    "columns": {"user": user_col, "item": item_col, "weight": weight_col}, "min_count": min_count,
                    "rows": kept, "dropped_rows": n_rows - kept, "users": len(users), "items": len(items),
                    "shards": shards}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    out = Path(out)
    log(f"wrote {kept:,} rows ({n_rows - kept:,} dropped by min_count), {len(users):,} users, {len(items):,} items "
        f"to {out}")
    return out


def _write_shards(folder: Path, dataset, columns, batch_rows, user_col, item_col, weight_col, users, items):
    shards, kept = [], 0
    for k, (where, batch) in enumerate(_batches(dataset, columns, batch_rows)):
        u = users.encode(_column(batch, user_col, where, "id")).astype(np.int32)  # 0: an id left out
        i = items.encode(_column(batch, item_col, where, "id")).astype(np.int32)
        ok = (u > 0) & (i > 0)
        name = f"{k:05d}"
        np.save(folder / f"{name}.user.npy", u[ok])
        np.save(folder / f"{name}.item.npy", i[ok])
        if weight_col:
            np.save(folder / f"{name}.weight.npy", _column(batch, weight_col, where, "weight")[ok].astype(np.float32))
        shards.append({"name": name, "rows": int(ok.sum())})
        kept += int(ok.sum())
    return shards, kept


class Interactions:
    """An ingested folder, read lazily: ``users`` / ``items`` (the ids in row order), ``rows``, the columns,
    and the encoded arrays (memory-mapped shards, or joined with ``arrays``)."""

    def __init__(self, path):
        self.path = Path(path)
        mf = self.path / "manifest.json"
        try:
            self.manifest = json.loads(mf.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InteractionsError(f"{self.path}: not an interactions folder (no manifest.json); write one with "
                                    f"featvec.data.ingest or featvec ingest") from None
        except (OSError, ValueError) as e:
            raise InteractionsError(f"{mf}: unreadable ({e})") from None
        if self.manifest.get("format") != FORMAT or not isinstance(self.manifest.get("version"), int):
            raise InteractionsError(f"{mf}: not a {FORMAT} manifest")
        if self.manifest["version"] > VERSION:
            raise InteractionsError(f"{mf}: format version {self.manifest['version']} is newer than this featvec "
                                    f"reads ({VERSION}); upgrade featvec")
        self.users = self._vocab("users")
        self.items = self._vocab("items")
        self.columns = self.manifest["columns"]
        self.rows = int(self.manifest["rows"])

    def _vocab(self, name: str) -> list:
        f = self.path / f"{name}.json"
        try:
            values = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InteractionsError(f"{f}: unreadable ({e})") from None
        if len(values) != self.manifest[name]:
            raise InteractionsError(f"{f}: {len(values)} ids where the manifest says {self.manifest[name]}")
        return values

    def __reduce__(self):  # to another process by its path (data-parallel fits), never its arrays
        return type(self), (str(self.path),)

    def __repr__(self) -> str:
        return f"Interactions({str(self.path)!r}: {self.rows:,} rows, {len(self.users):,} users, {len(self.items):,} items)"

    def shards(self):
        """(user rows, item rows, weights or None) per shard, memory-mapped."""
        for s in self.manifest["shards"]:
            base = self.path / "shards" / s["name"]
            try:
                u = np.load(f"{base}.user.npy", mmap_mode="r")
                i = np.load(f"{base}.item.npy", mmap_mode="r")
                w = np.load(f"{base}.weight.npy", mmap_mode="r") if self.columns.get("weight") else None
            except (OSError, ValueError) as e:
                raise InteractionsError(f"{base}.*.npy: unreadable ({e})") from None
            if len(u) != s["rows"] or len(i) != s["rows"] or (w is not None and len(w) != s["rows"]):
                raise InteractionsError(f"{base}.*.npy: not the {s['rows']} rows the manifest says")
            yield u, i, w

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Every shard joined: user rows, item rows (int32, 1-based) and weights (float32) or None."""
        parts = list(self.shards())
        u = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
        i = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
        w = np.concatenate([p[2] for p in parts]) if parts and parts[0][2] is not None else None
        if len(u) and (u.min() < 1 or u.max() > len(self.users) or i.min() < 1 or i.max() > len(self.items)):
            raise InteractionsError(f"{self.path}: shard rows outside the vocabularies")
        return u, i, w
