"""Feature kinds: what each group of columns is and how it becomes a vector."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd


def emb_size_rule(n_categories: int) -> int:
    """Embedding size for a vocabulary of ``n_categories`` (fastai's rule of thumb)."""
    return int(min(600, round(1.6 * max(n_categories, 1) ** 0.56)))


@dataclass
class Categorical:
    """One value per row, looked up in a table. Index 0 is 'unknown'."""

    column: str
    name: str | None = None
    dim: int | None = None
    min_count: int = 1
    max_size: int | None = None

    kind = "categorical"

    @property
    def columns(self) -> list[str]:
        return [self.column]


@dataclass
class Numeric:
    """A group of real-valued columns, standardised on train, mapped linearly to one vector."""

    columns: Sequence[str] = field(default_factory=list)
    name: str | None = None
    dim: int | None = None
    impute: str | None = None  # None: NaN is an error; "mean": replace by the train mean

    kind = "numeric"

    def __post_init__(self):
        if isinstance(self.columns, str):
            self.columns = [self.columns]
        self.columns = list(self.columns)
        if not self.columns:
            raise ValueError("Numeric needs at least one column")
        if self.impute not in (None, "mean"):
            raise ValueError(f"Numeric impute must be None or 'mean', got {self.impute!r}")


POOLINGS = ("mean", "sum", "sqrt", "tfidf")


@dataclass
class Bag:
    """A variable-length list of categories per row (optionally weighted), pooled into one vector.

    ``pooling``: "mean" (the fraction vector times the table), "sum", "sqrt" (sum / sqrt(len), as in
    SVD++), or "tfidf": each value's weight (its count in the bag, or the sum of its ``weights``) times its
    inverse document frequency on the training rows, ``ln((1 + n) / (1 + rows holding it)) + 1``, the row
    then scaled to unit L2 norm -- scikit-learn's TfidfVectorizer defaults, so rare values weigh more.
    """

    column: str
    name: str | None = None
    dim: int | None = None
    weights: str | None = None
    min_count: int = 1
    max_size: int | None = None
    pooling: str = "mean"

    kind = "bag"

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"Bag pooling must be one of {', '.join(map(repr, POOLINGS))}, got {self.pooling!r}")

    @property
    def columns(self) -> list[str]:
        return [self.column] + ([self.weights] if self.weights else [])


Feature = Categorical | Numeric | Bag
KINDS = {"categorical": Categorical, "numeric": Numeric, "bag": Bag}


def feature_name(f: Feature) -> str:
    if f.name:
        return f.name
    return f.column if not isinstance(f, Numeric) else "+".join(f.columns)


def feature_to_dict(f: Feature) -> dict:
    d = asdict(f)
    d["kind"] = f.kind
    return d


def feature_from_dict(d: dict) -> Feature:
    d = dict(d)
    return KINDS[d.pop("kind")](**d)


def check_unique_names(features: Sequence[Feature]) -> None:
    seen = set()
    for f in features:
        n = feature_name(f)
        if n in seen:
            raise ValueError(f"two features are named {n!r}; give one a different name=")
        seen.add(n)


def _is_list_column(s: pd.Series) -> bool:
    first = s.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], (list, tuple, np.ndarray, set))


def infer_features(df: pd.DataFrame, exclude: Sequence[str] = ()) -> list[Feature]:
    """A sensible schema for a side table: lists -> Bag, numbers -> Numeric, the rest -> Categorical."""
    out: list[Feature] = []
    for col in df.columns:
        if col in exclude:
            continue
        s = df[col]
        if _is_list_column(s):
            out.append(Bag(col))
        elif pd.api.types.is_bool_dtype(s):
            out.append(Categorical(col))
        elif pd.api.types.is_numeric_dtype(s):
            out.append(Numeric([col], impute="mean"))
        else:
            out.append(Categorical(col))
    return out
