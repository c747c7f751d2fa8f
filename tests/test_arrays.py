"""featvec.arrays.unique gives exactly what np.unique gives."""
from __future__ import annotations

import numpy as np
import pytest

from featvec.arrays import unique


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
