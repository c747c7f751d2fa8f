"""segment_map: a self-contained HTML map of users over the US states (plus an optional PNG)."""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from featvec.audience.segment_map import _state_shapes, load_states, map_size, project, segment_map

# Interior points of a few states (lat, lon), Alaska and Hawaii included for the insets.
PLACES = {
    "CO": (39.0, -105.5), "TX": (31.0, -99.0), "KS": (38.5, -98.5), "NY": (42.8, -75.5),
    "IL": (40.0, -89.0), "CA": (37.0, -120.0), "GA": (32.7, -83.4), "MT": (47.0, -109.5),
    "AK": (64.8, -147.7), "HI": (19.6, -155.5),
}
SEGMENTS = ("alpha", "beta", "gamma", "delta")


@pytest.fixture(scope="module")
def users():
    rng = np.random.default_rng(7)
    states = list(PLACES)
    rows = []
    for i in range(50):
        st = states[i % len(states)]
        la, lo = PLACES[st]
        rows.append({"user_id": f"u{i:03d}", "state": st,
                     "latitude": la + rng.uniform(-0.15, 0.15), "longitude": lo + rng.uniform(-0.15, 0.15),
                     "segment": SEGMENTS[i % 4], "score": float(rng.normal(10, 3))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def made(users, tmp_path_factory):
    d = tmp_path_factory.mktemp("segmap")
    out = segment_map(users, color_by=("segment", "score"), title="Users <by> segment",
                      out=d / "map.html", png=d / "map.png", label="user_id")
    return out, out.read_text(encoding="utf-8"), d / "map.png"


def _circles(text):
    return [(float(x), float(y)) for x, y in re.findall(r'<circle[^>]*\bcx="([-\d.]+)" cy="([-\d.]+)"', text)]


def _data(text):
    m = re.search(r'<script type="application/json" id="fv-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def _legend(text, attr):
    start = text.index(f'<div class="fv-legend" data-attr="{attr}"')
    return text[start:text.index("</ul></div>", start)]


def test_html_is_written_and_self_contained(made):
    out, text, _ = made
    assert out.is_file() and out.suffix == ".html"
    assert text.lstrip().startswith("<!DOCTYPE html>")
    for bad in ('src="http', "src='http", 'href="http', "href='http", "<link", "<script src", "@import", "url("):
        assert bad not in text
    assert "http://" not in text and "https://" not in text
    assert "<svg" in text and "<script>" in text


def test_one_dot_per_user_with_labels(made, users):
    _, text, _ = made
    assert len(_circles(text)) == len(users)
    data = _data(text)
    assert data["labels"] == users["user_id"].tolist()
    assert [a["name"] for a in data["attrs"]] == ["segment", "score"]
    for a in data["attrs"]:
        assert len(a["ci"]) == len(users)
    assert 'data-shown="50"' in text and 'data-dropped="0"' in text


def test_state_outlines_are_drawn(made):
    _, text, _ = made
    codes = re.findall(r'<path class="fv-state" data-state="([A-Z]{2})" d="M', text)
    assert len(codes) >= 48
    assert {"CA", "TX", "NY", "FL", "AK", "HI", "DC"} <= set(codes)


def test_switcher_and_legends(made):
    _, text, _ = made
    select = re.search(r'<select id="fv-colorby">(.*?)</select>', text, re.S).group(1)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["segment", "score"]
    seg = _legend(text, "segment")
    for s in SEGMENTS:
        assert f"{s} <span" in seg
    score = _legend(text, "score")
    assert "fv-bar" in score and "linear-gradient" in score
    assert "fv-min" in score and "fv-max" in score
    assert "Users &lt;by&gt; segment" in text  # title escaped


def test_legend_values_match_data(made, users):
    _, text, _ = made
    score = _legend(text, "score")
    lo = re.search(r'class="fv-min">([^<]*)<', score).group(1)
    hi = re.search(r'class="fv-max">([^<]*)<', score).group(1)
    assert float(lo) == pytest.approx(users["score"].min(), rel=1e-3)
    assert float(hi) == pytest.approx(users["score"].max(), rel=1e-3)
    seg = _data(text)["attrs"][0]
    fills = re.findall(r'<circle[^>]*fill="(#[0-9a-f]{6})"', text)
    # the page opens coloured by the first attribute, one colour per segment value
    assert fills == [seg["palette"][c] for c in seg["ci"]]
    assert len(set(fills)) == len(SEGMENTS)


def test_points_project_inside_viewport_and_their_states(made, users):
    _, text, _ = made
    w, h = map_size()
    vb = re.search(r'<svg id="fv-map" viewBox="0 0 ([\d.]+) ([\d.]+)"', text)
    assert (float(vb.group(1)), float(vb.group(2))) == (w, h)
    pts = np.array(_circles(text))
    assert ((pts[:, 0] >= 0) & (pts[:, 0] <= w) & (pts[:, 1] >= 0) & (pts[:, 1] <= h)).all()

    from matplotlib.path import Path as MplPath

    shapes = {code: rings for code, _name, rings in _state_shapes()}
    for code, (la, lo) in PLACES.items():
        x, y, visible = project([la], [lo])
        assert visible[0]
        inside = any(MplPath(r).contains_point((x[0], y[0])) for r in shapes[code])
        assert inside, f"{code} point not inside {code}'s outline"


def test_png_written(made):
    _, _, png = made
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_missing_columns_named(users, tmp_path):
    with pytest.raises(ValueError, match="nope") as e:
        segment_map(users, color_by=("segment", "nope"), out=tmp_path / "m.html")
    assert "nope" in str(e.value)
    with pytest.raises(ValueError) as e:
        segment_map(users.drop(columns=["latitude"]), color_by="missing_attr", out=tmp_path / "m.html")
    assert "latitude" in str(e.value) and "missing_attr" in str(e.value)
    with pytest.raises(ValueError, match="who"):
        segment_map(users, label="who", out=tmp_path / "m.html")
    assert not (tmp_path / "m.html").exists()


def test_empty_frame_rejected(users, tmp_path):
    with pytest.raises(ValueError, match="empty"):
        segment_map(users.iloc[:0], out=tmp_path / "m.html")
    all_nan = users.assign(latitude=np.nan)
    with pytest.raises(ValueError, match="usable"):
        segment_map(all_nan, out=tmp_path / "m.html")


def test_nan_coordinates_dropped_and_counted(users, tmp_path):
    df = users.copy()
    df.loc[[0, 5], "latitude"] = np.nan
    df.loc[9, "longitude"] = None
    with pytest.warns(UserWarning, match="3 of 50 users dropped"):
        out = segment_map(df, color_by="segment", out=tmp_path / "m.html")
    text = out.read_text()
    assert len(_circles(text)) == 47
    assert 'data-dropped="3"' in text and "3 of 50 users dropped" in text


def test_max_points_is_deterministic(users, tmp_path):
    a = segment_map(users, color_by=["score", "segment"], out=tmp_path / "a.html", max_points=20).read_text()
    b = segment_map(users, color_by=["score", "segment"], out=tmp_path / "b.html", max_points=20).read_text()
    assert len(_circles(a)) == 20 and a == b
    assert "sample of 20 of 50" in a


def test_many_categories_fold_into_other_and_values_escaped(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"latitude": rng.uniform(33, 44, n), "longitude": rng.uniform(-115, -80, n),
                       "city": [f"c{i % 20}<b>" for i in range(n)], "tier": rng.integers(1, 4, n)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing dropped, nothing outside: no warning
        text = segment_map(df, color_by=["city", "tier"], out=tmp_path / "m.html").read_text()
    city = _legend(text, "city")
    assert city.count("<li") == 12 and "other <span" in city
    assert "<b>" not in city and "&lt;b&gt;" in city
    tier = _legend(text, "tier")  # small-integer column: categorical
    assert "fv-bar" not in tier and tier.count("<li") == 3
    assert "<b>" not in re.search(r'id="fv-data">(.*?)</script>', text, re.S).group(1)


def test_outside_points_not_drawn(users, tmp_path):
    df = pd.concat([users, pd.DataFrame({"latitude": [48.85], "longitude": [2.35], "segment": ["alpha"],
                                         "score": [1.0], "user_id": ["paris"], "state": ["--"]})])
    with pytest.warns(UserWarning, match="outside the map"):
        text = segment_map(df, out=tmp_path / "m.html").read_text()
    assert len(_circles(text)) == 50 and 'data-outside="1"' in text


def test_bundled_outlines_have_provenance():
    doc = load_states()
    assert "Census" in doc["_source"] and "ublic domain" in doc["_license"]
    assert len(doc["states"]) == 51
