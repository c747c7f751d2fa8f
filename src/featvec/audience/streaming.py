"""Notebook 001's events -> audience step over event files of any size: ``audience_from_event_files`` reads
them chunk by chunk (``featvec.io.readers.iter_events``) and keeps only per-entity partial counts, so memory
grows with the entities, attribute values and categories, not with the events. The result is
``audience_from_events`` on all the events at once (tested equal), cleaning report included.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from featvec.audience.events import CONFLICT_RULES, CleaningReport, pick_from_stats
from featvec.audience.pipeline import Audience


def event_files(source) -> list[Path]:
    """A file, a folder's files (sorted by name, hidden ones left out) or a list of files."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith((".", "_")))
            if not files:
                raise ValueError(f"{p}: no event file in the folder")
            return files
        return [p]
    return [Path(f) for f in source]


class _Attribute:
    """One attribute's partial counts: (entity, raw value) pairs, real values' counts and first / last
    positions, placeholder cells and each entity's first placeholder value."""

    def __init__(self, name: str, placeholders: list):
        self.name, self.placeholders = name, placeholders
        self.raw, self.stats, self.first_ph = [], [], []
        self.ph_cells, self.numeric = 0, True

    def add(self, ent: np.ndarray, col: pd.Series, pos: np.ndarray) -> None:
        self.numeric &= pd.api.types.is_numeric_dtype(col)
        v = col.to_numpy()
        self.raw.append(pd.DataFrame({"e": ent, "v": v}).drop_duplicates())
        is_ph = col.isna().to_numpy() | col.isin(self.placeholders).to_numpy()
        self.ph_cells += int(is_ph.sum())
        real = pd.DataFrame({"e": ent[~is_ph], "v": v[~is_ph], "pos": pos[~is_ph]})
        self.stats.append(real.groupby(["e", "v"], sort=False).agg(n=("pos", "size"), last=("pos", "max"),
                                                                   first=("pos", "min")).reset_index())
        ph = pd.DataFrame({"e": ent[is_ph], "v": v[is_ph]}).drop_duplicates("e")
        self.first_ph.append(ph)
        if len(self.stats) > 64:  # keep the partial tables few: merge them
            self.compact()

    def compact(self) -> None:
        self.raw = [pd.concat(self.raw, ignore_index=True).drop_duplicates()] if self.raw else []
        if self.stats:
            s = pd.concat(self.stats, ignore_index=True)
            self.stats = [s.groupby(["e", "v"], sort=False).agg(n=("n", "sum"), last=("last", "max"),
                                                                 first=("first", "min")).reset_index()]
        self.first_ph = [pd.concat(self.first_ph, ignore_index=True).drop_duplicates("e")] if self.first_ph else []


class _Actions:
    """Per (entity, category) of the action's events: their count and the sum of the amount."""

    def __init__(self):
        self.parts: list[pd.DataFrame] = []

    def add(self, ent, cat, amount) -> None:
        df = pd.DataFrame({"e": ent, "c": cat, "n": 1, "a": amount})
        self.parts.append(df.groupby(["e", "c"], sort=False).agg(n=("n", "sum"), a=("a", "sum")).reset_index())
        if len(self.parts) > 64:
            self.parts = [self.total()]

    def total(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"e": [], "c": [], "n": [], "a": []})
        s = pd.concat(self.parts, ignore_index=True)
        return s.groupby(["e", "c"], sort=False).agg(n=("n", "sum"), a=("a", "sum")).reset_index()


def audience_from_event_files(source, *, entity: str, attributes: Sequence[str], category: str, event_col: str,
                              action: str, amount: str | None = None, placeholders: Mapping | None = None,
                              conflict: str = "mode", chunk_rows: int = 100_000, transform=None,
                              **read_options) -> Audience:
    """``audience_from_events`` (same arguments, same result) over event files of any size: ``source`` is a
    file, a folder of them or a list, in any format ``featvec.io.readers`` reads (JSON, JSON lines, CSV /
    TSV, Parquet, gzip), read ``chunk_rows`` events at a time (``read_options`` go to ``iter_events``;
    ``transform(chunk) -> chunk``, e.g. renaming columns, runs on each). Memory holds per-entity counts
    only. An entity whose events carry only placeholders keeps its first one."""
    from featvec.io.readers import iter_events

    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    _check_args(entity, attributes, category, event_col, conflict)
    placeholders = {k: list(v) if not isinstance(v, str) else [v] for k, v in (placeholders or {}).items()}
    attrs = [_Attribute(a, placeholders.get(a, [])) for a in attributes]
    actions, cats, entities, offset, has_amount = _Actions(), set(), [], 0, False
    need = [entity, category, event_col, *attributes]
    for path in event_files(source):
        for chunk in iter_events(path, chunk_rows=chunk_rows, **read_options):
            chunk = chunk if transform is None else transform(chunk)
            _require(chunk, need, path)
            ent = chunk[entity].to_numpy()
            if chunk[entity].isna().any():
                row = int(np.flatnonzero(chunk[entity].isna().to_numpy())[0])
                raise ValueError(f"{path}: column {entity!r} (the entity) is missing in event {chunk.index[row]}")
            pos = np.arange(offset, offset + len(chunk))
            offset += len(chunk)
            entities.append(pd.unique(ent))
            for a in attrs:
                a.add(ent, chunk[a.name], pos)
            cats.update(chunk[category].dropna().unique().tolist())
            act = (chunk[event_col] == action).to_numpy()
            has_amount |= amount is not None and amount in chunk.columns
            amt = chunk[amount].to_numpy()[act] if amount is not None and amount in chunk.columns else np.nan
            actions.add(ent[act], chunk[category].to_numpy()[act], amt)
    return _finish(attrs, actions, sorted(cats), entities, entity, category, event_col, action, conflict,
                   placeholders, has_amount)


def _check_args(entity, attributes, category, event_col, conflict) -> None:
    if conflict not in CONFLICT_RULES:
        raise ValueError(f"conflict must be one of {CONFLICT_RULES}, got {conflict!r}")
    for col, what in ((category, "category"), (event_col, "event_col"), (entity, "entity")):
        if col in attributes:
            raise ValueError(f"the {what} column {col!r} cannot also be an attribute here (it is cleaned per "
                             "entity, which needs every event first): use audience_from_events")


def _require(chunk: pd.DataFrame, need: Iterable[str], path) -> None:
    missing = [c for c in need if c not in chunk.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} in events {chunk.index[0]}..{chunk.index[-1]} "
                         f"(columns: {list(chunk.columns)[:20]})")


def _resolve(a: _Attribute, entity: str, conflict: str, all_entities: pd.Index) -> tuple[pd.Series, dict, list]:
    """The attribute's value per entity, its report row and its conflict rows."""
    a.compact()
    stats = a.stats[0] if a.stats else pd.DataFrame({"e": [], "v": [], "n": [], "last": [], "first": []})
    value, many = pick_from_stats(stats, conflict)
    conflicted = pd.Index(many["e"].unique())
    rows = []
    if len(conflicted):
        chosen = value.reindex(conflicted)
        if conflict == "placeholder":
            chosen[:] = a.placeholders[0] if a.placeholders else np.nan
            value.loc[conflicted] = chosen
        for e, grp in many.groupby("e", sort=False):
            seen = ", ".join(f"{v} x{n}" for v, n in zip(grp["v"], grp["n"]))
            rows.append({entity: e, "attribute": a.name, "values": seen, "resolved_to": chosen[e]})
        if conflict == "error":
            raise ValueError(f"{a.name!r} has {len(conflicted)} conflicting {entity}(s), e.g. {rows[0]}; pass "
                             "conflict='mode', 'first', 'last' or 'placeholder' to resolve them")
    ph = a.first_ph[0] if a.first_ph else pd.DataFrame({"e": [], "v": []})
    with_ph = pd.Index(ph["e"])
    raw = a.raw[0] if a.raw else pd.DataFrame({"e": [], "v": []})
    report = {"attribute": a.name, "entities": len(all_entities),
              "entities_varying": int((raw.groupby("e", sort=False).size() > 1).sum()),
              "placeholder_cells": a.ph_cells, "entities_filled": len(with_ph.intersection(value.index)),
              "entities_only_placeholder": len(with_ph.difference(value.index)), "conflicts": len(conflicted)}
    full = value.reindex(all_entities)
    only = full.isna() & all_entities.isin(with_ph)
    full[only] = pd.Series(ph["v"].to_numpy(), index=ph["e"].to_numpy()).reindex(all_entities[only]).to_numpy()
    return (pd.to_numeric(full) if a.numeric else full), report, rows


def _finish(attrs, actions: _Actions, cats: list, entities: list, entity: str, category: str, event_col: str,
            action: str, conflict: str, placeholders: dict, has_amount: bool) -> Audience:
    all_entities = pd.Index(np.concatenate(entities) if entities else []).unique().sort_values()
    users = pd.DataFrame({entity: all_entities})
    table, conflicts = [], []
    for a in attrs:
        col, row, rows = _resolve(a, entity, conflict, all_entities)
        users[a.name] = col.to_numpy()
        table.append(row)
        conflicts += rows
    acts = actions.total()
    if not len(acts):
        raise ValueError(f"no event has {event_col} == {action!r}")
    counts = acts.pivot_table(index="e", columns="c", values="n", aggfunc="sum", fill_value=0)
    counts = counts.reindex(index=all_entities, columns=cats, fill_value=0)
    amounts = (acts.pivot_table(index="e", columns="c", values="a", aggfunc="sum", fill_value=0) if has_amount
               else counts).reindex(index=all_entities, columns=cats, fill_value=0)
    for frame in (counts, amounts):
        frame.index.name, frame.columns.name = entity, category
    report = CleaningReport(pd.DataFrame(table).set_index("attribute"),
                            pd.DataFrame(conflicts, columns=[entity, "attribute", "values", "resolved_to"]),
                            entity, conflict, placeholders)
    return Audience(users, counts > 0, amounts, report, {"entity": entity, "category": category})
