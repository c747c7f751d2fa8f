"""Notebook 001's pipeline as functions: events -> cleaned users -> attribute embeddings (TabularModel) ->
balanced user vectors -> look-alikes. Dataset-neutral: the columns and the action are arguments (the
Localytics events' are in ``featvec.datasets.localytics``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from featvec.audience.lookalike import UserVectors, user_vectors

@dataclass
class Audience:
    """Cleaned users (one row each), who did what per category, and the cleaning report."""

    users: pd.DataFrame
    funded: pd.DataFrame  # users x categories: bool
    amounts: pd.DataFrame  # users x categories: summed amounts
    report: object = None
    columns: dict = field(default_factory=dict)


def audience_from_events(events: pd.DataFrame, *, entity: str, attributes: Sequence[str], category: str,
                         event_col: str, action: str, amount: str | None = None, placeholders=None,
                         conflict: str = "mode") -> Audience:
    """Clean the attributes (``placeholders``: values that stand for missing, per attribute), one row per user,
    and per category whether (and how much: the sum of ``amount``, else the count) each user did ``action``."""
    from featvec.audience.events import clean_attributes, entity_table
    from featvec.validation import require_columns

    require_columns(events, [entity, category, event_col, *attributes], "events")
    placeholders = placeholders or {}
    clean, report = clean_attributes(events, entity, attributes, placeholders=placeholders, conflict=conflict)
    users = entity_table(clean, entity, attributes)
    acts = clean[clean[event_col] == action]
    if not len(acts):
        raise ValueError(f"no event has {event_col} == {action!r}; event types: {sorted(clean[event_col].unique())}")
    cats = sorted(clean[category].dropna().unique())
    if amount is not None and amount in clean.columns:
        amounts = acts.pivot_table(index=entity, columns=category, values=amount, aggfunc="sum", fill_value=0)
    else:
        amounts = acts.groupby([entity, category]).size().unstack(fill_value=0)
    amounts = amounts.reindex(index=users[entity], columns=cats, fill_value=0)
    counts = acts.groupby([entity, category]).size().unstack(fill_value=0).reindex(
        index=users[entity], columns=cats, fill_value=0)
    return Audience(users, counts > 0, amounts, report, {"entity": entity, "category": category})


def embed_users(train: pd.DataFrame, funded: pd.DataFrame, everyone: pd.DataFrame, *, entity: str,
                categorical: Sequence[str], geo: Sequence[str] = (), weights=None, seed: int = 0, **params) -> tuple[UserVectors, object]:
    """Learn attribute embeddings with a TabularModel on the ``train`` users (one row per user x category,
    target: did the action in that category, the category an input), then build balanced user vectors
    for ``everyone``: one block per categorical attribute plus a standardised ``geo`` block."""
    from featvec import TabularModel

    cats = list(funded.columns)
    rows = train.merge(pd.DataFrame({"category": cats}), how="cross")
    rows["target"] = funded.loc[train[entity]].to_numpy().reshape(-1).astype(np.int64)
    # at least ~16 steps an epoch, so small audiences train too
    defaults = {"layers": (64, 32), "epochs": 8, "batch_size": int(min(1024, max(32, len(rows) // 16))), "lr": 1e-2}
    model = TabularModel(categorical=["category", *categorical], numeric=list(geo), target="target",
                         task="classification", seed=seed, **{**defaults, **params}).fit(rows)
    uv = user_vectors(everyone, entity, vectors={c: model.vectors_[c] for c in categorical},
                      numeric={"geo": list(geo)} if geo else None, weights=weights)
    return uv, model
