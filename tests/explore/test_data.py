"""The explorer's data (featvec.explore.explorer_data), its files, the report and the CLI commands."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.cli import main
from featvec.explore import explorer_data, write_explorer
from featvec.explore.report import report_html

from explore_fixtures import build


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return build(tmp_path_factory.mktemp("explore"))


def _table(payload, name):
    return next(t for t in payload["tables"] if t["name"] == name)


def test_recommender_items_users_neighbours_history_and_top_k(saved):
    mf = featvec.load(saved["root"] / "mf")
    p = explorer_data(mf, "mf", meta={"items": saved["items"]}, k=4)
    assert [t["name"] for t in p["tables"]] == ["items", "users"]  # the id parts (item.id, user.id) left out
    items = _table(p, "items")
    counts = saved["ratings"]["item_id"].value_counts()
    shown = items["meta"]["training rows"]
    assert shown == sorted(shown, reverse=True) and shown[0] == counts.max()  # most trained first, counted
    assert items["label_col"] == "title" and items["meta"]["title"][0] == f"Movie {items['ids'][0]}"
    assert len(items["xy"]) == len(items["ids"]) == 60 and np.abs(items["xy"]).max() < 5
    want = mf.similar_items(items["ids"][:3], k=4)
    for row in range(3):
        mine = want[want["item_id"] == items["ids"][row]]
        assert [n[0] for n in items["neighbours"][row]] == mine["similar_item_id"].tolist()
    users = _table(p, "users")
    u = users["ids"][0]
    assert sorted(users["history"][0]) == sorted(saved["ratings"].loc[saved["ratings"]["user_id"] == u, "item_id"])
    assert [i for i, _ in users["recommended"][0]] == mf.recommend([u], k=4)["item_id"].tolist()
    json.dumps(p, allow_nan=False)


def test_max_points_keeps_the_most_trained_rows(saved):
    mf = featvec.load(saved["root"] / "mf")
    p = explorer_data(mf, "mf", max_points=10)
    items = _table(p, "items")
    assert len(items["ids"]) == 10 and items["size"] == 60
    top = saved["ratings"]["item_id"].value_counts()
    assert set(items["meta"]["training rows"]) <= set(top.iloc[:10].tolist()) | {top.iloc[9]}


def test_feat2vec_neighbours_cross_groups(saved):
    f2v = featvec.load(saved["root"] / "f2v")
    p = explorer_data(f2v, "f2v", k=5)
    assert [t["name"] for t in p["tables"]] == ["user_id", "item_id"]
    t = _table(p, "item_id")
    assert t["neighbour_scope"] == "all"
    want = f2v.vectors_["all"].similar([f"item_id={t['ids'][0]}"], k=5)["label"].tolist()
    assert [n[0] for n in t["neighbours"][0]] == want


def test_user_model_shows_users_with_probabilities(saved):
    model = featvec.load(saved["root"] / "users")
    users = saved["users"]
    p = explorer_data(model, "users", data=users)
    t = p["tables"][0]
    assert t["name"] == "users" and t["ids"] == users["uid"].tolist()
    proba = model.predict_proba(users)["gender"]
    np.testing.assert_allclose(t["meta"]["P(gender=F)"], proba["F"], atol=1e-4)
    assert t["meta"]["gender (predicted)"] == model.predict(users)["gender"].astype(str).tolist()
    assert {x["name"] for x in p["tables"]} >= {"pages"}


def test_lookalike_index_segment_map_coloured_by_match_score(saved):
    index = featvec.load(saved["root"] / "audience")
    p = explorer_data(index, "audience")
    geo, users = p["tables"][0], _table(p, "users")
    assert geo["name"] == "segment map" and geo["projection"] == "map" and geo["neighbours_table"] == "users"
    scores = index.lookalikes(segment="Games", top=len(index.ids), exclude_seed=False).set_index("id")["score"]
    np.testing.assert_allclose(users["meta"]["match: Games"], scores.reindex(users["ids"]), atol=1e-4)
    assert set(users["meta"]["in Games"]) == {"yes", "no"} and "age" in geo["meta"]


@pytest.mark.parametrize("kwargs, message", [
    ({"meta": {"genres": pd.DataFrame({"a": [1]})}}, "meta names table(s) ['genres']"),
    ({"meta": {"items": pd.DataFrame()}}, "meta for 'items' must be a non-empty DataFrame"),
    ({"meta": {"items": pd.DataFrame({"item_id": [101, 101], "title": ["a", "b"]})}}, "id 101 appears in more"),
    ({"projection": "tsne"}, "projection must be 'auto', 'pca' or 'umap'"),
    ({"max_points": 0}, "max_points and k must be >= 1"),
])
def test_bad_arguments_name_the_value(saved, kwargs, message):
    with pytest.raises(ValueError) as e:
        explorer_data(featvec.load(saved["root"] / "mf"), "mf", **kwargs)
    assert message in str(e.value)


def test_write_explorer_writes_the_page_and_replaces_a_folder(saved, tmp_path):
    mf = featvec.load(saved["root"] / "mf")
    out = write_explorer({"mf": explorer_data(mf, "mf")}, tmp_path / "page")
    assert sorted(f.name for f in out.iterdir()) == ["data", "explorer.css", "explorer.js", "index.html", "models.js"]
    text = (out / "data" / "mf.js").read_text()
    assert text.startswith("window.FEATVEC_DATA") and '"kind":"MatrixFactorization"' in text
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere
    write_explorer({"mf2": explorer_data(mf, "mf2")}, out)
    assert [f.name for f in (out / "data").iterdir()] == ["mf2.js"]
    with pytest.raises(ValueError, match="cannot name a file"):
        write_explorer({"../x": {}}, tmp_path / "bad")


def test_report_has_config_curves_factors_and_neighbours(saved):
    mf = featvec.load(saved["root"] / "mf")
    text = report_html(mf, "mf", meta={"items": saved["items"]})
    for part in ("<table id=config>", "<div class=grid id=curves>", "<figure id=factors>", "<table id=neighbours>"):
        assert part in text
    assert text.count("<svg") == 2 and "Movie " in text and "http://www.w3.org" in text  # SVG namespaces only
    assert "<script" not in text
    top = saved["ratings"]["item_id"].value_counts().index[0]
    assert f"<td>Movie {top}</td>" in text
    for kind in ("f2v", "users", "audience"):
        assert "<figure id=factors>" in report_html(featvec.load(saved["root"] / kind), kind)


def test_cli_explore_and_report(saved, tmp_path, capsys):
    root = saved["root"]
    assert main(["explore", str(root / "mf"), str(root / "users"), "--meta", f"items={root / 'items.csv'}",
                 "--records", str(root / "users.csv"), "--bags", "pages", "--out", str(tmp_path / "page")]) == 0
    out = capsys.readouterr().out
    assert "mf (MatrixFactorization): items 60, users" in out and "users (UserModel): users 90" in out
    assert (tmp_path / "page" / "data" / "users.js").is_file()
    assert main(["report", str(root / "mf"), "--meta", f"items={root / 'items.csv'}", "--out",
                 str(tmp_path / "r.html")]) == 0
    assert "Movie " in (tmp_path / "r.html").read_text()
    assert main(["explore", str(root / "mf"), "--meta", "items", "--out", str(tmp_path / "x")]) == 2
    assert "--meta 'items': use TABLE=FILE" in capsys.readouterr().err


def test_large_tables_take_neighbours_and_top_k_from_an_ann_index(saved, monkeypatch):
    pytest.importorskip("faiss")
    import featvec.ann
    import featvec.explore.data as data

    monkeypatch.setattr(data, "EXACT_NEIGHBOURS", 10)  # the 60 items count as large
    monkeypatch.setattr(featvec.ann, "MIN_ROWS", 10)
    mf = featvec.load(saved["root"] / "mf")
    p = explorer_data(mf, "mf", k=5)
    items, users = _table(p, "items"), _table(p, "users")
    assert items["neighbour_scope"] == "approximate" and hasattr(mf, "_ann_items")
    want = mf.similar_items(items["ids"], k=5)
    hits = sum(len(set(n for n, _ in near) & set(want.loc[want["item_id"] == q, "similar_item_id"]))
               for q, near in zip(items["ids"], items["neighbours"]))
    assert hits / len(want) >= 0.85
    assert all(len(r) == 5 for r in users["recommended"])
