"""The contract every rating-recommender preset keeps, written once and run for each preset.

``RecommenderContract`` holds the tests (like the ``implicit`` library's test mixins). To check a
preset, subclass it with a name starting with ``Test`` and implement one hook:

    class TestMyPreset(RecommenderContract):
        def make_model(self):
            return MyPreset(dim=8, epochs=20, batch_size=128, lr=0.05)

``make_model()`` returns a new, unfitted model: small and fast (the whole class should run in a second
or two), yet trained enough to beat the global mean on the ``ratings`` fixture (planted rank-2 structure).
Its id columns must keep the defaults (user_id, item_id, rating). Optional extras:

* ``fit_kwargs(self, train) -> dict``: extra keyword arguments for ``fit`` (side tables, ``valid``...);
  default none.
* ``bias_only = False``: set it when the score is more than offset + biases + <user, item> (an MLP), so
  an unknown user's prediction is not just the known item's bias-only prediction; that check is skipped.

Each class fits its model once on 80% of ``ratings`` (``model`` fixture, cached per class: the data is
deterministic) and the tests only read it; tests that need a fresh fit call ``make_model()`` themselves.
"""
from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import featvec
from featvec import Bag, Categorical, DeepRecommender, MatrixFactorization, Numeric, persistence

UNKNOWN_USERS = [4242, 4243]
UNKNOWN_ITEMS = [9090, 9091]

RECOMMEND_UNCLIPPED = (
    "models/recommender.py RatingRecommender.recommend documents score as 'the predicted rating', but it takes "
    "RecommenderNet.score_matrix unclipped while predict() clips to rating_range_: with y_range='auto' the "
    "widened sigmoid lets recommend return scores above the largest training rating (e.g. 5.12 for ratings "
    "in [1, 5]) or below the smallest, which predict() reports as 5.0 / 1.0. Clip in recommend, or document "
    "that score is the unclipped model output.")


def holdout(ratings: pd.DataFrame, frac: float = 0.2, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """80/20 random split; held-out rows keep only users and items that the training part has."""
    perm = np.random.default_rng(seed).permutation(len(ratings))
    cut = int(len(ratings) * frac)
    train, test = ratings.iloc[np.sort(perm[cut:])], ratings.iloc[np.sort(perm[:cut])]
    test = test[test["user_id"].isin(train["user_id"]) & test["item_id"].isin(train["item_id"])]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def rmse(y, p) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


_FITTED: dict[type, object] = {}


class RecommenderContract:
    """Base of the per-preset test classes (not collected itself: its name does not start with Test)."""

    bias_only = True

    def make_model(self):
        raise NotImplementedError

    def fit_kwargs(self, train: pd.DataFrame) -> dict:
        return {}

    # ---- fixtures
    @pytest.fixture
    def split(self, ratings):
        return holdout(ratings)

    @pytest.fixture
    def train(self, split):
        return split[0]

    @pytest.fixture
    def model(self, split):
        cls = type(self)
        if cls not in _FITTED:
            train = split[0]
            _FITTED[cls] = self.make_model().fit(train, **self.fit_kwargs(train))
        return _FITTED[cls]

    @pytest.fixture
    def users(self, train):
        return sorted(train["user_id"].unique().tolist())[:6]

    # ---- estimator conventions
    def test_fit_returns_self_and_sets_trailing_underscore_attributes(self, train, model, split):
        fresh = self.make_model()
        before = set(vars(fresh))
        assert not [k for k in before if k.endswith("_")], "__init__ must not set fitted attributes"
        assert not fresh.is_fitted
        with pytest.raises(RuntimeError, match="fit"):
            fresh.predict(train)
        assert fresh.fit(train, **self.fit_kwargs(train)) is fresh
        new = {k for k in set(vars(fresh)) - before if not k.startswith("_")}
        assert new and all(k.endswith("_") for k in new), new
        assert fresh.is_fitted and isinstance(fresh.history_, list) and len(fresh.history_) >= 1
        # seeded: the same settings on the same data give the same model
        np.testing.assert_array_equal(fresh.predict(split[1]), model.predict(split[1]))

    def test_get_params_set_params_repr(self):
        m = self.make_model()
        names = [p for p in inspect.signature(type(m).__init__).parameters if p != "self"]
        params = m.get_params()
        assert list(params) == names
        clone = type(m)(**params)
        assert clone.get_params() == params
        assert m.set_params(epochs=3, seed=5) is m
        assert m.get_params()["epochs"] == 3 and m.seed == 5
        with pytest.raises(ValueError, match="no_such_param"):
            m.set_params(no_such_param=1)
        r = repr(m)
        assert r.startswith(type(m).__name__ + "(") and "epochs=3" in r and "seed=5" in r
        assert "device=" not in r  # defaults are left out

    # ---- predict
    def test_predict_shape_finite_and_in_range(self, model, split):
        train, test = split
        lo, hi = train["rating"].min(), train["rating"].max()
        mixed = pd.concat([test[["user_id", "item_id"]], pd.DataFrame({"user_id": UNKNOWN_USERS + [train["user_id"].iloc[0]],
                                               "item_id": [train["item_id"].iloc[0]] + UNKNOWN_ITEMS})])
        for df in (test, mixed, test.iloc[:1]):
            p = model.predict(df)
            assert isinstance(p, np.ndarray) and p.shape == (len(df),)
            assert np.isfinite(p).all()
            assert (p >= lo - 1e-6).all() and (p <= hi + 1e-6).all()
        np.testing.assert_allclose(model.predict(test, batch_size=7), model.predict(test), rtol=1e-6)

    def test_learns_real_structure(self, model, split):
        train, test = split
        assert len(test) > 100
        baseline = rmse(test["rating"], np.full(len(test), train["rating"].mean()))
        assert rmse(test["rating"], model.predict(test)) < 0.85 * baseline

    def test_unknown_pairs_all_get_the_same_prediction(self, model):
        q = pd.DataFrame({"user_id": UNKNOWN_USERS + UNKNOWN_USERS, "item_id": UNKNOWN_ITEMS + UNKNOWN_ITEMS[::-1]})
        p = model.predict(q)
        assert np.all(p == p[0])

    def test_unknown_pair_gets_the_global_offset(self, model):
        p = model.predict(pd.DataFrame({"user_id": UNKNOWN_USERS, "item_id": UNKNOWN_ITEMS}))
        net = model.net_
        with torch.no_grad():
            expected = float(net.objective.output(net.offset.detach().cpu()))
        expected = np.clip(np.float32(expected), *model.rating_range_)
        np.testing.assert_allclose(p, expected, rtol=1e-6)

    def _bias_only(self, model, vectors, label):
        if not self.bias_only:
            pytest.skip("the score has terms beyond offset + biases + dot (bias_only = False)")
        bias = vectors.bias[vectors.positions([label])[0]]
        net = model.net_
        with torch.no_grad():
            raw = net.offset.detach().cpu() + torch.tensor(float(bias))
            return np.clip(np.float32(float(net.objective.output(raw))), *model.rating_range_)

    def test_unknown_user_with_known_item_gets_the_item_bias_only_prediction(self, model, train):
        items = sorted(train["item_id"].unique().tolist())[:3]
        p = model.predict(pd.DataFrame({"user_id": [UNKNOWN_USERS[0]] * 3, "item_id": items}))
        expected = [self._bias_only(model, model.vectors_["items"], i) for i in items]
        np.testing.assert_allclose(p, expected, rtol=1e-5)

    def test_known_user_with_unknown_item_gets_the_user_bias_only_prediction(self, model, users):
        p = model.predict(pd.DataFrame({"user_id": users[:3], "item_id": [UNKNOWN_ITEMS[0]] * 3}))
        expected = [self._bias_only(model, model.vectors_["users"], u) for u in users[:3]]
        np.testing.assert_allclose(p, expected, rtol=1e-5)

    # ---- recommend
    def test_recommend_is_batch_first(self, model, users):
        rec = model.recommend(users, k=4)
        assert list(rec.columns) == ["user_id", "item_id", "score", "rank"]
        assert len(rec) == 4 * len(users)
        assert rec["user_id"].drop_duplicates().tolist() == users
        assert pd.api.types.is_integer_dtype(rec["user_id"]) and pd.api.types.is_integer_dtype(rec["item_id"])
        assert np.isfinite(rec["score"]).all()
        for _, g in rec.groupby("user_id"):
            assert g["rank"].tolist() == [1, 2, 3, 4]
            assert np.all(np.diff(g["score"].to_numpy()) <= 0)
            assert g["item_id"].is_unique

    def test_recommend_top_scores_match_predict(self, model, users):
        rec = model.recommend(users, k=3)
        inside = rec["score"].between(*model.rating_range_)
        assert inside.sum() > len(rec) // 2
        np.testing.assert_allclose(rec["score"][inside], model.predict(rec[["user_id", "item_id"]])[inside], rtol=1e-5)

    def test_recommend_scores_are_the_predicted_ratings(self, model, train):
        every = model.recommend(sorted(train["user_id"].unique().tolist()), k=len(model.vectors_["items"]),
                                filter_seen=False)
        lo, hi = model.rating_range_
        assert every["score"].between(lo, hi).all(), (every["score"].min(), every["score"].max())
        np.testing.assert_allclose(every["score"].to_numpy(), model.predict(every[["user_id", "item_id"]]), rtol=1e-5)

    def test_recommend_filter_seen(self, model, train, users):
        seen = set(zip(train["user_id"], train["item_id"]))
        n_items = len(model.vectors_["items"])
        rec = model.recommend(users, k=n_items)
        assert not any(pair in seen for pair in zip(rec["user_id"], rec["item_id"]))
        per_user = train[train["user_id"].isin(users)].groupby("user_id")["item_id"].nunique()
        assert rec.groupby("user_id").size().to_dict() == (n_items - per_user).to_dict()
        everything = model.recommend(users, k=n_items, filter_seen=False)
        assert everything.groupby("user_id").size().eq(n_items).all()
        assert any(pair in seen for pair in zip(everything["user_id"], everything["item_id"]))

    def test_recommend_items_restricts_the_candidates(self, model, train, users):
        cands = sorted(train["item_id"].unique().tolist())[::5]
        rec = model.recommend(users, k=3, items=cands, filter_seen=False)
        assert set(rec["item_id"]) <= set(cands)
        assert rec.groupby("user_id").size().eq(3).all()
        full = model.recommend(users, k=len(model.vectors_["items"]), filter_seen=False)
        merged = rec.merge(full, on=["user_id", "item_id"], suffixes=("", "_full"))
        assert len(merged) == len(rec)
        np.testing.assert_allclose(merged["score"], merged["score_full"], rtol=1e-5)
        seen = set(zip(train["user_id"], train["item_id"]))
        filtered = model.recommend(users, k=len(cands), items=cands)
        assert set(filtered["item_id"]) <= set(cands)
        assert not any(pair in seen for pair in zip(filtered["user_id"], filtered["item_id"]))
        with pytest.raises(ValueError, match=str(UNKNOWN_ITEMS[0])):
            model.recommend(users, items=[cands[0], UNKNOWN_ITEMS[0]])

    def test_recommend_batch_equals_single_users(self, model, users):
        batch = model.recommend(users, k=5)
        single = pd.concat([model.recommend([u], k=5) for u in users], ignore_index=True)
        pd.testing.assert_frame_equal(batch, single, check_exact=False, rtol=1e-5)
        pd.testing.assert_frame_equal(model.recommend(users[0], k=5), model.recommend([users[0]], k=5))
        pd.testing.assert_frame_equal(model.recommend(users, k=5, batch_size=2), batch, check_exact=False, rtol=1e-5)

    def test_recommend_k_larger_than_the_catalogue(self, model, users):
        n_items = len(model.vectors_["items"])
        rec = model.recommend(users[:2], k=10 * n_items, filter_seen=False)
        assert rec.groupby("user_id").size().eq(n_items).all()
        assert rec.groupby("user_id")["item_id"].nunique().eq(n_items).all()

    def test_recommend_unknown_user_raises(self, model, users):
        with pytest.raises(ValueError, match=str(UNKNOWN_USERS[0])):
            model.recommend([users[0], UNKNOWN_USERS[0]])
        with pytest.raises(ValueError, match=str(UNKNOWN_USERS[1])):
            model.recommend(UNKNOWN_USERS[1])

    # ---- similar / vectors
    @pytest.mark.parametrize("side", ["items", "users"])
    def test_similar(self, model, train, side):
        col = "item_id" if side == "items" else "user_id"
        ids = sorted(train[col].unique().tolist())[:3]
        out = (model.similar_items if side == "items" else model.similar_users)(ids, k=4)
        assert list(out.columns) == [col, f"similar_{col}", "score", "rank"]
        assert len(out) == 12 and out.groupby(col).size().eq(4).all()
        assert not (out[col] == out[f"similar_{col}"]).any()
        assert out["score"].between(-1 - 1e-5, 1 + 1e-5).all()
        assert pd.api.types.is_integer_dtype(out[col]) and pd.api.types.is_integer_dtype(out[f"similar_{col}"])
        for _, g in out.groupby(col):
            assert np.all(np.diff(g["score"].to_numpy()) <= 1e-7) and g["rank"].tolist() == [1, 2, 3, 4]
        assert set(out[f"similar_{col}"]) <= set(model.vectors_[side].labels)

    def test_vectors(self, model, train):
        vs = model.vectors_
        assert {"users", "items"} <= set(vs)
        for side, col in (("users", "user_id"), ("items", "item_id")):
            table = vs[side]
            assert table.labels == sorted(table.labels)
            assert set(train[col]) <= set(table.labels)
            assert all(type(x) is int for x in table.labels)  # original ids, not positions
            assert table.matrix.shape[0] == len(table.labels) and np.isfinite(table.matrix).all()
            assert table.bias is not None and table.bias.shape == (len(table.labels),)
            frame = table.to_frame()
            assert list(frame.index) == table.labels
            ids = vs[f"{side[:-1]}.id"]
            assert ids.labels == ["#unknown"] + table.labels
        for name in set(vs) - {"users", "items"}:
            assert name.split(".")[0] in ("user", "item"), name
            assert len(vs[name]) == vs[name].matrix.shape[0] > 0

    # ---- persistence
    def test_save_load_roundtrip(self, model, split, users, tmp_path):
        path = model.save(tmp_path / "model")
        assert sorted(os.listdir(path)) == ["featvec.json", "model.safetensors"]
        meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
        assert meta["format_version"] == persistence.FORMAT_VERSION
        assert meta["kind"] == type(model).__name__
        # no pickle: the tensor file is a safetensors file (8-byte header length, JSON header, raw bytes)
        raw = (path / "model.safetensors").read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        assert header and all(set(v) == {"dtype", "shape", "data_offsets"} for k, v in header.items()
                              if k != "__metadata__")
        assert len(raw) == 8 + n + max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
        loaded = featvec.load(path)
        assert type(loaded) is type(model)
        assert type(model).load(path).get_params() == loaded.get_params()
        test = split[1]
        np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
        unknown = pd.DataFrame({"user_id": UNKNOWN_USERS, "item_id": [test["item_id"].iloc[0], UNKNOWN_ITEMS[0]]})
        np.testing.assert_array_equal(loaded.predict(unknown), model.predict(unknown))
        pd.testing.assert_frame_equal(loaded.recommend(users, k=5), model.recommend(users, k=5))
        pd.testing.assert_frame_equal(loaded.similar_items(test["item_id"].iloc[:2], k=3),
                                      model.similar_items(test["item_id"].iloc[:2], k=3))
        assert set(loaded.vectors_) == set(model.vectors_)

    @pytest.mark.parametrize("where", ["save_file", "json.dump"])
    def test_interrupted_save_keeps_the_previous_model(self, model, split, tmp_path, monkeypatch, where):
        path = model.save(tmp_path / "model")
        before = {f.name: f.read_bytes() for f in path.iterdir()}

        def boom(*args, **kwargs):  # write part of the file, then fail
            target = args[1]
            if isinstance(target, str):
                with open(target, "wb") as fh:
                    fh.write(b"partial")
            else:
                target.write('{"format_version": ')
            raise OSError("disk full")

        if where == "save_file":
            monkeypatch.setattr(persistence, "save_file", boom)
        else:
            monkeypatch.setattr(persistence.json, "dump", boom)
        with pytest.raises(OSError, match="disk full"):
            model.save(path)
        with pytest.raises(OSError, match="disk full"):
            model.save(tmp_path / "fresh")
        monkeypatch.undo()
        assert os.listdir(tmp_path) == ["model"]  # no temp folder, no half-written "fresh"
        assert {f.name: f.read_bytes() for f in path.iterdir()} == before
        np.testing.assert_array_equal(featvec.load(path).predict(split[1]), model.predict(split[1]))

    def test_load_rejects_a_wrong_format_version(self, model, tmp_path):
        path = model.save(tmp_path / "model")
        meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
        meta["format_version"] = persistence.FORMAT_VERSION + 1
        (path / "featvec.json").write_text(json.dumps(meta), encoding="utf-8")
        with pytest.raises(ValueError, match="format version"):
            featvec.load(path)


# ---------------------------------------------------------------- the presets

class TestMatrixFactorization(RecommenderContract):
    def make_model(self):
        return MatrixFactorization(dim=8, epochs=20, batch_size=128, lr=0.05, reg=0.01)


class TestMatrixFactorizationImplicit(RecommenderContract):
    def make_model(self):
        return MatrixFactorization(dim=8, implicit=True, epochs=20, batch_size=128, lr=0.05, reg=0.01)

    def test_vectors_hold_the_implicit_item_table(self, model):
        table = model.vectors_["user.rated_items"]
        assert table.labels == ["#unknown"] + model.vectors_["items"].labels


GENRES = ["action", "comedy", "drama", "horror", "romance", "scifi"]


def side_tables(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    uids = np.sort(train["user_id"].unique())
    iids = np.sort(train["item_id"].unique())
    users = pd.DataFrame({"user_id": uids, "country": rng.choice(["fr", "de", "jp"], len(uids)),
                          "age": rng.integers(18, 70, len(uids)).astype(float)})
    items = pd.DataFrame({"item_id": iids, "studio": rng.choice(["s1", "s2", "s3", "s4"], len(iids)),
                          "year": rng.integers(1950, 2020, len(iids)).astype(float),
                          "genres": [list(rng.choice(GENRES, rng.integers(0, 4), replace=False)) for _ in iids]})
    return users, items


class TestMatrixFactorizationSideFeatures(RecommenderContract):
    def make_model(self):
        return MatrixFactorization(dim=8, epochs=20, batch_size=128, lr=0.05, reg=0.01,
                                   user_features=[Categorical("country"), Numeric(["age"])],
                                   item_features=[Categorical("studio"), Numeric(["year"]), Bag("genres")])

    def fit_kwargs(self, train):
        users, items = side_tables(train)
        return {"user_features": users, "item_features": items}

    def test_vectors_hold_one_table_per_feature_group(self, model):
        vs = model.vectors_
        assert {"user.id", "user.country", "user.age", "item.id", "item.studio", "item.year",
                "item.genres"} <= set(vs)
        assert vs["user.country"].labels == ["#unknown", "de", "fr", "jp"]
        assert vs["item.year"].labels == ["year"]
        assert set(vs["item.genres"].labels) <= {"#unknown", *GENRES}
        assert vs["item.genres"].labels[0] == "#unknown" and len(vs["item.genres"]) > 3


class _DeepContract(RecommenderContract):
    bias_only = False

    def test_unknown_pair_gets_the_global_offset(self, model):
        """Documented fallback for the deep preset: offset + the MLP's output on the zero vectors."""
        p = model.predict(pd.DataFrame({"user_id": UNKNOWN_USERS, "item_id": UNKNOWN_ITEMS}))
        net = model.net_
        n_in = net.mlp.net[0].in_features
        with torch.no_grad():
            expected = float(net.objective.output(net.offset + net.mlp(torch.zeros(1, n_in)).squeeze()))
        np.testing.assert_allclose(p, np.clip(np.float32(expected), *model.rating_range_), rtol=1e-5)


class TestDeepRecommender(_DeepContract):
    def make_model(self):
        return DeepRecommender(dim=8, layers=(16,), dropout=0.0, epochs=20, batch_size=128, lr=0.02, reg=0.01)


class TestDeepRecommenderNoDot(_DeepContract):
    def make_model(self):
        return DeepRecommender(dim=8, layers=(16,), dropout=0.0, use_dot=False, epochs=30, batch_size=128,
                               lr=0.02, reg=0.01)
