"""featvec.util.arrays: unique gives exactly what np.unique gives; distinct_pairs what a sort of the pairs gives;
the dense id lookup what pandas' indexer gives."""
from __future__ import annotations

import numpy as np
import pytest

import pandas as pd

from featvec.util.arrays import aligned, distinct_pairs, lookup, lookup_table, unique
from featvec.encoding import Vocabulary


@pytest.mark.parametrize("values", [
    np.random.default_rng(0).integers(-50, 50, 1000),
    np.random.default_rng(1).integers(0, 2**40, 500).astype(np.uint64),
    np.array([3, 3, 3]), np.array([], dtype=np.int64), np.array([True, False, True]),
    np.array([1.5, np.nan, 1.5, np.nan]),
])
def test_unique_matches_numpy(values):
    for flags in [(False, False, False), (True, True, True), (True, False, False), (False, True, False),
                  (False, False, True)]:
        got = unique(values, *flags)
        want = np.unique(values, *flags)
        if not isinstance(want, tuple):
            got, want = (got,), (want,)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g).reshape(-1), np.asarray(w).reshape(-1))


def _pairs_by_sorting(u, i, w):
    key = u.astype(np.int64) * (int(i.max()) + 1) + i
    uniq, inv = np.unique(key, return_inverse=True)
    ws = np.bincount(inv, weights=np.broadcast_to(w, key.shape), minlength=len(uniq))
    keep = ws > 0
    return uniq[keep] // (int(i.max()) + 1), uniq[keep] % (int(i.max()) + 1), ws[keep]


@pytest.mark.parametrize("weights", ["one", "varied", "some zero"])
def test_distinct_pairs_sorts_merges_and_drops_zero_weights(weights):
    rng = np.random.default_rng(4)
    u, i = rng.integers(0, 30, 3000), rng.integers(0, 50, 3000)
    w = {"one": np.full(3000, 2.0), "varied": rng.random(3000), "some zero": rng.integers(0, 2, 3000) * 1.5}[weights]
    got = distinct_pairs(u, i, w)
    want = _pairs_by_sorting(u, i, w)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
    assert [a.dtype for a in got] == [np.int64, np.int64, np.float64]
    one = distinct_pairs(u, i, 1.0)  # one number for every pair: the counts
    np.testing.assert_allclose(one[2], _pairs_by_sorting(u, i, np.ones(3000))[2])
    assert [len(a) for a in distinct_pairs(np.zeros(0, int), np.zeros(0, int), 1.0)] == [0, 0, 0]


def test_lookup_maps_known_ids_and_gives_0_elsewhere():
    values = np.array([7, -3, 12, 40])
    lo, table = lookup_table(values, 1000)
    got = lookup(np.array([12, -3, 5, 40, 41, -4, 7, 10**12]), lo, table)
    assert got.tolist() == [3, 2, 0, 4, 0, 0, 1, 0]
    assert lookup_table(np.array([0, 10**9]), 1000) is None  # too sparse for a table
    assert lookup_table(np.array(["a", "b"]), 1000) is None
    assert lookup_table(np.array([2**63], dtype=np.uint64), 1000) is None


@pytest.mark.parametrize("ids", [
    np.array([5, 3, 9, 2, 100], dtype=np.int64), np.array([5, 3, 9, 2, 100], dtype=np.int32),
    np.array([5, 3, 9, 2, 100], dtype=np.uint16),
])
def test_vocabulary_encodes_integer_ids_as_pandas_does(ids):
    vocab = Vocabulary(sorted([2, 3, 5, 9, 11]))
    expected = vocab._index.get_indexer(pd.Index(ids)) + 1
    assert vocab.encode(ids).tolist() == expected.tolist() == [3, 2, 4, 1, 0]
    assert vocab.encode(np.array([True, False])).tolist() == [0, 0]  # booleans are not the ids 1 and 0
    assert Vocabulary(["a", "b"]).encode(np.array(["b", "z"], dtype=object)).tolist() == [2, 0]


def test_aligned_starts_on_a_cache_line_and_keeps_the_values():
    a = np.arange(30, dtype=np.float64).reshape(5, 6)
    for _ in range(5):
        b = aligned(a)
        assert b.ctypes.data % 64 == 0 and b.dtype == np.float32 and b.flags.c_contiguous
        np.testing.assert_array_equal(b, a)


def test_in_csr_finds_exactly_the_stored_pairs():
    from featvec.evaluation.ranking import csr_from_pairs
    from featvec.util.arrays import in_csr

    rng = np.random.default_rng(0)
    r, c = rng.integers(0, 50, 2000), rng.integers(0, 300, 2000)
    ptr, idx = csr_from_pairs(r, c, 60)
    qr, qc = rng.integers(-1, 62, 5000), rng.integers(0, 300, 5000)
    stored = set(zip(r.tolist(), c.tolist()))
    assert in_csr(ptr, idx, qr, qc).tolist() == [(a, b) in stored for a, b in zip(qr.tolist(), qc.tolist())]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_distinct_csr_is_the_sorted_distinct_pairs_per_row(dtype):
    from featvec.util.arrays import distinct_csr

    rng = np.random.default_rng(1)
    r, c = rng.integers(0, 40, 3000).astype(dtype), rng.integers(0, 90, 3000).astype(dtype)
    ptr, idx = distinct_csr(r, c, 45)
    assert idx.dtype == dtype and ptr.dtype == np.int64 and len(ptr) == 46
    pairs = sorted(set(zip(r.tolist(), c.tolist())))
    assert [(row, int(col)) for row in range(45) for col in idx[ptr[row]:ptr[row + 1]]] == pairs
    with pytest.raises(ValueError, match="row indices"):
        distinct_csr(np.array([0, 5]), np.array([1, 2]), 5)


def test_row_hits_and_rows_sorted():
    from featvec.util.arrays import row_hits, rows_sorted

    ptr, idx = np.array([0, 2, 2, 5]), np.array([3, 7, 1, 4, 9])
    ranked = np.array([[7, -1, 3], [1, 3, 0], [9, 2, 1]])
    np.testing.assert_array_equal(row_hits(ptr, idx, ranked), [[True, False, True], [False, False, False],
                                                               [True, False, True]])
    assert rows_sorted(ptr, idx) and rows_sorted(np.array([0, 3]), np.array([2, 2, 5]))
    assert not rows_sorted(ptr, np.array([3, 7, 4, 1, 9]))
