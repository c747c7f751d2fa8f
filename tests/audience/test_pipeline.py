"""Notebook 001's pipeline end to end on small generated events: audience, embeddings, protocol L, CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from featvec.audience.pipeline import audience_from_events, embed_users
from featvec.datasets.localytics import EVENTS, USERS
from featvec.cli import main

from event_fixtures import make_events  # noqa: E402


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    import gzip

    path = tmp_path_factory.mktemp("ev") / "data.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump({"data": make_events()}, fh)
    return path


def test_audience_from_events(events_file):
    from featvec.io.readers import read_events

    aud = audience_from_events(read_events(events_file), **EVENTS)
    assert len(aud.users) == 300 and aud.users["session_id"].is_monotonic_increasing
    assert list(aud.funded.columns) == ["Games", "Sports"]
    assert aud.report.varying == ["gender"] and (aud.users["gender"] != "U").all()
    assert aud.report.table.loc["gender", "conflicts"] == len(aud.report.conflicts) > 0
    young = aud.users["age"].eq("18-24").to_numpy()
    assert aud.funded["Games"].to_numpy()[young].mean() > aud.funded["Games"].to_numpy()[~young].mean()
    assert (aud.amounts.to_numpy() >= 0).all() and aud.amounts.to_numpy().sum() > 0


def test_embed_users_learns_that_age_decides(events_file):
    from featvec.io.readers import read_events
    from featvec.audience.lookalike import block_shares, lookalikes

    aud = audience_from_events(read_events(events_file), **EVENTS)
    uv, model = embed_users(aud.users, aud.funded, aud.users, epochs=10, seed=0, **USERS)
    assert set(uv.blocks) == {"gender", "age", "marital_status", "device", "location_state", "geo"}
    did = aud.funded["Games"].to_numpy()
    ids = aud.users["session_id"]
    m = lookalikes(uv, list(ids[did]), top=50, against=list(ids[~did]), exclude_seed=False)
    share = block_shares(m, list(uv.blocks))
    assert share.idxmax() == "age"
    ages = aud.users.set_index("session_id").loc[m["id"], "age"]
    assert (ages == "18-24").mean() > 0.9


def test_protocol_l_on_generated_events(events_file, tmp_path):
    from featvec.bench.lookalike import run_protocol_l

    lines = []
    rows = run_protocol_l(path=events_file, seeds=[0], out_dir=tmp_path, emit=lines.append)
    by = {r["system"]: r for r in rows}
    assert set(by) == {"featvec.lookalike", "featvec.lookalike[centroid]", "featvec.TabularModel[audience model]",
                       "random", "onehot.cosine", "sklearn.LogisticRegression"}
    # scikit-learn is a bench extra: without it the peer's row is an error, the others must not be
    assert all("error" not in r for r in rows if r["system"] != "sklearn.LogisticRegression"), rows
    assert len(lines) == len(rows)
    # age decides who funds what here, so every similarity system beats random by far
    assert by["featvec.lookalike"]["auc"] > 0.7 and by["featvec.lookalike"]["auc"] > by["random"]["auc"] + 0.15
    assert by["featvec.TabularModel[audience model]"]["auc"] > 0.7
    share = by["featvec.lookalike[centroid]"]
    assert share["block_share_raw"]["geo"] > 0.9 > share["block_share"]["geo"]
    assert set(by["featvec.lookalike"]["auc_by_category"]) == {"Games", "Sports"}
    assert by["featvec.lookalike"]["n_train_users"] == 210 and by["featvec.lookalike"]["n_test_users"] == 90
    md = (tmp_path / "L.md").read_text()
    assert "AUC (audience)" in md and "raw blocks concatenated" in md


def test_cli_lookalike_writes_map_csv_and_report(events_file, tmp_path, capsys):
    out, csv = tmp_path / "seg.html", tmp_path / "m.csv"
    status = main(["lookalike", str(events_file), "--category", "Games", "--top", "0.2", "--out", str(out),
                   "--csv", str(csv)])
    text = capsys.readouterr().out
    assert status == 0
    assert "Cleaning report" in text and "gender: varies within" in text and "each block's share" in text
    html = out.read_text()
    assert "<svg" in html and "http://" not in html and "https://" not in html
    m = pd.read_csv(csv)
    contrib = [c for c in m.columns if c.startswith("contrib_")]
    np.testing.assert_allclose(m[contrib].sum(axis=1), m["score"], atol=1e-9)
    import re

    n_seed = int(re.search(r"most like ([\d,]+) seed user", text).group(1).replace(",", ""))
    assert len(m) == round(0.2 * (300 - n_seed))
    status = main(["lookalike", str(events_file), "--category", "Games", "--seed-user", "top", "--top", "10",
                   "--weight", "geo=4", "--out", str(out)])
    assert status == 0 and '"geo": 0.4' in capsys.readouterr().out


def test_cli_lookalike_errors(events_file, tmp_path, capsys):
    assert main(["lookalike", str(events_file), "--category", "Nope", "--out", str(tmp_path / "x.html")]) == 2
    assert "unknown category 'Nope'" in capsys.readouterr().err
    assert main(["lookalike", str(events_file), "--category", "Games", "--weight", "geo"]) == 2
    assert "use BLOCK=NUMBER" in capsys.readouterr().err
    assert main(["lookalike", str(tmp_path / "missing.json"), "--category", "Games"]) == 2
    assert "missing.json" in capsys.readouterr().err


def _flat_csv(tmp_path, rename: dict) -> str:
    """The events as the flat CSV export lays them out (location fields without their prefix), renamed."""
    flat = [{**{k: v for k, v in e.items() if k != "location"}, **e["location"]} for e in make_events(120)]
    path = tmp_path / "events.csv"
    pd.DataFrame(flat).rename(columns=rename).to_csv(path, index=False)
    return str(path)


def test_cli_lookalike_reads_the_flat_csv_layout_and_maps_other_names(tmp_path, capsys):
    out = str(tmp_path / "seg.html")
    assert main(["lookalike", _flat_csv(tmp_path, {}), "--category", "Games", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "state -> location_state" in text and "latitude -> location_latitude" in text and "each block's share" in text
    path = _flat_csv(tmp_path, {"session_id": "sid", "state": "region"})
    assert main(["lookalike", path, "--category", "Games", "--out", out]) == 2
    assert "missing column(s) ['session_id'" in capsys.readouterr().err
    assert main(["lookalike", path, "--category", "Games", "--out", out,
                 "--column", "sid=session_id", "region=location_state"]) == 0
    assert "region -> location_state" in capsys.readouterr().out
    assert main(["lookalike", path, "--category", "Games", "--column", "nope=session_id"]) == 2
    assert "--column names column(s) ['nope']" in capsys.readouterr().err
    assert main(["lookalike", path, "--category", "Games", "--column", "sid"]) == 2
    assert "use FILE_COLUMN=NAME" in capsys.readouterr().err


def test_cli_lookalike_streamed_gives_the_same_audience(events_file, tmp_path, capsys):
    outs = []
    for extra in ([], ["--stream"]):
        csv = tmp_path / f"m{len(extra)}.csv"
        assert main(["lookalike", str(events_file), "--category", "Games", "--top", "0.2", "--out",
                     str(tmp_path / "seg.html"), "--csv", str(csv), *extra]) == 0
        outs.append((capsys.readouterr().out.replace(csv.name, "m.csv"), pd.read_csv(csv)))
    assert outs[0][0].split("Cleaning report")[1] == outs[1][0].split("Cleaning report")[1]
    pd.testing.assert_frame_equal(outs[0][1], outs[1][1])
