"""The HTTP service (featvec.serve.app) through FastAPI's test client, and `featvec serve` as a real process."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

import featvec

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from featvec.serve import create_app  # noqa: E402

from cli_helpers import assert_one_line_error  # noqa: E402
from event_fixtures import save_lookalike_index  # noqa: E402

RATINGS = pd.DataFrame({"user_id": np.repeat(np.arange(1, 31), 6), "item_id": (np.arange(180) * 7) % 25 + 100,
                        "rating": (np.arange(180) % 5 + 1).astype(float)}).drop_duplicates(["user_id", "item_id"])
USERS = pd.DataFrame({"uid": [f"u{i}" for i in range(60)], "items": [["a", "b"], ["c"], ["a", "c"], ["b"]] * 15,
                      "gender": ["F", "M", "F", "M"] * 15})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    featvec.MatrixFactorization(dim=8, epochs=3).fit(RATINGS).save(root / "mf")
    featvec.ImplicitRecommender(solver="als", dim=8, iterations=2).fit(RATINGS).save(root / "als")
    featvec.Feat2Vec(groups=["user_id", "item_id"], dim=4, epochs=1, patience=None).fit(RATINGS).save(root / "f2v")
    featvec.UserModel(bags=["items"], targets=["gender"], id_col="uid", epochs=2).fit(USERS).save(root / "users")
    save_lookalike_index(root, 120)
    return root


@pytest.fixture(scope="module")
def client(folders):
    app = create_app([folders / n for n in ("mf", "als", "f2v", "users", "audience")], max_ids=50, max_k=20)
    return TestClient(app)


def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok", "models": 5}
    models = {m["name"]: m for m in client.get("/models").json()}
    assert {n: m["kind"] for n, m in models.items()} == {"mf": "MatrixFactorization", "als": "ImplicitRecommender",
                                                         "f2v": "Feat2Vec", "users": "UserModel",
                                                         "audience": "LookalikeIndex"}
    assert models["mf"]["tables"]["items"] == 25 and models["mf"]["params"]["dim"] == 8
    assert len(models["mf"]["history"]) == 3
    assert client.get("/openapi.json").json()["paths"]["/models/{name}/recommend"]


@pytest.mark.parametrize("name", ["mf", "als"])
def test_recommend_is_the_models_recommend(client, folders, name):
    got = client.post(f"/models/{name}/recommend", json={"users": [3, 1], "k": 4}).json()
    want = featvec.load(folders / name).recommend([3, 1], k=4)
    assert [r["user"] for r in got["results"]] == [3, 1]
    for r in got["results"]:
        mine = want[want["user_id"] == r["user"]]
        assert [i["id"] for i in r["items"]] == mine["item_id"].tolist()
        assert [i["rank"] for i in r["items"]] == [1, 2, 3, 4]
        np.testing.assert_allclose([i["score"] for i in r["items"]], mine["score"], rtol=1e-6)
        seen = set(RATINGS.loc[RATINGS["user_id"] == r["user"], "item_id"])
        assert not seen & {i["id"] for i in r["items"]}  # training items filtered


ERRORS = [
    ("post", "/models/mf/recommend", {"users": [1, 999]}, 404, "unknown user id(s) [999]"),
    ("post", "/models/nope/recommend", {"users": [1]}, 404, "no model named 'nope'"),
    ("post", "/models/mf/recommend", {"users": ["1"]}, 422, "'user_id' values must be numbers"),
    ("post", "/models/mf/recommend", {"users": [1], "k": 0}, 422, "k"),
    ("post", "/models/mf/recommend", {"users": [1], "k": 21}, 422, "k: at most 20, got 21"),
    ("post", "/models/mf/recommend", {"users": list(range(1, 52))}, 422, "users: at most 50 per request, got 51"),
    ("post", "/models/mf/recommend", {"k": 3}, 422, "users"),
    ("post", "/models/mf/recommend", {"users": []}, 422, "users"),
    ("post", "/models/f2v/recommend", {"users": [1]}, 422, "is a Feat2Vec; recommend needs a recommender"),
    ("post", "/models/mf/similar", {"ids": [100, 5]}, 404, "unknown id(s) [5] in table 'items'"),
    ("post", "/models/mf/similar", {"ids": [100], "table": "genres"}, 404, "no vector table 'genres'"),
    ("post", "/models/mf/predict", {"rows": [{"user": 1}]}, 422, "item"),
    ("post", "/models/mf/infer", {"records": [{"items": ["a"]}]}, 422, "infer needs a UserModel"),
    ("get", "/models/mf/vectors/items?ids=100,7", None, 404, "unknown id(s) [7]"),
    ("post", "/models/audience/lookalike", {"seed": ["nobody"]}, 404, "unknown id(s) ['nobody'] in table 'users'"),
    ("post", "/models/audience/lookalike", {"segment": "Golf"}, 422, "unknown segment 'Golf'"),
    ("post", "/models/audience/lookalike", {}, 422, "give a seed (user ids) or a segment name"),
    ("post", "/models/audience/lookalike", {"segment": "Games", "top": 0}, 422, "top"),
    ("post", "/models/audience/lookalike", {"segment": "Games", "top": 21}, 422, "top: at most 20, got 21"),
    ("post", "/models/audience/lookalike", {"segment": "Games", "weights": {"shoe": 1}}, 422, "unknown block(s)"),
    ("post", "/models/audience/lookalike", {"seed": [1]}, 422, "values must be strings like the ones table 'users' holds, got 1"),
    ("post", "/models/mf/lookalike", {"segment": "Games"}, 422, "is a MatrixFactorization; lookalike needs"),
]


@pytest.mark.parametrize("method, url, body, status, message", ERRORS,
                         ids=[f"{e[1]}-{e[3]}-{e[4][:20]}" for e in ERRORS])
def test_bad_requests_get_a_status_and_a_message_naming_what_is_wrong(client, method, url, body, status, message):
    r = client.post(url, json=body) if method == "post" else client.get(url)
    assert r.status_code == status, r.text
    assert message in json.dumps(r.json()), r.text


def test_similar_items_users_and_feature_values(client, folders):
    mf = featvec.load(folders / "mf")
    got = client.post("/models/mf/similar", json={"ids": [100, 101], "k": 3}).json()
    want = mf.similar_items([100, 101], k=3)
    assert got["table"] == "items" and [r["id"] for r in got["results"]] == [100, 101]
    assert [n["id"] for n in got["results"][0]["neighbours"]] == want["similar_item_id"].tolist()[:3]
    users = client.post("/models/mf/similar", json={"ids": [1], "k": 2, "table": "users"}).json()
    assert len(users["results"][0]["neighbours"]) == 2
    f2v = client.post("/models/f2v/similar", json={"ids": ["item_id=100"], "k": 5}).json()
    assert f2v["table"] == "all" and all("=" in n["id"] for n in f2v["results"][0]["neighbours"])


def test_predict_infer_and_vectors_match_the_model(client, folders):
    mf = featvec.load(folders / "mf")
    rows = [{"user": 1, "item": 100}, {"user": 2, "item": 124}]
    got = client.post("/models/mf/predict", json={"rows": rows}).json()["predictions"]
    np.testing.assert_allclose(got, mf.predict(pd.DataFrame({"user_id": [1, 2], "item_id": [100, 124]})), rtol=1e-6)
    records = [{"uid": "x", "items": ["a", "b"]}, {"uid": "y", "items": ["c"]}]
    probs = client.post("/models/users/infer", json={"records": records}).json()["results"]
    want = featvec.load(folders / "users").predict_proba(pd.DataFrame(records))["gender"]
    assert [sorted(p["gender"]) for p in probs] == [["F", "M"]] * 2
    np.testing.assert_allclose([p["gender"]["F"] for p in probs], want["F"], rtol=1e-6)
    vec = client.get("/models/mf/vectors/items?ids=100,101").json()
    assert vec["ids"] == [100, 101] and vec["dim"] == 8
    np.testing.assert_allclose(vec["vectors"], mf.vectors_["items"][[100, 101]], rtol=1e-6)
    assert len(client.get("/models/mf/vectors/items").json()["ids"]) == 25


def test_lookalike_is_the_indexs_lookalikes(client, folders):
    index = featvec.load(folders / "audience")
    got = client.post("/models/audience/lookalike", json={"segment": "Games", "top": 7}).json()
    want = index.lookalikes(segment="Games", top=7)
    assert got["seed_size"] == len(index.members("Games"))
    assert [r["id"] for r in got["results"]] == want["id"].tolist()
    np.testing.assert_allclose([r["score"] for r in got["results"]], want["score"], rtol=1e-6)
    first = got["results"][0]
    assert sum(first["contributions"].values()) == pytest.approx(first["score"], rel=1e-5)
    assert {"age", "location_state"} <= set(first["attributes"])
    seed = index.members("Sports")[:2]
    by_seed = client.post("/models/audience/lookalike", json={"seed": seed, "top": 3}).json()
    assert [r["id"] for r in by_seed["results"]] == index.lookalikes(seed=seed, top=3)["id"].tolist()
    near = client.post("/models/audience/similar", json={"ids": seed[:1], "k": 3, "table": "users"}).json()
    assert len(near["results"][0]["neighbours"]) == 3
    assert client.get(f"/models/audience/vectors/users?ids={seed[0]}").json()["ids"] == seed[:1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_featvec_serve_runs_a_real_server_on_loopback(folders):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "featvec.cli", "serve", str(folders / "mf"), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    assert json.load(r) == {"status": "ok", "models": 1}
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        req = urllib.request.Request(base + "/models/mf/recommend", data=json.dumps({"users": [1], "k": 2}).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert len(json.load(r)["results"][0]["items"]) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    from featvec.cli import main

    status = main(["serve", str(tmp_path / "missing")])
    assert_one_line_error(status, capsys.readouterr().err, "missing")


def test_a_new_save_in_a_folder_is_swapped_in_without_a_failed_request(tmp_path):
    import threading

    path = tmp_path / "mf"
    featvec.MatrixFactorization(dim=4, epochs=1).fit(RATINGS).save(path)
    statuses, stop = [], threading.Event()
    with TestClient(create_app([path], reload_every=0.05)) as c:
        def hammer():
            while not stop.is_set():
                r = c.post("/models/mf/recommend", json={"users": [1, 2], "k": 3})
                statuses.append((r.status_code, len(r.json().get("results", []))))
        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for dim in (6, 8, 12):  # three new versions while requests run
                featvec.MatrixFactorization(dim=dim, epochs=1).fit(RATINGS).save(path)
                deadline = time.monotonic() + 60
                while c.get("/models").json()[0]["params"]["dim"] != dim:
                    assert time.monotonic() < deadline, f"version dim={dim} never swapped in"
                    time.sleep(0.02)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=20)
        assert len(statuses) > 20 and set(statuses) == {(200, 2)}, {x: statuses.count(x) for x in set(statuses)}
        vec = c.get("/models/mf/vectors/items?ids=100").json()
        assert vec["dim"] == 12


def test_a_damaged_save_keeps_the_model_served(tmp_path, caplog):
    path = tmp_path / "mf"
    featvec.MatrixFactorization(dim=4, epochs=1).fit(RATINGS).save(path)
    app = create_app([path], reload_every=None)
    registry = app.state.registry
    (path / "featvec.json").write_text("{not json")
    with caplog.at_level("WARNING", logger="featvec.serve"):
        assert registry.refresh() == []
    assert "kept the loaded mf" in caplog.text and registry.get("mf").model.dim == 4
    featvec.MatrixFactorization(dim=6, epochs=1).fit(RATINGS).save(path)
    assert registry.refresh() == ["mf"] and registry.get("mf").model.dim == 6


def test_large_tables_are_answered_from_an_ann_index(folders, monkeypatch):
    pytest.importorskip("faiss")
    import featvec.ann

    monkeypatch.setattr(featvec.ann, "MIN_ROWS", 10)  # the 25-item catalogue counts as large
    approx_app = create_app([folders / "als"], reload_every=None)
    exact, approx = TestClient(create_app([folders / "als"], reload_every=None, ann="off")), TestClient(approx_app)
    for url, body, key in (("/models/als/recommend", {"users": [1, 2, 3], "k": 3}, "items"),
                           ("/models/als/similar", {"ids": [100, 101], "k": 3}, "neighbours")):
        a, b = approx.post(url, json=body).json()["results"], exact.post(url, json=body).json()["results"]
        assert [[x["id"] for x in r[key]] for r in a] == [[x["id"] for x in r[key]] for r in b]
        np.testing.assert_allclose([x["score"] for r in a for x in r[key]], [x["score"] for r in b for x in r[key]],
                                   rtol=1e-5, atol=1e-6)
    model = approx_app.state.registry.get("als").model
    assert hasattr(model, "_ann_items") and hasattr(model.vectors_["items"], "_ann_cosine")  # the index was used


def test_repeated_ids_each_get_their_answer(client):
    got = client.post("/models/mf/recommend", json={"users": [3, 3, 1], "k": 2}).json()["results"]
    assert [r["user"] for r in got] == [3, 3, 1] and got[0] == got[1] and got[0] != got[2]
    assert [[i["rank"] for i in r["items"]] for r in got] == [[1, 2]] * 3
    near = client.post("/models/mf/similar", json={"ids": [101, 100, 101], "k": 3}).json()["results"]
    assert [r["id"] for r in near] == [101, 100, 101] and near[0] == near[2]


KINDS = {"mf": {"recommend", "predict", "similar", "vectors"}, "als": {"recommend", "predict", "similar", "vectors"},
         "f2v": {"similar", "vectors"}, "users": {"similar", "vectors", "infer"},
         "audience": {"similar", "vectors", "lookalike"}}


@pytest.mark.parametrize("name", list(KINDS))
def test_every_endpoint_answers_every_kind_of_model(client, folders, name):
    """Each model answers what it can (200) and refuses what it cannot with a 422 saying what it needs."""
    info = {m["name"]: m for m in client.get("/models").json()}[name]
    table = next(iter(info["tables"]))
    first = featvec.load(folders / name).vectors_[table].labels[0]
    first = first.item() if hasattr(first, "item") else first
    user = 1 if name in ("mf", "als") else None
    bodies = {"recommend": {"users": [user or 1], "k": 2}, "predict": {"rows": [{"user": 1, "item": 100}]},
              "similar": {"ids": [first], "k": 2, "table": table}, "infer": {"records": [{"uid": "x", "items": ["a"]}]},
              "lookalike": {"segment": "Games", "top": 3}}
    for endpoint, body in bodies.items():
        r = client.post(f"/models/{name}/{endpoint}", json=body)
        if endpoint in KINDS[name]:
            assert r.status_code == 200, (endpoint, r.text)
        else:
            assert r.status_code == 422 and "needs" in r.json()["detail"], (endpoint, r.text)
    got = client.get(f"/models/{name}/vectors/{table}?ids={first}").json()
    assert got["ids"] == [first] and len(got["vectors"][0]) == got["dim"]
