"""Event-log readers (featvec.io.readers): formats, gzip, flattening, streaming, errors, real data."""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from featvec.io import readers
from featvec.io.readers import iter_events, read_events

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# Ten events; "amount" only on funds; location nested two levels; zip codes with leading zeros.
RECORDS = [
    {"event_name": "Fund Project" if i % 3 == 0 else "View Project",
     **({"amount": 10 + i} if i % 3 == 0 else {}),
     "session_id": f"{i:032x}",
     "client_time": 1393632000 + 7 * i,
     "tags": ["a", "b"][: i % 3],
     "location": {"city": f"City {i}", "zip_code": f"{i:05d}",
                  "geo": {"latitude": 40.5 + i, "longitude": -70.25 - i}}}
    for i in range(10)
]
FLAT_COLUMNS = ["event_name", "amount", "session_id", "client_time", "tags", "location_city",
                "location_zip_code", "location_geo_latitude", "location_geo_longitude"]


def flat(rec: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            out.update(flat(v, prefix + k + "_"))
        else:
            out[prefix + k] = v
    return out


def expected_frame() -> pd.DataFrame:
    return pd.DataFrame([flat(r) for r in RECORDS])[FLAT_COLUMNS]


def write(path, data: str | bytes, gz: bool = False):
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def json_object(records=RECORDS, **kw) -> str:
    return json.dumps({"version": 2, "meta": {"source": "test"}, "data": records, "after": [1, 2]}, **kw)


def json_lines(records=RECORDS) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def csv_text(delimiter=",") -> str:
    buf = io.StringIO()
    rows = [flat(r) for r in RECORDS]
    writer = csv.DictWriter(buf, fieldnames=[c for c in FLAT_COLUMNS if c != "tags"], delimiter=delimiter,
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def parquet_bytes() -> bytes:
    table = pa.Table.from_pylist(RECORDS)
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=4)
    return buf.getvalue()


WRITERS = {
    "json": (".json", json_object),
    "json-array": (".json", lambda: json.dumps(RECORDS, indent=1)),
    "jsonl": (".jsonl", json_lines),
    "ndjson": (".ndjson", json_lines),
    "csv": (".csv", csv_text),
    "tsv": (".tsv", lambda: csv_text("\t")),
    "parquet": (".parquet", parquet_bytes),
}


def check_frame(df: pd.DataFrame, kind: str) -> None:
    exp = expected_frame()
    if kind in ("csv", "tsv"):
        exp = exp.drop(columns="tags")
    assert list(df.columns) == list(exp.columns)
    assert len(df) == 10 and isinstance(df.index, pd.RangeIndex)
    assert df["location_zip_code"].tolist() == [f"{i:05d}" for i in range(10)]
    assert df["session_id"].tolist() == [f"{i:032x}" for i in range(10)]
    np.testing.assert_allclose(df["amount"].to_numpy(float), exp["amount"].to_numpy(float))
    np.testing.assert_allclose(df["location_geo_latitude"], exp["location_geo_latitude"])
    assert df["client_time"].tolist() == exp["client_time"].tolist()
    if "tags" in exp:
        assert [list(t) for t in df["tags"]] == exp["tags"].tolist()
        assert all(isinstance(t, list) for t in df["tags"])


# ---------------------------------------------------------------------------------------------- formats

@pytest.mark.parametrize("kind", list(WRITERS))
def test_each_format_plain_and_gzipped(tmp_path, kind):
    ext, make = WRITERS[kind]
    data = make()
    plain = read_events(write(tmp_path / f"events{ext}", data))
    gzipped = read_events(write(tmp_path / f"events{ext}.gz", data, gz=True))
    check_frame(plain, kind.replace("-array", "").replace("ndjson", "jsonl"))
    pd.testing.assert_frame_equal(plain, gzipped)
    # gzip is found by its magic bytes, not the name; the format by sniffing when the name says nothing
    sniffed = read_events(write(tmp_path / "events.log", data, gz=True))
    pd.testing.assert_frame_equal(plain, sniffed)


def test_json_variants_give_one_frame(tmp_path):
    frames = [read_events(write(tmp_path / "a.json", json_object(indent=2))),
              read_events(write(tmp_path / "b.json", json.dumps(RECORDS))),
              read_events(write(tmp_path / "c.jsonl", json_lines())),
              read_events(write(tmp_path / "d.json", json_lines())),  # JSON lines named .json
              read_events(io.BytesIO(gzip.compress(json_object().encode())))]  # a file object
    for df in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], df)
    exp = expected_frame()
    pd.testing.assert_frame_equal(frames[0].drop(columns="tags"), exp.drop(columns="tags"))


def test_format_argument_overrides_the_name(tmp_path):
    path = write(tmp_path / "events.json", csv_text())
    check_frame(read_events(path, format="csv"), "csv")
    path = write(tmp_path / "events.txt", json_lines())
    pd.testing.assert_frame_equal(read_events(path, format="ndjson"), read_events(path))
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        read_events(path, format="xml")
    # explicit "json" on JSON lines: not silently re-read
    with pytest.raises(ValueError, match="extra data after the JSON document.*format='jsonl'"):
        read_events(path, format="json")


# ---------------------------------------------------------------------------------------------- flattening

def test_flattening_two_levels_sep_and_lists(tmp_path):
    recs = [{"id": 1, "user": {"name": "a", "address": {"zip": "02134", "geo": {"lat": 1.5}}},
             "items": [{"sku": 1}, {"sku": 2}], "empty": {}},
            {"id": 2, "user": {"name": "b"}, "items": []}]
    path = write(tmp_path / "e.json", json.dumps({"events": recs}))
    df = read_events(path)
    assert list(df.columns) == ["id", "user_name", "user_address_zip", "user_address_geo_lat", "items", "empty"]
    assert df["user_address_zip"].tolist()[0] == "02134" and pd.isna(df["user_address_zip"][1])
    assert df["items"].tolist() == [[{"sku": 1}, {"sku": 2}], []]
    dotted = read_events(path, sep=".")
    assert "user.address.geo.lat" in dotted.columns
    nested = read_events(path, flatten=False)
    assert list(nested.columns) == ["id", "user", "items", "empty"]
    assert nested["user"][0]["address"]["geo"] == {"lat": 1.5}


def test_csv_column_names_are_kept(tmp_path):
    path = write(tmp_path / "e.csv", "location.city,user_id,a_b.c\nX,007,1\nY,008,2\n")
    df = read_events(path)
    assert list(df.columns) == ["location.city", "user_id", "a_b.c"]
    assert df["user_id"].tolist() == ["007", "008"]  # ids read as strings


def test_parquet_structs_flattened_and_column_pruning(tmp_path):
    path = write(tmp_path / "e.parquet", parquet_bytes())
    df = read_events(path, columns=["location_geo_latitude", "session_id"])
    assert list(df.columns) == ["location_geo_latitude", "session_id"]
    assert df["location_geo_latitude"].tolist() == [40.5 + i for i in range(10)]
    nested = read_events(path, flatten=False)
    assert nested["location"][0]["geo"] == {"latitude": 40.5, "longitude": -70.25}


# ---------------------------------------------------------------------------------------------- JSON layout

def test_records_key_auto_and_explicit(tmp_path):
    other = [{"kind": "other", "n": i} for i in range(3)]
    doc = {"meta": {"n": 10}, "count": 10, "data": RECORDS, "other": other}
    path = write(tmp_path / "e.json", json.dumps(doc))
    check_frame(read_events(path), "json")  # the first key holding a list
    check_frame(read_events(path, records_key="data"), "json")
    df = read_events(path, records_key="other")  # skips the big "data" list item by item
    assert df.to_dict("list") == {"kind": ["other"] * 3, "n": [0, 1, 2]}
    with pytest.raises(ValueError, match="no key 'missing'.*'meta', 'count', 'data', 'other'"):
        read_events(path, records_key="missing")
    with pytest.raises(ValueError, match="key 'count' .* holds a number, not a list"):
        read_events(path, records_key="count")
    with pytest.raises(ValueError, match="holds no list of records"):
        read_events(write(tmp_path / "f.json", '{"a": 1, "b": {"c": [1]}}'))


def test_top_level_array_and_empty_list(tmp_path):
    check_frame(read_events(write(tmp_path / "a.json", json.dumps(RECORDS))), "json")
    assert read_events(write(tmp_path / "b.json", "[ ]")).empty
    empty = read_events(write(tmp_path / "c.json", '{"data": []}'), columns=["x", "y"])
    assert empty.empty and list(empty.columns) == ["x", "y"]
    assert list(iter_events(tmp_path / "b.json")) == []


def test_json_lines_skip_blank_lines_and_crlf(tmp_path):
    text = "\n" + json_lines().replace("\n", "\r\n", 3).replace("\n", "\n  \n", 1) + "\n\n"
    check_frame(read_events(write(tmp_path / "e.jsonl", text)), "jsonl")


def test_small_parser_buffer_gives_the_same_frame(tmp_path, monkeypatch):
    recs = RECORDS + [{"text": 'quote " back \\ slash é \u00e9 \U0001F600 \n', "x": 1e300, "n": -12345678901234,
                       "flags": [True, False, None], "deep": {"a": {"b": {"c": [1.5e-7, {"d": "e"}]}}}}]
    path = write(tmp_path / "e.json", json_object(recs, indent=3, ensure_ascii=True))
    whole = read_events(path)
    monkeypatch.setattr(readers, "_TEXT_CHUNK", 7)
    pd.testing.assert_frame_equal(read_events(path), whole)
    assert whole["deep_a_b_c"].iloc[-1] == [1.5e-7, {"d": "e"}]
    assert whole["text"].iloc[-1] == recs[-1]["text"]


# ---------------------------------------------------------------------------------------------- chunks

@pytest.mark.parametrize("kind", ["json", "json-array", "jsonl", "csv", "parquet"])
def test_chunks_of_three(tmp_path, kind):
    ext, make = WRITERS[kind]
    path = write(tmp_path / f"events{ext}", make())
    chunks = list(iter_events(path, chunk_rows=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [c.index[0] for c in chunks] == [0, 3, 6, 9]
    pd.testing.assert_frame_equal(read_events(path, chunk_rows=3), read_events(path))
    pd.testing.assert_frame_equal(pd.concat(chunks), read_events(path), check_dtype=False)


def test_json_chunks_built_from_smaller_pieces(tmp_path, monkeypatch):
    path = write(tmp_path / "e.json", json_object())
    whole = read_events(path)
    monkeypatch.setattr(readers, "_PIECE_ROWS", 2)
    for rows, sizes in [(3, [3, 3, 3, 1]), (4, [4, 4, 2]), (100, [10])]:
        chunks = list(iter_events(path, chunk_rows=rows))
        assert [len(c) for c in chunks] == sizes
        pd.testing.assert_frame_equal(pd.concat(chunks), whole)


def test_chunks_with_absent_keys_get_whole_column_dtypes(tmp_path, monkeypatch):
    recs = [{"a": i} for i in range(4)] + [{"a": 4, "b": 2, "s": "x"}, {"a": 5, "b": None, "s": None}]
    path = write(tmp_path / "e.json", json.dumps(recs))
    whole = read_events(path)
    chunked = read_events(path, chunk_rows=2)
    pd.testing.assert_frame_equal(chunked, whole)
    monkeypatch.setattr(readers, "_PIECE_ROWS", 1)
    pd.testing.assert_frame_equal(read_events(path), whole)
    assert chunked["b"].dtype == float
    assert list(next(iter(iter_events(path, chunk_rows=2))).columns) == ["a"]
    assert list(next(iter(iter_events(path, chunk_rows=2, columns=["a", "b"]))).columns) == ["a", "b"]


def test_argument_checks(tmp_path):
    path = write(tmp_path / "e.json", json.dumps(RECORDS))
    with pytest.raises(ValueError, match="chunk_rows"):
        iter_events(path, chunk_rows=0)
    with pytest.raises(ValueError, match="columns must be distinct"):
        iter_events(path, columns=["a", "a"])
    with pytest.raises(TypeError, match="file path or a binary file object"):
        iter_events(123)
    with open(path, encoding="utf-8") as f, pytest.raises(TypeError, match="binary mode"):
        read_events(f)


# ---------------------------------------------------------------------------------------------- columns, dtypes

@pytest.mark.parametrize("kind", ["json", "jsonl", "csv", "tsv", "parquet"])
def test_columns_selection_and_missing(tmp_path, kind):
    ext, make = WRITERS[kind]
    path = write(tmp_path / f"events{ext}", make())
    want = ["location_zip_code", "amount", "event_name"]
    df = read_events(path, columns=want)
    assert list(df.columns) == want
    assert df["location_zip_code"].tolist() == [f"{i:05d}" for i in range(10)]
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] not found"):
        read_events(path, columns=["event_name", "nope"])


def test_zip_codes_and_ids_stay_strings(tmp_path):
    recs = [{"user_id": "000123", "zip_code": "02134", "n": 1}, {"user_id": "9", "zip_code": "90210", "n": 2}]
    df = read_events(write(tmp_path / "e.json", json.dumps({"data": recs})))
    assert df["zip_code"].tolist() == ["02134", "90210"] and df["user_id"].tolist() == ["000123", "9"]
    assert df["n"].dtype == np.int64
    path = write(tmp_path / "e.csv", "user_id,zip_code,n,code\n000123,02134,1,007\n9,90210,2,008\n")
    df = read_events(path)
    assert df["zip_code"].tolist() == ["02134", "90210"] and df["user_id"].tolist() == ["000123", "9"]
    assert df["code"].tolist() == [7, 8]  # other columns: pandas' own parsing
    forced = read_events(path, dtypes={"code": str, "user_id": "int64"})
    assert forced["code"].tolist() == ["007", "008"] and forced["user_id"].tolist() == [123, 9]
    forced_json = read_events(tmp_path / "e.json", dtypes={"n": "float32"})
    assert forced_json["n"].dtype == np.float32


# ---------------------------------------------------------------------------------------------- errors

def pretty_array(records) -> str:
    """A JSON array with one record per line: record k (from 1) is on line k + 1."""
    return "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"


@pytest.mark.parametrize("chunk", [None, 5])
def test_malformed_json_in_the_middle_names_line_and_record(tmp_path, monkeypatch, chunk):
    if chunk:
        monkeypatch.setattr(readers, "_TEXT_CHUNK", chunk)
    lines = pretty_array(RECORDS).split("\n")
    lines[6] = lines[6].replace('"client_time": ', '"client_time": @')  # record 6, on line 7
    path = write(tmp_path / "e.json", "\n".join(lines))
    with pytest.raises(ValueError, match=r"malformed JSON in .*e\.json at record 6, line 7, column \d+ "
                                         r"\(char offset \d+\): Expecting value") as info:
        read_events(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    col = int(info.value.args[0].split("column ")[1].split(" ")[0])
    assert lines[6][col - 1] == "@"
    # same inside an object, in a gzipped file, with the parser's buffer ending mid-record
    obj = json_object(indent=1).replace('"City 4"', '"City 4" "x"')
    with pytest.raises(ValueError, match=r"at record 5, line \d+.*Expecting ',' delimiter"):
        read_events(write(tmp_path / "f.json.gz", obj, gz=True))


def test_malformed_structure_messages(tmp_path):
    cases = {
        '[{"a": 1},]': r"expected record 2 after ','",
        '[{"a": 1} {"a": 2}]': r"after record 1, line 1, column 11 .*expected ',' or '\]', found '{\"a\": 2}\]'",
        '{"data": [{"a": 1}]} {"b": 2}': "extra data after the JSON document",
        '"just a string"': "not an object or a list",
        '{"data" [1]}': "expected ':'",
    }
    for i, (text, match) in enumerate(cases.items()):
        with pytest.raises(ValueError, match=match):
            read_events(write(tmp_path / f"e{i}.json", text))


def test_truncated_json(tmp_path):
    text = pretty_array(RECORDS)
    cut = text.index('"City 7"') + 4
    with pytest.raises(ValueError, match=r"truncated JSON in .* ends inside record 8 at line 9"):
        read_events(write(tmp_path / "e.json", text[:cut]))
    with pytest.raises(ValueError, match=r"truncated JSON .* list of records, after record 10"):
        read_events(write(tmp_path / "f.json", text[:text.rindex("]")]))
    with pytest.raises(ValueError, match=r"truncated JSON lines file .* record on line 10, column \d+ "
                                         r"\(char offset \d+; record 10\)"):
        read_events(write(tmp_path / "g.jsonl", json_lines()[:-30]))


@pytest.mark.parametrize("chunk", [None, 3])
def test_every_prefix_of_a_document_is_truncated(tmp_path, monkeypatch, chunk):
    """Cut anywhere, a JSON document is reported as truncated, never as malformed."""
    recs = [{"s": 'a"\\é\U0001F600', "n": -1.5e-3, "t": True, "f": False, "z": None, "l": [1, {"m": []}]},
            {"k": {"x": {}}}]
    doc = json.dumps({"pre": {"v": [1]}, "data": recs, "post": "x"}, ensure_ascii=True)
    if chunk:
        monkeypatch.setattr(readers, "_TEXT_CHUNK", chunk)
    for text in (doc, json.dumps(recs, indent=1)):
        path = tmp_path / "e.json"
        assert len(read_events(write(path, text))) == 2
        for cut in range(1, len(text)):
            with pytest.raises(ValueError, match="truncated JSON") as info:
                read_events(write(path, text[:cut]), format="json")
            offset = int(str(info.value).split("char offset ")[1].split(")")[0])
            assert offset <= cut, (cut, str(info.value))


def test_truncated_and_corrupt_gzip(tmp_path):
    for ext, make in [(".json", json_object), (".csv", csv_text), (".jsonl", json_lines)]:
        blob = gzip.compress((make() * 1).encode())
        path = write(tmp_path / f"e{ext}.gz", blob[: len(blob) - 12])
        with pytest.raises(ValueError, match=rf"truncated gzip stream in .*e\{ext}\.gz"):
            read_events(path)
    path = write(tmp_path / "bad.json.gz", gzip.compress(json_object().encode())[:30] + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"(corrupt|truncated) gzip"):
        read_events(path)


def test_records_that_are_not_objects(tmp_path):
    with pytest.raises(ValueError, match=r"record 3 in .* is a list, not a JSON object, "
                                         r"at line 1, column 25 \(char offset 24\)"):
        read_events(write(tmp_path / "a.json", '{"data": [{}, {"a": 1}, [1, 2]]}'))
    with pytest.raises(ValueError, match="record 2 in .* is a number, not a JSON object"):
        read_events(write(tmp_path / "b.json", '[{"a": 1}, 5]'))
    with pytest.raises(ValueError, match=r"line 3 of .*c\.jsonl \(record 2\) is a string, not a JSON object"):
        read_events(write(tmp_path / "c.jsonl", '{"a": 1}\n\n"text"\n'))
    with pytest.raises(ValueError, match=r"malformed JSON in .* on line 2, column 10 \(char offset 18; record 2\)"):
        read_events(write(tmp_path / "d.jsonl", '{"a": 1}\n{"a": 1} x\n{"a": 2}\n'))


def test_empty_and_missing_files(tmp_path):
    for name, data in [("a.json", b""), ("b.csv", b""), ("c.json", b"  \n\t\n"), ("d.jsonl", b"\n\n"),
                       ("e.json.gz", gzip.compress(b"")), ("f.parquet", b"")]:
        with pytest.raises(ValueError, match="empty file"):
            read_events(write(tmp_path / name, data))
    with pytest.raises(ValueError, match="holds no list of records"):
        read_events(write(tmp_path / "g.json", "{}"))
    missing = tmp_path / "nowhere" / "events.json.gz"
    with pytest.raises(FileNotFoundError, match=r"no such event file: .*nowhere/events\.json\.gz"):
        read_events(missing)
    with pytest.raises(FileNotFoundError):
        iter_events(missing)  # at the call, not at the first chunk
    with pytest.raises(IsADirectoryError):
        read_events(tmp_path)


# ---------------------------------------------------------------------------------------------- streaming

class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes handed out."""

    def __init__(self, data: bytes):
        self.inner = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self.inner.readinto(b)
        self.bytes_read += n
        return n


def big_records(n: int) -> list[dict]:
    return [{"event_name": "View Project", "session_id": f"{i:032x}", "client_time": 1393632000 + i,
             "location": {"city": f"City {i % 97}", "zip_code": f"{i % 99999:05d}", "latitude": 40.0 + i / n}}
            for i in range(n)]


@pytest.mark.parametrize("kind", ["json", "json-array", "jsonl", "csv"])
def test_first_chunk_comes_before_the_file_is_read(kind):
    recs = big_records(20_000)
    text = {"json": lambda: json.dumps({"data": recs}),
            "json-array": lambda: json.dumps(recs),
            "jsonl": lambda: json_lines(recs),
            "csv": lambda: pd.DataFrame([flat(r) for r in recs]).to_csv(index=False)}[kind]()
    data = text.encode()
    assert len(data) > 1_500_000
    src = CountingReader(data)
    chunks = iter_events(src, chunk_rows=500)
    first = next(chunks)
    assert len(first) == 500 and first["location_zip_code"][0] == "00000"
    assert src.bytes_read < 0.5 * len(data), (src.bytes_read, len(data))
    assert sum(len(c) for c in chunks) == 20_000 - 500
    assert src.bytes_read == len(data)


def test_peak_memory_stays_below_json_load(tmp_path, monkeypatch):
    """Memory is one text block plus one chunk of rows; a smaller block keeps this file small."""
    monkeypatch.setattr(readers, "_TEXT_CHUNK", 1 << 16)
    recs = big_records(8_000)
    path = write(tmp_path / "e.json", json.dumps({"data": recs}))
    del recs
    tracemalloc.start()
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        _, whole = tracemalloc.get_traced_memory()
        del doc
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        rows = sum(len(c) for c in iter_events(path, chunk_rows=500))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 8_000
    assert peak - base < 0.25 * whole, (peak - base, whole)


# ---------------------------------------------------------------------------------------------- real data

def localytics_dir():
    from featvec.datasets import find_data_dir

    found = find_data_dir()
    folder = None if found is None else found / "localytics-data-viz-challenge"
    if folder is None or not (folder / "data.json.gz").is_file() or not (folder / "events.csv.gz").is_file():
        pytest.skip("no localytics-data-viz-challenge data: set FEATVEC_DATA or provide "
                    "../shared/data/localytics-data-viz-challenge (data.json.gz, events.csv.gz)")
    return folder


@pytest.mark.data
def test_real_localytics_json_and_csv():
    folder = localytics_dir()
    start = time.perf_counter()
    df = read_events(folder / "data.json.gz")
    seconds = time.perf_counter() - start
    assert seconds < 30
    assert len(df) == 50_000
    assert {"event_name", "category", "amount", "client_time", "session_id", "gender", "age", "marital_status",
            "device", "location_city", "location_state", "location_zip_code", "location_latitude",
            "location_longitude"} <= set(df.columns)
    assert df["session_id"].nunique() == 10_466
    assert (df["event_name"] == "Fund Project").sum() == 20_658
    assert df["amount"].sum() == 814_070
    assert df["amount"].isna().sum() == 29_342
    assert df["location_zip_code"].map(type).eq(str).all() and df["location_zip_code"].str.len().eq(5).all()
    assert df["location_zip_code"].str.startswith("0").any()
    assert df["client_time"].is_monotonic_increasing and df["location_state"].nunique() == 51

    csv_df = read_events(folder / "events.csv.gz")
    assert len(csv_df) == 50_000 and csv_df["session_id"].nunique() == 10_466
    assert (csv_df["event_name"] == "Fund Project").sum() == 20_658 and csv_df["amount"].sum() == 814_070
    assert csv_df["zip_code"].tolist() == df["location_zip_code"].tolist()
    np.testing.assert_allclose(csv_df["latitude"], df["location_latitude"])
    assert math.isclose(csv_df["longitude"].sum(), df["location_longitude"].sum())
