"""The contracts every recommender preset keeps, written once and run for each preset.

Two test mixins (like the ``implicit`` library's), neither collected itself (their names do not start with
``Test``):

* ``TopKContract``: what every ``Recommender`` keeps whatever it learns from -- the shared estimator
  contract (estimator_contract.py: parameters, ``fit`` returns self, fitted attributes, seeded refits,
  persistence), with ``predict`` on the training split as the compared output,
  batch-first ``recommend`` (scores equal ``predict``, ``filter_seen``, ``items``, batches equal single
  users, k beyond the catalogue, unknown users raise), ``similar_items`` / ``similar_users``, ``vectors_``,
  and persistence (save/load round trip, an interrupted save keeps the previous model, a wrong format
  version is rejected).
* ``RecommenderContract(TopKContract)``: adds the rating presets' contract -- predictions are ratings in
  the training range, RMSE beats the global mean, and the unknown-id fallbacks (global offset, bias-only).

The implicit presets (``ImplicitRecommender``) use ``ImplicitContract(TopKContract)``, defined with them at
the bottom of this file: scores are raw (no range), and learning is shown by full-ranking recall@10 beating
a popularity baseline on interactions with planted taste groups (``planted_interactions``).

To check a preset, subclass the right mixin with a name starting with ``Test`` and implement one hook:

    class TestMyPreset(RecommenderContract):
        def make_model(self):
            return MyPreset(dim=8, epochs=20, batch_size=128, lr=0.05)

``make_model()`` returns a new, unfitted model: small and fast (the whole class should run in a second
or two), yet trained enough to show it learned (rating presets: beat the global mean on the ``ratings``
fixture, planted rank-2 structure; implicit presets: beat popularity on the planted interactions).
Its id columns must keep the defaults (user_id, item_id, and rating for rating presets). Optional extras:

* ``make_data(self, ratings) -> DataFrame``: the frame the class trains and tests on, given the ``ratings``
  fixture; default the ratings themselves (``ImplicitContract``: ``planted_interactions()``).
* ``fit_kwargs(self, train) -> dict``: extra keyword arguments for ``fit`` (side tables, ``valid``...);
  default none.
* ``bias_only = False`` (``RecommenderContract``): set it when the score is more than offset + biases +
  <user, item> (an MLP), so an unknown user's prediction is not just the known item's bias-only
  prediction; that check is skipped.

Each class fits its model once on 80% of its data (``model`` fixture, cached per class: the data is
deterministic) and the tests only read it; tests that need a fresh fit call ``make_model()`` themselves.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import featvec
from featvec import Bag, Categorical, DeepRecommender, ImplicitRecommender, MatrixFactorization, Numeric
from featvec.io import persistence
from estimator_contract import EstimatorContract

UNKNOWN_USERS = [4242, 4243]
UNKNOWN_ITEMS = [9090, 9091]


def holdout(ratings: pd.DataFrame, frac: float = 0.2, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """80/20 random split; held-out rows keep only users and items that the training part has."""
    perm = np.random.default_rng(seed).permutation(len(ratings))
    cut = int(len(ratings) * frac)
    train, test = ratings.iloc[np.sort(perm[cut:])], ratings.iloc[np.sort(perm[:cut])]
    test = test[test["user_id"].isin(train["user_id"]) & test["item_id"].isin(train["item_id"])]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def rmse(y, p) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def planted_interactions(n_users: int = 80, n_items: int = 60, n_groups: int = 4, per_user: int = 10,
                         in_group: float = 0.8, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Implicit interactions with planted structure, and an item table describing the items.

    Items (ids 101..) fall into ``n_groups`` taste groups (genre ``g0``..) and have a Zipf-like popularity
    (``popularity`` = its log). Each user (ids 1..) belongs to one group and interacts with ``per_user``
    distinct items: ``in_group`` of them drawn from its group's items, the rest from the whole catalogue,
    both by popularity. A model that finds the groups beats ranking by popularity by far.
    """
    rng = np.random.default_rng(seed)
    item_group = np.arange(n_items) % n_groups
    pop = np.empty(n_items)
    pop[rng.permutation(n_items)] = 1.0 / np.arange(1, n_items + 1) ** 0.8
    user_group = rng.integers(0, n_groups, n_users)
    n_in = int(round(per_user * in_group))
    users, items = [], []
    for u in range(n_users):
        mine = np.flatnonzero(item_group == user_group[u])
        a = rng.choice(mine, n_in, replace=False, p=pop[mine] / pop[mine].sum())
        rest = np.setdiff1d(np.arange(n_items), a)
        b = rng.choice(rest, per_user - n_in, replace=False, p=pop[rest] / pop[rest].sum())
        users += [u + 1] * per_user
        items += np.concatenate([a, b]).tolist()
    interactions = pd.DataFrame({"user_id": np.asarray(users, dtype=np.int64),
                                 "item_id": np.asarray(items, dtype=np.int64) + 101})
    table = pd.DataFrame({"item_id": np.arange(n_items, dtype=np.int64) + 101,
                          "genre": [f"g{g}" for g in item_group], "popularity": np.log(pop)})
    return interactions, table


def popularity_recall(train: pd.DataFrame, test: pd.DataFrame, k: int = 10) -> float:
    """recall@k of ranking every item by its training count, as ``featvec.evaluate`` measures it: each test
    user's training items are masked; recall = hits / min(k, held-out items); mean over test users."""
    order = train.groupby("item_id").size().sort_values(ascending=False, kind="stable").index.tolist()
    seen = train.groupby("user_id")["item_id"].apply(set)
    out = []
    for u, g in test.groupby("user_id"):
        top = [i for i in order if i not in seen.get(u, set())][:k]
        truth = set(g["item_id"])
        out.append(len(truth & set(top)) / min(k, len(truth)))
    return float(np.mean(out))


_FITTED: dict[type, object] = {}


class TopKContract(EstimatorContract):
    """Tests every recommender keeps: the estimator contract, recommend, similar, vectors, persistence."""

    def make_model(self):
        raise NotImplementedError

    def make_data(self, ratings: pd.DataFrame) -> pd.DataFrame:
        return ratings

    def fit_kwargs(self, train: pd.DataFrame) -> dict:
        return {}

    # ---- the estimator contract's hooks: fit on the 80% split, predict on it
    def fit(self, model, train: pd.DataFrame):
        return model.fit(train, **self.fit_kwargs(train))

    def outputs(self, model, frame: pd.DataFrame):
        return model.predict(frame)

    @pytest.fixture
    def est_train(self, train):
        return train

    @pytest.fixture
    def fitted(self, model):
        return model

    # ---- fixtures
    @pytest.fixture
    def split(self, ratings):
        return holdout(self.make_data(ratings))

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

    @pytest.mark.parametrize("filter_seen", [True, False])
    def test_recommend_lists_is_recommend(self, model, users, filter_seen):
        """The service's lists (no DataFrame) hold what recommend gives, in its order, ids as plain Python."""
        rec = model.recommend(users + users[:1], k=5, filter_seen=filter_seen)
        lists = model.recommend_lists(users + users[:1], k=5, filter_seen=filter_seen)
        assert [i for items, _ in lists for i in items] == rec["item_id"].tolist()
        np.testing.assert_array_equal([v for _, scores in lists for v in scores], rec["score"].to_numpy())
        assert all(type(i) is int for items, _ in lists for i in items)
        with pytest.raises(ValueError, match="unknown users"):
            model.recommend_lists([10 ** 9])

    def test_recommend_scores_match_predict(self, model, train):
        """recommend's score for a pair is exactly what predict() gives for it (every user, every item)."""
        every = model.recommend(sorted(train["user_id"].unique().tolist()), k=len(model.vectors_["items"]),
                                filter_seen=False)
        assert len(every) == train["user_id"].nunique() * len(model.vectors_["items"])
        np.testing.assert_allclose(every["score"].to_numpy(), model.predict(every[["user_id", "item_id"]]),
                                   rtol=1e-5, atol=1e-6)

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
        # atol: a score near 0 can differ in its last float32 bits between a batch and a single row
        pd.testing.assert_frame_equal(batch, single, check_exact=False, rtol=1e-5, atol=1e-6)
        pd.testing.assert_frame_equal(model.recommend(users[0], k=5), model.recommend([users[0]], k=5))
        pd.testing.assert_frame_equal(model.recommend(users, k=5, batch_size=2), batch, check_exact=False, rtol=1e-5,
                                      atol=1e-6)

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


class RecommenderContract(TopKContract):
    """TopKContract plus the rating presets' contract: predictions are ratings, fallbacks for unknown ids."""

    bias_only = True

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
    def test_recommend_scores_are_the_predicted_ratings(self, model, train):
        """Scores are predicted ratings: inside the training range, like predict()."""
        every = model.recommend(sorted(train["user_id"].unique().tolist()), k=len(model.vectors_["items"]),
                                filter_seen=False)
        lo, hi = model.rating_range_
        assert every["score"].between(lo, hi).all(), (every["score"].min(), every["score"].max())


# ---------------------------------------------------------------- the presets

class TestMatrixFactorization(RecommenderContract):
    """The default engine: per-rating SGD in the fused kernel."""

    def make_model(self):
        return MatrixFactorization(dim=8, epochs=20, lr=0.05)  # small data: fewer steps per user, a larger rate


class TestMatrixFactorizationTorch(RecommenderContract):
    """Mini-batches through torch (any optimizer but per-example SGD)."""

    def make_model(self):
        return MatrixFactorization(dim=8, epochs=20, optimizer="adam", batch_size=128, lr=0.05, reg=0.01,
                                   schedule="onecycle")


class TestMatrixFactorizationImplicit(RecommenderContract):
    def make_model(self):
        return MatrixFactorization(dim=8, implicit=True, epochs=20, lr=0.05)

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
        return MatrixFactorization(dim=8, epochs=20, lr=0.05,
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


# ---------------------------------------------------------------- the implicit presets

TORCH = dict(optimizer="adam", batch_size=128, lr=0.05, schedule="onecycle")  # mini-batches through torch
IMPLICIT_PRESETS = {
    "als": dict(solver="als", dim=8),
    "bpr": dict(loss="bpr", dim=8),
    "bpr_torch": dict(loss="bpr", dim=8, epochs=20, **TORCH),
    "bce": dict(loss="bce", dim=8),
    "sampled_softmax": dict(loss="sampled_softmax", dim=8),
    "sampled_softmax_torch": dict(loss="sampled_softmax", negatives=16, dim=8, epochs=20, **TORCH),
    "full_softmax": dict(loss="sampled_softmax", negatives="all", dim=8, epochs=20, **TORCH),
    "bpr_item_features": dict(loss="bpr", dim=8),
}


def implicit_preset(name: str, **overrides) -> ImplicitRecommender:
    """A new, unfitted ImplicitRecommender of one of the contract's settings (fresh feature objects each time);
    ``bpr_item_features`` also needs ``implicit_fit_kwargs`` at fit."""
    kw = dict(IMPLICIT_PRESETS[name])
    if name == "bpr_item_features":
        kw["item_features"] = [Categorical("genre"), Numeric(["popularity"])]
    return ImplicitRecommender(**{**kw, **overrides})


def implicit_fit_kwargs(name: str, train: pd.DataFrame) -> dict:
    if name != "bpr_item_features":
        return {}
    items = planted_interactions()[1]
    return {"item_features": items[items["item_id"].isin(train["item_id"])]}


class ImplicitContract(TopKContract):
    """TopKContract plus what ImplicitRecommender keeps: raw scores, learning shown by ranking quality."""

    preset: str  # a key of IMPLICIT_PRESETS

    def make_model(self):
        return implicit_preset(self.preset)

    def fit_kwargs(self, train):
        return implicit_fit_kwargs(self.preset, train)

    def make_data(self, ratings):
        return planted_interactions()[0]

    def test_learns_real_structure(self, model, split):
        """Full-ranking recall@10 on held-out interactions beats ranking by popularity by a wide margin
        (measured: popularity 0.30, random about 0.19, the presets 0.60 to 0.73)."""
        train, test = split
        assert len(test) > 100
        got = featvec.evaluate(model, test, k=10)
        assert got["dropped_rows"] == 0 and got["n_users"] == test["user_id"].nunique()
        baseline = popularity_recall(train, test, k=10)
        assert got["recall@10"] > baseline + 0.15, (got["recall@10"], baseline)

    def test_predict_is_the_raw_score(self, model, split):
        """predict() = <user vector, item vector> + item bias, read off vectors_; unknown users score the item
        bias alone, unknown items 0."""
        test = split[1]
        p = model.predict(test)
        assert isinstance(p, np.ndarray) and p.shape == (len(test),) and p.dtype == np.float32
        users, items = model.vectors_["users"], model.vectors_["items"]
        uv, iv = users[test["user_id"].tolist()], items[test["item_id"].tolist()]
        ib = items.bias[items.positions(test["item_id"].tolist())]
        np.testing.assert_allclose(p, (uv * iv).sum(1) + ib, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(model.predict(test, batch_size=7), p, rtol=1e-6, atol=1e-7)
        known_items = test["item_id"].iloc[:2].tolist()
        q = pd.DataFrame({"user_id": UNKNOWN_USERS + [test["user_id"].iloc[0]],
                          "item_id": known_items + [UNKNOWN_ITEMS[0]]})
        np.testing.assert_allclose(model.predict(q), list(items.bias[items.positions(known_items)]) + [0.0],
                                   atol=1e-6)

    def test_users_have_no_bias(self, model):
        """The score has an item bias only: a user bias would not change any user's ranking."""
        assert not model.vectors_["users"].bias.any()


class TestImplicitALS(ImplicitContract):
    preset = "als"

    def test_items_have_no_bias(self, model):
        assert not model.vectors_["items"].bias.any()


class TestImplicitBPR(ImplicitContract):
    preset = "bpr"


class TestImplicitBPRTorch(ImplicitContract):
    preset = "bpr_torch"


class TestImplicitBCE(ImplicitContract):
    preset = "bce"


class TestImplicitSampledSoftmax(ImplicitContract):
    preset = "sampled_softmax"


class TestImplicitSampledSoftmaxTorch(ImplicitContract):
    preset = "sampled_softmax_torch"


class TestImplicitFullSoftmax(ImplicitContract):
    preset = "full_softmax"


class TestImplicitBPRItemFeatures(ImplicitContract):
    preset = "bpr_item_features"

    def test_vectors_hold_one_table_per_feature_group(self, model):
        vs = model.vectors_
        assert set(vs) == {"users", "items", "user.id", "item.id", "item.genre", "item.popularity"}
        assert vs["item.genre"].labels == ["#unknown", "g0", "g1", "g2", "g3"]
        assert vs["item.popularity"].labels == ["popularity"]
        # an item's vector is the sum of its groups' vectors: id row + its genre's row + (scaled) popularity
        items, table = vs["items"], planted_interactions()[1].set_index("item_id")
        rest = items.matrix - vs["item.id"].matrix[1:] - vs["item.genre"][table.loc[items.labels, "genre"].tolist()]
        direction = vs["item.popularity"].matrix[0]
        c = rest @ direction / (direction @ direction)
        np.testing.assert_allclose(rest, np.outer(c, direction), atol=1e-5)
        assert abs(np.corrcoef(c, table.loc[items.labels, "popularity"])[0, 1]) > 0.999
