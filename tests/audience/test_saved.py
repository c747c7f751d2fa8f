"""LookalikeIndex: saved by `featvec lookalike --save`, loaded whole, answering look-alikes as the CLI does."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import featvec
from featvec.audience.saved import LookalikeIndex
from featvec.cli import main

from event_fixtures import make_events


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("lk")
    events = root / "events.json.gz"
    with gzip.open(events, "wt") as fh:
        json.dump({"data": make_events()}, fh)
    assert main(["lookalike", str(events), "--category", "Games", "--out", str(root / "m.html"),
                 "--csv", str(root / "m.csv"), "--save", str(root / "index")]) == 0
    return root


def test_saved_index_answers_the_clis_lookalikes(saved):
    import pandas as pd

    index = featvec.load(saved / "index")
    assert isinstance(index, LookalikeIndex)
    assert sorted(index.segments_) == ["Games", "Sports"]
    got = index.lookalikes(segment="Games", top=0.25)
    want = pd.read_csv(saved / "m.csv")
    assert got["id"].tolist() == want["id"].tolist()
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-5, atol=1e-6)
    assert {"age", "location_state", "location_latitude"} <= set(got.columns)
    contrib = got.filter(like="contrib_").sum(axis=1)
    np.testing.assert_allclose(contrib, got["score"], rtol=1e-5, atol=1e-6)


def test_seed_users_and_the_users_table(saved):
    index = LookalikeIndex.load(saved / "index")
    seed = index.members("Sports")[:3]
    out = index.lookalikes(seed=seed, top=10)
    assert len(out) == 10 and not set(seed) & set(out["id"])
    users = index.vectors_["users"]
    a, b = users[[seed[0], out["id"][0]]]
    one = index.lookalikes(seed=[seed[0]], top=1)
    assert one["score"][0] == pytest.approx(float(a @ users[one["id"][0]]), rel=1e-5)
    assert b.shape == a.shape


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give a seed (user ids) or a segment name"),
    ({"seed": ["s0001"], "segment": "Games"}, "not both"),
    ({"segment": "Golf"}, "unknown segment 'Golf'; segments: ['Games', 'Sports']"),
    ({"seed": ["nobody"]}, "unknown user id(s) ['nobody']"),
    ({"segment": "Games", "weights": {"shoe": 1}}, "unknown block(s) ['shoe']"),
])
def test_bad_queries_name_the_value(saved, kwargs, message):
    with pytest.raises(ValueError) as e:
        featvec.load(saved / "index").lookalikes(**kwargs)
    assert message in str(e.value)
