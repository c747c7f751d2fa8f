"""Bad input fails early, as a ValueError that names the column and the first bad row, never from torch."""
from __future__ import annotations

import os
import traceback

import numpy as np
import pandas as pd
import pytest
import torch

from featvec import Bag, Categorical, DeepRecommender, MatrixFactorization, Numeric
from featvec.validation import check_frame, check_no_missing, numeric_values, require_columns

TORCH_DIR = os.path.dirname(torch.__file__)

PRESETS = [lambda **kw: MatrixFactorization(dim=2, epochs=1, **kw),
           lambda **kw: DeepRecommender(dim=2, layers=(4,), epochs=1, **kw)]


def clean_error(fn, *needles, plain_values=True) -> str:
    """Run ``fn``; it must raise exactly ValueError, not from inside torch, naming every needle (and, with
    ``plain_values``, showing numbers as numbers rather than numpy reprs)."""
    with pytest.raises(ValueError) as info:
        fn()
    assert type(info.value) is ValueError
    frames = traceback.extract_tb(info.tb)
    assert not [f.filename for f in frames if f.filename.startswith(TORCH_DIR)], "raised from inside torch"
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    if plain_values:
        assert "np.int64(" not in msg and "np.float64(" not in msg, msg
    return msg


@pytest.fixture
def shifted(ratings):
    """The ratings with an index that is not the row position, so messages must tell the two apart."""
    df = ratings.iloc[:200].copy()
    df.index = df.index + 1000
    return df


@pytest.fixture(params=[0, 1], ids=["mf", "deep"])
def make(request):
    return PRESETS[request.param]


@pytest.fixture
def fitted(ratings):
    return MatrixFactorization(dim=2, epochs=1).fit(ratings)


def _with(df, column, row, value):
    df = df.copy()
    if not isinstance(value, (int, float)):
        df[column] = df[column].astype(object)
    else:
        df[column] = df[column].astype(float)
    df.iloc[row, df.columns.get_loc(column)] = value
    return df


# ---------------------------------------------------------------- fit: the ratings frame

@pytest.mark.parametrize("column, value, needles", [
    ("rating", np.nan, ["'rating'", "row 7", "index 1007"]),
    ("rating", np.inf, ["'rating'", "row 7", "index 1007", "inf"]),
    ("rating", "five", ["'rating'", "row 7", "index 1007", "'five'", "numeric"]),
    ("user_id", np.nan, ["'user_id'", "row 7", "index 1007", "missing"]),
    ("item_id", None, ["'item_id'", "row 7", "index 1007", "missing"]),
])
def test_fit_names_column_and_first_bad_row(make, shifted, column, value, needles):
    bad = _with(shifted, column, 7, value)
    bad.iloc[12, bad.columns.get_loc(column)] = value  # a second bad row: the first one is reported
    clean_error(lambda: make().fit(bad), "ratings", *needles)


@pytest.mark.parametrize("missing", ["user_id", "item_id", "rating"])
def test_fit_missing_column(make, ratings, missing):
    clean_error(lambda: make().fit(ratings.drop(columns=missing)), "ratings", f"'{missing}'")


def test_fit_custom_column_names_are_the_ones_reported(ratings):
    df = ratings.rename(columns={"user_id": "uid", "rating": "stars"})
    model = MatrixFactorization(dim=2, epochs=1, user_col="uid", rating_col="stars")
    clean_error(lambda: model.fit(df.drop(columns="stars")), "'stars'")
    clean_error(lambda: model.fit(_with(df, "uid", 3, np.nan)), "'uid'", "row 3")
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(df), "'user_id'", "'rating'")


def test_fit_empty_frame(make, ratings):
    clean_error(lambda: make().fit(ratings.iloc[:0]), "ratings", "empty")


@pytest.mark.parametrize("convert", [lambda df: df.to_dict("records"), lambda df: df.to_numpy(),
                                     lambda df: df.to_dict("list"), lambda df: None],
                         ids=["records", "ndarray", "dict", "none"])
def test_fit_needs_a_dataframe(make, ratings, convert):
    clean_error(lambda: make().fit(convert(ratings)), "ratings", "DataFrame")


def test_fit_checks_the_validation_frame(ratings):
    valid = _with(ratings.iloc[:50], "rating", 4, np.nan)
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(ratings, valid=valid), "valid", "'rating'", "row 4")
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(ratings, valid=valid.drop(columns="item_id")),
                "valid", "'item_id'")


def test_fit_constant_ratings_do_not_crash(ratings):
    df = ratings.assign(rating=4.0)
    try:
        model = MatrixFactorization(dim=2, epochs=1).fit(df)
    except ValueError as e:
        assert "rating" in str(e)
    else:
        np.testing.assert_allclose(model.predict(df.iloc[:5]), 4.0, rtol=1e-5)


# ---------------------------------------------------------------- fit: side tables

@pytest.fixture
def items(ratings):
    ids = np.sort(ratings["item_id"].unique())
    rng = np.random.default_rng(0)
    return pd.DataFrame({"item_id": ids, "studio": rng.choice(["a", "b"], len(ids)),
                         "year": rng.integers(1950, 2020, len(ids)).astype(float),
                         "genres": [["drama", "comedy"][: 1 + k % 2] for k in range(len(ids))],
                         "w": [[1.0, 2.0][: 1 + k % 2] for k in range(len(ids))]})


def test_side_table_with_duplicate_ids(make, ratings, items):
    dup = pd.concat([items, items.iloc[[3]]], ignore_index=True)
    clean_error(lambda: make().fit(ratings, item_features=dup), "item_features", str(items["item_id"].iloc[3]),
                "more than once", f"row {len(items)}", plain_values=False)
    users = pd.DataFrame({"user_id": [1, 2, 2], "age": [20.0, 30.0, 40.0]})
    clean_error(lambda: make().fit(ratings, user_features=users), "user_features", "2", "more than once", "row 2",
                plain_values=False)


def test_duplicate_id_message_shows_the_plain_id(ratings):
    users = pd.DataFrame({"user_id": [1, 2, 2], "age": [20.0, 30.0, 40.0]})
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(ratings, user_features=users),
                "id 2 appears more than once", "row 2")


def test_side_table_without_its_id_column(ratings, items):
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(ratings, item_features=items.drop(columns="item_id")),
                "item_features", "'item_id'")
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1).fit(ratings, item_features=_with(items, "item_id", 2, None)),
                "item_features", "'item_id'", "row 2")


@pytest.mark.parametrize("declared", [None, [Bag("genres")]], ids=["inferred", "declared"])
def test_bag_column_holding_a_non_list(make, ratings, items, declared):
    bad = _with(items, "genres", 5, "drama|comedy")
    clean_error(lambda: make(item_features=declared).fit(ratings, item_features=bad[["item_id", "genres"]]),
                "item_features", "'genres'", "row 5", "'drama|comedy'")


def test_bag_missing_values_are_empty_bags(ratings, items):
    ok = _with(items, "genres", 5, None)
    ok.at[6, "genres"] = pd.NA
    model = MatrixFactorization(dim=2, epochs=1, item_features=[Bag("genres")])
    model.fit(ratings, item_features=ok[["item_id", "genres"]])
    assert np.isfinite(model.predict(ratings.iloc[:10])).all()


def test_bag_weights_must_match_the_bag(ratings, items):
    bad = items.copy()
    bad.at[4, "w"] = bad.at[4, "w"] + [3.0]
    model = MatrixFactorization(dim=2, epochs=1, item_features=[Bag("genres", weights="w")])
    clean_error(lambda: model.fit(ratings, item_features=bad), "item_features", "'w'", "'genres'", "row 4")


def test_side_numeric_and_categorical_columns(ratings, items):
    numeric = MatrixFactorization(dim=2, epochs=1, item_features=[Numeric(["year"])])
    clean_error(lambda: numeric.fit(ratings, item_features=_with(items, "year", 3, "nineteen")),
                "item_features", "'year'", "row 3", "'nineteen'")
    clean_error(lambda: numeric.fit(ratings, item_features=_with(items, "year", 3, np.nan)),
                "item_features", "'year'", "row 3")
    categorical = MatrixFactorization(dim=2, epochs=1, item_features=[Categorical("studio")])
    clean_error(lambda: categorical.fit(ratings, item_features=_with(items, "studio", 8, None)),
                "item_features", "'studio'", "row 8")
    clean_error(lambda: categorical.fit(ratings, item_features=items.drop(columns="studio")),
                "item_features", "'studio'")


def test_declared_features_need_a_table(ratings):
    clean_error(lambda: MatrixFactorization(dim=2, epochs=1, item_features=[Bag("genres")]).fit(ratings),
                "item_features")


# ---------------------------------------------------------------- predict

@pytest.mark.parametrize("column, value", [("user_id", np.nan), ("item_id", None)])
def test_predict_names_column_and_first_bad_row(fitted, shifted, column, value):
    bad = _with(shifted[["user_id", "item_id"]], column, 9, value)
    clean_error(lambda: fitted.predict(bad), f"'{column}'", "row 9", "index 1009")


def test_predict_bad_frames(fitted, ratings):
    clean_error(lambda: fitted.predict(ratings[["user_id"]]), "'item_id'")
    clean_error(lambda: fitted.predict(ratings.iloc[:0]), "empty")
    clean_error(lambda: fitted.predict(ratings.to_numpy()), "DataFrame")
    clean_error(lambda: fitted.predict([{"user_id": 1, "item_id": 101}]), "DataFrame")


def test_predict_side_tables_are_checked(ratings):
    users = pd.DataFrame({"user_id": np.sort(ratings["user_id"].unique())})
    users["age"] = np.linspace(20, 60, len(users))
    model = MatrixFactorization(dim=2, epochs=1, user_features=[Numeric(["age"])]).fit(ratings, user_features=users)
    new = pd.DataFrame({"user_id": [500, 500], "age": [30.0, 31.0]})
    clean_error(lambda: model.predict(pd.DataFrame({"user_id": [500], "item_id": [101]}), user_features=new),
                "user_features", "500", "more than once", "row 1", plain_values=False)
    new = pd.DataFrame({"user_id": [500, 501], "age": [30.0, "old"]})
    clean_error(lambda: model.predict(pd.DataFrame({"user_id": [500], "item_id": [101]}), user_features=new),
                "user_features", "'age'", "row 1", "'old'")


def test_recommend_and_similar_name_unknown_ids(fitted):
    clean_error(lambda: fitted.recommend([1, 7777]), "7777")
    clean_error(lambda: fitted.recommend([]), "users")
    clean_error(lambda: fitted.similar_items([7777]), "7777")
    clean_error(lambda: fitted.similar_users([1, 8888]), "8888")


# ---------------------------------------------------------------- the checks themselves

def test_validation_helpers():
    df = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": ["1", "2.5", "x"], "c": ["1", "2", "3"]}, index=[5, 6, 7])
    check_frame(df)
    require_columns(df, ["a", "b"])
    clean_error(lambda: require_columns(df, ["a", "z"], "things"), "things", "'z'")
    clean_error(lambda: check_no_missing(df, "a"), "'a'", "row 2", "index 7", "1 missing")
    clean_error(lambda: numeric_values(df, "a"), "'a'", "row 2", "nan")
    assert np.isnan(numeric_values(df, "a", allow_nan=True)[2])
    clean_error(lambda: numeric_values(df, "b"), "'b'", "row 2", "'x'")
    np.testing.assert_array_equal(numeric_values(df, "c"), [1.0, 2.0, 3.0])  # numbers stored as text are fine
    clean_error(lambda: check_frame(df.iloc[:0], "things"), "things", "empty")
    clean_error(lambda: check_frame("not a frame"), "DataFrame", "str")


def test_numeric_values_rejects_infinity_even_when_missing_values_are_allowed():
    import numpy as np
    import pandas as pd

    from featvec.validation import numeric_values

    df = pd.DataFrame({"x": [1.0, np.nan, np.inf]})
    assert np.isnan(numeric_values(df.iloc[:2], "x", allow_nan=True)[1])
    with pytest.raises(ValueError, match=r"column 'x' has an infinite value at row 2"):
        numeric_values(df, "x", allow_nan=True)
    with pytest.raises(ValueError, match=r"column 'x' has a missing or infinite value at row 1"):
        numeric_values(df, "x")


def test_values_kind_names_one_kind_or_mixed():
    from featvec.validation import values_kind

    assert values_kind(np.arange(3)) == values_kind([1.5, 2]) == values_kind(pd.Series([1, 2.5])) == "number"
    assert values_kind(["a", "b"]) == "str" and values_kind([True, False]) == "bool"
    assert values_kind([True, 1]) == values_kind([1, "a"]) == "mixed" and values_kind([]) is None


def test_check_values_normalises_a_categorical_and_leaves_other_columns_as_they_are():
    from featvec.validation import check_values, with_values

    df = pd.DataFrame({"u": pd.Categorical([3, 1, 3], categories=[1, 2, 3, 4]), "i": [1, 2, 3]})
    out = with_values(df, ["u", "i"], "data")
    assert out["u"].tolist() == [3, 1, 3] and not isinstance(out["u"].dtype, pd.CategoricalDtype)
    assert out["i"].dtype == np.int64 and isinstance(df["u"].dtype, pd.CategoricalDtype)  # the input untouched
    plain_df = pd.DataFrame({"i": [1, 2]})
    assert with_values(plain_df, ["i"]) is plain_df  # nothing to normalise: no copy
    assert check_values(pd.DataFrame({"s": ["a", 1]}), "s", mixed_ok=True).tolist() == ["a", 1]
    with pytest.raises(ValueError, match=r"data: column 's' row 1 \(index 1\) holds 1 \(number\) while earlier"):
        check_values(pd.DataFrame({"s": ["a", 1]}), "s")


def test_check_kind_refuses_another_kind_and_lets_a_categorical_mix_through():
    from featvec.validation import check_kind

    check_kind("number", np.array([1.0, 7.0]), "user_id", "data")
    check_kind("str", ["a", 3], "cat", "data", strict=False)  # some unseen values of a categorical feature
    with pytest.raises(ValueError, match=r"data: 'user_id' values must be numbers like the ones the model was "
                                         r"trained on, got '1' \(str\)"):
        check_kind("number", ["1"], "user_id", "data")
    with pytest.raises(ValueError, match=r"'flag' values must be booleans .* got 1 \(number\)"):
        check_kind("bool", [True, 1], "flag", "data")
