"""The bad-input corpus, part two: bad *data* (ids, cells, columns, files, events, look-alike inputs), each
case refused with featvec's error naming the column, the row or the value to fix. Part one
(tests/test_bad_inputs.py) covers parameters and ``k``; tests/io/test_model_folder.py the model folders."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.audience.events import aggregate_events
from featvec.audience.lookalike import lookalikes, user_vectors
from featvec.io.readers import EventFileError, read_events

RATINGS = pd.DataFrame({"user_id": np.repeat(np.arange(12), 4), "item_id": np.tile(np.arange(8), 6),
                        "rating": np.random.default_rng(0).integers(1, 6, 48).astype(float)})
TABLE = pd.DataFrame({"cat": list("abcd") * 10, "x": np.arange(40.0), "y": np.arange(40.0) % 3})
USERS = pd.DataFrame({"uid": np.arange(32), "items": [["a", "b"], ["c"], ["a", "c"], ["b"]] * 8,
                      "gender": ["F", "M"] * 16})

FITS = {  # preset -> (fit on a frame, the frame, its id/category columns)
    "MatrixFactorization": (lambda df: featvec.MatrixFactorization(dim=4, epochs=1).fit(df), RATINGS,
                            ["user_id", "item_id"]),
    "DeepRecommender": (lambda df: featvec.DeepRecommender(epochs=1).fit(df), RATINGS, ["user_id", "item_id"]),
    "ImplicitRecommender": (lambda df: featvec.ImplicitRecommender(dim=4, epochs=1).fit(df), RATINGS,
                            ["user_id", "item_id"]),
    "ALS": (lambda df: featvec.ImplicitRecommender(solver="als", dim=4, iterations=1).fit(df), RATINGS,
            ["user_id", "item_id"]),
    "Feat2Vec": (lambda df: featvec.Feat2Vec(groups=["user_id", "item_id"], dim=4, epochs=1, patience=None)
                 .fit(df), RATINGS, ["user_id", "item_id"]),
    "TabularModel": (lambda df: featvec.TabularModel(categorical=["cat"], numeric=["x"], target="y", epochs=1)
                     .fit(df), TABLE, ["cat"]),
    "UserModel": (lambda df: featvec.UserModel(bags=["items"], targets=["gender"], id_col="uid", epochs=1)
                  .fit(df), USERS, ["uid"]),
}


def _set(df, column, row, value):
    out = df.copy()
    out[column] = out[column].astype(object)
    out.at[row, column] = value
    return out


def _numeric_set(df, column, row, value):
    out = df.copy()
    out[column] = out[column].astype(float)
    out.at[row, column] = value
    return out


CELLS = {  # class -> (how to spoil row 3 of a column, what the message must say)
    "bool among values": (lambda df, c: _set(df, c, 3, True), r"column '{c}' row 3 \(index 3\) holds True \(bool\) "
                          r"while earlier values are of kind"),
    "list cell": (lambda df, c: _set(df, c, 3, [1, 2]), r"column '{c}' row 3 \(index 3\) holds a list"),
    "dict cell": (lambda df, c: _set(df, c, 3, {"a": 1}), r"column '{c}' row 3 \(index 3\) holds a dict"),
    "set cell": (lambda df, c: _set(df, c, 3, {1}), r"column '{c}' row 3 \(index 3\) holds a set"),
    "missing id": (lambda df, c: _set(df, c, 3, None), r"column '{c}' has 1 missing value\(s\).*first at row 3"),
}
NUMERIC_ONLY = {
    "-inf id": (lambda df, c: _numeric_set(df, c, 3, -math.inf), r"column '{c}' holds an infinite value at row 3"),
    "inf id": (lambda df, c: _numeric_set(df, c, 3, math.inf), r"column '{c}' holds an infinite value at row 3"),
}
ID_CASES = [(p, c, cls) for p, (_, _, cols) in FITS.items() for c in cols for cls in CELLS] + [
    (p, c, cls) for p, (_, df, cols) in FITS.items() for c in cols if df[c].dtype.kind in "iuf"
    for cls in NUMERIC_ONLY]


@pytest.mark.parametrize("preset, column, cls", ID_CASES, ids=[f"{p}-{c}-{k}" for p, c, k in ID_CASES])
def test_a_bad_id_or_category_cell_is_refused_naming_column_and_row(preset, column, cls):
    fit, df, _ = FITS[preset]
    spoil, message = {**CELLS, **NUMERIC_ONLY}[cls]
    if preset == "TabularModel" and cls == "missing id":
        pytest.skip("TabularModel gives missing categories their own '#na#' category (fastai's rule)")
    with pytest.raises(ValueError, match=message.format(c=column)):
        fit(spoil(df, column))


DUPLICATE = {p: (fit, df) for p, (fit, df, _) in FITS.items()}


@pytest.mark.parametrize("preset", list(DUPLICATE))
def test_duplicate_column_names_are_refused(preset):
    fit, df = DUPLICATE[preset]
    doubled = pd.concat([df, df.iloc[:, [0]]], axis=1)
    with pytest.raises(ValueError, match=f"column name '{df.columns[0]}' appears more than once"):
        fit(doubled)


def test_a_pandas_categorical_id_column_knows_only_the_ids_it_holds():
    df = RATINGS.assign(user_id=pd.Categorical(RATINGS["user_id"], categories=range(100)))
    for model in (featvec.MatrixFactorization(dim=4, epochs=1).fit(df),
                  featvec.ImplicitRecommender(dim=4, epochs=1).fit(df)):
        assert model.users_.vocab.values == list(range(12))
        with pytest.raises(ValueError, match=r"unknown users \[50\]"):
            model.recommend([50])


@pytest.fixture(scope="module")
def fitted():
    return {
        "mf": featvec.MatrixFactorization(dim=4, epochs=1).fit(RATINGS),
        "als": featvec.ImplicitRecommender(solver="als", dim=4, iterations=1).fit(RATINGS),
        "tab": FITS["TabularModel"][0](TABLE),
        "f2v": FITS["Feat2Vec"][0](RATINGS),
    }


WRONG_KIND = {  # a call with ids of another kind than the model's: every one would be 'unknown'
    "predict str ids": (lambda m: m["mf"].predict(RATINGS.astype({"user_id": str})), "'user_id' values must be "
                        r"numbers like the ones the model was trained on, got '0' \(str\)"),
    "predict str items": (lambda m: m["mf"].predict(RATINGS.astype({"item_id": str})), "'item_id' values must be "
                          "numbers"),
    "recommend str user": (lambda m: m["mf"].recommend(["1"]), r"'user_id' values must be numbers.*got '1'"),
    "similar_items str": (lambda m: m["mf"].similar_items(["1"]), r"items: 'label' values must be numbers.*got '1'"),
    "als recommend str": (lambda m: m["als"].recommend(["1"]), r"'user_id' values must be numbers.*got '1'"),
    "als fold_in str": (lambda m: m["als"].fold_in(["1", "2"]), r"'item_id' values must be numbers.*got '1'"),
    "evaluate str ids": (lambda m: featvec.evaluate(m["als"], RATINGS.astype({"user_id": str}).iloc[:8]),
                         r"'user_id' values must be numbers"),
    "mixed kinds in query": (lambda m: m["mf"].recommend([1, "2"]), r"'user_id' values must be numbers.*got '2'"),
    "bools for int ids": (lambda m: m["mf"].recommend([True]), r"values must be numbers.*got True \(bool\)"),
    "str side table": (lambda m: featvec.MatrixFactorization(dim=4, epochs=1).fit(
        RATINGS, item_features=pd.DataFrame({"item_id": [str(i) for i in range(8)], "g": list("ab") * 4})),
        r"item_features: 'item_id' values must be numbers like the ones the training rows hold, got '0'"),
    "str cold-start side table": (lambda m: m["mf"].predict(
        RATINGS.iloc[:2], item_features=pd.DataFrame({"item_id": ["99"], "x": [1.0]})),
        r"item_features: 'item_id' values must be numbers"),
    "tabular ints for str category": (lambda m: m["tab"].predict(TABLE.assign(cat=[1, 2, 3, 4] * 10)),
                                      r"'cat' values must be strings.*got 1 \(number\)"),
    "feat2vec str values": (lambda m: m["f2v"].score(RATINGS.astype({"item_id": str})),
                            r"'item_id' values must be numbers"),
}


@pytest.mark.parametrize("case", list(WRONG_KIND))
def test_ids_of_another_kind_than_the_models_are_refused(fitted, case):
    call, message = WRONG_KIND[case]
    with pytest.raises(ValueError, match=message):
        call(fitted)


def test_ids_of_the_same_kind_in_another_dtype_are_fine(fitted):
    mf = fitted["mf"]
    as_float = mf.predict(RATINGS.astype({"user_id": float, "item_id": "int32"}))
    np.testing.assert_allclose(as_float, mf.predict(RATINGS), rtol=1e-6)
    assert len(mf.recommend(np.array([1, 2], dtype=np.uint16), k=2)) == 4


BAGS = {
    "None in a list": ([["a", None], ["c"]], r"row 0 \(index 0\) holds a missing value"),
    "NaN in a list": ([["a", float("nan")], ["c"]], r"row 0 \(index 0\) holds a missing value"),
    "list in a list": ([["a"], ["c", ["d"]]], r"row 1 \(index 1\) holds a list"),
    "dict in a list": ([["a"], ["c", {"d": 1}]], r"row 1 \(index 1\) holds a dict"),
    "bool among strings": ([["a", True], ["c"]], r"row 0 \(index 0\) holds True \(bool\)"),
    "bool among numbers": ([[1, 2], [3, False]], r"row 1 \(index 1\) holds False \(bool\)"),
    "text where a list goes": (["a b", ["c"]], r"needs a list per row; row 0 \(index 0\) holds 'a b'"),
}


@pytest.mark.parametrize("case", list(BAGS))
def test_a_bad_value_inside_a_bag_is_refused_naming_the_row(case):
    cells, message = BAGS[case]
    df = pd.DataFrame({"items": cells * 16, "gender": ["F", "M"] * 16})
    with pytest.raises(ValueError, match="column 'items' .*" + message):
        featvec.UserModel(bags=["items"], targets=["gender"], epochs=1).fit(df)


NUMERIC_BLOCK = {
    "text": ("abc", r"column 'x' must be numeric, but row 3 \(index 3\) holds 'abc'"),
    "inf": (math.inf, r"column 'x' has an infinite value at row 3 \(index 3\): inf"),
    "-inf": (-math.inf, r"column 'x' has an infinite value at row 3 \(index 3\): -inf"),
    "list": ([1.0], r"column 'x' must be numeric, but row 3 \(index 3\) holds \[1.0\]"),
}


@pytest.mark.parametrize("case", list(NUMERIC_BLOCK))
def test_a_bad_value_in_a_numeric_column_is_refused_naming_the_row(case):
    value, message = NUMERIC_BLOCK[case]
    with pytest.raises(ValueError, match=message):
        FITS["TabularModel"][0](_set(TABLE, "x", 3, value))


def test_no_drawable_negative_is_refused_and_some_users_warned():
    full = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 0, 1]})
    for loss in ("bpr", "bce", "sampled_softmax"):
        with pytest.raises(ValueError, match=f"every user interacted with every one of the 2 items, so loss='{loss}' "
                                             "has no negative item to draw"):
            featvec.ImplicitRecommender(loss=loss, epochs=1).fit(full)
    featvec.ImplicitRecommender(solver="als", iterations=1).fit(full)  # ALS needs no negatives
    some = pd.DataFrame({"user_id": [0, 0, 0, 1, 2], "item_id": [0, 1, 2, 0, 1]})
    with pytest.warns(UserWarning, match="1 user\\(s\\) interacted with every item"):
        featvec.ImplicitRecommender(loss="bpr", epochs=1).fit(some)


# ---- files
FILES = {
    "ragged CSV row (short)": ("a.csv", "a,b\n1,2\n3\n4,5\n", r"line 3 has 1 field\(s\) where the header has 2: '3'"),
    "ragged CSV row (long)": ("a.csv", "a,b\n1,2\n3,4,5\n", r"Expected 2 fields in line 3, saw 3"),
    "ragged TSV row": ("a.tsv", "a\tb\n1\t2\n3\n", r"malformed TSV .*line 3 has 1 field"),
    "short row after CRLF lines": ("a.csv", "a,b,c\r\n1,2,3\r\n4,5\r\n", r"line 3 has 2 field\(s\) where the header "
                                                                         r"has 3"),
    "one JSON number": ("n.json", "42", r"not an object or a list \(it starts with '42'\)"),
    "one JSON number, no extension": ("n", "42", r"not an object or a list"),
    "one JSON string, no extension": ("s", '"hello"', r"not an object or a list"),
    "deep JSON lists": ("d.json", "[" * 100_000 + "]" * 100_000, "the JSON nests too deeply"),
    "deep JSON objects": ("d.json", '{"a":' * 100_000 + "1" + "}" * 100_000, "the JSON nests too deeply"),
    "JSON lines of strings": ("e.jsonl", '"abc"\n"def"\n', r"line 1 of .* \(record 1\) is a string, not a JSON "
                                                          r"object"),
    "truncated JSON": ("t.json", '[{"a": 1}, {"a": ', "t.json"),
    "only whitespace": ("w.csv", "  \n\n", r"empty file: .*only whitespace"),
}


@pytest.mark.parametrize("case", list(FILES))
def test_a_malformed_event_file_is_an_event_file_error_naming_it(tmp_path, case):
    name, text, message = FILES[case]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(EventFileError, match=message):
        read_events(path)


def test_a_quoted_csv_is_not_checked_by_counting_delimiters(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"x,y",2\n"multi\nline",3\n')
    df = read_events(path)
    assert df["a"].tolist() == ["x,y", "multi\nline"] and df["b"].tolist() == [2, 3]


def test_a_csv_with_empty_last_fields_is_not_ragged(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("a,b\n1,\n2,3\n\n")
    assert read_events(path)["b"].isna().tolist() == [True, False]


# ---- events
EVENTS = pd.DataFrame({"session": [1, 1, 2, 2], "event": ["view", "fund", "view", "view"],
                       "time": [0.0, 5.0, 1.0, 4.0], "amount": [0.0, 10.0, 0.0, 0.0]})
AGG = {
    "NaN session id": (lambda: aggregate_events(_numeric_set(EVENTS, "session", 2, math.nan), "session",
                                                event_col="event"),
                       r"column 'session' has 1 missing value\(s\).*first at row 2"),
    "list session id": (lambda: aggregate_events(_set(EVENTS, "session", 1, [1]), "session", event_col="event"),
                        r"column 'session' row 1 \(index 1\) holds a list"),
    "unparsable time": (lambda: aggregate_events(_set(EVENTS, "time", 2, "soon"), "session", time_col="time"),
                        r"column 'time' holds times, but row 2 \(index 2\) holds 'soon', neither a number nor a date"),
    "infinite time": (lambda: aggregate_events(_numeric_set(EVENTS, "time", 1, math.inf), "session", time_col="time"),
                      r"column 'time' has an infinite value at row 1"),
    "unparsable amount": (lambda: aggregate_events(_set(EVENTS, "amount", 1, "10$"), "session", sums=["amount"]),
                          r"column 'amount' must be numeric, but row 1 \(index 1\) holds '10\$'"),
    "missing column": (lambda: aggregate_events(EVENTS, "session", event_col="kind"), r"missing column\(s\) \['kind'\]"),
    "duplicate column": (lambda: aggregate_events(pd.concat([EVENTS, EVENTS[["time"]]], axis=1), "session"),
                         "column name 'time' appears more than once"),
    "unknown ratio part": (lambda: aggregate_events(EVENTS, "session", event_col="event",
                                                    ratios={"r": ("fund", "click")}),
                           r"ratio 'r': no event type or column 'click'"),
    "empty events": (lambda: aggregate_events(EVENTS.iloc[:0], "session"), "events is empty"),
}


@pytest.mark.parametrize("case", list(AGG))
def test_bad_events_are_refused_naming_column_and_row(case):
    call, message = AGG[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_aggregate_events_reads_dates_given_as_text():
    out = aggregate_events(EVENTS.assign(time=["2016-01-01 10:00", "2016-01-01 10:01", "2016-01-02 00:00",
                                               "2016-01-02 00:00:30"]), "session", time_col="time")
    assert out["mean_interval"].tolist() == [60.0, 30.0]


# ---- look-alikes
PEOPLE = pd.DataFrame({"id": np.arange(10), "lat": np.linspace(30, 40, 10), "lon": np.linspace(-100, -80, 10)})
UV = user_vectors(PEOPLE, "id", numeric={"geo": ["lat", "lon"]})
LOOKALIKES = {
    "no seed user": (lambda: lookalikes(UV, []), "no seed user given"),
    "unknown seed": (lambda: lookalikes(UV, [99]), r"seed: unknown user id\(s\) \[99\]"),
    "str seed for int ids": (lambda: lookalikes(UV, ["1"]), r"seed: 'user id' values must be numbers.*got '1'"),
    "unknown against": (lambda: lookalikes(UV, [1], against=[77]), r"against: unknown user id\(s\) \[77\]"),
    "NaN block weight": (lambda: lookalikes(UV, [1], weights={"geo": math.nan}),
                         "the weight of block 'geo' must be a finite number >= 0, got nan"),
    "inf block weight": (lambda: user_vectors(PEOPLE, "id", numeric={"geo": ["lat"]}, weights={"geo": math.inf}),
                         "the weight of block 'geo' must be a finite number >= 0, got inf"),
    "text block weight": (lambda: lookalikes(UV, [1], weights={"geo": "high"}), "got 'high'"),
    "negative weight": (lambda: lookalikes(UV, [1], weights={"geo": -1}), "block weights must be >= 0"),
    "unknown block": (lambda: lookalikes(UV, [1], weights={"age": 1}), r"weights name unknown block\(s\) \['age'\]"),
    "inf coordinate": (lambda: user_vectors(_numeric_set(PEOPLE, "lat", 4, math.inf), "id",
                                            numeric={"geo": ["lat", "lon"]}),
                       r"column 'lat' has a missing or infinite value at row 4 \(index 4\): inf"),
    "text coordinate": (lambda: user_vectors(_set(PEOPLE, "lon", 4, "west"), "id", numeric={"geo": ["lat", "lon"]}),
                        r"column 'lon' must be numeric, but row 4 \(index 4\) holds 'west'"),
    "list user id": (lambda: user_vectors(_set(PEOPLE, "id", 4, [4]), "id", numeric={"geo": ["lat"]}),
                     r"column 'id' row 4 \(index 4\) holds a list"),
    "missing user id": (lambda: user_vectors(_numeric_set(PEOPLE, "id", 4, math.nan), "id", numeric={"geo": ["lat"]}),
                        r"column 'id' has 1 missing value"),
    "duplicate user": (lambda: user_vectors(PEOPLE.assign(id=[0] * 10), "id", numeric={"geo": ["lat"]}),
                       "id 0 appears in more than one row"),
    "fraction top out of range": (lambda: lookalikes(UV, [1], top=1.5), r"top as a fraction must be in \(0, 1\]"),
    "NaN top": (lambda: lookalikes(UV, [1], top=math.nan), r"top as a fraction must be in \(0, 1\], got nan"),
    "zero top": (lambda: lookalikes(UV, [1], top=0), "top must be a positive count or a fraction"),
}


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_bad_lookalike_inputs_are_refused(case):
    call, message = LOOKALIKES[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_lookalikes_rank_the_seed_twin_first_and_the_opposite_last():
    people = pd.DataFrame({"id": np.arange(6), "lat": [30, 40, 35, 30, 31, 39], "lon": [-100, -80, -90, -100, -98, -81]})
    out = lookalikes(user_vectors(people, "id", numeric={"geo": ["lat", "lon"]}), [0], top=1.0)
    assert out["id"].iloc[0] == 3 and out["score"].iloc[0] == pytest.approx(1.0)  # the seed's twin
    assert out["id"].iloc[-1] == 1 and out["score"].iloc[-1] < 0  # the far corner
    assert out["score"].is_monotonic_decreasing and 0 not in set(out["id"])


def test_users_folded_in_may_have_ids_of_any_kind(fitted):
    als = fitted["als"]
    rows = pd.DataFrame({"user_id": ["new", "new"], "item_id": [1, 2]})
    out = als.recommend(["new", 3], k=2, user_items=rows)
    assert out["user_id"].tolist() == ["new", "new", 3, 3]
    with pytest.raises(ValueError, match=r"'user_id' values must be numbers.*got 'other'"):
        als.recommend(["new", "other"], k=2, user_items=rows)  # not folded in: looked up as the model's ids
