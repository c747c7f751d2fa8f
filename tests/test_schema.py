"""Unit tests of the feature schema."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from featvec import Bag, Categorical, Numeric
from featvec.schema import (check_unique_names, emb_size_rule, feature_from_dict, feature_name, feature_to_dict,
                            infer_features)


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
