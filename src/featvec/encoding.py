"""Vocabularies, normalisers and the encoder that turns DataFrame columns into tensors."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from featvec.schema import Bag, Categorical, Feature, Numeric, check_unique_names, feature_name
from featvec.util.arrays import lookup, lookup_table, unique
from featvec.util.threads import cached
from featvec.validation import bad_cell, check_kind, check_values, numeric_values, plain, require_columns, values_kind


NA_LABEL = "#na#"  # the category a missing categorical value becomes (fastai's name for it)

def py_values(values) -> list:
    """Plain Python scalars (JSON-safe), whatever numpy/pandas types came in."""
    return [v.item() if hasattr(v, "item") else v for v in values]


def sorted_values(values) -> list:
    """The values as plain Python scalars, sorted (first-seen order when their types do not compare)."""
    values = py_values(values)
    try:
        return sorted(values)
    except TypeError:
        return values


def _plain_ints(a) -> bool:
    """An integer numpy array or index that fits int64 (not bool, not object)."""
    dt = getattr(a, "dtype", None)
    return isinstance(a, (np.ndarray, pd.Index)) and isinstance(dt, np.dtype) and (
        dt.kind == "i" or (dt.kind == "u" and dt.itemsize < 8))


class Vocabulary:
    """Maps original values to indices 1..n; 0 is 'unknown' (unseen or rarer than min_count)."""

    def __init__(self, values: Sequence):
        self.values = py_values(values)
        self._index = pd.Index(self.values)
        self._table = None  # the dense lookup table for integer ids, built on first use
        self._kind = False  # number / str / bool / ..., found on first use
        if not self._index.is_unique:
            raise ValueError("vocabulary values must be unique")

    @property
    def kind(self) -> str | None:
        """The kind of the values (see ``validation.values_kind``): what the values to encode must be."""
        if self._kind is False:
            self._kind = values_kind(self.values)
        return self._kind

    @classmethod
    def fit(cls, values, min_count: int = 1, max_size: int | None = None) -> "Vocabulary":
        counts = pd.Series(values).value_counts(sort=False, dropna=True)
        counts = counts[counts >= min_count]
        if max_size is not None and len(counts) > max_size:
            counts = counts.sort_values(ascending=False, kind="stable").iloc[:max_size]
        try:
            keys = sorted(counts.index)
        except TypeError:  # mixed types: keep first-seen order
            keys = list(counts.index)
        return cls(keys)

    def __len__(self) -> int:
        """Number of rows the embedding table needs (values + the unknown row)."""
        return len(self.values) + 1

    def encode(self, values) -> np.ndarray:
        if _plain_ints(values) and _plain_ints(self._index):  # a dense table is ten times faster at scale
            if self._table is None:
                self._table = lookup_table(self._index.to_numpy(), max(4 * len(self.values), 1 << 16)) or False
            if self._table:
                return lookup(values, *self._table)
        idx = self._index.get_indexer(pd.Index(py_values(values) if isinstance(values, list) else values))
        return (idx + 1).astype(np.int64)

    @property
    def array(self) -> np.ndarray:
        """The values as an object array (index i: the value of row i + 1), built once."""
        return cached(self, "_array", lambda: np.asarray(self.values + [None], dtype=object)[:-1])  # never 2-D

    def decode(self, idx) -> list:
        idx = np.asarray(idx)
        if (idx <= 0).any() or (idx > len(self.values)).any():
            raise ValueError("index 0 (unknown) or out of range has no original value")
        arr = np.asarray(self.values, dtype=object)
        return list(arr[idx - 1])

    def to_json(self) -> list:
        return list(self.values)


@dataclass
class EncodedBag:
    """A batch of variable-length bags in CSR form: bag i holds indices[indptr[i]:indptr[i+1]]."""

    indptr: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor

    def __len__(self) -> int:
        return self.indptr.numel() - 1

    def take(self, rows: torch.Tensor) -> "EncodedBag":
        starts = self.indptr[rows]
        lens = self.indptr[rows + 1] - starts
        indptr = torch.zeros(rows.numel() + 1, dtype=torch.long, device=rows.device)
        torch.cumsum(lens, 0, out=indptr[1:])
        total = int(indptr[-1])
        pos = torch.repeat_interleave(starts - indptr[:-1], lens, output_size=total)
        pos += torch.arange(total, device=rows.device)
        return EncodedBag(indptr, self.indices[pos], self.weights[pos])

    def slice(self, start: int, end: int) -> "EncodedBag":
        """Bags start..end-1 as views of this one (no copy)."""
        a, b = int(self.indptr[start]), int(self.indptr[end])
        return EncodedBag(self.indptr[start:end + 1] - a, self.indices[a:b], self.weights[a:b])

    def to(self, device) -> "EncodedBag":
        return EncodedBag(self.indptr.to(device), self.indices.to(device), self.weights.to(device))

    @staticmethod
    def from_lists(lists: Sequence[Sequence[int]], pooling: str = "mean", weights=None) -> "EncodedBag":
        lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        flat = np.fromiter((v for x in lists for v in x), dtype=np.int64, count=int(indptr[-1]))
        w = None
        if weights is not None:
            w = np.fromiter((v for x in weights for v in x), dtype=np.float64, count=int(indptr[-1]))
        return EncodedBag.from_csr(indptr, flat, pooling, w)

    @staticmethod
    def from_csr(indptr: np.ndarray, indices: np.ndarray, pooling: str = "mean", weights=None,
                 idf: np.ndarray | None = None) -> "EncodedBag":
        """``idf``: one inverse document frequency per vocabulary index, needed by "tfidf" pooling."""
        n = len(indptr) - 1
        lens = np.diff(indptr)
        w = np.ones(len(indices)) if weights is None else np.asarray(weights, dtype=np.float64)
        row_of = np.repeat(np.arange(n), lens)
        if pooling == "mean":
            tot = np.bincount(row_of, weights=w, minlength=n)
            w = w / np.where(tot == 0, 1.0, tot)[row_of]
        elif pooling == "sqrt":
            w = w / np.sqrt(np.maximum(lens, 1))[row_of]
        elif pooling == "tfidf":
            if idf is None:
                raise ValueError("tfidf pooling needs the idf of the vocabulary (fit the encoder first)")
            w = w * np.asarray(idf, dtype=np.float64)[indices]
            # the L2 norm of each row's tf-idf vector, a value repeated in a bag counted once with its summed weight
            key = row_of * len(idf) + indices
            uniq, inv = unique(key, return_inverse=True)
            summed = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
            norm = np.sqrt(np.bincount(uniq // len(idf), weights=summed ** 2, minlength=n))
            w = w / np.where(norm == 0, 1.0, norm)[row_of]
        return EncodedBag(
            torch.as_tensor(indptr, dtype=torch.long),
            torch.as_tensor(indices, dtype=torch.long),
            torch.as_tensor(w, dtype=torch.float32),
        )


def take(value, rows: torch.Tensor):
    """Row subset of one encoded feature (tensor or EncodedBag)."""
    return value.take(rows) if isinstance(value, EncodedBag) else value[rows]


def to_device(inputs: dict, device) -> dict:
    return {k: v.to(device) for k, v in inputs.items()}


class Normalizer:
    """Per-column standardisation fitted on train; optional mean imputation."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, x: np.ndarray) -> "Normalizer":
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        return cls(mean, std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return np.where(np.isnan(z), 0.0, z)  # NaN only survives here when imputation is on

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def _list_cells(df: pd.DataFrame, column: str, role: str, what: str) -> list:
    """A column's cells as lists (missing: empty), or an error naming the first cell that is not a list."""
    out = []
    for pos, cell in enumerate(df[column].tolist()):
        if cell is None or cell is pd.NA or (isinstance(cell, float) and np.isnan(cell)):
            out.append(())
        elif isinstance(cell, (list, tuple, np.ndarray, set, pd.Series)):
            out.append(list(cell))
        else:
            raise ValueError(
                f"{what}: column {column!r} {role} and needs a list per row; row {pos} "
                f"(index {plain(df.index[pos])!r}) holds {cell!r}"
            )
    return out


def bag_lists(df: pd.DataFrame, f: Bag, what: str) -> list:
    """The bag's lists, each value a single value (not missing, not a list) of one kind."""
    lists = _list_cells(df, f.column, "is a Bag", what)
    flat = [v for b in lists for v in b]
    kind = pd.api.types.infer_dtype(flat, skipna=False)  # a None or NaN makes "mixed" (or "floating")
    if kind in ("integer", "string", "boolean", "empty") or (kind == "floating" and not np.isnan(flat).any()):
        return lists
    bad = bad_cell(flat, mixed_ok=True)
    if bad:
        row = int(np.searchsorted(np.cumsum([len(b) for b in lists]), bad[0], side="right"))
        raise ValueError(f"{what}: column {f.column!r} is a Bag; a value in row {row} (index "
                         f"{plain(df.index[row])!r}) {bad[1]}")
    return lists


def weight_lists(df: pd.DataFrame, f: Bag, what: str) -> list:
    return _list_cells(df, f.weights, f"holds the weights of Bag {f.column!r}", what)


def check_weights(df: pd.DataFrame, f: Bag, lists: list, weights: list, what: str) -> np.ndarray:
    """One finite number per bag value, row by row (otherwise the flattened weights would silently shift, or
    a NaN would spread through the pooled vector); returns the weights flattened, as float64."""
    role = f"column {f.weights!r} holds the weights of Bag {f.column!r}"
    for pos, (bag, w) in enumerate(zip(lists, weights)):
        if len(bag) != len(w):
            raise ValueError(
                f"{what}: {role} and needs one weight per value; row {pos} (index {plain(df.index[pos])!r}) has "
                f"{len(w)} weight(s) for {len(bag)} value(s)"
            )
    flat = np.asarray([x for w in weights for x in w])
    if flat.dtype.kind in "biu" or (flat.dtype.kind == "f" and np.isfinite(flat).all()):
        return flat.astype(np.float64)
    for pos, w in enumerate(weights):
        for x in w:
            try:
                good = not isinstance(x, str) and math.isfinite(float(x))
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ValueError(f"{what}: {role} and needs finite numbers; row {pos} "
                                 f"(index {plain(df.index[pos])!r}) holds {x!r}")
    return flat.astype(np.float64)  # numbers numpy kept as objects (big ints, fractions...)


def _csr_codes(lists: list, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """Bags as CSR: row pointers [n + 1] and the vocabulary index of every value."""
    lens = np.fromiter((len(b) for b in lists), dtype=np.int64, count=len(lists))
    indptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    flat = [v for b in lists for v in b]
    return indptr, (vocab.encode(flat) if flat else np.zeros(0, dtype=np.int64))


class FeatureEncoder:
    """Fits vocabularies/normalisers on train and turns frames into tensors, one entry per feature."""

    def __init__(self, features: Sequence[Feature]):
        check_unique_names(features)
        self.features = list(features)
        self.vocabs: dict[str, Vocabulary] = {}
        self.normalizers: dict[str, Normalizer] = {}
        self.idf: dict[str, np.ndarray] = {}  # per tfidf-pooled bag, one value per vocabulary index

    @property
    def names(self) -> list[str]:
        return [feature_name(f) for f in self.features]

    def fit(self, df: pd.DataFrame, what: str = "data") -> "FeatureEncoder":
        require_columns(df, [c for f in self.features for c in f.columns], what)
        for f in self.features:
            name = feature_name(f)
            if isinstance(f, Categorical):
                values = check_values(df, f.column, what, mixed_ok=True)
                self.vocabs[name] = Vocabulary.fit(values, f.min_count, f.max_size)
            elif isinstance(f, Bag):
                lists = bag_lists(df, f, what)
                flat = [v for bag in lists for v in bag]
                self.vocabs[name] = Vocabulary.fit(flat, f.min_count, f.max_size)
                if f.pooling == "tfidf":
                    self.idf[name] = self._idf(lists, self.vocabs[name])
            else:
                x = self._numeric(df, f, what)
                self.normalizers[name] = Normalizer.fit(x)
        return self

    @staticmethod
    def _idf(lists: list, vocab: Vocabulary) -> np.ndarray:
        """ln((1 + n) / (1 + rows holding the value)) + 1 per vocabulary index; 0 for the unknown index unless
        training values were folded into it, so that values never seen in training drop out of the bag."""
        n, v = len(lists), len(vocab)
        indptr, codes = _csr_codes(lists, vocab)
        rows = unique(np.repeat(np.arange(n), np.diff(indptr)) * v + codes)
        df = np.bincount(rows % v, minlength=v)
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        if df[0] == 0:
            idf[0] = 0.0
        return idf

    def _numeric(self, df, f: Numeric, what) -> np.ndarray:
        cols = [numeric_values(df, c, what, allow_nan=f.impute is not None) for c in f.columns]
        return np.stack(cols, axis=1)

    def input_size(self, name: str) -> int:
        if name in self.vocabs:
            return len(self.vocabs[name])
        return len(self.normalizers[name].mean)

    def transform(self, df: pd.DataFrame, what: str = "data") -> dict:
        require_columns(df, [c for f in self.features for c in f.columns], what)
        out = {}
        for f in self.features:
            name = feature_name(f)
            if isinstance(f, Categorical):
                values = check_values(df, f.column, what, mixed_ok=True).to_numpy()
                check_kind(self.vocabs[name].kind, values, f.column, what, strict=False)
                out[name] = torch.as_tensor(self.vocabs[name].encode(values))
            elif isinstance(f, Bag):
                lists = bag_lists(df, f, what)
                weights = check_weights(df, f, lists, weight_lists(df, f, what), what) if f.weights else None
                indptr, codes = _csr_codes(lists, self.vocabs[name])
                out[name] = EncodedBag.from_csr(indptr, codes, f.pooling, weights, self.idf.get(name))
            else:
                z = self.normalizers[name].transform(self._numeric(df, f, what))
                out[name] = torch.as_tensor(z, dtype=torch.float32)
        return out

    def state(self) -> dict:
        return {
            "vocabs": {k: v.to_json() for k, v in self.vocabs.items()},
            "normalizers": {k: v.to_json() for k, v in self.normalizers.items()},
            "idf": {k: [float(x) for x in v] for k, v in self.idf.items()},
        }

    @classmethod
    def from_state(cls, features: Sequence[Feature], state: dict) -> "FeatureEncoder":
        enc = cls(features)
        enc.vocabs = {k: Vocabulary(v) for k, v in state["vocabs"].items()}
        enc.normalizers = {k: Normalizer(v["mean"], v["std"]) for k, v in state["normalizers"].items()}
        enc.idf = {k: np.asarray(v, dtype=np.float64) for k, v in state.get("idf", {}).items()}
        return enc
