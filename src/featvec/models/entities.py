"""The users (or items) a recommender knows: their ids and their side features, encoded row by row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from featvec.encoding import EncodedBag, FeatureEncoder, Vocabulary, take
from featvec.nn.embedding import GroupSpec
from featvec.schema import Feature, emb_size_rule, feature_from_dict, feature_name, feature_to_dict, infer_features
from featvec.validation import check_frame, check_kind, plain, values_kind, with_values

ID = "id"


def side_table(df: pd.DataFrame, id_col: str, what: str) -> pd.DataFrame:
    """A side-feature table with its ids as a column, checked for duplicates and missing ids."""
    check_frame(df, what)
    if id_col not in df.columns:
        if df.index.name == id_col:
            df = df.reset_index()
        else:
            raise ValueError(f"{what} needs a column (or index) named {id_col!r} with the ids")
    df = with_values(df, [id_col], what)
    dup = df[id_col].duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{what}: id {plain(df[id_col].iloc[pos])!r} appears more than once (row {pos})")
    return df


class EntityTable:
    """Row r of every encoded tensor describes entity ``vocab.values[r-1]``; row 0 is the unknown entity.

    ``id_slot[r]`` is the row of the entity's own id embedding: 0 (the shared unknown row) for entities that
    have side features but fewer than ``min_count`` training interactions.
    """

    def __init__(self, id_col: str, features: list[Feature] | None, min_count: int = 1):
        """``features=None`` infers them from the side table given to ``fit`` (none without a table)."""
        self.id_col, self.min_count = id_col, min_count
        self.features = None if features is None else list(features)
        self.vocab: Vocabulary | None = None
        self.encoder: FeatureEncoder | None = None
        self.id_slot: torch.Tensor | None = None
        self.encoded: dict = {}
        self.bags: dict[str, int] = {}  # extra bags set by the model (e.g. SVD++ implicit items): name -> n_in

    def add_bag(self, name: str, bag: EncodedBag, n_in: int) -> None:
        """Attach a bag built elsewhere (one per row, e.g. the items each user rated)."""
        if len(bag) != len(self.vocab):
            raise ValueError(f"bag {name!r} needs one row per entity ({len(self.vocab)}), got {len(bag)}")
        self.encoded[name] = bag
        self.bags[name] = n_in

    def fit(self, ids: pd.Series, side: pd.DataFrame | None, what: str) -> "EntityTable":
        counts = ids.value_counts(sort=False)
        values = set(counts.index.tolist())
        if side is not None:
            side = side_table(side, self.id_col, what)
            if self.features is None:
                self.features = infer_features(side, exclude=[self.id_col])
            check_kind(values_kind(ids), side[self.id_col], self.id_col, what, "the training rows hold")
            values |= set(side[self.id_col].tolist())
        try:
            ordered = sorted(values)
        except TypeError:
            ordered = list(values)
        self.vocab = Vocabulary(ordered)
        n_train = counts.reindex(self.vocab.values).fillna(0).to_numpy()
        rows = np.arange(1, len(self.vocab))
        slot = np.concatenate([[0], np.where(n_train >= self.min_count, rows, 0)])
        self.id_slot = torch.as_tensor(slot, dtype=torch.long)
        if self.features is None:
            self.features = []
        self.encoder = FeatureEncoder(self.features)
        if self.features:
            if side is None:
                raise ValueError(f"{what} were declared but no table was given to fit()")
            self.encoder.fit(side, what)
            self.encoded = self._encode_rows(side, what)
        return self

    def _encode_rows(self, side: pd.DataFrame, what: str) -> dict:
        """Encode ``side`` and place each of its rows at its entity's row (others: unknown / zero / empty)."""
        enc = self.encoder.transform(side, what)
        n = len(self.vocab)
        target = self.vocab.encode(side[self.id_col].to_numpy())
        keep = np.flatnonzero(target > 0)
        src_of_row = np.full(n, len(side), dtype=np.int64)  # len(side) = the appended default row
        src_of_row[target[keep]] = keep
        src = torch.as_tensor(src_of_row)
        out = {}
        for name, value in enc.items():
            if isinstance(value, EncodedBag):
                padded = EncodedBag(torch.cat([value.indptr, value.indptr[-1:]]), value.indices, value.weights)
            else:
                padded = torch.cat([value, torch.zeros_like(value[:1])])
            out[name] = take(padded, src)
        return out

    def extend(self, side: pd.DataFrame, what: str) -> "EntityTable":
        """A copy that also knows the entities of ``side`` missing from this one (cold start: id row 0)."""
        side = side_table(side, self.id_col, what)
        check_kind(self.vocab.kind, side[self.id_col], self.id_col, what)
        new_ids = [v for v in side[self.id_col].tolist() if self.vocab.encode([v])[0] == 0]
        if not new_ids:
            return self
        ext = EntityTable(self.id_col, self.features, self.min_count)
        ext.encoder = self.encoder
        ext.vocab = Vocabulary(self.vocab.values + new_ids)
        ext.id_slot = torch.cat([self.id_slot, torch.zeros(len(new_ids), dtype=torch.long)])
        if self.features:
            new = ext._encode_rows(side[side[self.id_col].isin(new_ids)], what)
            rows = torch.arange(len(self.vocab), len(ext.vocab))
            ext.encoded = {k: _concat(self.encoded[k], take(v, rows)) for k, v in new.items()}
        empty = EncodedBag.from_lists([()] * len(new_ids))
        for name, n_in in self.bags.items():
            ext.encoded[name] = _concat(self.encoded[name], empty)
            ext.bags[name] = n_in
        return ext

    def __len__(self) -> int:
        return len(self.vocab)

    def rows(self, ids, what: str = "data") -> np.ndarray:
        """The row of each id (0: unknown); ids of another kind than the model's (str for int ids) are refused."""
        check_kind(self.vocab.kind, ids, self.id_col, what)
        return self.vocab.encode(ids)

    def inputs(self, rows: torch.Tensor) -> dict:
        out = {ID: self.id_slot[rows]}
        for name, value in self.encoded.items():
            out[name] = take(value, rows)
        return out

    def group_specs(self, dim: int | None, extra: list[GroupSpec] = ()) -> list[GroupSpec]:
        specs = [GroupSpec(ID, "categorical", len(self.vocab), dim or emb_size_rule(len(self.vocab)))]
        for f in self.features:
            name = feature_name(f)
            n_in = self.encoder.input_size(name)
            kind = "numeric" if f.kind == "numeric" else f.kind
            specs.append(GroupSpec(name, kind, n_in, dim or f.dim or emb_size_rule(n_in)))
        for name, n_in in self.bags.items():
            specs.append(GroupSpec(name, "bag", n_in, dim or emb_size_rule(n_in)))
        return specs + list(extra)

    def labels(self, name: str) -> list:
        """Original labels of the rows of a group's table (ids, category values, column names)."""
        if name == ID:
            return ["#unknown"] + list(self.vocab.values)
        f = next(f for f in self.features if feature_name(f) == name)
        if f.kind == "numeric":
            return list(f.columns)
        return ["#unknown"] + list(self.encoder.vocabs[name].values)

    def to(self, device) -> "EntityTable":
        self.id_slot = self.id_slot.to(device)
        self.encoded = {k: v.to(device) for k, v in self.encoded.items()}
        return self

    def state(self, prefix: str) -> tuple[dict, dict[str, torch.Tensor]]:
        config = {"id_col": self.id_col, "min_count": self.min_count, "ids": self.vocab.to_json(),
                  "features": [feature_to_dict(f) for f in self.features], "encoder": self.encoder.state(),
                  "bags": self.bags}
        tensors = {f"{prefix}.id_slot": self.id_slot}
        for name, value in self.encoded.items():
            if isinstance(value, EncodedBag):
                tensors[f"{prefix}.{name}.indptr"] = value.indptr
                tensors[f"{prefix}.{name}.indices"] = value.indices
                tensors[f"{prefix}.{name}.weights"] = value.weights
            else:
                tensors[f"{prefix}.{name}"] = value
        return config, tensors

    @classmethod
    def from_state(cls, config: dict, tensors: dict, prefix: str) -> "EntityTable":
        features = [feature_from_dict(d) for d in config["features"]]
        t = cls(config["id_col"], features, config["min_count"])
        t.vocab = Vocabulary(config["ids"])
        t.encoder = FeatureEncoder.from_state(features, config["encoder"])
        t.id_slot = tensors[f"{prefix}.id_slot"]
        t.bags = dict(config.get("bags", {}))
        for name, kind in [(feature_name(f), f.kind) for f in features] + [(b, "bag") for b in t.bags]:
            if kind == "bag":
                t.encoded[name] = EncodedBag(*(tensors[f"{prefix}.{name}.{p}"] for p in ("indptr", "indices", "weights")))
            else:
                t.encoded[name] = tensors[f"{prefix}.{name}"]
        return t


def _concat(a, b):
    if isinstance(a, EncodedBag):
        return EncodedBag(torch.cat([a.indptr, b.indptr[1:] + a.indptr[-1]]),
                          torch.cat([a.indices, b.indices]), torch.cat([a.weights, b.weights]))
    return torch.cat([a, b])


def folder_tables(data, user_col: str, item_col: str, weight_col: str | None, what: str, min_count: int = 1,
                  user_features=None, item_features=None) -> tuple["EntityTable", "EntityTable"]:
    """The user and item tables of an ingested folder (``featvec.data.Interactions``): its vocabularies, in
    its row order (the shards' rows are the tables' rows). ``weight_col``: the column the model reads as the
    weight (``what`` names it in the error)."""
    if user_features is not None or item_features is not None:
        raise ValueError("an ingested folder trains id vectors only: leave user_features / item_features out")
    if min_count != 1:
        raise ValueError(f"min_count={min_count} does not apply to an ingested folder: ingest applies it "
                         "(featvec.data.ingest(..., min_count=N), featvec ingest --min-count N)")
    cols = data.columns
    if (cols["user"], cols["item"]) != (user_col, item_col) or cols.get("weight") != weight_col:
        raise ValueError(f"{data.path} holds columns user={cols['user']!r}, item={cols['item']!r}, "
                         f"weight={cols.get('weight')!r}; this model reads user_col={user_col!r}, "
                         f"item_col={item_col!r}, {what}={weight_col!r}")
    tables = []
    for col, values in ((user_col, data.users), (item_col, data.items)):
        table = EntityTable(col, None, 1).fit(pd.Series(values, dtype=object), None, str(data.path))
        if list(table.vocab.values) != values:
            raise ValueError(f"{data.path}: the {col!r} ids are not in the order featvec sorts them")
        tables.append(table)
    return tables[0], tables[1]
