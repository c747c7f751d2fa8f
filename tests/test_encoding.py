"""Unit tests of the encoding: vocabularies, normaliser, feature encoder."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from featvec import Bag, Categorical, Numeric
from featvec.encoding import EncodedBag, FeatureEncoder, Normalizer, Vocabulary


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
