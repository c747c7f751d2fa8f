"""The events -> audience step over files read chunk by chunk: the in-memory pipeline's result, exactly."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from featvec.audience.pipeline import audience_from_events
from featvec.audience.streaming import audience_from_event_files
from featvec.datasets.localytics import EVENTS
from featvec.io.readers import read_events

from event_fixtures import make_events  # noqa: E402


def events() -> list[dict]:
    ev = make_events(200, seed=3)
    # a user whose only gender is the placeholder; one with two genders seen equally often
    ev += [{**ev[0], "session_id": "zz-only-U", "gender": "U"}, {**ev[0], "session_id": "zz-tie", "gender": "F"},
           {**ev[0], "session_id": "zz-tie", "gender": "M", "event_name": "Fund Project", "amount": 7}]
    return ev


def write_jsonl(records: list[dict], folder, parts: int = 3):
    folder.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(np.array_split(np.arange(len(records)), parts)):
        with gzip.open(folder / f"part-{k}.jsonl.gz", "wt") as fh:
            fh.writelines(json.dumps(records[j]) + "\n" for j in part)
    return folder


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.users.reset_index(drop=True), b.users.reset_index(drop=True), check_dtype=False)
    for name in ("funded", "amounts"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False, check_names=False)
    pd.testing.assert_frame_equal(a.report.table, b.report.table, check_dtype=False)
    pd.testing.assert_frame_equal(a.report.conflicts, b.report.conflicts, check_dtype=False)


@pytest.mark.parametrize("conflict", ["mode", "first", "last", "placeholder"])
def test_streamed_files_give_the_in_memory_audience(tmp_path, conflict):
    records = events()
    folder = write_jsonl(records, tmp_path / "ev")
    whole = audience_from_events(pd.concat([read_events(f) for f in sorted(folder.iterdir())], ignore_index=True),
                                 **{**EVENTS, "conflict": conflict})
    streamed = audience_from_event_files(folder, chunk_rows=37, **{**EVENTS, "conflict": conflict})
    assert_same(streamed, whole)
    assert streamed.users.set_index("session_id").loc["zz-only-U", "gender"] == "U"
    assert streamed.report.table.loc["gender", "entities_only_placeholder"] == 1
    assert streamed.report.table.loc["gender", "conflicts"] > 1


def test_errors_name_the_file_and_the_event(tmp_path):
    folder = write_jsonl(events(), tmp_path / "ev", parts=2)
    with pytest.raises(ValueError, match="conflicting session_id"):
        audience_from_event_files(folder, **{**EVENTS, "conflict": "error"})
    bad = [dict(r) for r in events()[:30]]
    bad[12]["session_id"] = None
    with pytest.raises(ValueError, match=r"bad/part-0.jsonl.gz: column 'session_id' \(the entity\) is missing in event 12"):
        audience_from_event_files(write_jsonl(bad, tmp_path / "bad", 1) / "part-0.jsonl.gz", **EVENTS)
    no_gender = [{k: v for k, v in r.items() if k != "gender"} for r in events()[:20]]
    with pytest.raises(ValueError, match="part-0.jsonl.gz: no column 'gender' in events 0..19"):
        audience_from_event_files(write_jsonl(no_gender, tmp_path / "ng", 1), **EVENTS)
    with pytest.raises(ValueError, match="cannot also be an attribute"):
        audience_from_event_files(folder, **{**EVENTS, "attributes": ["category", "age"]})
    with pytest.raises(ValueError, match="no event file in the folder"):
        (tmp_path / "empty").mkdir()
        audience_from_event_files(tmp_path / "empty", **EVENTS)


@pytest.mark.data
def test_the_localytics_events_streamed_are_the_in_memory_audience():
    from featvec.datasets import find_data_dir

    root = find_data_dir()
    path = None if root is None else root / "localytics-data-viz-challenge" / "data.json.gz"
    if path is None or not path.exists():
        pytest.skip("no ../shared/data/localytics-data-viz-challenge (set FEATVEC_DATA)")
    whole = audience_from_events(read_events(path), **EVENTS)
    streamed = audience_from_event_files(path, chunk_rows=5_000, **EVENTS)
    assert_same(streamed, whole)
    assert len(streamed.users) == 10_466 and streamed.report.table.loc["gender", "conflicts"] == 488
