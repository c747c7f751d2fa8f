"""The conjugate-gradient half-step of implicit ALS as one fused loop per row (numba, cached on disk).

For row u with columns I_u, confidences c and L2 weight lam_u, ``cg_steps`` CG iterations from the current
x_u on (G + lam_u I + sum_i (c_ui - 1) y_i y_i^T) x = sum_i c_ui y_i, G = Y^T Y. Rows are independent, so
threads take contiguous row ranges and the result does not depend on the thread count.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(inline="always")
def _dot(a, b):
    s = a[0] * 0
    for f in range(a.shape[0]):
        s += a[f] * b[f]
    return s

@nb.njit(inline="always")
def _sparse_part(Y, cols, wa, wb, v, out):
    """out += sum_k (wa_k - wb_k (y_k . v)) y_k, four columns at a time."""
    d = v.shape[0]
    n = cols.shape[0]
    k = 0
    while k + 4 <= n:
        y0 = Y[cols[k]]; y1 = Y[cols[k + 1]]; y2 = Y[cols[k + 2]]; y3 = Y[cols[k + 3]]
        s0 = v[0] * 0; s1 = s0; s2 = s0; s3 = s0
        for f in range(d):
            s0 += y0[f] * v[f]; s1 += y1[f] * v[f]; s2 += y2[f] * v[f]; s3 += y3[f] * v[f]
        t0 = wa[k] - wb[k] * s0; t1 = wa[k + 1] - wb[k + 1] * s1
        t2 = wa[k + 2] - wb[k + 2] * s2; t3 = wa[k + 3] - wb[k + 3] * s3
        for f in range(d):
            out[f] += t0 * y0[f] + t1 * y1[f] + t2 * y2[f] + t3 * y3[f]
        k += 4
    while k < n:
        y = Y[cols[k]]
        t = wa[k] - wb[k] * _dot(y, v)
        for f in range(d):
            out[f] += t * y[f]
        k += 1


@nb.njit(inline="always")
def _gram(G, v, lam, out):
    """out = (G + lam I) v for a symmetric G, a column at a time (independent lanes, no reductions)."""
    d = v.shape[0]
    for a in range(d):
        out[a] = lam * v[a]
    for b in range(d):
        vb = v[b]
        g = G[b]
        for a in range(d):
            out[a] += g[a] * vb


def _sig(t: str) -> str:
    return f"void({t}[:, ::1], {t}[:, ::1], {t}[:, ::1], i8[::1], i4[::1], {t}[::1], {t}[::1], i8, i8, i8)"


@nb.njit([_sig("f4"), _sig("f8")], cache=True, nogil=True, fastmath=True)
def cg_rows(X, Y, G, indptr, indices, conf, lam, lo, hi, steps):
    """Update rows lo..hi-1 of ``X`` in place (``lam``: one L2 weight per row of the CSR)."""
    d = X.shape[1]
    r = np.empty(d, dtype=X.dtype)
    p = np.empty(d, dtype=X.dtype)
    ap = np.empty(d, dtype=X.dtype)
    base = indptr[lo]
    zeros = np.zeros(indptr[hi] - base, dtype=X.dtype)
    one_minus_c = 1 - conf[base:indptr[hi]]
    for u in range(lo, hi):
        a, b = indptr[u], indptr[u + 1]
        cols = indices[a:b]
        x = X[u]
        lu = lam[u]
        _gram(G, x, lu, r)
        for f in range(d):
            r[f] = -r[f]
        _sparse_part(Y, cols, conf[a:b], -one_minus_c[a - base:b - base], x, r)
        rs = _dot(r, r)
        for f in range(d):
            p[f] = r[f]
        for _ in range(steps):
            if rs < 1e-20:
                break
            _gram(G, p, lu, ap)
            _sparse_part(Y, cols, zeros[a - base:b - base], one_minus_c[a - base:b - base], p, ap)
            pap = _dot(p, ap)
            if pap <= 0:
                break
            alpha = rs / pap
            for f in range(d):
                x[f] += alpha * p[f]
                r[f] -= alpha * ap[f]
            rs_new = _dot(r, r)
            beta = rs_new / rs
            for f in range(d):
                p[f] = r[f] + beta * p[f]
            rs = rs_new


def row_ranges(indptr: np.ndarray, lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges of rows lo..hi-1 with about equal work (non-zeros plus a row's own cost)."""
    if parts <= 1 or hi - lo < 2 * parts:
        return [(lo, hi)]
    work = np.cumsum(np.diff(indptr[lo:hi + 1]) + 8)
    cuts = np.searchsorted(work, work[-1] * np.arange(1, parts) / parts) + lo
    bounds = [lo, *sorted(set(int(c) for c in cuts)), hi]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
