"""Readers for event logs: JSON, JSON lines, CSV, TSV and Parquet, each plain or gzipped.

`read_events(path)` gives one DataFrame. `iter_events(path)` yields DataFrames of at most
`chunk_rows` rows and reads the file as it goes, so memory does not grow with the file size.

Formats:
- "json": one JSON document, either a list of records (`[{...}, ...]`) or an object holding
  one (`{"data": [{...}, ...]}`). The list is the value of `records_key`, or by default of the
  first key whose value is a list. It is parsed one record at a time, never loaded whole.
- "jsonl" (also "ndjson"): one JSON object per line; blank lines are skipped.
- "csv", "tsv": read with pandas in chunks.
- "parquet": read with pyarrow in batches (pyarrow must be installed).

Gzip is detected by its magic bytes, whatever the file name. The format comes from `format=`,
else from the extension before ".gz" (.json, .jsonl, .ndjson, .csv, .tsv, .parquet), else from
the content: "PAR1" is Parquet, `[` or `{` is JSON, a first line with more tabs than commas is
TSV, anything else CSV. A JSON file whose first line is a whole object followed by another
object is read as JSON lines.

Values:
- JSON values keep their JSON types: "02134" stays a string, a missing key gives NaN.
- Nested objects are flattened: {"location": {"city": "X"}} gives the column "location_city"
  (`sep` joins the names, at any depth). Lists stay as Python lists in one cell. Parquet
  struct columns are flattened the same way. CSV column names are kept as they are.
- CSV/TSV columns named "id" or ending in "_id", "zip", "zip_code", "zipcode", "postcode" or
  "postal_code" are read as strings, so "01886" keeps its leading zero. `dtypes=` (a mapping
  column -> dtype) overrides that and forces dtypes in every format.

Errors are ValueError with the file name and position (line, column, character offset, and
the record number, counted from 1), except a missing file, which is FileNotFoundError.
"""
from __future__ import annotations

import codecs
import csv
import errno
import gzip
import io
import json
import os
import re
import shutil
import tempfile
import zlib
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import pandas as pd

__all__ = ["read_events", "iter_events", "FORMATS"]

FORMATS = ("json", "jsonl", "csv", "tsv", "parquet")
_ALIASES = {"ndjson": "jsonl", "jsonlines": "jsonl", "json_lines": "jsonl", "pq": "parquet"}
_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
               ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_GZIP_MAGIC = b"\x1f\x8b"
_HEAD_BYTES = 1 << 16        # peeked at to pick the format
_TEXT_CHUNK = 1 << 20        # characters read at a time by the JSON parser
_PIECE_ROWS = 10_000         # JSON records turned into a DataFrame at a time
_STRING_SUFFIXES = ("_id", "zip", "zip_code", "zipcode", "postcode", "postal_code")
_WS = re.compile(r"[ \t\n\r]*")
_PARTIAL_NUMBER = re.compile(r"-?\d*(?:\.\d*)?(?:[eE][-+]?\d*)?")
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


# ------------------------------------------------------------------------------------------ public API

def iter_events(path: str | os.PathLike | Any, *, format: str | None = None, flatten: bool = True,
                sep: str = "_", columns: Sequence[str] | None = None, chunk_rows: int = 100_000,
                records_key: str | None = None, dtypes: Mapping[str, Any] | None = None,
                encoding: str = "utf-8") -> Iterator[pd.DataFrame]:
    """Yield the events of a file as DataFrames of at most `chunk_rows` rows.

    `path` is a file path or a binary file object. The index runs on across chunks.
    Columns may differ between JSON chunks (a key absent from a whole chunk has no column
    there) unless `columns=` is given. For JSON a column in `columns` that no record holds is
    reported after the last chunk; for CSV and Parquet before the first. See the module
    docstring for formats, flattening, dtypes and errors.
    """
    fmt = _check_format(format)
    if isinstance(columns, str):
        columns = [columns]
    columns = None if columns is None else list(columns)
    if columns is not None and (not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns)):
        raise ValueError(f"columns must be distinct column names, got {columns!r}")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    if not isinstance(sep, str):
        raise ValueError(f"sep must be a string, got {sep!r}")
    if records_key is not None and not isinstance(records_key, str):
        raise ValueError(f"records_key must be a string, got {records_key!r}")
    codecs.lookup(encoding)  # LookupError for an unknown encoding, now rather than later
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(errno.ENOENT, "no such event file", str(p))
        if p.is_dir():
            raise IsADirectoryError(errno.EISDIR, "expected an event file, got a directory", str(p))
    elif not hasattr(path, "read"):
        raise TypeError(f"path must be a file path or a binary file object, got {type(path).__name__}")
    opts = _Options(fmt, flatten, sep, columns, chunk_rows, records_key, dict(dtypes or {}), encoding)
    return _generate(path, opts)


def read_events(path: str | os.PathLike | Any, *, format: str | None = None, flatten: bool = True,
                sep: str = "_", columns: Sequence[str] | None = None, chunk_rows: int = 100_000,
                records_key: str | None = None, dtypes: Mapping[str, Any] | None = None,
                encoding: str = "utf-8") -> pd.DataFrame:
    """Read a whole event file into one DataFrame (the chunks of `iter_events`, concatenated).

    The index is 0..n-1. A column whose dtype differs between chunks gets the dtype pandas
    would give the whole column (e.g. float with NaN where a key is absent). `chunk_rows` only
    changes how the file is read, not the result. An empty list of records gives an empty frame.
    """
    chunks = list(iter_events(path, format=format, flatten=flatten, sep=sep, columns=columns,
                              chunk_rows=chunk_rows, records_key=records_key, dtypes=dtypes,
                              encoding=encoding))
    if not chunks:
        names = [columns] if isinstance(columns, str) else list(columns or [])
        return pd.DataFrame(columns=names)
    df = chunks[0] if len(chunks) == 1 else _concat(chunks)
    if dtypes and len(chunks) > 1:
        df = df.astype({c: t for c, t in dtypes.items() if c in df.columns})
    df.index = pd.RangeIndex(len(df))
    return df


# ------------------------------------------------------------------------------------------ plumbing

class _Options:
    __slots__ = ("format", "flatten", "sep", "columns", "chunk_rows", "records_key", "dtypes", "encoding")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


def _check_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    key = str(fmt).lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {list(FORMATS)} (or 'ndjson')")
    return key


class _Chain(io.RawIOBase):
    """A raw binary stream that gives `head` first, then what `stream.read` gives."""

    def __init__(self, head: bytes, stream):
        super().__init__()
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head.nbytes:
            n = min(len(b), self._head.nbytes)
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _read_upto(stream, n: int) -> bytes:
    """Up to n bytes, fewer only at the end of the stream."""
    parts, got = [], 0
    while got < n:
        data = stream.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _text_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _format_from_name(name: str | None) -> str | None:
    if not name:
        return None
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


def _sniff(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head[len(codecs.BOM_UTF8):] if head.startswith(codecs.BOM_UTF8) else head
    text = text.lstrip()
    if text[:1] in (b"{", b"["):
        return "json"
    if len(head) < _HEAD_BYTES and _json_scalar(text):
        return "json"  # a whole file holding one number or string: refused as JSON, not read as an empty CSV
    first = text.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def _json_scalar(text: bytes) -> bool:
    try:
        value = json.loads(text)
    except ValueError:  # also UnicodeDecodeError
        return False
    return not isinstance(value, (dict, list))


def _looks_like_jsonl(head: bytes, encoding: str) -> bool:
    """True when the first line is a whole JSON object and another object follows it."""
    text = head.decode(_text_encoding(encoding), errors="ignore").lstrip()
    line, newline, rest = text.partition("\n")
    if not newline or not line.startswith("{"):
        return False
    try:
        first = json.loads(line)
    except ValueError:
        return False
    return isinstance(first, dict) and rest.lstrip().startswith("{")


class EventFileError(ValueError):
    """An event file that cannot be read as events (malformed, truncated or corrupt JSON, JSON lines, CSV,
    Parquet or gzip; a wrong encoding; nesting too deep): the message names the file and, where known, the
    line, offset or record."""


def _generate(source, opts: _Options) -> Iterator[pd.DataFrame]:
    """The chunks of ``_read``; whatever goes wrong reading the file's content is an ``EventFileError``."""
    name = _source_name(source)
    try:
        yield from _decoded(source, name, opts)
    except EventFileError:
        raise
    except (ValueError, RecursionError, OverflowError, IndexError, KeyError, csv.Error) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        if isinstance(e, RecursionError):
            msg = "the JSON nests too deeply"
        raise EventFileError(msg if name in msg else f"{name}: {msg}") from None


def _source_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    raw_name = getattr(source, "name", None)
    return str(raw_name) if isinstance(raw_name, (str, os.PathLike)) else "<stream>"


def _decoded(source, name: str, opts: _Options) -> Iterator[pd.DataFrame]:
    with ExitStack() as stack:
        try:
            yield from _read(source, name, opts, stack)
        except EOFError as e:
            raise EventFileError(f"truncated gzip stream in {name}: {e}") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise EventFileError(f"corrupt gzip data in {name}: {e}") from None
        except UnicodeDecodeError as e:
            raise EventFileError(f"{name} is not valid {opts.encoding} text ({e.reason}); "
                                 f"pass its encoding, e.g. encoding='latin-1'") from None


def _read(source, name: str, opts: _Options, stack: ExitStack) -> Iterator[pd.DataFrame]:
    path = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        raw = stack.enter_context(open(path, "rb"))
    else:
        raw = source
        if isinstance(raw.read(0), str):
            raise TypeError(f"{name} is open in text mode; open it in binary mode ('rb')")
    magic = _read_upto(raw, 2)
    if not magic:
        raise ValueError(f"empty file: {name}")
    gzipped = magic == _GZIP_MAGIC
    stream = io.BufferedReader(_Chain(magic, raw))
    if gzipped:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    head = _read_upto(stream, _HEAD_BYTES)
    if not head.strip():
        what = "gzip stream holds no data" if gzipped and not head else "only whitespace"
        raise ValueError(f"empty file: {name} ({what})")
    fmt = opts.format or _format_from_name(name) or _sniff(head)
    if fmt == "json" and opts.format is None and _looks_like_jsonl(head, opts.encoding):
        fmt = "jsonl"
    data = io.BufferedReader(_Chain(head, stream), buffer_size=1 << 16)

    if fmt == "parquet":
        if path is not None and not gzipped:
            target = str(path)
        else:  # pyarrow needs random access: spool the (decompressed) bytes to a temporary file
            target = stack.enter_context(tempfile.TemporaryFile())
            shutil.copyfileobj(data, target, 1 << 20)
            target.seek(0)
        yield from _parquet_chunks(target, name, opts)
        return
    if fmt in ("csv", "tsv"):
        yield from _csv_chunks(data, head, name, "\t" if fmt == "tsv" else ",", opts)
        return
    text = io.TextIOWrapper(data, encoding=_text_encoding(opts.encoding), newline="")
    records = _jsonl_records(text, name) if fmt == "jsonl" else _JsonRecords(text, name, opts.records_key)
    yield from _record_chunks(records, name, opts)


# ------------------------------------------------------------------------------------------ records

def _flatten(record: dict, sep: str) -> dict:
    """{"a": {"b": 1}} -> {"a<sep>b": 1}, at any depth; empty objects and lists are kept as values."""
    for v in record.values():
        if isinstance(v, dict):
            break
    else:
        return record
    out: dict = {}
    _flatten_into(out, record, "", sep)
    return out


def _flatten_into(out: dict, d: dict, prefix: str, sep: str) -> None:
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict) and v:
            _flatten_into(out, v, key + sep, sep)
        else:
            out[key] = v


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """pd.concat, then object columns that had other dtypes in some frames get their inferred dtype."""
    df = pd.concat(frames, ignore_index=True, sort=False)
    for c in df.columns:
        if df[c].dtype == object and len({str(f[c].dtype) if c in f.columns else None for f in frames}) > 1:
            df[c] = df[c].infer_objects()
    return df


def _record_chunks(records: Iterable[dict], name: str, opts: _Options) -> Iterator[pd.DataFrame]:
    """DataFrames of chunk_rows records; built from pieces of at most _PIECE_ROWS records, since
    Python dicts take far more memory than the frame they become."""
    seen: set = set()
    batch: list[dict] = []
    pieces: list[pd.DataFrame] = []
    start = filled = 0
    limit = min(opts.chunk_rows, _PIECE_ROWS)
    for rec in records:
        batch.append(_flatten(rec, opts.sep) if opts.flatten else rec)
        if len(batch) == limit:
            pieces.append(pd.DataFrame(batch))
            filled += len(batch)
            batch = []
            if filled == opts.chunk_rows:
                yield _chunk(pieces, start, opts, seen)
                start += filled
                filled, pieces = 0, []
            limit = min(_PIECE_ROWS, opts.chunk_rows - filled)
    if batch:
        pieces.append(pd.DataFrame(batch))
        filled += len(batch)
    if pieces:
        yield _chunk(pieces, start, opts, seen)
        start += filled
    if opts.columns is not None and start > 0:
        missing = [c for c in opts.columns if c not in seen]
        if missing:
            raise ValueError(f"column(s) {missing} not found in {name}; no record has them"
                             + (" (flatten=False: use top-level names)" if not opts.flatten else ""))


def _chunk(pieces: list[pd.DataFrame], start: int, opts: _Options, seen: set) -> pd.DataFrame:
    df = pieces[0] if len(pieces) == 1 else _concat(pieces)
    df.index = pd.RangeIndex(start, start + len(df))
    if opts.columns is not None:
        seen.update(c for c in opts.columns if c in df.columns)
        df = df.reindex(columns=opts.columns)
    if opts.dtypes:
        df = df.astype({c: t for c, t in opts.dtypes.items() if c in df.columns})
    return df


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _ends_early(msg: str, tail: str) -> bool:
    """Whether a JSON decoding error at `tail` (the text from the error on) comes from the text ending."""
    if msg.startswith("Unterminated string") or not tail.strip():
        return True
    if msg.startswith("Invalid \\uXXXX escape") and '"' not in tail:
        return True
    return _PARTIAL_NUMBER.fullmatch(tail) is not None or any(lit.startswith(tail) for lit in _LITERALS)


def _jsonl_records(text, name: str) -> Iterator[dict]:
    offset = 0
    n = 0
    for lineno, line in enumerate(text, 1):
        at = offset
        offset += len(line)
        if not line.strip():
            continue
        n += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            where = f"line {lineno}, column {e.pos + 1} (char offset {at + e.pos}; record {n})"
            if not line.endswith(("\n", "\r")) and _ends_early(e.msg, line[e.pos:]):
                raise ValueError(f"truncated JSON lines file {name}: the file ends inside the record "
                                 f"on {where}") from None
            raise ValueError(f"malformed JSON in {name} on {where}: {e.msg}") from None
        if not isinstance(rec, dict):
            raise ValueError(f"line {lineno} of {name} (record {n}) is {_kind(rec)}, not a JSON object")
        yield rec


class _JsonRecords:
    """The records of one JSON document (a list, or an object holding a list), one at a time.

    A sliding text buffer is filled `_TEXT_CHUNK` characters at a time; each value is decoded
    with `json.JSONDecoder.raw_decode`, and text already decoded is dropped when more is read.
    """

    def __init__(self, text, name: str, records_key: str | None, chunk: int | None = None):
        self.text, self.name, self.records_key = text, name, records_key
        self.chunk = chunk or _TEXT_CHUNK
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0           # next character to look at, in buf
        self.base = 0          # character offset of buf[0] in the file
        self.base_line = 0     # newlines before buf[0]
        self.line_start = 0    # offset of the start of the line holding buf[0]
        self.eof = False

    # -- buffer
    def _more(self) -> bool:
        """Read more text (dropping what was decoded); False at the end of the file."""
        if self.eof:
            return False
        if self.pos:
            k = self.buf.rfind("\n", 0, self.pos)
            if k >= 0:
                self.base_line += self.buf.count("\n", 0, self.pos)
                self.line_start = self.base + k + 1
            self.base += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        data = self.text.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _peek(self) -> str:
        """The next non-whitespace character ("" at the end of the file), not consumed."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _where(self, pos: int | None = None) -> str:
        p = self.pos if pos is None else pos
        k = self.buf.rfind("\n", 0, p)
        line = self.base_line + self.buf.count("\n", 0, p) + 1
        col = (p - k) if k >= 0 else (self.base + p - self.line_start + 1)
        return f"line {line}, column {col} (char offset {self.base + p})"

    def _truncated(self, inside: str) -> ValueError:
        return ValueError(f"truncated JSON in {self.name}: the file ends inside {inside} at {self._where()}")

    def _malformed(self, what: str, expected: str) -> ValueError:
        found = self.buf[self.pos:self.pos + 20]
        return ValueError(f"malformed JSON in {self.name} {what}, {self._where()}: expected {expected}, "
                          f"found {found!r}")

    def _value(self, what: str) -> Any:
        """Decode the JSON value starting at pos."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if not self.eof and (e.msg.startswith("Unterminated string") or e.pos >= len(self.buf) - 64):
                    self._more()  # the value may just go on past the buffer
                    continue
                if self.eof and _ends_early(e.msg, self.buf[e.pos:]):
                    raise ValueError(f"truncated JSON in {self.name}: the file ends inside {what} at "
                                     f"{self._where(e.pos)}") from None
                raise ValueError(f"malformed JSON in {self.name} at {what}, {self._where(e.pos)}: "
                                 f"{e.msg}") from None
            if end >= len(self.buf) and not self.eof:
                self._more()  # a number or literal at the end of the buffer may go on
                continue
            self.pos = end
            return value

    # -- structure
    def _items(self, label: str, objects: bool) -> Iterator[Any]:
        """The elements of the list whose "[" was just consumed; `objects` demands JSON objects."""
        n = 0
        c = self._peek()
        if c == "]":
            self.pos += 1
            return
        while True:
            n += 1
            if c == "":
                raise self._truncated(f"the list of {label}s, after {label} {n - 1}")
            start = self.base + self.pos
            value = self._value(f"{label} {n}")
            if objects and not isinstance(value, dict):
                raise ValueError(f"{label} {n} in {self.name} is {_kind(value)}, not a JSON object, at "
                                 f"{self._where(start - self.base)}")
            yield value
            c = self._peek()
            if c == ",":
                self.pos += 1
                c = self._peek()
                if c == "]":
                    raise self._malformed(f"at the end of the list of {label}s", f"{label} {n + 1} after ','")
                continue
            if c == "]":
                self.pos += 1
                return
            if c == "":
                raise self._truncated(f"the list of {label}s, after {label} {n}")
            raise self._malformed(f"after {label} {n}", "',' or ']'")

    def _skip(self) -> None:
        if self._peek() == "[":
            self.pos += 1
            for _ in self._items("item", objects=False):
                pass
        else:
            self._value("a value of the top-level object")

    def _end(self) -> None:
        if self._peek() != "":
            raise ValueError(f"malformed JSON in {self.name}: extra data after the JSON document at "
                             f"{self._where()}; for one JSON object per line pass format='jsonl'")

    def __iter__(self) -> Iterator[dict]:
        c = self._peek()
        if c == "[":
            self.pos += 1
            yield from self._items("record", objects=True)
            self._end()
            return
        if c != "{":
            raise ValueError(f"the JSON document in {self.name} is not an object or a list (it starts "
                             f"with {self.buf[self.pos:self.pos + 20]!r})")
        self.pos += 1
        found, keys = False, []
        c = self._peek()
        while c != "}":
            if c == "":
                raise self._truncated("the top-level object")
            if c != '"':
                raise self._malformed("in the top-level object", "a key in double quotes")
            key = self._value("a key of the top-level object")
            keys.append(key)
            c = self._peek()
            if c != ":":
                if c == "":
                    raise self._truncated("the top-level object")
                raise self._malformed(f"after key {key!r}", "':'")
            self.pos += 1
            c = self._peek()
            if c == "":
                raise self._truncated(f"the top-level object, before the value of key {key!r}")
            if not found and (key == self.records_key if self.records_key is not None else c == "["):
                if c != "[":
                    value = self._value(f"the value of key {key!r}")
                    raise ValueError(f"key {key!r} in {self.name} holds {_kind(value)}, not a list of records")
                self.pos += 1
                found = True
                yield from self._items("record", objects=True)
            else:
                self._skip()
            c = self._peek()
            if c == ",":
                self.pos += 1
                c = self._peek()
                if c == "}":
                    raise self._malformed("in the top-level object", "a key after ','")
            elif c == "":
                raise self._truncated("the top-level object")
            elif c != "}":
                raise self._malformed(f"after the value of key {key!r}", "',' or '}'")
        self.pos += 1
        if not found:
            if self.records_key is not None:
                raise ValueError(f"no key {self.records_key!r} in the JSON object in {self.name} "
                                 f"(its keys: {keys[:20]})")
            raise ValueError(f"the JSON object in {self.name} holds no list of records (its keys: {keys[:20]}); "
                             f"for one JSON object per line pass format='jsonl'")
        self._end()


# ------------------------------------------------------------------------------------------ CSV, Parquet

def _stringy(name: str) -> bool:
    n = name.lower()
    return n == "id" or n.endswith(_STRING_SUFFIXES)


def _csv_chunks(data, head: bytes, name: str, delimiter: str, opts: _Options) -> Iterator[pd.DataFrame]:
    encoding = _text_encoding(opts.encoding)
    header = None
    first, newline, _ = head.partition(b"\n")
    if newline or len(head) < _HEAD_BYTES:
        header = next(csv.reader([first.decode(encoding, errors="replace").rstrip("\r")], delimiter=delimiter), [])
    dtype = {c: str for c in header or () if _stringy(c)}
    dtype.update(opts.dtypes)
    if opts.columns is not None and header is not None:
        missing = [c for c in opts.columns if c not in header]
        if missing:
            raise ValueError(f"column(s) {missing} not found in {name}; it has {header}")
    text = io.TextIOWrapper(data, encoding=encoding, newline="")
    if header:
        text = _FieldCounter(text, delimiter, len(header), name)
    try:
        reader = pd.read_csv(text, sep=delimiter, chunksize=opts.chunk_rows, dtype=dtype or None,
                             usecols=opts.columns, keep_default_na=True)
        with reader:
            for chunk in reader:
                yield chunk if opts.columns is None else chunk[opts.columns]
    except pd.errors.EmptyDataError:
        raise ValueError(f"empty file: {name} (no header row)") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} in {name}: {str(e).strip()}") from None


class _FieldCounter(io.TextIOBase):
    """Passes a CSV text stream through, refusing a line with fewer fields than the header (pandas would pad
    it with NaN). Lines are counted by their delimiters, so once a quote appears (a quoted field may hold
    delimiters or line breaks) the check stops; pandas still refuses lines with too many fields."""

    def __init__(self, text, delimiter: str, n_fields: int, name: str):
        self.text, self.delimiter, self.n_fields, self.name = text, delimiter, n_fields, name
        self.line, self.tail, self.on = 0, "", True

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> str:
        chunk = self.text.read(n)
        if self.on:
            self._check(chunk)
        return chunk

    def _check(self, chunk: str) -> None:
        if '"' in chunk:
            self.on = False
            return
        lines = (self.tail + chunk).split("\n")
        self.tail = lines.pop() if chunk else ""
        counts = [ln.count(self.delimiter) for ln in lines]
        short = [j for j, c in enumerate(counts) if c < self.n_fields - 1 and lines[j].strip()]
        short = [j for j in short if self.line + j > 0]  # line 1 is the header
        if short:
            j = short[0]
            raise ValueError(f"malformed {'TSV' if self.delimiter == chr(9) else 'CSV'} in {self.name}: line "
                             f"{self.line + j + 1} has {counts[j] + 1} field(s) where the header has "
                             f"{self.n_fields}: {lines[j][:80]!r}")
        self.line += len(lines)


def _flat_fields(field, prefix: str, sep: str, root: str, out: dict) -> None:
    import pyarrow as pa

    name = prefix + field.name
    if pa.types.is_struct(field.type) and field.type.num_fields:
        for i in range(field.type.num_fields):
            _flat_fields(field.type.field(i), name + sep, sep, root, out)
    else:
        out[name] = root


def _flat_arrays(name: str, array, sep: str, names: list, arrays: list) -> None:
    import pyarrow as pa

    if pa.types.is_struct(array.type) and array.type.num_fields:
        for i, child in enumerate(array.flatten()):
            _flat_arrays(name + sep + array.type.field(i).name, child, sep, names, arrays)
    else:
        names.append(name)
        arrays.append(array)


def _batches(pf, name: str, pa, **kw):
    """``pf.iter_batches(**kw)``; corrupt pages raise a ValueError naming the file (pyarrow's own are OSErrors)."""
    it = pf.iter_batches(**kw)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as e:
            raise ValueError(f"cannot read Parquet file {name}: {e}") from None
        yield batch


def _parquet_chunks(target, name: str, opts: _Options) -> Iterator[pd.DataFrame]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a test dependency
        raise ImportError("reading Parquet needs pyarrow: pip install 'featvec[parquet]'") from None
    try:
        pf = pq.ParquetFile(target)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"cannot read Parquet file {name}: {e}") from None
    schema = pf.schema_arrow
    roots = None
    if opts.columns is not None:
        flat: dict[str, str] = {}
        for field in schema:
            if opts.flatten:
                _flat_fields(field, "", opts.sep, field.name, flat)
            else:
                flat[field.name] = field.name
        missing = [c for c in opts.columns if c not in flat]
        if missing:
            raise ValueError(f"column(s) {missing} not found in {name}; it has {list(flat)}")
        roots = list(dict.fromkeys(flat[c] for c in opts.columns))
    start = 0
    for batch in _batches(pf, name, pa, batch_size=opts.chunk_rows, columns=roots):
        names: list = []
        arrays: list = []
        for field, array in zip(batch.schema, batch.columns):
            if opts.flatten:
                _flat_arrays(field.name, array, opts.sep, names, arrays)
            else:
                names.append(field.name)
                arrays.append(array)
        df = pa.Table.from_arrays(arrays, names=names).to_pandas()
        for col, array in zip(names, arrays):  # list cells as Python lists, not numpy arrays
            if pa.types.is_list(array.type) or pa.types.is_large_list(array.type) \
                    or pa.types.is_fixed_size_list(array.type):
                df[col] = pd.Series(array.to_pylist(), index=df.index, dtype=object)
        df.index = pd.RangeIndex(start, start + len(df))
        start += len(df)
        if opts.columns is not None:
            df = df[opts.columns]
        if opts.dtypes:
            df = df.astype({c: t for c, t in opts.dtypes.items() if c in df.columns})
        yield df
