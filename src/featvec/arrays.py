"""Array helpers featvec needs at scale.

``unique``: ``np.unique`` for integer arrays by sorting. numpy 2.4's default hashes integers, which is
about fifteen times slower than a sort on millions of values (4.8 s against 0.3 s for 4M int64 here).
"""
from __future__ import annotations

import numpy as np


def unique(x, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False):
    """``np.unique(x, ...)`` for a 1-D array, the same results (sorted values, first positions, inverse,
    counts), by sorting when ``x`` holds integers."""
    x = np.asarray(x).reshape(-1)
    if x.dtype.kind not in "iub":
        return np.unique(x, return_index=return_index, return_inverse=return_inverse, return_counts=return_counts)
    order = np.argsort(x, kind="stable") if (return_index or return_inverse) else None
    s = x[order] if order is not None else np.sort(x)
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    out = [s[first]]
    if return_index:
        out.append(order[first])
    if return_inverse:
        inverse = np.empty(len(x), dtype=np.int64)
        inverse[order] = np.cumsum(first) - 1
        out.append(inverse)
    if return_counts:
        out.append(np.diff(np.r_[np.flatnonzero(first), len(s)]))
    return out[0] if len(out) == 1 else tuple(out)
