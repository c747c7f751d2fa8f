"""Fuzzing the event readers: random bytes, and valid files cut short or with bytes flipped, in every format
and compression, only ever give a DataFrame or featvec's own EventFileError (naming the file)."""
from __future__ import annotations

import gzip
import io
import json
import os

import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from featvec import EventFileError  # noqa: E402
from featvec.io.readers import read_events  # noqa: E402

RECORDS = [{"user": {"id": i, "state": "CA" if i % 2 else "NY"}, "event": "view", "amount": i * 1.5,
            "tags": ["a", "b"][: i % 3]} for i in range(6)]
VALID = {
    "events.json": json.dumps({"data": RECORDS}).encode(),
    "events.jsonl": "\n".join(json.dumps(r) for r in RECORDS).encode(),
    "events.csv": pd.DataFrame({"user": range(6), "event": ["view"] * 6, "amount": range(6)}).to_csv(index=False).encode(),
    "events.tsv": pd.DataFrame({"user": range(6), "event": ["view"] * 6}).to_csv(index=False, sep="\t").encode(),
}
VALID.update({f"{k}.gz": gzip.compress(v, mtime=0) for k, v in list(VALID.items())})
buf = io.BytesIO()
pd.DataFrame({"user": range(6), "event": ["view"] * 6}).to_parquet(buf)
VALID["events.parquet"] = buf.getvalue()
NAMES = sorted(VALID) + ["events.bin", "events"]
# the suite runs a fixed sample (derandomized); FEATVEC_FUZZ_EXAMPLES=5000 explores further
EXAMPLES = int(os.environ.get("FEATVEC_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 60, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        out = read_events(path)
    except EventFileError as e:
        assert str(path) in str(e) or path.name in str(e), str(e)
        return None
    assert isinstance(out, pd.DataFrame)
    return out


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_valid_files_read(tmp_path, name):
    assert len(_read(tmp_path, name, VALID[name])) == 6


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=400))
def test_random_bytes(tmp_path, name, data):
    _read(tmp_path, name, data)


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), cut=st.floats(0, 1))
def test_truncated_files(tmp_path, name, cut):
    data = VALID[name]
    _read(tmp_path, name, data[: int(len(data) * cut)])


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), where=st.floats(0, 1), byte=st.integers(0, 255))
def test_a_flipped_byte(tmp_path, name, where, byte):
    data = bytearray(VALID[name])
    data[min(int(len(data) * where), len(data) - 1)] = byte
    _read(tmp_path, name, bytes(data))


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting(tmp_path, depth):
    _read(tmp_path, "deep.json", b'{"data": [' + b"[" * depth + b"]" * depth + b"]}")
    _read(tmp_path, "deep.jsonl", b'{"a": ' + b"[" * depth + b"]" * depth + b"}\n")
