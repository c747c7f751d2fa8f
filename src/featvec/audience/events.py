"""Event logs -> clean per-entity tables: attribute checks with a cleaning report, and configurable
aggregation per entity (x category): counts per event type, ratios, mean interval between actions, sums.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from featvec.validation import check_frame, numeric_values, plain, require_columns, with_values

CONFLICT_RULES = ("mode", "first", "last", "placeholder", "error")


@dataclass
class CleaningReport:
    """What ``clean_attributes`` found and did.

    ``table``: one row per attribute -- entities, entities whose raw values vary, placeholder cells,
    entities whose placeholders were filled from their other events, entities left with only
    placeholders, conflicting entities and the rule that resolved them. ``conflicts``: one row per
    (entity, attribute) conflict with the values seen (and their counts) and the value chosen.
    """

    table: pd.DataFrame
    conflicts: pd.DataFrame
    entity: str
    rule: str
    placeholders: dict = field(default_factory=dict)

    @property
    def varying(self) -> list[str]:
        """Attributes that take more than one raw value within some entity."""
        return list(self.table.index[self.table["entities_varying"] > 0])

    def text(self) -> str:
        lines = [f"Cleaning report: attributes expected constant per {self.entity}"]
        for name, r in self.table.iterrows():
            if r["entities_varying"] == 0:
                lines.append(f"- {name}: constant for all {r['entities']:,} entities")
                continue
            ph = self.placeholders.get(name) or []
            lines.append(f"- {name}: varies within {r['entities_varying']:,} of {r['entities']:,} entities")
            if ph:
                lines.append(f"    placeholder values {ph}: {r['placeholder_cells']:,} cells; filled from the "
                             f"entity's other events for {r['entities_filled']:,} entities; "
                             f"{r['entities_only_placeholder']:,} entities have nothing else (kept as placeholder)")
            if r["conflicts"]:
                lines.append(f"    conflicts (two or more real values): {r['conflicts']:,} entities, resolved by "
                             f"rule '{self.rule}'")
        if not len(self.conflicts):
            lines.append("No conflicts.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def _pick_real_values(ent: np.ndarray, values: np.ndarray, is_ph: np.ndarray, order: np.ndarray, conflict: str):
    """Each entity's real value by the ``conflict`` rule (a Series by entity), and the (entity, value,
    count) rows of the entities with two or more real values."""
    real = pd.DataFrame({"e": ent[~is_ph], "v": values[~is_ph], "pos": order[~is_ph]})
    stats = real.groupby(["e", "v"], sort=False).agg(n=("pos", "size"), last=("pos", "max"), first=("pos", "min"))
    return pick_from_stats(stats.reset_index(), conflict)


def pick_from_stats(stats: pd.DataFrame, conflict: str):
    """``_pick_real_values`` from the (entity e, real value v, count n, first / last position) rows, in the
    order the pairs were first seen: also what the streaming pipeline computes chunk by chunk."""
    n_real = stats.groupby("e", sort=False)["v"].transform("size")
    if conflict == "mode":
        pick = stats.sort_values(["e", "n", "last"]).groupby("e", sort=False).tail(1)
    elif conflict == "first":
        pick = stats.sort_values(["e", "first"]).groupby("e", sort=False).head(1)
    else:  # last, and the single-valued entities of every other rule
        pick = stats.sort_values(["e", "last"]).groupby("e", sort=False).tail(1)
    return pd.Series(pick["v"].to_numpy(), index=pick["e"].to_numpy()), stats[n_real > 1]


def _check_clean_args(events, entity: str, attributes, placeholders, conflict: str) -> tuple:
    """clean_attributes' arguments checked: (the events frame, the attributes as a list, the placeholders
    as lists by attribute)."""
    if conflict not in CONFLICT_RULES:
        raise ValueError(f"conflict must be one of {CONFLICT_RULES}, got {conflict!r}")
    events = check_frame(events, "events")
    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    require_columns(events, [entity, *attributes], "events")
    placeholders = {k: list(v) if not isinstance(v, str) else [v] for k, v in (placeholders or {}).items()}
    unknown = [k for k in placeholders if k not in attributes]
    if unknown:
        raise ValueError(f"placeholders name column(s) {unknown} that are not in attributes {attributes}")
    if events[entity].isna().any():
        row = int(np.flatnonzero(events[entity].isna().to_numpy())[0])
        raise ValueError(f"events: column {entity!r} (the entity) is missing in row {row}")
    return events, attributes, placeholders


def clean_attributes(events: pd.DataFrame, entity: str, attributes: Sequence[str],
                     placeholders: Mapping[str, Sequence] | None = None, conflict: str = "mode"
                     ) -> tuple[pd.DataFrame, CleaningReport]:
    """Make each attribute constant per ``entity``: placeholder values (e.g. ``{"gender": ["U"]}``) are
    replaced by the entity's real value from its other events; an entity with two or more real values is
    a conflict, listed in the report and resolved by ``conflict``:

    - "mode": the most frequent real value (ties: the one seen last);
    - "first" / "last": the real value of the entity's first / last event (in frame order);
    - "placeholder": set to the attribute's first placeholder value (unknown), or NaN without one;
    - "error": raise, listing the conflicts.

    Missing values (NaN) count as placeholders. Returns (cleaned copy of ``events``, CleaningReport).
    """
    events, attributes, placeholders = _check_clean_args(events, entity, attributes, placeholders, conflict)
    out = events.copy()
    rows, conflict_rows = [], []
    ent = events[entity].to_numpy()
    order = np.arange(len(events))
    for attr in attributes:
        col = events[attr]
        ph = placeholders.get(attr, [])
        is_ph = col.isna().to_numpy() | col.isin(ph).to_numpy()
        n_entities = int(pd.Series(ent).nunique())
        varying = int((events.groupby(entity, sort=False)[attr].nunique(dropna=False) > 1).sum())
        value, many = _pick_real_values(ent, col.to_numpy(), is_ph, order, conflict)
        conflicted = pd.Index(many["e"].unique())
        if len(conflicted):
            chosen = value.reindex(conflicted)
            if conflict == "placeholder":
                chosen[:] = ph[0] if ph else np.nan
                value.loc[conflicted] = chosen
            for e, grp in many.groupby("e", sort=False):
                seen = ", ".join(f"{v} x{n}" for v, n in zip(grp["v"], grp["n"]))
                conflict_rows.append({entity: e, "attribute": attr, "values": seen, "resolved_to": chosen[e]})
        if conflict == "error" and len(conflicted):
            raise ValueError(f"{attr!r} has {len(conflicted)} conflicting {entity}(s), e.g. "
                             f"{conflict_rows[-len(conflicted)]}; pass conflict='mode', 'first', 'last' or "
                             "'placeholder' to resolve them")
        filled_entities = pd.Index(ent[is_ph]).unique().intersection(value.index)
        only_ph = pd.Index(ent[is_ph]).unique().difference(value.index)
        new = pd.Series(ent).map(value)
        keep = new.isna().to_numpy()  # entities with only placeholders keep their (placeholder) values
        out[attr] = np.where(keep, col.to_numpy(dtype=object), new.to_numpy(dtype=object))
        if pd.api.types.is_numeric_dtype(col):
            out[attr] = pd.to_numeric(out[attr])
        rows.append({"attribute": attr, "entities": n_entities, "entities_varying": varying,
                     "placeholder_cells": int(is_ph.sum()), "entities_filled": len(filled_entities), "entities_only_placeholder": len(only_ph),
                     "conflicts": len(conflicted)})
    table = pd.DataFrame(rows).set_index("attribute")
    conflicts = pd.DataFrame(conflict_rows, columns=[entity, "attribute", "values", "resolved_to"])
    return out, CleaningReport(table, conflicts, entity, conflict, placeholders)


def entity_table(events: pd.DataFrame, entity: str, attributes: Sequence[str]) -> pd.DataFrame:
    """One row per entity with its attributes (which must be constant per entity: clean them first)."""
    events = check_frame(events, "events")
    attributes = list(attributes)
    require_columns(events, [entity, *attributes], "events")
    n = events.groupby(entity, sort=True)[attributes].nunique(dropna=False)
    bad = [a for a in attributes if (n[a] > 1).any()]
    if bad:
        raise ValueError(f"attribute(s) {bad} vary within some {entity}; run clean_attributes first")
    return events.groupby(entity, sort=True)[attributes].first().reset_index()


def aggregate_events(events: pd.DataFrame, by: Sequence[str], event_col: str | None = None,
                     time_col: str | None = None, sums: Sequence[str] = (),
                     ratios: Mapping[str, tuple[str, str]] | None = None, prefix: str = "n_",
                     interval_fill: float = np.nan) -> pd.DataFrame:
    """Per group of ``by`` (e.g. ``["session_id", "category"]``):

    - ``n_<event>``: events of each type in ``event_col`` (every type gets a column, 0 when absent);
    - ``n_events``: all events;
    - ``<col>_sum`` for each column in ``sums`` (NaN counts as 0);
    - ``mean_interval``: mean seconds (units of ``time_col``) between successive events of the group in
      time order; ``interval_fill`` for groups with one event;
    - each ``ratios`` entry ``name: (numerator, denominator)``, event types or other output columns,
      e.g. ``{"conversion": ("Fund Project", "View Project")}``; NaN where the denominator is 0.
    """
    events = check_frame(events, "events")
    by = [by] if isinstance(by, str) else list(by)
    need = by + [c for c in (event_col, time_col) if c] + list(sums)
    require_columns(events, need, "events")
    events = with_values(events, by, "events", mixed_ok=True)  # a group needs a key: no NaN, no list cells
    events = events.assign(**{c: numeric_values(events, c, "events", allow_nan=True) for c in sums})
    g = events.groupby(by, sort=True)
    out = g.size().rename("n_events").to_frame()
    if event_col:
        counts = pd.crosstab([events[c] for c in by], events[event_col])
        counts.columns = [f"{prefix}{c}" for c in counts.columns]
        out = out.join(counts).fillna(0)
        for c in counts.columns:
            out[c] = out[c].astype(np.int64)
    for c in sums:
        out[f"{c}_sum"] = g[c].sum(min_count=0)
    if time_col:
        t = _seconds(events, time_col)
        frame = events[by].assign(_t=t).sort_values(by + ["_t"], kind="stable")
        gaps = frame.groupby(by, sort=False)["_t"].diff()
        mean_gap = gaps.groupby([frame[c] for c in by], sort=True).mean()
        out["mean_interval"] = mean_gap.reindex(out.index).fillna(interval_fill) if not np.isnan(
            interval_fill) else mean_gap.reindex(out.index)
    for name, (num, den) in (ratios or {}).items():
        cols = []
        for part in (num, den):
            col = part if part in out.columns else f"{prefix}{part}"
            if col not in out.columns:
                raise ValueError(f"ratio {name!r}: no event type or column {part!r}; have {list(out.columns)}")
            cols.append(col)
        d = out[cols[1]].astype(np.float64)
        out[name] = np.where(d > 0, out[cols[0]] / d.where(d > 0, 1.0), np.nan)
    return out.reset_index()


def _seconds(events: pd.DataFrame, col: str) -> np.ndarray:
    """A time column as float seconds: numbers as they are, datetimes (or text pandas parses as dates) since
    the epoch; NaN where missing. A value that is neither is refused, naming its row."""
    s = events[col]
    if pd.api.types.is_datetime64_any_dtype(s):
        return _epoch(s)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return numeric_values(events, col, "events", allow_nan=True)
    as_number = pd.to_numeric(s, errors="coerce")
    if (as_number.notna() | s.isna()).all():
        return as_number.to_numpy(dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": each value is parsed on its own
        as_date = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
    bad = (as_date.isna() & s.notna()).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"events: column {col!r} holds times, but row {pos} (index {plain(events.index[pos])!r}) "
                         f"holds {s.iloc[pos]!r}, neither a number nor a date")
    return _epoch(as_date)


def _epoch(s: pd.Series) -> np.ndarray:
    t = s.dt.tz_convert(None) if s.dt.tz is not None else s
    sec = (t - pd.Timestamp(0)).dt.total_seconds()
    return sec.to_numpy(dtype=np.float64, na_value=np.nan)
