"""Unit tests of the core: schema, encoding, the torch layers, the trainer, labelled vectors, persistence."""
from __future__ import annotations

import copy
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from featvec import Bag, Categorical, Numeric, Vectors, VectorSet, persistence
from featvec.encoding import EncodedBag, FeatureEncoder, Normalizer, Vocabulary
from featvec.nn import MLP, FeatureEmbedding, GroupSpec, Regression, dot
from featvec.schema import (check_unique_names, emb_size_rule, feature_from_dict, feature_name,
                            feature_to_dict, infer_features)
from featvec.training import Callback, Trainer, lr_at
from save_checks import check_interrupted_save


# ---------------------------------------------------------------- schema

@pytest.mark.parametrize("n, expected", [(0, 2), (1, 2), (10, 6), (100, 21), (10**9, 600)])
def test_emb_size_rule(n, expected):
    assert emb_size_rule(n) == expected


def test_emb_size_rule_grows_and_is_capped():
    sizes = [emb_size_rule(n) for n in (2, 10, 100, 1000, 10**5, 10**8)]
    assert sizes == sorted(sizes)
    assert max(sizes) == 600


def test_numeric_accepts_one_column_name_and_validates():
    assert Numeric("age").columns == ["age"]
    assert Numeric(("a", "b")).columns == ["a", "b"]
    with pytest.raises(ValueError, match="at least one column"):
        Numeric([])
    with pytest.raises(ValueError, match="impute"):
        Numeric(["age"], impute="median")


def test_bag_validates_pooling_and_lists_its_columns():
    with pytest.raises(ValueError, match="pooling.*'tfidf'.*'max'"):
        Bag("genres", pooling="max")
    assert Bag("genres").columns == ["genres"]
    assert Bag("genres", weights="w").columns == ["genres", "w"]


@pytest.mark.parametrize("feature", [Categorical("city", dim=4, min_count=2, max_size=10),
                                     Numeric(["a", "b"], name="ab", impute="mean"),
                                     Bag("genres", weights="w", pooling="sqrt")])
def test_feature_dict_roundtrip(feature):
    d = feature_to_dict(feature)
    assert d["kind"] == feature.kind
    json.dumps(d)  # stored in featvec.json
    assert feature_from_dict(d) == feature


def test_feature_names_and_uniqueness():
    assert feature_name(Categorical("city")) == "city"
    assert feature_name(Numeric(["a", "b"])) == "a+b"
    assert feature_name(Bag("genres", name="g")) == "g"
    check_unique_names([Categorical("a"), Categorical("b")])
    with pytest.raises(ValueError, match="'a'"):
        check_unique_names([Categorical("a"), Bag("x", name="a")])


def test_infer_features():
    df = pd.DataFrame({"id": [1, 2, 3], "genres": [["a"], ["b", "c"], []], "flag": [True, False, True],
                       "year": [1990, 2000, 2010], "score": [0.5, np.nan, 1.0], "city": ["x", "y", "x"]})
    feats = {feature_name(f): f for f in infer_features(df, exclude=["id"])}
    assert set(feats) == {"genres", "flag", "year", "score", "city"}
    assert isinstance(feats["genres"], Bag)
    assert isinstance(feats["flag"], Categorical)  # bools are categories, not numbers
    assert isinstance(feats["year"], Numeric) and feats["year"].impute == "mean"
    assert isinstance(feats["score"], Numeric)
    assert isinstance(feats["city"], Categorical)


def test_infer_features_looks_past_missing_bags():
    df = pd.DataFrame({"genres": [None, ["a"], ["b"]]})
    assert isinstance(infer_features(df)[0], Bag)


# ---------------------------------------------------------------- Vocabulary

def test_vocabulary_unknown_is_zero():
    v = Vocabulary.fit(["b", "a", "c", "a"])
    assert len(v) == 4  # three values plus the unknown row
    assert v.values == ["a", "b", "c"]
    np.testing.assert_array_equal(v.encode(["a", "b", "c", "zzz"]), [1, 2, 3, 0])
    assert v.encode(np.array(["c"])).dtype == np.int64


def test_vocabulary_min_count_maps_rare_values_to_unknown():
    v = Vocabulary.fit([1, 1, 1, 2, 2, 3], min_count=2)
    assert v.values == [1, 2]
    np.testing.assert_array_equal(v.encode([1, 2, 3]), [1, 2, 0])


def test_vocabulary_max_size_keeps_the_most_frequent():
    v = Vocabulary.fit(["a"] * 5 + ["b"] * 1 + ["c"] * 3 + ["d"] * 4, max_size=2)
    assert sorted(v.values) == ["a", "d"]
    assert v.encode(["b", "c"]).tolist() == [0, 0]


def test_vocabulary_ignores_missing_and_gives_plain_python_values():
    v = Vocabulary.fit(pd.Series([3, 1, np.nan, 1]))
    assert v.values == [1.0, 3.0]
    w = Vocabulary.fit(np.array([5, 7, 5], dtype=np.int64))
    assert all(type(x) is int for x in w.values)
    json.dumps(w.to_json())


def test_vocabulary_decode():
    v = Vocabulary.fit(["x", "y", "z"])
    assert v.decode(v.encode(["z", "x"])) == ["z", "x"]
    assert v.decode([2]) == ["y"]
    with pytest.raises(ValueError, match="unknown"):
        v.decode([0])
    with pytest.raises(ValueError):
        v.decode([4])


def test_vocabulary_rejects_duplicates():
    with pytest.raises(ValueError, match="unique"):
        Vocabulary(["a", "a"])


# ---------------------------------------------------------------- Normalizer / FeatureEncoder

def test_normalizer_standardises_with_train_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal(10.0, 2.0, size=(500, 2))
    test = rng.normal(50.0, 2.0, size=(100, 2))  # a very different mean
    norm = Normalizer.fit(train)
    np.testing.assert_allclose(norm.transform(train).mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(norm.transform(train).std(0), 1.0, atol=1e-9)
    z = norm.transform(test)
    np.testing.assert_allclose(z, (test - train.mean(0)) / train.std(0))
    assert (z.mean(0) > 15).all()  # not re-centred on the test data


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:Degrees of freedom")
def test_normalizer_constant_and_missing_columns():
    norm = Normalizer.fit(np.array([[5.0, np.nan], [5.0, np.nan]]))
    np.testing.assert_array_equal(norm.std, [1.0, 1.0])
    np.testing.assert_array_equal(norm.transform(np.array([[6.0, np.nan]])), [[1.0, 0.0]])


def test_encoder_numeric_uses_train_statistics():
    train = pd.DataFrame({"a": [0.0, 2.0, 4.0], "b": [1.0, 1.0, 1.0]})
    test = pd.DataFrame({"a": [100.0, 2.0], "b": [3.0, 1.0]})
    enc = FeatureEncoder([Numeric(["a", "b"])]).fit(train)
    out = enc.transform(test)["a+b"]
    assert out.dtype == torch.float32 and out.shape == (2, 2)
    sd = np.std([0.0, 2.0, 4.0])
    np.testing.assert_allclose(out.numpy(), [[98 / sd, 2.0], [0.0, 0.0]], rtol=1e-6)
    assert enc.input_size("a+b") == 2


def test_encoder_numeric_imputes_the_train_mean_only_when_asked():
    train = pd.DataFrame({"a": [1.0, np.nan, 3.0]})
    enc = FeatureEncoder([Numeric(["a"], impute="mean")]).fit(train)
    np.testing.assert_allclose(enc.transform(pd.DataFrame({"a": [np.nan, 3.0]}))["a"].numpy()[:, 0], [0.0, 1.0])
    with pytest.raises(ValueError, match="'a'.*row 1"):
        FeatureEncoder([Numeric(["a"])]).fit(train)


def test_encoder_categorical():
    train = pd.DataFrame({"city": ["paris", "rome", "paris", "oslo"]})
    enc = FeatureEncoder([Categorical("city", min_count=2)]).fit(train)
    out = enc.transform(pd.DataFrame({"city": ["paris", "rome", "tokyo"]}))["city"]
    assert out.dtype == torch.int64
    assert out.tolist() == [1, 0, 0]  # rome is rarer than min_count, tokyo unseen
    assert enc.input_size("city") == 2
    with pytest.raises(ValueError, match="'city'.*row 1"):
        enc.transform(pd.DataFrame({"city": ["paris", None]}))


def _bag_rows(bag: EncodedBag) -> list[list[tuple[int, float]]]:
    ptr = bag.indptr.tolist()
    return [list(zip(bag.indices[ptr[r]:ptr[r + 1]].tolist(), np.round(bag.weights[ptr[r]:ptr[r + 1]].numpy(), 6)))
            for r in range(len(bag))]


GENRES = pd.DataFrame({"g": [["a", "b"], ["c"], [], None, np.nan, ["a", "b", "c", "zzz"]]})


@pytest.mark.parametrize("pooling, first, last", [
    ("mean", [0.5, 0.5], [0.25] * 4),
    ("sum", [1.0, 1.0], [1.0] * 4),
    ("sqrt", [1 / math.sqrt(2)] * 2, [0.5] * 4),
])
def test_encoder_bag_pooling(pooling, first, last):
    enc = FeatureEncoder([Bag("g", pooling=pooling)]).fit(GENRES.iloc[:5])  # "zzz" is never seen
    bag = enc.transform(GENRES)["g"]
    assert isinstance(bag, EncodedBag) and len(bag) == 6
    rows = _bag_rows(bag)
    assert [i for i, _ in rows[0]] == [1, 2]
    np.testing.assert_allclose([w for _, w in rows[0]], first, rtol=1e-6)
    assert [i for i, _ in rows[5]] == [1, 2, 3, 0]  # the unseen value maps to the unknown row
    np.testing.assert_allclose([w for _, w in rows[5]], last, rtol=1e-6)
    assert rows[2] == rows[3] == rows[4] == []  # empty list, None and NaN are empty bags


def test_encoder_bag_weights():
    df = pd.DataFrame({"g": [["a", "b"], ["b"], []], "w": [[3.0, 1.0], [2.0], []]})
    mean = FeatureEncoder([Bag("g", weights="w")]).fit(df).transform(df)["g"]
    assert _bag_rows(mean) == [[(1, 0.75), (2, 0.25)], [(2, 1.0)], []]
    total = FeatureEncoder([Bag("g", weights="w", pooling="sum")]).fit(df).transform(df)["g"]
    assert _bag_rows(total) == [[(1, 3.0), (2, 1.0)], [(2, 2.0)], []]


def test_encoder_bag_tfidf_pooling_by_hand():
    # 3 rows: a in 1 of them, b in all 3, c in 1; idf = ln((1 + 3) / (1 + df)) + 1
    df = pd.DataFrame({"g": [["a", "b", "a"], ["b"], ["b", "c"]], "w": [[1.0, 2.0, 3.0], [5.0], [1.0, 1.0]]})
    enc = FeatureEncoder([Bag("g", pooling="tfidf")]).fit(df)
    idf_a, idf_b = 1 + math.log(2), 1.0
    np.testing.assert_allclose(enc.idf["g"], [0.0, idf_a, idf_b, idf_a])  # unknown row: 0, nothing folded
    rows = _bag_rows(enc.transform(df)["g"])
    norm0 = math.hypot(2 * idf_a, idf_b)  # "a" twice: tf 2, counted once in the norm
    np.testing.assert_allclose([w for _, w in rows[0]], [idf_a / norm0, idf_b / norm0, idf_a / norm0], rtol=1e-6)
    assert rows[1] == [(2, 1.0)]
    norm2 = math.hypot(idf_b, idf_a)
    np.testing.assert_allclose([w for _, w in rows[2]], [idf_b / norm2, idf_a / norm2], rtol=1e-6)
    # weights are the term frequencies: row 0's "a" sums to 1 + 3 = 4, its "b" is 2
    weighted = _bag_rows(FeatureEncoder([Bag("g", weights="w", pooling="tfidf")]).fit(df).transform(df)["g"])
    norm0 = math.hypot(4 * idf_a, 2 * idf_b)
    np.testing.assert_allclose([w for _, w in weighted[0]], [idf_a / norm0, 2 / norm0, 3 * idf_a / norm0],
                               rtol=1e-6)
    assert weighted[1] == [(2, 1.0)]
    # values never seen in training drop out (weight 0, not in the norm); an empty bag stays empty
    new = enc.transform(pd.DataFrame({"g": [["c", "zzz"], []]}))["g"]
    assert _bag_rows(new) == [[(3, 1.0), (0, 0.0)], []]
    # folded rare values keep their share: with min_count=2, "c" (seen once) is folded into the unknown row,
    # which then holds in 1 row
    folded = FeatureEncoder([Bag("g", pooling="tfidf", min_count=2)]).fit(df)
    assert folded.vocabs["g"].values == ["a", "b"]
    np.testing.assert_allclose(folded.idf["g"], [idf_a, idf_a, idf_b])
    state = json.loads(json.dumps(enc.state()))
    np.testing.assert_array_equal(FeatureEncoder.from_state([Bag("g", pooling="tfidf")], state).idf["g"],
                                  enc.idf["g"])


def test_encoder_tfidf_pooling_matches_scikit_learn():
    text = pytest.importorskip("sklearn.feature_extraction.text")
    rng = np.random.default_rng(0)
    bags = [list(rng.choice(list("abcdefghij"), rng.integers(0, 12))) for _ in range(60)]
    train, test = pd.DataFrame({"g": bags[:40]}), pd.DataFrame({"g": bags[40:] + [["a", "new"]]})
    enc = FeatureEncoder([Bag("g", pooling="tfidf")]).fit(train)
    ref = text.TfidfVectorizer(analyzer=list).fit(train["g"])
    cols = [ref.vocabulary_[v] for v in enc.vocabs["g"].values]
    for df in (train, test):
        bag = enc.transform(df)["g"]
        dense = np.zeros((len(df), len(enc.vocabs["g"])))
        np.add.at(dense, (np.repeat(np.arange(len(df)), np.diff(bag.indptr.numpy())), bag.indices.numpy()),
                  bag.weights.numpy())
        np.testing.assert_allclose(dense[:, 1:], ref.transform(df["g"]).toarray()[:, cols], atol=1e-6)


def test_encoder_bag_weights_must_match_the_bag_row_by_row():
    # both rows are off by one in opposite directions, so the flattened lengths agree
    df = pd.DataFrame({"g": [["a", "b"], ["b"]], "w": [[1.0], [2.0, 3.0]]}, index=[10, 11])
    enc = FeatureEncoder([Bag("g", weights="w")])
    with pytest.raises(ValueError, match=r"'w'.*'g'.*row 0 \(index 10\)"):
        enc.fit(df).transform(df)


@pytest.mark.parametrize("weights, match", [
    ([[1.0, "x"], [2.0]], r"'w' holds the weights of Bag 'g' and needs finite numbers; row 0 \(index 10\) holds 'x'"),
    ([[1.0, 2.0], [float("nan")]], r"'w' holds the weights of Bag 'g' and needs finite numbers; row 1 \(index 11\)"),
    ([[1.0, None], [2.0]], r"needs finite numbers; row 0 \(index 10\) holds None"),
    ([[1.0, float("inf")], [2.0]], r"needs finite numbers; row 0 \(index 10\) holds inf"),
    ([[1.0, 2.0], "3"], r"'w' holds the weights of Bag 'g' and needs a list per row; row 1 \(index 11\) holds '3'"),
])
def test_encoder_bag_weights_must_be_lists_of_finite_numbers(weights, match):
    df = pd.DataFrame({"g": [["a", "b"], ["b"]], "w": weights}, index=[10, 11])
    enc = FeatureEncoder([Bag("g", weights="w")]).fit(df)
    with pytest.raises(ValueError, match=match):
        enc.transform(df)


def test_encoder_bag_min_count_and_non_list():
    enc = FeatureEncoder([Bag("g", min_count=2)]).fit(pd.DataFrame({"g": [["a", "b"], ["a"]]}))
    assert enc.vocabs["g"].values == ["a"]
    with pytest.raises(ValueError, match="'g'.*row 1"):
        enc.transform(pd.DataFrame({"g": [["a"], "a|b"]}))


def test_encoder_state_roundtrip_and_missing_columns():
    df = pd.DataFrame({"c": ["x", "y"], "n": [1.0, 2.0], "g": [["a"], ["b", "a"]]})
    feats = [Categorical("c"), Numeric(["n"]), Bag("g")]
    enc = FeatureEncoder(feats).fit(df)
    state = json.loads(json.dumps(enc.state()))
    again = FeatureEncoder.from_state(feats, state)
    a, b = enc.transform(df), again.transform(df)
    assert torch.equal(a["c"], b["c"]) and torch.equal(a["n"], b["n"])
    assert _bag_rows(a["g"]) == _bag_rows(b["g"])
    with pytest.raises(ValueError, match="'n'"):
        enc.transform(df.drop(columns="n"))
    with pytest.raises(ValueError, match="'c'"):
        FeatureEncoder([Categorical("c"), Bag("c")])


def test_encoded_bag_take():
    bag = EncodedBag.from_lists([[1, 2], [], [3, 4, 5]], pooling="sum", weights=[[0.5, 1.5], [], [1, 2, 3]])
    sub = bag.take(torch.tensor([2, 0, 1, 2]))
    assert sub.indptr.tolist() == [0, 3, 5, 5, 8]
    assert sub.indices.tolist() == [3, 4, 5, 1, 2, 3, 4, 5]
    assert sub.weights.tolist() == [1, 2, 3, 0.5, 1.5, 1, 2, 3]
    empty = bag.take(torch.tensor([1, 1]))
    assert len(empty) == 2 and empty.indices.numel() == 0
    assert len(bag.take(torch.tensor([], dtype=torch.long))) == 0


# ---------------------------------------------------------------- torch layers

GROUPS = [GroupSpec("c", "categorical", 5, 4), GroupSpec("b", "bag", 6, 4), GroupSpec("n", "numeric", 3, 4)]


def _inputs():
    return {"c": torch.tensor([0, 1, 4]), "b": EncodedBag.from_lists([[1, 2], [], [5]]),
            "n": torch.randn(3, 3, generator=torch.Generator().manual_seed(0))}


def test_feature_embedding_shapes():
    emb = FeatureEmbedding(GROUPS, init_std=0.1)
    vectors, bias = emb(_inputs())
    assert list(vectors) == ["c", "b", "n"]
    assert all(v.shape == (3, 4) for v in vectors.values())
    assert bias.shape == (3,)
    assert emb.table("c").shape == (5, 4) and emb.table("b").shape == (6, 4)
    assert emb.table("n").shape == (3, 4)  # one row per numeric column
    assert emb.bias_table("n").shape == (3,) and emb.bias_table("c").shape == (5,)


def test_feature_embedding_unknown_row_and_biases_start_at_zero():
    emb = FeatureEmbedding(GROUPS, init_std=0.1)
    for name in ("c", "b"):
        assert torch.count_nonzero(emb.table(name)[0]) == 0
        assert torch.count_nonzero(emb.table(name)[1:]) > 0
    assert torch.count_nonzero(emb.table("n")) > 0
    vectors, bias = emb(_inputs())
    assert torch.count_nonzero(vectors["c"][0]) == 0  # unknown category
    assert torch.count_nonzero(vectors["b"][1]) == 0  # empty bag
    assert torch.count_nonzero(bias) == 0
    pooled = emb.table("b")[[1, 2]].sum(0)
    torch.testing.assert_close(vectors["b"][0], pooled * 0.5)  # mean pooling


def test_feature_embedding_options():
    emb = FeatureEmbedding(GROUPS, bias=False, sparse=True)
    assert emb(_inputs())[1] is None and emb.bias_table("c") is None
    assert emb.tables[0].sparse and emb.tables[1].sparse
    with pytest.raises(ValueError, match="kind"):
        FeatureEmbedding([GroupSpec("x", "image", 3, 2)])


def test_mlp():
    torch.manual_seed(0)
    mlp = MLP(6, layers=(8, 4), n_out=2, dropout=[0.1, 0.0], input_dropout=0.2, batchnorm=True)
    assert mlp(torch.randn(5, 6)).shape == (5, 2)
    assert sum(isinstance(m, nn.Linear) for m in mlp.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in mlp.modules()) == 2
    assert MLP(3, layers=()).net[0].in_features == 3
    with pytest.raises(ValueError, match="dropout"):
        MLP(6, layers=(8, 4), dropout=[0.1])


def test_dot():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(dot(a, b), torch.einsum("ij,ij->i", a, b))


def test_regression_y_range_bounds():
    obj = Regression((1.0, 5.0))
    raw = torch.linspace(-50, 50, 201)
    out = obj.output(raw)
    assert out.min() >= 0.8 - 1e-6 and out.max() <= 5.2 + 1e-6
    assert out.min() < 1.0 and out.max() > 5.0  # the ends stay reachable
    assert torch.all(out[1:] >= out[:-1])
    assert obj.output(torch.tensor(0.0)).item() == pytest.approx(3.0)
    y = torch.tensor([1.0, 5.0])
    torch.testing.assert_close(obj.loss(torch.zeros(2), y), torch.tensor(4.0))


def test_regression_without_y_range_is_identity():
    obj = Regression()
    raw = torch.tensor([-10.0, 0.5, 12.0])
    assert torch.equal(obj.output(raw), raw)
    torch.testing.assert_close(obj.loss(raw, torch.zeros(3)), (raw ** 2).mean())


# ---------------------------------------------------------------- Trainer

class TensorRows:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def batch(self, rows):
        return self.x[rows], self.y[rows]


class Linear(nn.Module):
    def __init__(self, n_in=3):
        super().__init__()
        self.lin = nn.Linear(n_in, 1)

    def loss(self, batch):
        x, y = batch
        return ((self.lin(x).squeeze(-1) - y) ** 2).mean(), len(y)


def _problem(n=128, sign=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = sign * (x @ torch.tensor([2.0, -1.0, 0.5]) + 1.0) + 0.05 * torch.randn(n, generator=g)
    return TensorRows(x, y)


def _fresh(seed=0):
    torch.manual_seed(seed)
    return Linear()


def _history(h):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in h]


def test_trainer_loss_decreases():
    module, data = _fresh(), _problem()
    hist = Trainer(epochs=15, batch_size=16, lr=0.05).fit(module, data, torch.device("cpu"))
    assert [e["epoch"] for e in hist] == list(range(1, 16))
    assert hist[-1]["train_loss"] < 0.05 * hist[0]["train_loss"]
    assert not module.training  # left in eval mode


def test_trainer_validation_loss_is_logged():
    module = _fresh()
    trainer = Trainer(epochs=4, batch_size=32, lr=0.05)
    hist = trainer.fit(module, _problem(), torch.device("cpu"), valid=_problem(seed=1))
    assert all("valid_loss" in e and "lr" in e and "seconds" in e for e in hist)
    assert trainer.evaluate(module, _problem(seed=1), torch.device("cpu")) == pytest.approx(hist[-1]["valid_loss"])


def test_trainer_is_deterministic_with_a_seed():
    runs = []
    for _ in range(2):
        module = _fresh()
        hist = Trainer(epochs=5, batch_size=16, lr=0.05, seed=7).fit(module, _problem(), torch.device("cpu"),
                                                                     valid=_problem(seed=1))
        runs.append((module.state_dict(), _history(hist)))
    (w1, h1), (w2, h2) = runs
    assert h1 == h2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    other = Trainer(epochs=5, batch_size=16, lr=0.05, seed=8).fit(_fresh(), _problem(), torch.device("cpu"))
    assert _history(other) != [{k: v for k, v in e.items() if k != "valid_loss"} for e in h1]


def test_trainer_early_stopping_restores_the_best_epoch():
    # the validation targets have the opposite sign: every epoch after the first makes it worse
    module, snaps = _fresh(), {}

    class Snap(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            snaps[epoch] = copy.deepcopy(module.state_dict())

    valid = _problem(sign=-1.0, seed=1)
    trainer = Trainer(epochs=30, batch_size=16, lr=0.05, schedule="constant", patience=2, callbacks=[Snap()])
    hist = trainer.fit(module, _problem(), torch.device("cpu"), valid=valid)
    losses = [e["valid_loss"] for e in hist]
    best = int(np.argmin(losses)) + 1
    assert best == 1
    assert len(hist) == best + 2 + 1 < 30  # patience 2: the third bad epoch stops it
    assert all(torch.equal(module.state_dict()[k], snaps[best][k]) for k in snaps[best])
    assert trainer.evaluate(module, valid, torch.device("cpu")) == pytest.approx(losses[best - 1])


def test_trainer_without_patience_runs_every_epoch():
    hist = Trainer(epochs=6, batch_size=32, lr=0.05).fit(_fresh(), _problem(), torch.device("cpu"),
                                                        valid=_problem(sign=-1.0))
    assert len(hist) == 6


def test_trainer_callbacks_are_called_and_can_stop():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            events.append("begin")

        def on_epoch_end(self, trainer, epoch, logs):
            events.append((epoch, round(logs["train_loss"], 12) == round(trainer.history[-1]["train_loss"], 12)))
            return epoch == 3

        def on_train_end(self, trainer):
            events.append("end")

    trainer = Trainer(epochs=10, batch_size=32, lr=0.05, callbacks=[Recorder()])
    hist = trainer.fit(_fresh(), _problem(), torch.device("cpu"))
    assert len(hist) == 3 and trainer.stop
    assert events == ["begin", (1, True), (2, True), (3, True), "end"]


@pytest.mark.parametrize("kwargs, match", [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size")])
def test_trainer_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Trainer(**kwargs)


def test_trainer_rejects_unknown_optimizer_and_schedule():
    with pytest.raises(ValueError, match="optimizer 'rmsprop'"):
        Trainer(epochs=1, optimizer="rmsprop").fit(_fresh(), _problem(), torch.device("cpu"))
    with pytest.raises(ValueError, match="schedule 'linear'"):
        Trainer(epochs=1, schedule="linear").fit(_fresh(), _problem(), torch.device("cpu"))


def test_lr_at_constant_and_cosine():
    assert [lr_at("constant", 0.1, s, 10) for s in (0, 5, 9)] == [0.1] * 3
    assert lr_at("cosine", 0.1, 0, 11) == pytest.approx(0.1)
    assert lr_at("cosine", 0.1, 5, 11) == pytest.approx(0.05)
    assert lr_at("cosine", 0.1, 10, 11) == pytest.approx(0.0, abs=1e-12)


def test_lr_at_onecycle_warms_up_then_anneals():
    total, lr = 101, 0.1
    lrs = [lr_at("onecycle", lr, s, total) for s in range(total)]
    peak = int(np.argmax(lrs))
    assert lrs[0] == pytest.approx(lr / 25)
    assert peak == 25 and lrs[peak] == pytest.approx(lr)
    assert lrs[-1] == pytest.approx(lr / 1e4)
    assert np.all(np.diff(lrs[:peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert lr_at("onecycle", lr, 0, 1) == pytest.approx(lr / 25)  # a single step is fine


def test_lr_at_unknown_schedule():
    with pytest.raises(ValueError, match="schedule"):
        lr_at("step", 0.1, 0, 10)


def test_sparse_adam_trains_a_sparse_embedding():
    class Sparse(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(4, 1, sparse=True)

        def loss(self, batch):
            x, y = batch
            return ((self.emb(x).squeeze(-1) - y) ** 2).mean(), len(y)

    x = torch.arange(4).repeat(16)
    data = TensorRows(x, x.float())
    torch.manual_seed(0)
    hist = Trainer(epochs=20, batch_size=16, lr=0.1, optimizer="sparse_adam").fit(Sparse(), data, torch.device("cpu"))
    assert hist[-1]["train_loss"] < 0.1 * hist[0]["train_loss"]


# ---------------------------------------------------------------- Vectors / VectorSet

@pytest.fixture
def vecs():
    m = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    return Vectors(["a", "b", "c", "d"], m, bias=[0.1, 0.2, 0.3, 0.4], name="items")


def test_vectors_similar_excludes_self(vecs):
    out = vecs.similar("a", k=2)
    assert list(out.columns) == ["query", "label", "score", "rank"]
    assert out["label"].tolist() == ["b", "c"]
    assert out["rank"].tolist() == [1, 2]
    assert "a" not in out["label"].tolist()
    assert out["score"].is_monotonic_decreasing
    assert out["score"].between(-1 - 1e-6, 1 + 1e-6).all()
    assert vecs.similar("a", k=1, exclude_self=False)["label"].tolist() == ["a"]


def test_vectors_similar_batch_and_k_larger_than_table(vecs):
    out = vecs.similar(["a", "d"], k=10)
    assert out.groupby("query").size().to_dict() == {"a": 3, "d": 3}
    assert not (out["query"] == out["label"]).any()
    assert out[out["query"] == "d"]["label"].iloc[-1] == "a"  # the opposite vector comes last


def test_vectors_similar_with_candidates(vecs):
    # the query is not among the candidates: all of them can be returned
    out = vecs.similar("a", k=3, candidates=["b", "c", "d"])
    assert out["label"].tolist() == ["b", "c", "d"]
    inside = vecs.similar("a", k=3, candidates=["a", "c", "d"])
    assert inside["label"].tolist() == ["c", "d"]


def test_vectors_dot_metric_and_bad_metric(vecs):
    out = vecs.similar("a", k=1, metric="dot")
    assert out["score"].iloc[0] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="metric"):
        vecs.similar("a", metric="euclid")


def test_vectors_unknown_label(vecs):
    with pytest.raises(ValueError, match="zzz"):
        vecs.similar(["a", "zzz"])
    with pytest.raises(ValueError, match="zzz"):
        vecs["zzz"]


def test_vectors_lookup_and_to_frame(vecs):
    np.testing.assert_array_equal(vecs["c"], [0.0, 1.0])
    assert vecs[["d", "a"]].shape == (2, 2)
    df = vecs.to_frame()
    assert list(df.index) == ["a", "b", "c", "d"] and df.index.name == "items"
    assert list(df.columns) == ["f0", "f1", "bias"]
    np.testing.assert_allclose(df["bias"], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    assert list(Vectors([1, 2], np.zeros((2, 3))).to_frame().columns) == ["f0", "f1", "f2"]
    assert len(vecs) == 4 and vecs.dim == 2 and "items" in repr(vecs)


def test_vectors_need_one_label_per_row():
    with pytest.raises(ValueError, match="label"):
        Vectors(["a"], np.zeros((2, 2)))


def test_vector_set(vecs):
    vs = VectorSet({"items": vecs})
    assert len(vs) == 1 and list(vs) == ["items"] and vs["items"] is vecs
    assert "items" in vs
    with pytest.raises(KeyError, match="users"):
        vs["users"]


# ---------------------------------------------------------------- persistence (folder format)

def _state(value=1.0):
    return {"w": torch.full((2, 3), value), "ids": torch.arange(4)}


def test_save_state_roundtrip(tmp_path):
    path = persistence.save_state(tmp_path / "m", "Thing", {"a": np.int64(3), "b": np.arange(2)}, _state())
    assert sorted(os.listdir(path)) == sorted([persistence.TENSOR_FILE, persistence.CONFIG_FILE])
    kind, config, tensors = persistence.read_state(path)
    assert kind == "Thing" and config == {"a": 3, "b": [0, 1]}
    assert torch.equal(tensors["w"], _state()["w"]) and torch.equal(tensors["ids"], torch.arange(4))
    meta = json.loads((path / persistence.CONFIG_FILE).read_text())
    assert meta["format_version"] == persistence.FORMAT_VERSION


@pytest.mark.parametrize("where", ["save_file", "json.dump"])
def test_interrupted_save_state_keeps_the_old_folder(tmp_path, monkeypatch, where):
    version = iter([1.0, 2.0, 2.0])

    def save(p):
        v = next(version)
        return persistence.save_state(p, "Thing", {"v": int(v)}, _state(v))

    check_interrupted_save(save, tmp_path, monkeypatch, where)
    path = tmp_path / "m"
    assert persistence.read_state(path)[1] == {"v": 1}


def test_save_state_replaces_an_existing_model(tmp_path):
    persistence.save_state(tmp_path / "m", "Thing", {"v": 1}, _state(1.0))
    persistence.save_state(tmp_path / "m", "Thing", {"v": 2}, _state(2.0))
    assert os.listdir(tmp_path) == ["m"]
    _, config, tensors = persistence.read_state(tmp_path / "m")
    assert config == {"v": 2} and torch.equal(tensors["w"], _state(2.0)["w"])


def test_read_state_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="featvec.json"):
        persistence.read_state(tmp_path)
    path = persistence.save_state(tmp_path / "m", "Thing", {}, _state())
    meta = json.loads((path / persistence.CONFIG_FILE).read_text())
    meta["format_version"] = persistence.FORMAT_VERSION + 1
    (path / persistence.CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format version"):
        persistence.read_state(path)
    with pytest.raises(ValueError, match="format version"):
        persistence.load(path)


def test_load_unknown_kind_and_save_over_a_file(tmp_path):
    path = persistence.save_state(tmp_path / "m", "NoSuchModel", {}, _state())
    with pytest.raises(ValueError, match="NoSuchModel"):
        persistence.load(path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        persistence.save_state(tmp_path / "file", "Thing", {}, _state())


def test_save_state_with_tensors_sharing_memory(tmp_path):
    # e.g. one CSR array stored under two names: safetensors refuses aliases unless they are copied
    ptr = torch.arange(5)
    path = persistence.save_state(tmp_path / "m", "Thing", {}, {"a.indptr": ptr, "b.indptr": ptr,
                                                                "view": ptr[1:3]})
    tensors = persistence.read_state(path)[2]
    assert torch.equal(tensors["a.indptr"], ptr) and torch.equal(tensors["b.indptr"], ptr)
    assert torch.equal(tensors["view"], ptr[1:3])
