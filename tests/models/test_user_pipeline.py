"""The user-attribute pipeline end to end: event tables -> bags (``bags_from_events``), the synthetic users of
notebook 000 (``user_sequences``: pure noise and planted signals), ``UserModel`` on them, the classification
metrics by hand, protocol U on a MovieLens-shaped stand-in, and ``featvec fit --model user`` / ``featvec infer``.
All data are generated here (or by ``test_bench._tiny_movielens``)."""
from __future__ import annotations

import contextlib
import io
import json
import math
import re
import sys

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec import UserModel
from featvec.bench.user_model import folds, run_protocol_u, user_table
from featvec.cli import main
from featvec.audience.bags import bags_from_events
from featvec.datasets.synthetic import user_sequences
from featvec.evaluation.metrics import classification_metrics
from cli_helpers import assert_one_line_error, run
from test_bench import _tiny_movielens

MARITAL = ["single", "married", "divorced", "widowed"]
CHILDREN = ["1", "2", "2+"]


def cells(frame: pd.DataFrame, col: str) -> list:
    """A list column as plain Python lists (values as they are)."""
    return [list(v) for v in frame[col]]


# ---------------------------------------------------------------- bags_from_events


@pytest.fixture
def events():
    return pd.DataFrame({"user": [3, 1, 3, 1, 2, 3],
                         "item": ["a", "b", "c", "a", None, "a"],
                         "stars": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})


def test_bags_sorted_entities_values_in_event_order_weights_aligned(events):
    out = bags_from_events(events, "user", "item", weight="stars")
    assert list(out.columns) == ["user", "item", "item_weight"]
    # entities sorted; user 2's only event has no value, so its bag is empty (but it is kept)
    assert out["user"].tolist() == [1, 2, 3]
    assert cells(out, "item") == [["b", "a"], [], ["a", "c", "a"]]
    assert cells(out, "item_weight") == [[2.0, 4.0], [], [1.0, 3.0, 6.0]]
    for v, w in zip(out["item"], out["item_weight"]):
        assert len(v) == len(w)
    # without weights: no weight column; name= renames the bag (and its weights)
    plain = bags_from_events(events, "user", "item")
    assert list(plain.columns) == ["user", "item"] and cells(plain, "item") == cells(out, "item")
    named = bags_from_events(events, "user", "item", weight="stars", name="movies")
    assert list(named.columns) == ["user", "movies", "movies_weight"]
    assert cells(named, "movies_weight") == cells(out, "item_weight")


def test_bags_entities_order_and_entities_without_events(events):
    out = bags_from_events(events, "user", "item", weight="stars", entities=[2, 9, 3, 1])
    assert out["user"].tolist() == [2, 9, 3, 1]
    assert cells(out, "item") == [[], [], ["a", "c", "a"], ["b", "a"]]
    # entity 9 has no events at all: an empty bag and an empty weights list (not NaN)
    assert cells(out, "item_weight") == [[], [], [1.0, 3.0, 6.0], [2.0, 4.0]]
    assert all(isinstance(v, list) for v in out["item"]) and all(isinstance(w, list) for w in out["item_weight"])
    # entities not listed are left out
    only = bags_from_events(events, "user", "item", entities=[3])
    assert only["user"].tolist() == [3] and cells(only, "item") == [["a", "c", "a"]]


def test_bags_list_cells_are_spread_with_the_events_weight():
    ev = pd.DataFrame({"user": [1, 1, 2, 3], "genres": [["Action", "Drama"], ["Drama"], [], ["Comedy"]],
                       "rating": [5, 3, 4, 2]})
    out = bags_from_events(ev, "user", "genres", weight="rating")
    assert out["user"].tolist() == [1, 2, 3]
    assert cells(out, "genres") == [["Action", "Drama", "Drama"], [], ["Comedy"]]
    assert [[float(w) for w in ws] for ws in out["genres_weight"]] == [[5.0, 5.0, 3.0], [], [2.0]]
    uniq = bags_from_events(ev, "user", "genres", weight="rating", unique=True)
    assert cells(uniq, "genres") == [["Action", "Drama"], [], ["Comedy"]]
    assert [[float(w) for w in ws] for ws in uniq["genres_weight"]] == [[5.0, 8.0], [], [2.0]]


def test_bags_unique_sums_weights_and_keeps_first_seen_order(events):
    out = bags_from_events(events, "user", "item", weight="stars", unique=True)
    assert out["user"].tolist() == [1, 2, 3]
    # user 3: a (1 + 6), then c (3), in the order first seen
    assert cells(out, "item") == [["b", "a"], [], ["a", "c"]]
    assert cells(out, "item_weight") == [[2.0, 4.0], [], [7.0, 3.0]]
    ev = pd.DataFrame({"user": [1, 1, 1, 1], "item": ["z", "y", "z", "x"]})
    assert cells(bags_from_events(ev, "user", "item", unique=True), "item") == [["z", "y", "x"]]


def test_bags_missing_values_are_dropped_with_their_weights():
    ev = pd.DataFrame({"user": [1, 1, 1, 2], "item": ["a", np.nan, None, "b"], "stars": [1.0, 2.0, 3.0, 4.0]})
    out = bags_from_events(ev, "user", "item", weight="stars")
    assert cells(out, "item") == [["a"], ["b"]]
    assert cells(out, "item_weight") == [[1.0], [4.0]]
    # a non-numeric weight on a row whose value is missing does not matter: the row is dropped first
    ev2 = ev.assign(stars=[1.0, "x", "y", 4.0])
    assert cells(bags_from_events(ev2, "user", "item", weight="stars"), "item_weight") == [[1.0], [4.0]]


def test_bags_errors(events):
    bad = events.assign(stars=["1", "lots", 3, 4, 5, 6])
    with pytest.raises(ValueError, match=r"weight column 'stars' must be numeric.*'lots'"):
        bags_from_events(bad, "user", "item", weight="stars")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['movie'\]"):
        bags_from_events(events, "user", "movie")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rating'\]"):
        bags_from_events(events, "user", "item", weight="rating")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['who'\]"):
        bags_from_events(events, "who", "item")
    with pytest.raises(ValueError, match="empty"):
        bags_from_events(events.iloc[:0], "user", "item")


def test_bags_all_values_missing_gives_empty_bags():
    ev = pd.DataFrame({"user": [3, 1], "item": [None, np.nan], "stars": [1.0, 2.0]})
    out = bags_from_events(ev, "user", "item", weight="stars")
    assert out["user"].tolist() == [1, 3]
    assert cells(out, "item") == [[], []] and cells(out, "item_weight") == [[], []]


# ---------------------------------------------------------------- user_sequences


def test_user_sequences_shapes_columns_and_seed():
    df, truth = user_sequences(50, seed=1, max_len=3)
    assert list(df.columns) == ["user_id", "seq1", "seq2", "marital", "children"]
    assert len(df) == 50 and df["user_id"].tolist() == list(range(50))
    assert set(df["marital"]) <= set(MARITAL) and set(df["children"]) <= set(CHILDREN)
    for col, n_cats in (("seq1", 100), ("seq2", 50)):
        lengths = df[col].map(len)
        assert (lengths < 3).all()
        assert (lengths == 0).any()  # lengths are uniform in [0, max_len): with max_len 3 some are empty
        values = [v for s in df[col] for v in s]
        assert all(0 <= v < n_cats for v in values)
    # the same seed gives the same users and truth; another seed does not
    again, truth2 = user_sequences(50, seed=1, max_len=3)
    pd.testing.assert_frame_equal(df, again)
    assert truth == truth2
    other, _ = user_sequences(50, seed=2, max_len=3)
    assert cells(other, "seq1") != cells(df, "seq1")
    with pytest.raises(ValueError, match="n_users"):
        user_sequences(0)


@pytest.fixture(scope="module")
def planted_users():
    return user_sequences(1500, seed=0, planted=True, effect=4.0)


@pytest.fixture(scope="module")
def noise_users():
    return user_sequences(1500, seed=0, planted=False)


def _share(seqs: pd.Series, cats: list) -> pd.Series:
    """Each user's share of ``cats`` in the sequence (NaN for an empty one)."""
    return seqs.map(lambda s: float(np.isin(s, cats).mean()) if len(s) else np.nan)


def test_planted_truth_and_the_share_of_each_class_categories(planted_users, noise_users):
    df, truth = planted_users
    assert list(truth) == ["marital", "children"]
    assert list(truth["marital"]) == MARITAL and list(truth["children"]) == CHILDREN
    every = [c for t in truth.values() for cats in t.values() for c in cats]
    for t in truth.values():
        for cats in t.values():
            assert len(cats) == 3 and len(set(cats)) == 3 and all(0 <= c < 100 for c in cats)
    assert len(every) == 21 and len(set(every)) == 21  # no category shared between any two classes
    # p(category) = weight / sum: 100 categories, 6 of them (one class of each target) weighted 4 -> 118.
    # A user's own class's 3 categories: 12/118 = 0.102 of the events; another class's: 3/118 = 0.025.
    for target, classes in truth.items():
        for c, cats in classes.items():
            share = _share(df["seq1"], cats)
            mine = df[target] == c
            assert share[mine].mean() > 3 * share[~mine].mean(), (target, c)
            assert share[mine].mean() == pytest.approx(12 / 118, abs=0.01)
            assert share[~mine].mean() == pytest.approx(3 / 118, abs=0.005)
            # seq2 stays noise (50 categories, uniform): no class shows in it
            low = [k for k in cats if k < 50]
            if low:
                s2 = _share(df["seq2"], low)
                assert abs(s2[mine].mean() - s2[~mine].mean()) < 0.01, (target, c)
    # the noise users: every class's categories hold 3/100 of the events, whatever the class
    ndf, ntruth = noise_users
    for target, classes in ntruth.items():
        for c, cats in classes.items():
            share = _share(ndf["seq1"], cats)
            mine = ndf[target] == c
            assert share[mine].mean() == pytest.approx(0.03, abs=0.006)
            assert share[~mine].mean() == pytest.approx(0.03, abs=0.006)


# ---------------------------------------------------------------- UserModel on user_sequences

FAST = dict(bags=["seq1", "seq2"], targets=["marital", "children"], layers=(64,), seed=0)
N_TRAIN = 1200


def test_user_model_learns_nothing_from_noise(noise_users):
    df, _ = noise_users
    train, test = df.iloc[:N_TRAIN], df.iloc[N_TRAIN:]
    model = UserModel(**FAST, epochs=5).fit(train)
    scores = model.score(test)
    n = len(test)
    for target, classes in (("marital", MARITAL), ("children", CHILDREN)):
        # labels uniform and independent of the sequences: whatever the model predicts, each test row is right
        # with probability 1/k, so the accuracy is Binomial(n, 1/k) / n
        rate = 1.0 / len(classes)
        sd = math.sqrt(rate * (1 - rate) / n)
        assert abs(scores[target] - rate) <= 3 * sd, (target, scores[target], rate, sd)
        # and it cannot beat always answering the test's most common class by more than chance
        majority = test[target].value_counts(normalize=True).max()
        assert scores[target] <= majority + 3 * sd, (target, scores[target], majority)


def test_user_model_finds_the_planted_classes(planted_users):
    df, _ = planted_users
    train, test = df.iloc[:N_TRAIN], df.iloc[N_TRAIN:]
    model = UserModel(**FAST, epochs=15).fit(train)
    scores = model.score(test)
    # measured (15 epochs, layers (64,), 1200 train / 300 test): marital 0.873, children 0.903 on these users;
    # on user_sequences seeds 1..4: marital 0.85-0.89, children 0.87-0.92. Majority rates are 0.27 / 0.40.
    for target in ("marital", "children"):
        majority = test[target].value_counts(normalize=True).max()
        assert scores[target] > 0.70, (target, scores)
        assert scores[target] > majority + 0.3, (target, scores, majority)
    proba = model.predict_proba(test)
    assert list(proba["marital"].columns) == sorted(MARITAL) and list(proba["children"].columns) == CHILDREN
    for p in proba.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


# ---------------------------------------------------------------- classification_metrics by hand


def test_classification_metrics_three_classes_by_hand():
    classes = ["a", "b", "c"]
    proba = np.array([[0.7, 0.2, 0.1],     # a: predicted a, right, confidence 0.7
                      [0.2, 0.6, 0.2],     # a: predicted b, wrong, 0.6
                      [0.4, 0.3, 0.3],     # a: predicted a, right, 0.4
                      [0.3, 0.25, 0.45],   # b: predicted c, wrong, 0.45
                      [0.1, 0.1, 0.8]])    # c: predicted c, right, 0.8
    y = ["a", "a", "a", "b", "c"]
    m = classification_metrics(y, proba, classes, n_bins=2)
    assert set(m) == {"accuracy", "macro_f1", "log_loss", "ece"}  # no AUC for three classes
    assert m["accuracy"] == pytest.approx(3 / 5)
    # F1: a: tp 2, fp 0, fn 1 -> 4/5; b: tp 0 -> 0; c: tp 1, fp 1, fn 0 -> 2/3
    assert m["macro_f1"] == pytest.approx((4 / 5 + 0 + 2 / 3) / 3)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.2, 0.4, 0.25, 0.8])))
    # 2 bins: [0, 0.5): rows 3, 4 (accuracy 1/2, confidence 0.425); [0.5, 1]: rows 1, 2, 5 (2/3, 0.7)
    assert m["ece"] == pytest.approx(2 / 5 * abs(0.5 - 0.425) + 3 / 5 * abs(2 / 3 - 0.7))
    assert m["ece"] == pytest.approx(0.05)
    # a class neither true nor predicted is left out of macro-F1 (and changes nothing else)
    wide = classification_metrics(y, np.c_[proba, np.zeros(5)], classes + ["d"], n_bins=2)
    assert wide == pytest.approx(m)
    # a perfect, sure prediction
    sure = classification_metrics(["b", "a"], np.array([[0.0, 1.0], [1.0, 0.0]]), ["a", "b"])
    assert sure["accuracy"] == 1 and sure["macro_f1"] == 1 and sure["ece"] == 0 and sure["auc"] == 1
    assert sure["log_loss"] == pytest.approx(0.0, abs=1e-12)


def test_classification_metrics_two_classes_auc_and_ece():
    p1 = np.array([0.1, 0.6, 0.4, 0.6, 0.9])
    y = ["n", "n", "y", "y", "y"]
    m = classification_metrics(y, np.c_[1 - p1, p1], ["n", "y"], n_bins=2)
    # positives {0.4, 0.6, 0.9} over negatives {0.1, 0.6}: 1 + 0 + 1 + 0.5 (tie) + 2 = 4.5 of 6 pairs
    assert m["auc"] == pytest.approx(0.75)
    # predictions n, y, n, y, y: right, wrong, wrong, right, right
    assert m["accuracy"] == pytest.approx(0.6)
    # F1: n: tp 1, fp 1, fn 1 -> 1/2; y: tp 2, fp 1, fn 1 -> 2/3
    assert m["macro_f1"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.6, 0.9])))
    # two classes: every confidence is >= 0.5, all in the upper bin: |0.6 - mean(0.9, 0.6, 0.6, 0.6, 0.9)|
    assert m["ece"] == pytest.approx(abs(0.6 - 0.72))
    # probabilities of 0 are clipped, not -inf
    hard = classification_metrics(["y"], np.array([[1.0, 0.0]]), ["n", "y"])
    assert hard["log_loss"] == pytest.approx(-math.log(1e-15))


def test_classification_metrics_unknown_label():
    with pytest.raises(ValueError, match=r"label 'z' is not one of \['a', 'b'\]"):
        classification_metrics(["a", "z"], np.array([[0.5, 0.5], [0.5, 0.5]]), ["a", "b"])


# ---------------------------------------------------------------- protocol U on a tiny MovieLens

TARGETS = ("gender", "age", "occupation")
SYSTEMS = ["featvec.UserModel", "featvec.UserModel()", "majority", "sklearn.LogisticRegression"]


@pytest.fixture(scope="module")
def tiny():
    return _tiny_movielens()


@pytest.fixture(scope="module")
def protocol_u(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("u")
    lines = []
    rows = run_protocol_u(data=tiny, seeds=[0], out_dir=out, emit=lines.append, params={"epochs": 3})
    return rows, lines, out


def test_user_table_columns_and_bags(tiny):
    t = user_table(tiny)
    assert list(t.columns) == ["user_id", "movies", "movies_weight", "genres", "liked", "gender", "age",
                               "occupation"]
    assert t["user_id"].tolist() == list(range(1, 41))
    r = tiny.ratings
    genres = tiny.items.set_index("item_id")["genres"]
    for row in t.itertuples():
        mine = r[r["user_id"] == row.user_id]
        assert sorted(row.movies) == sorted(mine["item_id"])
        assert dict(zip(row.movies, row.movies_weight)) == dict(zip(mine["item_id"], mine["rating"]))
        assert sorted(row.liked) == sorted(mine.loc[mine["rating"] >= 4, "item_id"])
        assert sorted(row.genres) == sorted(g for i in mine["item_id"] for g in genres[i])
    users = tiny.users.set_index("user_id")
    assert t["gender"].tolist() == users.loc[t["user_id"], "gender"].tolist()
    assert t["occupation"].tolist() == users.loc[t["user_id"], "occupation"].tolist()
    assert set(t["age"]) <= {"<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"}


def test_folds_partition_the_users():
    for n, seed in ((40, 0), (41, 3), (7, 1)):
        fs = folds(n, seed)
        perm = np.random.default_rng(seed).permutation(n)
        assert len(fs) == 5
        for f, idx in enumerate(fs):
            np.testing.assert_array_equal(idx, perm[f::5])
        together = np.concatenate(fs)
        assert len(together) == n and sorted(together) == list(range(n))  # disjoint and covering
        assert max(map(len, fs)) - min(map(len, fs)) <= 1


def test_protocol_u_rows_and_metrics(protocol_u, tiny):
    rows, lines, _ = protocol_u
    assert [r["system"] for r in rows] == SYSTEMS
    assert [json.loads(x) for x in lines] == rows
    for r in rows:
        assert r["protocol"] == "U" and r["seed"] == 0 and r["n_users"] == 40
        if r["system"] == "sklearn.LogisticRegression" and "error" in r:  # scikit-learn is optional
            assert "sklearn" in r["error"]
            continue
        assert "error" not in r, r
        keys = {f"{y}_{m}" for y in TARGETS for m in ("accuracy", "macro_f1", "log_loss", "ece")} | {"gender_auc"}
        assert keys <= set(r), sorted(set(r))
        assert "age_auc" not in r and "occupation_auc" not in r
        for k in keys:
            assert np.isfinite(r[k]), (r["system"], k)
            if k.endswith("log_loss"):
                assert r[k] > 0
            else:
                assert 0 <= r[k] <= 1, (r["system"], k, r[k])
        assert r["fit_s"] >= 0
    # the majority peer by hand: each fold's train class frequencies as the probabilities of its test users
    t = user_table(tiny)
    maj = rows[SYSTEMS.index("majority")]
    for y in TARGETS:
        classes = sorted(t[y].unique())
        right, nll = 0, 0.0
        for idx in folds(len(t), 0):
            freq = t.drop(index=idx)[y].value_counts(normalize=True).reindex(classes, fill_value=0.0)
            test = t.iloc[idx][y]
            right += int((test == classes[int(np.argmax(freq.to_numpy()))]).sum())
            nll -= float(np.log(np.clip(freq[test].to_numpy(), 1e-15, 1)).sum())
        assert maj[f"{y}_accuracy"] == pytest.approx(right / len(t), abs=1e-6)
        assert maj[f"{y}_log_loss"] == pytest.approx(nll / len(t), abs=1e-5)


def test_protocol_u_report(protocol_u):
    rows, _, out = protocol_u
    md = (out / "U.md").read_text(encoding="utf-8")
    assert md.startswith("## Protocol U")
    for task in TARGETS:
        assert f"**{task}**" in md
    assert "| system | auc | accuracy | macro_f1 | log_loss | ece |" in md
    assert md.count("| system | accuracy | macro_f1 | log_loss | ece |") == 2
    for s in SYSTEMS:
        assert md.count(f"| {s} |") == 3
    ours = rows[0]
    assert f"| featvec.UserModel | {ours['gender_auc']:.4f} | {ours['gender_accuracy']:.4f} |" in md
    assert "fit seconds (5 folds)" in md
    jsonl = (out / "U.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(jsonl) == len(SYSTEMS)


def test_protocol_u_copes_with_a_class_missing_from_a_training_fold(tiny):
    # one user alone in the 18-24 age bucket: the fold holding that user trains without the class
    from featvec.datasets import age_bucket

    users = tiny.users.copy()
    young = np.flatnonzero(age_bucket(users["age"]) == "18-24")
    assert len(young) >= 2
    users.loc[users.index[young[1:]], "age"] = 40
    data = type(tiny)(tiny.name, tiny.ratings, users, tiny.items)
    t = user_table(data)
    assert (t["age"] == "18-24").sum() == 1
    alone = int(np.flatnonzero(t["age"] == "18-24")[0])
    rows = run_protocol_u(data=data, seeds=[0], peers=["majority"], out_dir=None, emit=None, params={"epochs": 2})
    assert [r["system"] for r in rows] == ["featvec.UserModel", "featvec.UserModel()", "majority"]
    for r in rows:
        assert "error" not in r, r
        # that user's true class got probability 0 (clipped at 1e-15): a large but finite log-loss
        assert np.isfinite(r["age_log_loss"]) and r["age_log_loss"] > -math.log(1e-15) / 40
        assert 0 <= r["age_accuracy"] <= 1
    fold = next(f for f in folds(40, 0) if alone in f)
    assert "18-24" not in set(t.drop(index=fold)["age"])  # that fold really trained without the class


def test_protocol_u_without_scikit_learn_reports_an_error_row(tiny, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    lines = []
    rows = run_protocol_u(data=tiny, seeds=[0], systems=[], peers=["sklearn.LogisticRegression"],
                          out_dir=tmp_path, emit=lines.append)
    assert len(rows) == 1 and len(lines) == 1
    assert "error" in rows[0] and "sklearn" in rows[0]["error"] and "featvec[bench]" in rows[0]["error"]
    md = (tmp_path / "U.md").read_text(encoding="utf-8")
    assert md.count("| sklearn.LogisticRegression | error: ") == 3


# ---------------------------------------------------------------- CLI: fit --model user, infer


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_user")
    df, _ = user_sequences(300, planted=True)
    text = df.copy()
    for c in ("seq1", "seq2"):
        text[c] = text[c].map(lambda s: "|".join(map(str, s)))
    text.to_csv(root / "f.csv", index=False)
    return root, df


@pytest.fixture(scope="module")
def fitted_cli(user_csv):
    """`featvec fit --model user ... --out m` once for the module: (status, stdout, stderr, folder)."""
    root, _ = user_csv
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["fit", "--model", "user", "--records", str(root / "f.csv"), "--bags", "seq1", "seq2",
                       "--targets", "marital", "children", "--epochs", "3", "--out", str(root / "m")])
    return status, out.getvalue(), err.getvalue(), root


def test_cli_fit_user(fitted_cli):
    status, out, err, root = fitted_cli
    assert status == 0, err
    assert "fitted UserModel (small_data recipe) on 300 users" in out and "bags ['seq1', 'seq2'], targets ['marital', 'children']" in out
    assert re.search(r"^temperatures marital \d+\.\d{3}, children \d+\.\d{3}$", out, re.M), out
    assert f"saved the model to {root / 'm'}" in out
    model = featvec.load(root / "m")
    assert type(model) is UserModel and model.targets_ == ["marital", "children"]
    assert [f.pooling for f in model.features_] == ["tfidf", "tfidf"] and model.net_.wide is not None
    assert model.classes_ == {"marital": sorted(MARITAL), "children": CHILDREN}
    assert len(model.history_) == 3
    printed = re.search(r"temperatures marital (\S+), children (\S+)$", out, re.M)
    assert float(printed.group(1)) == pytest.approx(model.temperatures_["marital"], abs=5e-4)
    assert float(printed.group(2)) == pytest.approx(model.temperatures_["children"], abs=5e-4)


def test_cli_infer_user(fitted_cli, user_csv, capsys):
    root = fitted_cli[-1]
    _, df = user_csv
    out_csv = root / "p.csv"
    status, out, err = run(capsys, "infer", "--model-dir", root / "m", "--records", root / "f.csv",
                           "--bags", "seq1", "seq2", "--out", out_csv)
    assert status == 0, err
    assert "wrote 300 users' probabilities" in out
    p = pd.read_csv(out_csv, dtype={"children": str})
    assert list(p.columns) == (["user_id", "marital"] + [f"marital={c}" for c in sorted(MARITAL)]
                               + ["children"] + [f"children={c}" for c in CHILDREN])
    assert len(p) == 300 and p["user_id"].tolist() == df["user_id"].tolist()
    for target, classes in (("marital", sorted(MARITAL)), ("children", CHILDREN)):
        cols = [f"{target}={c}" for c in classes]
        np.testing.assert_allclose(p[cols].sum(axis=1), 1.0, atol=1e-6)
        assert ((p[cols] >= 0) & (p[cols] <= 1)).all().all()
        # the predicted class is the most likely one
        best = p[cols].to_numpy().argmax(1)
        assert p[target].astype(str).tolist() == [classes[b] for b in best]
    # the same probabilities as the saved model's predict_proba on the same (split) lists
    model = featvec.load(root / "m")
    frame = df.assign(**{c: df[c].map(lambda s: [str(v) for v in s]) for c in ("seq1", "seq2")})
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(p[[f"marital={c}" for c in sorted(MARITAL)]].to_numpy(),
                               proba["marital"].to_numpy(), atol=1e-6)


def test_cli_fit_user_small_data(user_csv, capsys):
    root, df = user_csv
    status, out, err = run(capsys, "fit", "--model", "user", "--small-data", "--records", root / "f.csv",
                           "--bags", "seq1", "seq2", "--targets", "marital", "--epochs", "2", "--dim", "4",
                           "--out", root / "small")
    assert status == 0, err
    model = featvec.load(root / "small")
    recipe = UserModel.small_data(["seq1", "seq2"], ["marital"], dim=4, epochs=2).get_params()
    assert {k: v for k, v in model.get_params().items() if k not in ("seed", "show_progress", "attributes")} == \
        {k: v for k, v in recipe.items() if k not in ("seed", "show_progress", "attributes")}
    assert [(b.pooling, b.dim) for b in model.features_] == [("tfidf", 4)] * 2 and model.net_.wide is not None
    assert len(model.history_) == 2


def test_cli_user_errors(fitted_cli, capsys, ratings, tmp_path):
    root = fitted_cli[-1]
    records = root / "f.csv"
    status, _, err = run(capsys, "fit", "--model", "user", "--records", records, "--targets", "marital")
    assert_one_line_error(status, err, "--model user needs --bags", "--targets")
    status, _, err = run(capsys, "fit", "--model", "user", "--records", records, "--bags", "seq1")
    assert_one_line_error(status, err, "--model user needs --bags", "--targets")
    status, _, err = run(capsys, "fit", "--model", "user", "--records", records, "--bags", "seq1", "nope",
                         "--targets", "marital")
    assert_one_line_error(status, err, "--bags 'nope'", "no column 'nope'")
    status, _, err = run(capsys, "infer", "--model-dir", root / "m", "--records", records, "--bags", "seq1:w9")
    assert_one_line_error(status, err, "no column 'w9'")
    # a folder holding another kind of model
    mf = featvec.MatrixFactorization(dim=2, epochs=1).fit(ratings).save(tmp_path / "mf")
    status, _, err = run(capsys, "infer", "--model-dir", mf, "--records", records, "--bags", "seq1", "seq2")
    assert_one_line_error(status, err, "holds a MatrixFactorization; 'featvec infer' needs a UserModel model")
    # a folder holding no model at all
    status, _, err = run(capsys, "infer", "--model-dir", tmp_path, "--records", records)
    assert_one_line_error(status, err, "not a saved featvec model")


def test_cli_fit_user_recipe_and_id_column(user_csv, tmp_path, capsys):
    root, df = user_csv
    records = tmp_path / "ids.csv"
    pd.read_csv(root / "f.csv").assign(uid=[f"u{i}" for i in range(len(df))]).to_csv(records, index=False)
    status, out, err = run(capsys, "fit", "--model", "user", "--recipe", "deep", "--records", records, "--bags",
                           "seq1", "--targets", "marital", "--epochs", "1", "--id-col", "uid", "--out", tmp_path / "m")
    assert status == 0, err
    assert "fitted UserModel (deep recipe) on 300 users" in out
    model = featvec.load(tmp_path / "m")
    proba = model.predict_proba(pd.read_csv(records).assign(seq1=df["seq1"].to_numpy()))["marital"]
    assert proba.index.name == "uid" and proba.index[:2].tolist() == ["u0", "u1"]


@pytest.mark.data
def test_the_default_user_model_beats_logistic_regression_on_ml_100k_in_python_and_on_the_command_line(
        data_dir, tmp_path, capsys):
    """The README's block (defaults, bags by name) and `featvec fit --model user` + `featvec infer` with no
    tuning flag, on protocol U's first fold of seed 0: gender AUC above LogisticRegression on TF-IDF (the
    protocol's peer) on the same 189 test users, and the outputs indexed by the user ids."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from featvec.bench.user_model import folds, user_table
    from featvec.datasets import load_movielens

    table = user_table(load_movielens("ml-100k", data_dir=data_dir))
    test_idx = folds(len(table), 0)[0]
    train, test = table.drop(index=test_idx), table.iloc[test_idx]
    is_f = test["gender"].to_numpy() == "F"
    vec = TfidfVectorizer(analyzer=lambda bag: [str(v) for v in bag])
    lr = LogisticRegression(max_iter=2000).fit(vec.fit_transform(train["movies"]), train["gender"])
    lr_auc = roc_auc_score(is_f, lr.predict_proba(vec.transform(test["movies"]))[:, list(lr.classes_).index("F")])

    model = UserModel(bags=["movies", "liked"], targets=["gender", "age"], id_col="user_id").fit(train)
    proba = model.predict_proba(test)["gender"]
    assert model.recipe_ == "small_data" and proba.index.tolist() == test["user_id"].tolist()
    api_auc = roc_auc_score(is_f, proba["F"])

    cols = ["user_id", "movies", "liked", "gender", "age"]
    for name, part in (("train", train), ("test", test)):
        part[cols].assign(**{c: part[c].map(lambda b: "|".join(map(str, b))) for c in ("movies", "liked")}).to_csv(
            tmp_path / f"{name}.csv", index=False)
    assert main(["fit", "--model", "user", "--records", str(tmp_path / "train.csv"), "--bags", "movies", "liked",
                 "--targets", "gender", "age", "--id-col", "user_id", "--out", str(tmp_path / "m")]) == 0
    assert main(["infer", "--model-dir", str(tmp_path / "m"), "--records", str(tmp_path / "test.csv"), "--bags",
                 "movies", "liked", "--out", str(tmp_path / "p.csv")]) == 0
    capsys.readouterr()
    probs = pd.read_csv(tmp_path / "p.csv")
    assert probs["user_id"].tolist() == test["user_id"].tolist()
    cli_auc = roc_auc_score(is_f, probs["gender=F"])
    assert api_auc > lr_auc and cli_auc > lr_auc, (api_auc, cli_auc, lr_auc)
    assert cli_auc == pytest.approx(api_auc, abs=0.02)  # the same recipe; the CLI's targets come from a CSV
