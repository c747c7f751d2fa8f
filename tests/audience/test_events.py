"""Cleaning rules, the cleaning report, and aggregation against hand-computed values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featvec.audience.events import aggregate_events, clean_attributes, entity_table


def events() -> pd.DataFrame:
    # u1: U then F (fill); u2: M, F, M (conflict, mode M); u3: only U; u4: F, M (tie: last seen wins for mode)
    return pd.DataFrame({
        "user": ["u1", "u1", "u2", "u2", "u2", "u3", "u4", "u4"],
        "gender": ["U", "F", "M", "F", "M", "U", "F", "M"],
        "age": ["18-24"] * 2 + ["25-34"] * 3 + ["55+"] + ["35-44"] * 2,
        "event": ["View", "Fund", "View", "View", "Fund", "View", "Fund", "View"],
        "cat": ["A", "A", "A", "B", "B", "A", "A", "A"],
        "t": [0, 10, 5, 7, 20, 3, 100, 130],
        "amount": [np.nan, 5.0, np.nan, np.nan, 7.0, np.nan, 2.0, np.nan],
    })


def test_placeholders_are_filled_and_conflicts_resolved_by_mode():
    clean, rep = clean_attributes(events(), "user", ["gender", "age"], placeholders={"gender": ["U"]})
    g = clean.groupby("user")["gender"].unique().map(list).to_dict()
    assert g == {"u1": ["F"], "u2": ["M"], "u3": ["U"], "u4": ["M"]}
    t = rep.table
    assert t.loc["gender", "entities"] == 4 and t.loc["gender", "entities_varying"] == 3
    assert t.loc["gender", "placeholder_cells"] == 2 and t.loc["gender", "entities_filled"] == 1
    assert t.loc["gender", "entities_only_placeholder"] == 1 and t.loc["gender", "conflicts"] == 2
    assert t.loc["age", "entities_varying"] == 0 and rep.varying == ["gender"]
    conf = rep.conflicts.set_index("user")
    assert set(conf.index) == {"u2", "u4"} and conf.loc["u2", "resolved_to"] == "M"
    assert conf.loc["u2", "values"] == "M x2, F x1"
    text = rep.text()
    assert "gender: varies within 3 of 4 entities" in text and "conflicts (two or more real values): 2" in text
    assert "age: constant" in text
    assert events()["gender"].tolist()[0] == "U"  # the input is not modified


@pytest.mark.parametrize("rule, u2, u4", [("first", "M", "F"), ("last", "M", "M"), ("placeholder", "U", "U")])
def test_conflict_rules(rule, u2, u4):
    clean, rep = clean_attributes(events(), "user", ["gender"], placeholders={"gender": "U"}, conflict=rule)
    g = clean.groupby("user")["gender"].first()
    assert g["u2"] == u2 and g["u4"] == u4 and g["u1"] == "F"
    assert rep.rule == rule and len(rep.conflicts) == 2


def test_conflict_error_rule_lists_them():
    with pytest.raises(ValueError, match="'gender' has 2 conflicting user"):
        clean_attributes(events(), "user", ["gender"], placeholders={"gender": ["U"]}, conflict="error")


def test_missing_values_count_as_placeholders():
    ev = events().assign(age=lambda d: d["age"].where(d.index != 0))
    clean, rep = clean_attributes(ev, "user", ["age"])
    assert clean.loc[0, "age"] == "18-24" and rep.table.loc["age", "entities_filled"] == 1


def test_cleaning_errors():
    with pytest.raises(ValueError, match="conflict must be one of"):
        clean_attributes(events(), "user", ["gender"], conflict="vote")
    with pytest.raises(ValueError, match="nope"):
        clean_attributes(events(), "user", ["nope"])
    with pytest.raises(ValueError, match="not in attributes"):
        clean_attributes(events(), "user", ["age"], placeholders={"gender": ["U"]})
    with pytest.raises(ValueError, match="missing in row 1"):
        clean_attributes(events().assign(user=["u1", None, "u2", "u2", "u2", "u3", "u4", "u4"]), "user", ["age"])
    with pytest.raises(ValueError, match="empty"):
        clean_attributes(events().iloc[:0], "user", ["age"])


def test_entity_table_needs_constant_attributes():
    with pytest.raises(ValueError, match="vary within some user; run clean_attributes first"):
        entity_table(events(), "user", ["gender"])
    clean, _ = clean_attributes(events(), "user", ["gender"], placeholders={"gender": ["U"]})
    t = entity_table(clean, "user", ["gender", "age"])
    assert t["user"].tolist() == ["u1", "u2", "u3", "u4"] and t["gender"].tolist() == ["F", "M", "U", "M"]


def test_aggregation_by_hand():
    agg = aggregate_events(events(), ["user", "cat"], event_col="event", time_col="t", sums=["amount"],
                           ratios={"conversion": ("Fund", "View")}).set_index(["user", "cat"])
    assert list(agg.columns) == ["n_events", "n_Fund", "n_View", "amount_sum", "mean_interval", "conversion"]
    r = agg.loc[("u1", "A")]
    assert (r["n_events"], r["n_Fund"], r["n_View"], r["amount_sum"], r["mean_interval"], r["conversion"]) == \
        (2, 1, 1, 5.0, 10.0, 1.0)
    r = agg.loc[("u2", "B")]  # one view at t=7, one fund at t=20
    assert (r["n_Fund"], r["n_View"], r["amount_sum"], r["mean_interval"], r["conversion"]) == (1, 1, 7.0, 13.0, 1.0)
    r = agg.loc[("u2", "A")]  # a single view: no interval, conversion 0 / 1
    assert np.isnan(r["mean_interval"]) and r["conversion"] == 0.0 and r["amount_sum"] == 0.0
    r = agg.loc[("u4", "A")]
    assert r["mean_interval"] == 30.0 and r["conversion"] == 1.0
    assert len(agg) == 5


def test_aggregation_interval_is_in_time_order_and_fills():
    ev = pd.DataFrame({"u": ["a"] * 4, "t": [30, 0, 10, 60], "e": ["x"] * 4})
    agg = aggregate_events(ev, "u", event_col="e", time_col="t")
    assert agg.loc[0, "mean_interval"] == 20.0  # gaps 10, 20, 30 after sorting by time
    one = aggregate_events(ev.iloc[:1], "u", time_col="t", interval_fill=0.0)
    assert one.loc[0, "mean_interval"] == 0.0


def test_ratio_of_zero_denominator_is_nan_and_unknown_parts_are_named():
    ev = pd.DataFrame({"u": ["a", "b"], "e": ["Fund", "Fund"]})
    agg = aggregate_events(ev, "u", event_col="e", ratios={"r": ("Fund", "n_events")})
    assert agg["r"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="ratio 'r': no event type or column 'View'"):
        aggregate_events(ev, "u", event_col="e", ratios={"r": ("Fund", "View")})
    ev2 = pd.DataFrame({"u": ["a", "b"], "e": ["Fund", "View"]})
    agg = aggregate_events(ev2, "u", event_col="e", ratios={"r": ("Fund", "View")})
    assert np.isnan(agg.loc[0, "r"]) and agg.loc[1, "r"] == 0.0


@pytest.mark.data
def test_real_events_gender_is_the_only_varying_attribute():
    import gzip
    import json

    from featvec.datasets import find_data_dir

    root = find_data_dir()
    if root is None or not (root / "localytics-data-viz-challenge" / "data.json.gz").exists():
        pytest.skip("no ../shared/data/localytics-data-viz-challenge (set FEATVEC_DATA)")
    with gzip.open(root / "localytics-data-viz-challenge" / "data.json.gz", "rt") as fh:
        ev = pd.json_normalize(json.load(fh)["data"], sep="_")
    attrs = ["gender", "age", "marital_status", "device", "location_city", "location_state", "location_zip_code",
             "location_latitude", "location_longitude"]
    clean, rep = clean_attributes(ev, "session_id", attrs, placeholders={"gender": ["U"]})
    assert rep.varying == ["gender"]
    g = rep.table.loc["gender"]
    assert g["entities"] == 10_466 and g["entities_varying"] == 2_084
    assert g["conflicts"] == len(rep.conflicts) == 488 and g["entities_filled"] == 1_710
    assert g["entities_only_placeholder"] == 58
    agg = aggregate_events(clean, ["session_id", "category"], event_col="event_name")
    assert len(agg) == 22_407 and agg["n_Fund Project"].sum() == 20_658
