"""Event tables -> per-entity bags (lists of values, optionally weighted): the input of UserModel."""
from __future__ import annotations

import numpy as np
import pandas as pd

from featvec.validation import check_frame, require_columns


def bags_from_events(events: pd.DataFrame, entity: str, value: str, weight: str | None = None,
                     name: str | None = None, entities=None, unique: bool = False) -> pd.DataFrame:
    """One row per entity (sorted, or in the order of ``entities``, which may name entities without
    events: they get empty bags) with column ``name`` (default ``value``) holding the list of its values
    in event order, and ``<name>_weight`` the matching weights when ``weight`` is given. A ``value`` cell
    that is itself a list (a movie's genres) is spread into the bag, each element carrying the event's
    weight. ``unique=True`` keeps each value once per entity (weights summed)."""
    events = check_frame(events, "events")
    require_columns(events, [entity, value] + ([weight] if weight else []), "events")
    name = name or value
    frame = events[[entity, value] + ([weight] if weight else [])].rename(
        columns={entity: "_e", value: "_v", **({weight: "_w"} if weight else {})})
    if frame["_v"].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
        frame = frame.explode("_v")
    frame = frame[frame["_v"].notna()]
    if weight:
        w = pd.to_numeric(frame["_w"], errors="coerce")
        if w.isna().any():
            pos = int(np.flatnonzero(w.isna().to_numpy())[0])
            raise ValueError(f"events: weight column {weight!r} must be numeric and present; row {pos} of the "
                             f"values holds {frame['_w'].iloc[pos]!r}")
        frame = frame.assign(_w=w)
    if unique:
        frame = frame.groupby(["_e", "_v"], sort=False, as_index=False).agg(
            **({"_w": ("_w", "sum")} if weight else {"_n": ("_v", "size")}))
    grouped = frame.groupby("_e", sort=True)
    out = grouped["_v"].agg(list).rename(name).to_frame()
    if weight:
        out[f"{name}_weight"] = grouped["_w"].agg(list)
    order = pd.Index(sorted(events[entity].dropna().unique())) if entities is None else pd.Index(entities)
    out = out.reindex(order).astype(object)
    empty = out[name].isna()
    if empty.any():
        out.loc[empty, name] = pd.Series([[] for _ in range(int(empty.sum()))], index=out.index[empty])
        if weight:
            out.loc[empty, f"{name}_weight"] = pd.Series([[] for _ in range(int(empty.sum()))], index=out.index[empty])
    out.index.name = entity
    return out.reset_index()
