"""TabularModel (notebook 001, fastai's tabular network): learned structure on synthetic tables (regression on
per-category offsets plus a numeric effect, three-class classification, several regression targets), the
estimator contract (predict, predict_proba, score, transform, vectors_, get/set_params, repr), y_range,
unknown and rare categories, missing values, early stopping, input and argument errors, persistence and
determinism."""
from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.encoding import NA_LABEL
from featvec.io import persistence
from featvec.models.tabular import TabularModel
from featvec.schema import emb_size_rule
from save_checks import check_interrupted_save

# Two clusters of categories: a, b, c around -2 and d, e, f around +2.
OFFSETS = {"a": -2.0, "b": -1.8, "c": -2.2, "d": 2.0, "e": 1.8, "f": 2.2}
SMALL = dict(layers=(32, 16))


def reg_data(n: int, seed: int) -> pd.DataFrame:
    """y = offset of ``cat`` + 1.5 x + noise; ``other`` is an irrelevant category."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(list(OFFSETS), n)
    x = rng.normal(size=n)
    y = np.array([OFFSETS[c] for c in cat]) + 1.5 * x + rng.normal(0, 0.3, n)
    return pd.DataFrame({"cat": cat, "other": rng.choice(["u", "v", "w"], n), "x": x, "y": y,
                         "y2": 0.5 * x - np.array([OFFSETS[c] for c in cat]) + rng.normal(0, 0.2, n)})


def cls_data(n: int, seed: int, labels=("lo", "mid", "hi")) -> pd.DataFrame:
    """Three classes from per-category preferences plus a numeric push towards the first or last class."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(list("pqrst"), n)
    x = rng.normal(size=n)
    pref = {"p": [2, 0, 0], "q": [0, 2, 0], "r": [0, 0, 2], "s": [1, 1, 0], "t": [0, 1, 1]}
    s = np.array([pref[c] for c in cat], float) + np.outer(x, [-1.5, 0, 1.5]) + 0.5 * rng.gumbel(size=(n, 3))
    y = pd.Series(np.asarray(labels, dtype=object)[s.argmax(1)]).infer_objects()
    return pd.DataFrame({"cat": cat, "x": x, "label": y})


@pytest.fixture(scope="module")
def reg_train():
    return reg_data(2000, 0)


@pytest.fixture(scope="module")
def reg_test():
    return reg_data(500, 1)


@pytest.fixture(scope="module")
def reg_model(reg_train):
    return TabularModel(categorical=["cat", "other"], numeric=["x"], target="y", **SMALL).fit(reg_train)


@pytest.fixture(scope="module")
def cls_models():
    return {kind: TabularModel(categorical=["cat"], numeric=["x"], target="label", **SMALL)
            .fit(cls_data(2000, 0, labels)) for kind, labels in (("str", ("lo", "mid", "hi")), ("int", (10, 20, 30)))}


# ---------------------------------------------------------------- learned structure


def test_regression_learns_offsets_and_the_numeric_effect(reg_model, reg_test):
    assert reg_model.task_ == "regression" and reg_model.classes_ is None
    assert reg_model.score(reg_test) > 0.8
    pred = reg_model.predict(reg_test)
    assert pred.shape == (len(reg_test),) and pred.dtype == np.float64
    y = reg_test["y"].to_numpy()
    assert reg_model.score(reg_test) == pytest.approx(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    # the targets were standardised on the training rows
    mean, std = reg_model.target_scale_["y"]
    assert abs(mean) < 0.5 and 2 < std < 3


def test_categories_with_similar_offsets_have_nearby_vectors(reg_model):
    v = reg_model.vectors_["cat"]
    d = np.linalg.norm(v.matrix[:, None] - v.matrix[None], axis=-1)
    side = np.array([OFFSETS[c] > 0 for c in v.labels])
    same = side[:, None] == side[None]
    off_diag = ~np.eye(len(side), dtype=bool)
    assert d[same & off_diag].mean() < 0.5 * d[~same].mean()
    np.fill_diagonal(d, np.inf)
    assert (side[d.argmin(1)] == side).all()  # every category's nearest neighbour is in its cluster


@pytest.mark.parametrize("kind", ["str", "int"])
def test_classification(cls_models, kind):
    labels = ("lo", "mid", "hi") if kind == "str" else (10, 20, 30)
    model = cls_models[kind]
    test = cls_data(500, 1, labels)
    assert model.task_ == "classification"
    assert model.classes_ == sorted(labels)
    majority = test["label"].value_counts(normalize=True).max()
    acc = model.score(test)
    assert acc > majority + 0.3
    pred = model.predict(test)
    assert len(pred) == len(test)
    if kind == "str":
        assert all(isinstance(p, str) for p in pred)
    else:
        assert pred.dtype == np.int64
    assert acc == pytest.approx(float(np.mean(pred == test["label"].to_numpy())))
    proba = model.predict_proba(test)
    assert list(proba.columns) == model.classes_ and proba.index.equals(test.index)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (proba.to_numpy() >= 0).all()
    np.testing.assert_array_equal(proba.idxmax(axis=1).to_numpy(dtype=object), np.asarray(pred, dtype=object))


def test_binary_and_auto_task():
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"c": rng.choice(list("ab"), n), "x": rng.normal(size=n)})
    df["flag"] = (df["c"] == "a") ^ (df["x"] > 1.0)
    df["few"] = np.where(df["flag"], 1, 0)
    df["many"] = np.arange(n)  # an integer target with many values: regression
    df["real"] = df["x"] * 2.0
    kw = dict(categorical=["c"], numeric=["x"], epochs=10, batch_size=32, **SMALL)
    m = TabularModel(target="flag", **kw).fit(df)
    assert m.task_ == "classification" and m.classes_ == [False, True]
    assert m.predict(df).dtype == bool and m.score(df) > 0.85
    assert list(m.predict_proba(df).columns) == [False, True]
    assert TabularModel(target="few", **kw).fit(df).task_ == "classification"
    assert TabularModel(target="many", **kw).fit(df).task_ == "regression"
    assert TabularModel(target="real", **kw).fit(df).task_ == "regression"
    assert TabularModel(target="few", task="regression", **kw).fit(df).task_ == "regression"


def test_several_regression_targets(reg_train, reg_test):
    m = TabularModel(categorical=["cat"], numeric=["x"], target=["y", "y2"], **SMALL).fit(reg_train)
    pred = m.predict(reg_test)
    assert pred.shape == (len(reg_test), 2)
    assert set(m.target_scale_) == {"y", "y2"}
    assert m.score(reg_test) > 0.8
    for j, t in enumerate(["y", "y2"]):
        y = reg_test[t].to_numpy()
        assert 1 - ((y - pred[:, j]) ** 2).sum() / ((y - y.mean()) ** 2).sum() > 0.8


def test_y_range_bounds_the_predictions(reg_train, reg_test):
    m = TabularModel(categorical=["cat"], numeric=["x"], target="y", y_range=(-3.0, 3.0), **SMALL).fit(reg_train)
    assert m.target_scale_ is None
    pred = m.predict(reg_test)
    assert pred.min() >= -3.0 and pred.max() <= 3.0
    assert pred.min() < -2.5 and pred.max() > 2.5  # the ends are reachable
    assert m.score(reg_test) > 0.7  # the data reach beyond the range, so a little is lost at the ends
    head = m.net_(m._encode(reg_test.iloc[:20], "data"))
    assert ((head > -3.3) & (head < 3.3)).all()  # the scaled sigmoid itself stays in the padded range


# ---------------------------------------------------------------- vectors and transform


def test_vectors_and_embedding_sizes(reg_model, reg_train):
    vs = reg_model.vectors_
    assert list(vs) == ["cat", "other"]
    assert vs["cat"].labels == sorted(OFFSETS) and vs["other"].labels == ["u", "v", "w"]
    assert reg_model.embedding_sizes_ == {"cat": emb_size_rule(7), "other": emb_size_rule(4)}
    assert vs["cat"].dim == reg_model.embedding_sizes_["cat"]
    assert np.isfinite(vs["cat"].matrix).all()


def test_emb_dim_int_and_per_column(reg_train):
    small = reg_train.iloc[:300]
    kw = dict(categorical=["cat", "other"], numeric=["x"], target="y", epochs=1, **SMALL)
    assert TabularModel(emb_dim=3, **kw).fit(small).embedding_sizes_ == {"cat": 3, "other": 3}
    m = TabularModel(emb_dim={"other": 2}, **kw).fit(small)
    assert m.embedding_sizes_ == {"cat": emb_size_rule(7), "other": 2}


def test_transform_is_the_rows_category_vectors(reg_model, reg_test):
    rows = reg_test.iloc[:10]
    out = reg_model.transform(rows)
    d_cat, d_other = reg_model.embedding_sizes_["cat"], reg_model.embedding_sizes_["other"]
    assert out.shape == (10, d_cat + d_other)
    assert list(out.columns) == [f"cat_{i}" for i in range(d_cat)] + [f"other_{i}" for i in range(d_other)]
    assert out.index.equals(rows.index)
    np.testing.assert_array_equal(out.filter(like="cat_").to_numpy(), reg_model.vectors_["cat"][rows["cat"].tolist()])
    np.testing.assert_array_equal(out.filter(like="other_").to_numpy(),
                                  reg_model.vectors_["other"][rows["other"].tolist()])


def test_unknown_category_at_predict(reg_model, reg_test):
    rows = reg_test.iloc[:5].copy()
    rows["cat"] = ["zzz", "a", "yyy", 17, None]
    pred = reg_model.predict(rows)
    assert np.isfinite(pred).all()
    out = reg_model.transform(rows)
    # unseen values (and NaN, which training never had) share the untrained, zero 'unknown' row
    assert (out.filter(like="cat_").iloc[[0, 2, 3, 4]].to_numpy() == 0).all()
    assert (out.filter(like="cat_").iloc[1].to_numpy() != 0).any()


def test_rare_values_are_folded_into_a_trained_unknown_row():
    rng = np.random.default_rng(5)
    n = 600
    cat = np.where(rng.random(n) < 0.05, [f"rare{i}" for i in range(n)], rng.choice(["a", "b"], n))
    df = pd.DataFrame({"cat": cat, "x": rng.normal(size=n)})
    df["y"] = np.where(df["cat"].str.startswith("rare"), 3.0, 0.0) + df["x"]
    m = TabularModel(categorical=["cat"], numeric=["x"], target="y", min_count=5, epochs=10, batch_size=64,
                     **SMALL).fit(df)
    assert m.vectors_["cat"].labels == ["a", "b"]
    unseen = pd.DataFrame({"cat": ["never-seen"], "x": [0.0]})
    assert (m.transform(unseen).to_numpy() != 0).any()  # the unknown row learned from the rare values
    assert m.predict(unseen)[0] == pytest.approx(3.0, abs=0.75)


# ---------------------------------------------------------------- missing values


@pytest.fixture(scope="module")
def nan_data():
    """``cat`` is missing for 10% of rows (they have their own offset), ``x`` for 10% (those rows get +3)."""
    rng = np.random.default_rng(2)
    n = 1500
    cat = pd.Series(rng.choice(["a", "b", "c"], n), dtype=object)
    cat_missing = rng.random(n) < 0.1
    cat[cat_missing] = np.nan
    x = rng.normal(size=n)
    x_missing = rng.random(n) < 0.1
    z = rng.normal(size=n)
    off = cat.map({"a": -1.0, "b": 0.0, "c": 1.0}).fillna(2.0).to_numpy()
    y = off + np.where(x_missing, 3.0, x) + 0.5 * z + rng.normal(0, 0.1, n)
    x[x_missing] = np.nan
    return pd.DataFrame({"cat": cat, "x": x, "z": z, "y": y})


@pytest.fixture(scope="module")
def nan_model(nan_data):
    return TabularModel(categorical=["cat"], numeric=["x", "z"], target="y", batch_size=128, **SMALL).fit(nan_data)


def test_missing_categorical_is_its_own_category(nan_model, nan_data):
    assert nan_model.vectors_["cat"].labels == sorted(["a", "b", "c", NA_LABEL])
    rows = nan_data[nan_data["cat"].isna()].iloc[:20]
    np.testing.assert_array_equal(nan_model.transform(rows).to_numpy(),
                                  np.tile(nan_model.vectors_["cat"][NA_LABEL], (20, 1)))
    assert (nan_model.vectors_["cat"][NA_LABEL] != 0).any()
    # None and NaN alike, and the same prediction as the NA label written out
    a, b = rows.copy(), rows.copy()
    a["cat"] = None
    b["cat"] = NA_LABEL
    np.testing.assert_array_equal(nan_model.predict(a), nan_model.predict(b))


def test_missing_numeric_is_filled_with_the_median_plus_an_indicator(nan_model, nan_data):
    train_x = nan_data["x"].iloc[np.sort(np.random.default_rng(0).permutation(len(nan_data))[150:])]
    assert nan_model.medians_["x"] == pytest.approx(float(np.nanmedian(train_x)))
    assert nan_model.na_columns_ == ["x"]  # z had no missing values: no indicator
    assert nan_model.n_numeric_ == 3
    assert nan_model.encoder_.features[-1].columns == ["x", "z", "x_na"]
    # the indicator lets the model learn what a missing x means (+3 here)
    rows = nan_data[nan_data["x"].isna()]
    err = nan_model.predict(rows) - rows["y"].to_numpy()
    assert np.sqrt(np.mean(err ** 2)) < 0.4  # the noise is 0.5 z (z known) + 0.1
    # z never missing in training: a missing z at predict time is its median
    q = nan_data.iloc[:10].copy()
    q["z"] = np.nan
    med = q.copy()
    med["z"] = nan_model.medians_["z"]
    np.testing.assert_allclose(nan_model.predict(q), nan_model.predict(med), rtol=1e-6)


# ---------------------------------------------------------------- training


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(4)
    n = 400
    df = pd.DataFrame({"c": rng.choice([f"v{i}" for i in range(60)], n), "x": rng.normal(size=n)})
    df["y"] = rng.normal(size=n)  # nothing to learn: the validation loss soon rises
    train, valid = df.iloc[:300], df.iloc[300:]
    m = TabularModel(categorical=["c"], numeric=["x"], target="y", layers=(128, 64), epochs=40, lr=0.05,
                     patience=2, weight_decay=0.0, batch_size=32).fit(train, valid=valid)
    losses = [h["valid_loss"] for h in m.history_]
    assert len(losses) < 40  # stopped early
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 3  # patience 2: the third epoch without improvement stops it
    mean, std = m.target_scale_["y"]
    restored = np.mean(((m.predict(valid) - valid["y"].to_numpy()) / std) ** 2)
    assert restored == pytest.approx(losses[best], rel=1e-4)


def test_validation_split_and_no_validation(reg_train):
    kw = dict(categorical=["cat"], numeric=["x"], target="y", epochs=3, **SMALL)
    m = TabularModel(**kw).fit(reg_train)
    assert all("valid_loss" in h for h in m.history_)
    m = TabularModel(patience=None, **kw).fit(reg_train)
    assert len(m.history_) == 3 and not any("valid_loss" in h for h in m.history_)
    m = TabularModel(valid_frac=0.0, **kw).fit(reg_train)
    assert not any("valid_loss" in h for h in m.history_)


def test_one_row_last_batch_trains(reg_train):
    # 21 rows in batches of 4 end with a batch of one row, which batch norm cannot train on alone
    m = TabularModel(categorical=["cat"], numeric=["x"], target="y", batch_size=4, epochs=2, patience=None,
                     **SMALL).fit(reg_train.iloc[:21])
    assert np.isfinite(m.predict(reg_train.iloc[:5])).all()


def test_same_seed_same_predictions(reg_train, reg_test):
    train = reg_train.iloc[:500]
    kw = dict(categorical=["cat", "other"], numeric=["x"], target="y", epochs=4, **SMALL)
    a = TabularModel(**kw).fit(train)
    b = TabularModel(**kw).fit(train)
    c = TabularModel(seed=1, **kw).fit(train)
    np.testing.assert_array_equal(a.predict(reg_test), b.predict(reg_test))
    np.testing.assert_array_equal(a.vectors_["cat"].matrix, b.vectors_["cat"].matrix)
    assert a.history_[-1]["train_loss"] == b.history_[-1]["train_loss"]
    assert not np.array_equal(a.predict(reg_test), c.predict(reg_test))


# ---------------------------------------------------------------- estimator contract


def test_fit_returns_self_and_sets_trailing_underscore_attributes(reg_train):
    m = TabularModel(categorical=["cat"], numeric=["x"], target="y", epochs=1, **SMALL)
    before = set(vars(m))
    assert not [k for k in before if k.endswith("_")] and not m.is_fitted
    for call in (m.predict, m.transform, m.score):
        with pytest.raises(RuntimeError, match="fit"):
            call(reg_train)
    with pytest.raises(RuntimeError, match="fit"):
        m.vectors_
    assert m.fit(reg_train.iloc[:200]) is m
    new = {k for k in set(vars(m)) - before if not k.startswith("_")}
    assert {"net_", "encoder_", "history_", "classes_", "target_scale_", "embedding_sizes_", "task_",
            "medians_", "na_columns_"} <= new
    assert all(k.endswith("_") for k in new), new


def test_get_params_set_params_repr():
    m = TabularModel(categorical=["cat"], target="y", layers=(16,), seed=3)
    names = [p for p in inspect.signature(TabularModel.__init__).parameters if p != "self"]
    params = m.get_params()
    assert list(params) == names
    assert TabularModel(**params).get_params() == params
    assert m.set_params(epochs=4, dropout=0.1) is m
    assert m.epochs == 4 and m.get_params()["dropout"] == 0.1
    with pytest.raises(ValueError, match="no_such_param"):
        m.set_params(no_such_param=1)
    r = repr(m)
    assert r.startswith("TabularModel(") and "epochs=4" in r and "seed=3" in r and "layers=(16,)" in r
    assert "device=" not in r and "optimizer=" not in r


def test_predict_proba_needs_classification(reg_model, reg_test):
    with pytest.raises(ValueError, match="classification"):
        reg_model.predict_proba(reg_test)


# ---------------------------------------------------------------- errors


def test_argument_errors(reg_train):
    df = reg_train.iloc[:50]
    cases = [
        (dict(categorical=["cat"]), "needs a target column"),
        (dict(target="y"), "at least one feature column"),
        (dict(categorical=["cat", "x"], numeric=["x"], target="y"),
         r"\['x'\] are listed as both categorical and numeric"),
        (dict(categorical=["cat", "y"], target="y"), r"target column\(s\) \['y'\] are also listed as features"),
        (dict(categorical=["cat", "cat"], target="y"), "more than once"),
        (dict(categorical=["cat"], target="y", task="ranking"), "task must be one of"),
        (dict(categorical=["cat"], target=["y", "y2"], task="classification"), "one target column"),
        (dict(categorical=["cat"], target="y", task="classification", y_range=(0, 1)), "y_range is for regression"),
        (dict(categorical=["cat"], target="y", y_range=(1, 0)), "low < high"),
        (dict(categorical=["cat"], target="y", emb_dim={"x": 3}), r"emb_dim names column\(s\) \['x'\]"),
        (dict(categorical=["cat"], target="y", emb_dim=0), "emb_dim must be >= 1"),
        (dict(categorical=["cat"], target="y", layers=()), "at least one hidden layer"),
        (dict(categorical=["cat"], target="y", valid_frac=1.0), "valid_frac"),
        (dict(categorical=["cat"], target="y", min_count=0), "min_count"),
        (dict(categorical=["cat"], target="y", layers=(8, 4), dropout=[0.1]), "one value per hidden layer"),
    ]
    for params, match in cases:
        with pytest.raises(ValueError, match=match):
            TabularModel(**params).fit(df)


def test_input_errors(reg_train):
    df = reg_train.iloc[:50].reset_index(drop=True)
    kw = dict(categorical=["cat"], numeric=["x"], target="y", epochs=1)
    with pytest.raises(ValueError, match=r"data has no target column\(s\) \['label'\]"):
        TabularModel(categorical=["cat"], target="label").fit(df)
    bad = df.copy()
    bad.loc[7, "y"] = np.nan
    with pytest.raises(ValueError, match=r"'y'.*row 7"):
        TabularModel(**kw).fit(bad)
    bad = df.copy()
    bad["label"] = "only"
    with pytest.raises(ValueError, match="at least two classes; target 'label' only holds 'only'"):
        TabularModel(categorical=["cat"], target="label").fit(bad)
    bad["label"] = ["a", None] * 25
    with pytest.raises(ValueError, match=r"'label'.*row 1"):
        TabularModel(categorical=["cat"], target="label").fit(bad)
    with pytest.raises(ValueError, match="empty"):
        TabularModel(**kw).fit(df.iloc[:0])
    with pytest.raises(ValueError, match="DataFrame"):
        TabularModel(**kw).fit(df.to_numpy())
    with pytest.raises(ValueError, match=r"missing column\(s\) \['x'\]"):
        TabularModel(**kw).fit(df.drop(columns=["x"]))
    bad = df.astype({"x": object})
    bad.loc[4, "x"] = "four"
    with pytest.raises(ValueError, match=r"'x' must be numeric.*row 4"):
        TabularModel(**kw).fit(bad)
    bad = df.copy()
    bad.loc[3, "x"] = np.inf
    with pytest.raises(ValueError, match=r"'x' has an infinite value at row 3"):
        TabularModel(**kw).fit(bad)
    with pytest.raises(ValueError, match="y_range is for regression"):
        TabularModel(categorical=["cat"], target="other", y_range=(0, 1)).fit(df)
    bad = df.copy()
    bad.loc[::2, "x"] = np.nan
    bad["x_na"] = 1.0
    with pytest.raises(ValueError, match=r"\['x_na'\] clash with the missing-value indicator"):
        TabularModel(categorical=["cat"], numeric=["x", "x_na"], target="y").fit(bad)


def test_prediction_errors(reg_model, cls_models, reg_test):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['x'\]"):
        reg_model.predict(reg_test.drop(columns=["x"]))
    with pytest.raises(ValueError, match="empty"):
        reg_model.predict(reg_test.iloc[:0])
    with pytest.raises(ValueError, match=r"no target column\(s\) \['y'\]"):
        reg_model.score(reg_test.drop(columns=["y"]))
    test = cls_data(30, 1)
    test.loc[2, "label"] = "extreme"
    with pytest.raises(ValueError, match=r"value\(s\) \['extreme'\] that are not among the classes"):
        cls_models["str"].score(test)
    with pytest.raises(ValueError, match=r"valid: target 'label' has value\(s\) \['extreme'\]"):
        TabularModel(categorical=["cat"], target="label", epochs=1, **SMALL).fit(cls_data(100, 0), valid=test)


# ---------------------------------------------------------------- persistence


def test_save_load_roundtrip_classification(cls_models, tmp_path):
    model = cls_models["int"]
    test = cls_data(50, 1, (10, 20, 30))
    path = model.save(tmp_path / "m")
    assert sorted(os.listdir(path)) == ["featvec.json", "model.safetensors"]
    meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
    assert meta["format_version"] == persistence.FORMAT_VERSION and meta["kind"] == "TabularModel"
    loaded = featvec.load(path)
    assert type(loaded) is TabularModel and TabularModel.load(path).get_params() == model.get_params()
    assert loaded.classes_ == [10, 20, 30] and loaded.task_ == "classification"
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
    assert loaded.predict(test).dtype == np.int64
    pd.testing.assert_frame_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.history_ == model.history_
    assert model.save(path) == path and sorted(os.listdir(tmp_path)) == ["m"]


def test_save_load_roundtrip_regression_with_missing_values(nan_model, nan_data, tmp_path):
    loaded = featvec.load(nan_model.save(tmp_path / "m"))
    q = nan_data.iloc[:40]
    np.testing.assert_array_equal(loaded.predict(q), nan_model.predict(q))
    pd.testing.assert_frame_equal(loaded.transform(q), nan_model.transform(q))
    assert loaded.medians_ == nan_model.medians_ and loaded.na_columns_ == nan_model.na_columns_
    assert loaded.target_scale_ == nan_model.target_scale_
    assert loaded.embedding_sizes_ == nan_model.embedding_sizes_
    for name in nan_model.vectors_:
        assert loaded.vectors_[name].labels == nan_model.vectors_[name].labels
        np.testing.assert_array_equal(loaded.vectors_[name].matrix, nan_model.vectors_[name].matrix)
    assert loaded.score(q) == nan_model.score(q)


def test_save_load_y_range_and_several_targets(reg_train, tmp_path):
    m = TabularModel(categorical=["cat"], numeric=["x"], target=["y", "y2"], y_range=(-4, 4), emb_dim={"cat": 2},
                     epochs=2, **SMALL).fit(reg_train.iloc[:300])
    m.set_params(layers=(8,), y_range=None)  # changed after fit: the saved network is still the fitted one
    loaded = featvec.load(m.save(tmp_path / "m"))
    assert loaded.get_params() == m.get_params()
    np.testing.assert_array_equal(loaded.predict(reg_train.iloc[:30]), m.predict(reg_train.iloc[:30]))


def test_a_file_saved_before_the_shared_parameter_codec_still_loads(reg_train, tmp_path):
    """Files from before the shared codec hold plain JSON parameters and list the tuples in tuple_params."""
    m = TabularModel(categorical=["cat"], numeric=["x"], target="y", emb_dim={"cat": 2},
                     **{**SMALL, "epochs": 1, "layers": (8, 4)}).fit(reg_train.iloc[:300])
    path = m.save(tmp_path / "m")
    config = json.loads((path / "featvec.json").read_text())
    config["config"]["params"] = {**{k: list(v) if isinstance(v, tuple) else v for k, v in m.get_params().items()},
                                  "emb_dim": {"cat": 2}}
    config["config"]["tuple_params"] = [k for k, v in m.get_params().items() if isinstance(v, tuple)]
    (path / "featvec.json").write_text(json.dumps(config))
    loaded = featvec.load(path)
    assert loaded.get_params() == m.get_params() and loaded.layers == (8, 4)
    np.testing.assert_array_equal(loaded.predict(reg_train.iloc[:30]), m.predict(reg_train.iloc[:30]))


@pytest.mark.parametrize("where", ["save_file", "json.dump"])
def test_interrupted_save_keeps_the_previous_model(reg_model, reg_test, tmp_path, monkeypatch, where):
    check_interrupted_save(reg_model.save, tmp_path, monkeypatch, where, "m")
    np.testing.assert_array_equal(featvec.load(tmp_path / "m").predict(reg_test), reg_model.predict(reg_test))
