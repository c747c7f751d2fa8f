"""UserModel (notebook 000's deep user model): nothing learned from pure noise (accuracy at the majority rate,
probabilities at the class frequencies), planted demographic signals found (gender from 2 of 20 categories 5x
more likely, age from category pairs 3x more likely), masked missing labels (per task, exactly), empty bags,
balanced class weights, temperature scaling, the output formats, input and argument errors, persistence and
determinism. All data are generated here."""
from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import featvec
from featvec import Bag, Categorical, Numeric
from featvec.io import persistence
from featvec.models.user import UserModel, fit_temperature, scale
from featvec.schema import emb_size_rule
from save_checks import check_interrupted_save

CATS = [f"c{i:02d}" for i in range(20)]
AGES = [18, 25, 35]
SMALL = dict(layers=(32, 16), batch_size=256, lr=1e-2, epochs=20, recipe="deep")  # the deep recipe's other defaults


def planted(n: int, seed: int, p_f: float = 0.5, g_boost: float = 5.0, a_boost: float = 3.0, lo: int = 20,
            hi: int = 40) -> pd.DataFrame:
    """Users with a bag of ``lo``..``hi`` events over 20 categories: for women categories c00, c01 are
    ``g_boost`` times more likely; each age bucket makes its own pair (c04/c05, c06/c07, c08/c09) ``a_boost``
    times more likely. Beside them: a noise bag of 0..7 brands (ints 100..109) weighted by ratings, a noise
    categorical ``region`` and a noise numeric ``tenure``."""
    rng = np.random.default_rng(seed)
    gender = np.where(rng.random(n) < p_f, "F", "M")
    age = rng.choice(AGES, n)
    cats = []
    for g, a in zip(gender, age):
        w = np.ones(20)
        if g == "F":
            w[[0, 1]] *= g_boost
        k = AGES.index(a)
        w[[4 + 2 * k, 5 + 2 * k]] *= a_boost
        cats.append(list(rng.choice(CATS, rng.integers(lo, hi + 1), p=w / w.sum())))
    brands = [[int(b) for b in rng.integers(100, 110, rng.integers(0, 8))] for _ in range(n)]
    ratings = [[float(r) for r in rng.integers(1, 6, len(b))] for b in brands]
    return pd.DataFrame({"cats": cats, "brands": brands, "ratings": ratings, "region": rng.choice(list("xyz"), n),
                         "tenure": rng.normal(size=n), "gender": gender, "age": age},
                        index=pd.RangeIndex(1000 * seed, 1000 * seed + n))


def noise(n: int, seed: int) -> pd.DataFrame:
    """Bags of uniformly random categories, labels independent of them: gender 60/40, age 40/30/20/10."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"cats": [list(rng.choice(CATS, rng.integers(0, 30))) for _ in range(n)],
                         "shops": [list(rng.integers(0, 15, rng.integers(0, 10))) for _ in range(n)],
                         "gender": rng.choice(["F", "M"], n, p=[0.6, 0.4]),
                         "age": rng.choice([1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1])})


FEATURES = dict(bags=["cats", Bag("brands", weights="ratings")], attributes=["region", Numeric(["tenure"])],
                targets=["gender", "age"])


@pytest.fixture(scope="module")
def train():
    return planted(2000, 0)


@pytest.fixture(scope="module")
def test():
    return planted(1000, 1)


@pytest.fixture(scope="module")
def model(train):
    return UserModel(**FEATURES, **SMALL).fit(train)


# ---------------------------------------------------------------- learned structure


def test_pure_noise_gives_the_majority_rate_and_the_class_frequencies():
    train, test = noise(3000, 0), noise(1000, 1)
    m = UserModel(bags=["cats", "shops"], targets=["gender", "age"], valid_frac=0.3, **SMALL).fit(train)
    acc, proba = m.score(test), m.predict_proba(test)
    for t in ("gender", "age"):
        freq = train[t].value_counts(normalize=True)
        # what always predicting the training majority scores on these test rows; nothing else can be learned,
        # so the accuracy is that rate up to 3 binomial standard deviations of a 1000-row accuracy
        ref = float(np.mean(test[t] == freq.idxmax()))
        sd = np.sqrt(ref * (1 - ref) / len(test))
        assert abs(acc[t] - ref) <= 3 * sd, (t, acc[t], ref)
        # the calibrated probabilities stay at the class frequencies, row by row: the temperature is fitted on
        # the 900 validation users, whose frequencies differ from the training ones by sampling noise (sd
        # sqrt(f (1 - f) / 900) <= 0.017); 3 of those sds are allowed (seeds 0-4 use at most half of it)
        f = freq[proba[t].columns].to_numpy()
        tol = 3 * np.sqrt(f * (1 - f) / 900)
        assert (np.abs(proba[t].to_numpy() - f).mean(0) <= tol).all(), (t, proba[t].mean(), f)
        assert (proba[t].std().to_numpy() < 0.02).all()  # no user-specific signal was made up


def test_planted_demographics_are_found(model, test):
    # Bayes rates of this generator (likelihoods known, 20,000 simulated users): gender 0.949 (women's share
    # of c00+c01 is 10/28 = 0.36 against 2/20 = 0.10 for men, over 20..40 events), age 0.886 (majority 1/3).
    # Thresholds leave room for 2,000 training users (-0.05 gender, -0.19 age) and a 1,000-user test (sd
    # 0.007 and 0.010).
    acc = model.score(test)
    majority_age = test["age"].value_counts(normalize=True).max()
    assert acc["gender"] > 0.9
    assert acc["age"] > 0.7 and acc["age"] > majority_age + 0.3
    # the planted categories are the ones the gender signal sits on: c00 and c01 end up nearest each other
    v = model.vectors_["cats"]
    assert v.similar("c00", k=1)["label"].tolist() == ["c01"]


def test_missing_labels_mask_only_their_task(model, train, test):
    rng = np.random.default_rng(7)
    masked = train.copy()
    masked["age"] = masked["age"].astype(object)
    masked.loc[rng.random(len(masked)) < 0.5, "age"] = np.nan  # half the age labels gone
    masked.iloc[:20, masked.columns.get_indexer(["gender", "age"])] = None  # 20 users without any label
    m = UserModel(**FEATURES, **SMALL).fit(masked)
    assert m.classes_ == {"gender": ["F", "M"], "age": AGES}
    full, half = model.score(test), m.score(test)
    # gender keeps all its labels: its accuracy does not move beyond test noise (sd 0.007, 4 sd allowed)
    assert abs(half["gender"] - full["gender"]) < 0.03 and half["gender"] > 0.9
    # age still learns from the 1,000 labels it keeps (full labels: 0.88, Bayes 0.886)
    assert half["age"] > 0.65
    pred = m.predict(test)
    assert pred["age"].dtype == np.int64 and set(pred["age"]) <= set(AGES)
    # ints that NaN turned into floats come back as ints
    as_float = masked.astype({"age": float})
    assert UserModel(**FEATURES, epochs=1, layers=(8,)).fit(as_float).classes_["age"] == AGES


def test_the_loss_is_the_mean_over_present_labels_exactly(model, test):
    net = model.net_
    inputs = model._encode(test.iloc[:8], "data")
    y = torch.tensor([[0, 2], [1, -1], [-1, 0], [1, 1], [0, -1], [-1, -1], [1, 2], [0, 0]])
    with torch.no_grad():
        logits = net(inputs)
        loss, n = net.loss((inputs, y))
    assert n == 8
    g, a = logits[:, :2], logits[:, 2:]
    expected = (F.cross_entropy(g[y[:, 0] >= 0], y[y[:, 0] >= 0, 0])
                + F.cross_entropy(a[y[:, 1] >= 0], y[y[:, 1] >= 0, 1]))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    # whatever the model says about the masked rows' would-be labels, the loss does not move
    other = y.clone()
    other[other < 0] = -1
    with torch.no_grad():
        assert float(net.loss((inputs, other))[0]) == float(loss)
    # class weights multiply each row's cross-entropy; the mean still divides by the present rows
    weights = torch.tensor([2.0, 0.5, 1.0, 3.0, 1.0])
    saved = net.class_weight.clone()
    try:
        net.class_weight.copy_(weights)
        with torch.no_grad():
            weighted = float(net.loss((inputs, y))[0])
        pg, pa = y[:, 0] >= 0, y[:, 1] >= 0
        hand = ((F.cross_entropy(g[pg], y[pg, 0], reduction="none") * weights[:2][y[pg, 0]]).sum() / pg.sum()
                + (F.cross_entropy(a[pa], y[pa, 1], reduction="none") * weights[2:][y[pa, 1]]).sum() / pa.sum())
        assert weighted == pytest.approx(float(hand), rel=1e-6)
    finally:
        net.class_weight.copy_(saved)
    # a batch without any label has loss 0 and moves no weight
    net.train()
    try:
        net.zero_grad()
        loss, _ = net.loss((inputs, torch.full((8, 2), -1)))
        loss.backward()
        assert loss.item() == 0.0
        assert all(p.grad is None or not p.grad.any() for p in net.parameters())
    finally:
        net.zero_grad()
        net.eval()


# ---------------------------------------------------------------- empty bags


def test_empty_bags(model, test):
    rows = test.iloc[[0, 0, 0, 0]].reset_index(drop=True)  # one user four times, but for the cats bag
    rows["cats"] = pd.Series([[], None, np.nan, ["never", "seen"]], dtype=object)
    proba = model.predict_proba(rows)
    for t, p in proba.items():
        assert np.isfinite(p.to_numpy()).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        # empty list, None, NaN and unseen values alike: a zero bag vector (mean pooling too)
        np.testing.assert_allclose(p.to_numpy(), np.tile(p.to_numpy()[0], (4, 1)), atol=1e-6)
    vec = model.transform(rows)
    np.testing.assert_allclose(vec.to_numpy(), np.tile(vec.to_numpy()[0], (4, 1)), atol=1e-6)
    # a bag empty for every row at predict time
    none = test.iloc[:30].copy()
    none["brands"] = [[] for _ in range(30)]
    none["ratings"] = [[] for _ in range(30)]
    assert model.predict(none).shape == (30, 2)
    assert model.score(none)["gender"] > 0.7  # the cats bag still carries gender
    # and one empty for every row at fit time: its vocabulary is empty, its vector always zero
    fit_none = planted(200, 3)
    fit_none["brands"] = [[] for _ in range(200)]
    fit_none["ratings"] = [[] for _ in range(200)]
    m = UserModel(**FEATURES, epochs=1, layers=(8,)).fit(fit_none)
    assert len(m.vectors_["brands"]) == 0 and m.embedding_sizes_["brands"] == emb_size_rule(1)
    assert m.predict(test.iloc[:5]).shape == (5, 2)


# ---------------------------------------------------------------- class weights and calibration


def test_balanced_class_weight_raises_minority_recall():
    # 10% of users are women, and c00/c01 are only 2x more likely for them over 20..40 events. Bayes decisions
    # (40,000 simulated users): with the prior the women's recall is 0.19, by the likelihood ratio alone (what
    # balanced weights aim at) 0.73. The model gets about 0.05 and 0.58 (seeds 0-2); the test asks for half the
    # Bayes gap and a recall above 0.4 (about 100 women in the test set: sd 0.05).
    train, test = planted(2000, 4, p_f=0.1, g_boost=2.0), planted(1000, 5, p_f=0.1, g_boost=2.0)
    kw = dict(bags=["cats"], targets=["gender", "age"], **SMALL)
    plain = UserModel(**kw).fit(train)
    balanced = UserModel(class_weight="balanced", **kw).fit(train)
    counts = train["gender"].value_counts()
    assert balanced.class_weights_["gender"] == pytest.approx([len(train) / (2 * counts["F"]),
                                                               len(train) / (2 * counts["M"])])
    assert plain.class_weights_["gender"] == [1.0, 1.0]
    women = test["gender"] == "F"

    def recall(m):
        return float((m.predict(test)["gender"][women] == "F").mean())

    assert recall(balanced) > recall(plain) + 0.25 and recall(balanced) > 0.4, (recall(plain), recall(balanced))
    # explicit weights, per target; unlisted classes weigh 1
    m = UserModel(bags=["cats"], targets=["gender", "age"], class_weight={"age": {35: 4.0}, "gender": "balanced"},
                  epochs=1, layers=(8,)).fit(train.iloc[:200])
    assert m.class_weights_["age"] == [1.0, 1.0, 4.0]
    assert m.class_weights_["gender"][0] > 1.0


def test_temperature_scaling_on_an_overconfident_model():
    # 400 users, a weak signal, a network trained 30 epochs without early stopping, dropout or weight decay:
    # it memorises, and is overconfident on the 300 validation users (fitted temperatures about 10 and 7)
    train, valid = planted(400, 6, g_boost=1.5, a_boost=1.5), planted(300, 7, g_boost=1.5, a_boost=1.5)
    kw = dict(bags=["cats", "brands"], attributes=["region"], targets=["gender", "age"], layers=(64, 32), recipe="deep",
              dropout=0.0, weight_decay=0.0, epochs=30, batch_size=100, lr=1e-2, patience=None)
    cal = UserModel(**kw).fit(train, valid=valid)
    raw = UserModel(calibrate=False, **kw).fit(train, valid=valid)
    assert raw.temperatures_ == {"gender": 1.0, "age": 1.0}
    assert all(t > 1.5 for t in cal.temperatures_.values()), cal.temperatures_
    pc, pr = cal.predict_proba(valid), raw.predict_proba(valid)
    for t in ("gender", "age"):
        codes = pd.Index(cal.classes_[t]).get_indexer(valid[t])

        def nll(p):
            return float(-np.log(p.to_numpy()[np.arange(len(valid)), codes]).mean())

        assert nll(pc[t]) <= nll(pr[t]) - 0.05, (t, nll(pc[t]), nll(pr[t]))
    # the temperature changes confidence, never the predicted class
    pd.testing.assert_frame_equal(cal.predict(valid), raw.predict(valid))
    assert cal.score(valid) == raw.score(valid)


def test_fit_temperature_finds_the_minimum():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 3
    # labels drawn from softmax(logits / 2.5): the best temperature is near 2.5
    p = np.exp(logits / 2.5)
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    t = fit_temperature(logits, y)
    assert 2.0 < t < 3.1
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 400))

    def nll(temp):
        z = logits / temp
        z = z - z.max(1, keepdims=True)
        return -(z[np.arange(500), y] - np.log(np.exp(z).sum(1))).mean()

    assert nll(t) <= min(nll(g) for g in grid) + 1e-6


def test_valid_labels_unseen_in_training_are_left_out_of_their_task(train):
    valid = planted(100, 8)
    valid["gender"] = valid["gender"].astype(object)
    valid.loc[valid.index[:10], "gender"] = "X"
    with pytest.warns(UserWarning, match=r"valid: target 'gender' has 10 label\(s\) not among the classes.*'X'"):
        m = UserModel(**FEATURES, epochs=2, layers=(8,)).fit(train.iloc[:300], valid=valid)
    assert m.classes_["gender"] == ["F", "M"]
    # scoring counts them as wrong: the model cannot predict a class it never saw
    assert m.score(valid)["gender"] <= 0.9


# ---------------------------------------------------------------- formats and vectors


def test_output_formats(model, test):
    rows = test.iloc[:50]
    proba = model.predict_proba(rows)
    assert list(proba) == ["gender", "age"]
    assert list(proba["gender"].columns) == ["F", "M"] and list(proba["age"].columns) == AGES
    assert all(type(c) is int for c in proba["age"].columns)
    for p in proba.values():
        assert p.index.equals(rows.index)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        assert (p.to_numpy() >= 0).all()
    pred = model.predict(rows)
    assert list(pred.columns) == ["gender", "age"] and pred.index.equals(rows.index)
    assert pred["age"].dtype == np.int64 and all(isinstance(g, str) for g in pred["gender"])
    for t in ("gender", "age"):
        np.testing.assert_array_equal(proba[t].idxmax(axis=1).to_numpy(dtype=object), pred[t].to_numpy(dtype=object))
        assert model.score(rows)[t] == pytest.approx(float(np.mean(pred[t].to_numpy() == rows[t].to_numpy())))
    vec = model.transform(rows)
    assert vec.shape == (50, 16) and list(vec.columns) == [f"u{i}" for i in range(16)]
    assert vec.index.equals(rows.index) and np.isfinite(vec.to_numpy()).all()
    # the user vector is what the heads read
    logits = vec.to_numpy() @ model.net_.head.weight.detach().numpy().T + model.net_.head.bias.detach().numpy()
    z = scale(logits[:, :2], model.temperatures_["gender"], model.baselines_["gender"])
    np.testing.assert_allclose(proba["gender"].to_numpy(), np.exp(z) / np.exp(z).sum(1, keepdims=True), atol=1e-5)


def test_vectors_and_embedding_sizes(model):
    vs = model.vectors_
    assert list(vs) == ["cats", "brands", "region"]
    assert vs["cats"].labels == CATS and vs["brands"].labels == list(range(100, 110))
    assert vs["region"].labels == ["x", "y", "z"]
    assert model.embedding_sizes_ == {"cats": emb_size_rule(21), "brands": emb_size_rule(11),
                                      "region": emb_size_rule(4)}
    for name, v in vs.items():
        assert v.matrix.shape == (len(v.labels), model.embedding_sizes_[name])
        np.testing.assert_array_equal(v.matrix, model.net_.embedding.table(name).detach().numpy()[1:])


def test_dim_and_bag_options(train):
    small = train.iloc[:200]
    kw = dict(targets=["gender"], epochs=1, layers=(8,))
    m = UserModel(bags=["cats", "brands"], attributes=["region"], dim=4, **kw).fit(small)
    assert m.embedding_sizes_ == {"cats": 4, "brands": 4, "region": 4}
    m = UserModel(bags=["cats", Bag("brands", dim=3)], attributes=["region"], dim={"region": 2}, **kw).fit(small)
    assert m.embedding_sizes_ == {"cats": emb_size_rule(21), "brands": 3, "region": 2}
    # sum pooling, named bags over one column, categorical attributes with missing values
    odd = small.copy()
    odd["region"] = odd["region"].astype(object)
    odd.loc[odd.index[:5], "region"] = None
    m = UserModel(bags=[Bag("cats", pooling="sum"), Bag("cats", name="cats_rare", min_count=10**6)],
                  attributes=[Categorical("region")], **kw).fit(odd)
    assert "#na#" in m.vectors_["region"].labels and m.vectors_["cats_rare"].labels == []
    assert m.predict(odd.iloc[:3]).shape == (3, 1)


def test_id_col_indexes_the_outputs(train):
    df = train.iloc[:100].assign(user=[f"u{i}" for i in range(100)])
    m = UserModel(bags=["cats"], targets=["gender"], id_col="user", epochs=1, layers=(8,)).fit(df)
    assert list(m.predict(df.iloc[:3]).index) == ["u0", "u1", "u2"]
    assert m.predict_proba(df.iloc[:3])["gender"].index.name == "user"
    assert list(m.transform(df.iloc[:3]).index) == ["u0", "u1", "u2"]
    dup = df.iloc[:3].assign(user=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"user id 'a' in column 'user' appears more than once \(row 2\)"):
        m.predict(dup)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['user'\]"):
        m.predict(df.drop(columns=["user"]))


# ---------------------------------------------------------------- errors


def test_argument_errors(train):
    df = train.iloc[:50]
    cases = [
        (dict(targets=["gender"]), "at least one input"),
        (dict(bags=["cats"]), "at least one target column"),
        (dict(bags=["cats"], targets=["gender", "gender"]), "more than once"),
        (dict(bags=["cats"], attributes=["gender"], targets=["gender"]), r"\['gender'\] are also inputs"),
        (dict(bags=["cats", "cats"], targets=["gender"]), "two inputs are named"),
        (dict(bags=[3], targets=["gender"]), "column names or featvec.Bag"),
        (dict(bags=["cats"], attributes=[Bag("brands")], targets=["gender"]), "pass it in bags"),
        (dict(bags=["cats"], targets=["gender"], id_col="cats"), "id_col 'cats'"),
        (dict(bags=["cats"], targets=["gender"], dim={"region": 3}), r"dim names input\(s\) \['region'\]"),
        (dict(bags=["cats"], targets=["gender"], dim=0), "dim must be >= 1"),
        (dict(bags=["cats"], targets=["gender"], layers=()), "at least one hidden layer"),
        (dict(bags=["cats"], targets=["gender"], valid_frac=1.0), "valid_frac"),
        (dict(bags=["cats"], targets=["gender"], min_count=0), "min_count"),
        (dict(bags=["cats"], targets=["gender"], class_weight="even"), "class_weight must be"),
        (dict(bags=["cats"], targets=["gender"], class_weight={"age": "balanced"}), r"target\(s\) \['age'\]"),
        (dict(bags=["cats"], targets=["gender"], class_weight={"gender": {"F": -1}}), "finite weights >= 0"),
        (dict(bags=["cats"], targets=["gender"], class_weight={"gender": {"X": 2.0}}), r"class\(es\) \['X'\]"),
        (dict(bags=["cats"], targets=["gender"], class_weight={"gender": {"F": 0, "M": 0}}), "every class weight 0"),
    ]
    for params, match in cases:
        with pytest.raises(ValueError, match=match):
            UserModel(epochs=1, **params).fit(df)


def test_input_errors(train):
    df = train.iloc[:50].reset_index(drop=True)
    kw = dict(bags=["cats"], targets=["gender"], epochs=1, layers=(8,))
    with pytest.raises(ValueError, match="empty"):
        UserModel(**kw).fit(df.iloc[:0])
    with pytest.raises(ValueError, match="DataFrame"):
        UserModel(**kw).fit(df.to_numpy())
    with pytest.raises(ValueError, match=r"data has no target column\(s\) \['job'\]"):
        UserModel(bags=["cats"], targets=["gender", "job"]).fit(df)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['cats'\]"):
        UserModel(**kw).fit(df.drop(columns=["cats"]))
    bad = df.copy()
    bad.loc[4, "cats"] = "c01"
    with pytest.raises(ValueError, match=r"column 'cats' is a Bag and needs a list per row; row 4 \(index 4\)"):
        UserModel(**kw).fit(bad)
    bad = df.assign(gender="F")
    with pytest.raises(ValueError, match="target 'gender' needs at least two classes.*only 'F'"):
        UserModel(**kw).fit(bad)
    bad = df.assign(gender=["F"] + [None] * 49)
    with pytest.raises(ValueError, match="target 'gender' needs at least two classes.*only 'F'"):
        UserModel(**kw).fit(bad)
    bad = df.assign(gender=None)
    with pytest.raises(ValueError, match="target 'gender' needs at least two classes.*no label"):
        UserModel(**kw).fit(bad)
    with pytest.raises(ValueError, match=r"valid has no target column\(s\) \['gender'\]"):
        UserModel(**kw).fit(df, valid=df.drop(columns=["gender"]))
    with pytest.raises(ValueError, match="valid is empty"):
        UserModel(**kw).fit(df, valid=df.iloc[:0])
    bad = df.copy()
    bad["ratings"] = [r[:-1] if len(r) else [1.0] for r in bad["ratings"]]
    with pytest.raises(ValueError, match="'ratings' holds the weights of Bag 'brands'"):
        UserModel(bags=[Bag("brands", weights="ratings")], targets=["gender"], epochs=1).fit(bad)


def test_prediction_errors(model, test):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['brands'\]"):
        model.predict(test.drop(columns=["brands"]))
    with pytest.raises(ValueError, match="empty"):
        model.predict_proba(test.iloc[:0])
    with pytest.raises(ValueError, match=r"no target column\(s\) \['age'\]"):
        model.score(test.drop(columns=["age"]))
    bad = test.iloc[:5].copy()
    bad["cats"] = bad["cats"].astype(object)
    bad.iloc[2, bad.columns.get_loc("cats")] = 7
    with pytest.raises(ValueError, match=r"column 'cats' is a Bag.*row 2 \(index 1002\) holds 7"):
        model.predict(bad)
    # predictions need no target columns
    assert model.predict(test.drop(columns=["gender", "age"]).iloc[:3]).shape == (3, 2)


# ---------------------------------------------------------------- persistence and determinism


def test_save_load_roundtrip(model, test, tmp_path):
    path = model.save(tmp_path / "m")
    assert sorted(os.listdir(path)) == ["featvec.json", "model.safetensors"]
    meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "UserModel" and meta["format_version"] == persistence.FORMAT_VERSION
    loaded = featvec.load(path)
    assert type(loaded) is UserModel and UserModel.load(path).get_params() == model.get_params()
    assert loaded.classes_ == model.classes_ and loaded.temperatures_ == model.temperatures_
    assert loaded.temperatures_ != {"gender": 1.0, "age": 1.0}
    assert loaded.class_weights_ == model.class_weights_ and loaded.history_ == model.history_
    assert loaded.recipe_ == model.recipe_ == "deep"
    rows = test.iloc[:40]
    for t, p in model.predict_proba(rows).items():
        pd.testing.assert_frame_equal(loaded.predict_proba(rows)[t], p)
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows))
    pd.testing.assert_frame_equal(loaded.transform(rows), model.transform(rows))
    for name in model.vectors_:
        assert loaded.vectors_[name].labels == model.vectors_[name].labels
        np.testing.assert_array_equal(loaded.vectors_[name].matrix, model.vectors_[name].matrix)


def test_save_load_keeps_parameter_types(train, tmp_path):
    m = UserModel(bags=(Bag("brands", weights="ratings", pooling="sqrt"),), attributes=[Numeric(["tenure"])],
                  targets="age", class_weight={"age": {25: 2.0}}, dim={"brands": 3}, layers=(8,), epochs=1,
                  id_col=None).fit(train.iloc[:100])
    loaded = featvec.load(m.save(tmp_path / "m"))
    assert loaded.get_params() == m.get_params()
    assert loaded.class_weight == {"age": {25: 2.0}} and isinstance(loaded.bags, tuple)
    rows = train.iloc[:10]
    pd.testing.assert_frame_equal(loaded.predict_proba(rows)["age"], m.predict_proba(rows)["age"])


@pytest.mark.parametrize("where", ["save_file", "json.dump"])
def test_interrupted_save_keeps_the_previous_model(model, test, tmp_path, monkeypatch, where):
    check_interrupted_save(model.save, tmp_path, monkeypatch, where, "m")
    rows = test.iloc[:20]
    pd.testing.assert_frame_equal(featvec.load(tmp_path / "m").predict_proba(rows)["age"],
                                  model.predict_proba(rows)["age"])


def test_same_seed_same_probabilities(train, test):
    small = train.iloc[:400]
    kw = dict(**FEATURES, layers=(16,), epochs=3)
    a, b, c = UserModel(**kw).fit(small), UserModel(**kw).fit(small), UserModel(seed=1, **kw).fit(small)
    pa, pb, pc = a.predict_proba(test), b.predict_proba(test), c.predict_proba(test)
    for t in pa:
        pd.testing.assert_frame_equal(pa[t], pb[t])
        assert not np.array_equal(pa[t].to_numpy(), pc[t].to_numpy())
    assert a.temperatures_ == b.temperatures_ and a.history_[-1]["train_loss"] == b.history_[-1]["train_loss"]


def test_one_row_last_batch_trains(train):
    # 21 rows in batches of 4 end with a batch of one row, which batch norm cannot train on alone
    m = UserModel(**FEATURES, layers=(8,), batch_size=4, epochs=2, patience=None, calibrate=False).fit(train.iloc[:21])
    assert np.isfinite(m.predict_proba(train.iloc[:5])["age"].to_numpy()).all()
    assert not any("valid_loss" in h for h in m.history_)


# ---------------------------------------------------------------- estimator contract


def test_fit_returns_self_and_sets_trailing_underscore_attributes(train):
    m = UserModel(bags=["cats"], targets=["gender"], epochs=1, layers=(8,))
    before = set(vars(m))
    assert not [k for k in before if k.endswith("_")] and not m.is_fitted
    for call in (m.predict, m.predict_proba, m.transform, m.score):
        with pytest.raises(RuntimeError, match="fit"):
            call(train)
    with pytest.raises(RuntimeError, match="fit"):
        m.vectors_
    assert m.fit(train.iloc[:100]) is m
    new = {k for k in set(vars(m)) - before if not k.startswith("_")}
    assert {"net_", "encoder_", "classes_", "temperatures_", "history_", "class_weights_",
            "embedding_sizes_"} <= new
    assert all(k.endswith("_") for k in new), new


def test_get_params_set_params_repr():
    m = UserModel(bags=["cats"], targets=["gender"], layers=(16,), seed=3)
    names = [p for p in inspect.signature(UserModel.__init__).parameters if p != "self"]
    params = m.get_params()
    assert list(params) == names
    assert UserModel(**params).get_params() == params
    assert m.set_params(epochs=4, dropout=0.1) is m
    assert m.epochs == 4 and m.get_params()["dropout"] == 0.1
    with pytest.raises(ValueError, match="no_such_param"):
        m.set_params(no_such_param=1)
    r = repr(m)
    assert r.startswith("UserModel(") and "epochs=4" in r and "seed=3" in r and "layers=(16,)" in r
    assert "device=" not in r and "calibrate=" not in r
    assert "UserModel" in featvec.io.persistence._REGISTRY


def test_recipe_auto_picks_the_small_data_recipe_for_few_users_and_deep_for_many(monkeypatch):
    import featvec.models.user as user_module

    train = planted(600, 0)
    auto = UserModel(bags=["cats"], targets=["gender"], seed=0).fit(train)
    small = UserModel.small_data(["cats"], ["gender"], seed=0).fit(train)
    assert auto.recipe_ == "small_data" and auto.get_params()["epochs"] == "auto"
    assert [f.pooling for f in auto.features_] == ["tfidf"] and auto.embedding_sizes_ == {"cats": 32}
    pd.testing.assert_frame_equal(auto.predict_proba(train.iloc[:50])["gender"],
                                  small.predict_proba(train.iloc[:50])["gender"])  # the same recipe, bit for bit
    monkeypatch.setattr(user_module, "SMALL_DATA_ROWS", 500)
    with pytest.warns(UserWarning, match="deep recipe.*predicts nearly the same probabilities"):
        deep = UserModel(bags=["cats"], targets=["gender"], epochs=1, seed=0).fit(train)
    assert deep.recipe_ == "deep" and [f.pooling for f in deep.features_] == ["mean"]
    assert deep.net_.wide is None and deep.temperatures_["gender"] != 1.0  # calibrated on its validation users


def test_explicit_values_beat_the_recipe_and_bag_objects_are_kept():
    train = planted(300, 0)
    m = UserModel(bags=[Bag("cats", pooling="sqrt")], targets=["gender"], epochs=2, layers=(8,), wide=False,
                  dim=5).fit(train)
    assert m.recipe_ == "small_data" and m.features_[0].pooling == "sqrt" and m.embedding_sizes_ == {"cats": 5}
    assert m.net_.wide is None and len(m.history_) == 2
    assert UserModel(bags=["cats"], targets=["gender"], dim=6, epochs=1).fit(train).embedding_sizes_ == {"cats": 6}
    with pytest.raises(ValueError, match="recipe must be 'auto', 'deep' or 'small_data', got 'big'"):
        UserModel(bags=["cats"], targets=["gender"], recipe="big").fit(train)
    with pytest.raises(ValueError, match=r"epochs must be an int >= 1 \(or 'auto'\), got 'many'"):
        UserModel(bags=["cats"], targets=["gender"], epochs="many").fit(train)


def test_the_default_recipe_finds_planted_signal_and_makes_none_up_from_noise():
    from sklearn.metrics import roc_auc_score

    train, test = planted(800, 0), planted(1000, 1)
    m = UserModel(bags=["cats", "brands"], targets=["gender", "age"]).fit(train)
    assert roc_auc_score(test["gender"] == "F", m.predict_proba(test)["gender"]["F"]) > 0.9
    assert m.score(test)["age"] > 0.5  # 3 buckets: a third by chance
    train, test = noise(800, 0), noise(1000, 1)
    m = UserModel(bags=["cats", "shops"], targets=["gender"]).fit(train)
    auc = roc_auc_score(test["gender"] == "F", m.predict_proba(test)["gender"]["F"])
    assert abs(auc - 0.5) < 0.06  # sd of a 1000-user AUC under no signal: about 0.019


def test_a_model_that_learned_nothing_says_so():
    train = noise(300, 0).assign(cats=[["c00"]] * 300)  # every user the same bag
    with pytest.warns(UserWarning, match="predicts nearly the same probabilities for every user"):
        UserModel(bags=["cats"], targets=["gender"], epochs=2).fit(train)
