"""Feat2Vec's factorization machine trained one record at a time (numba, cached on disk).

A record is G groups, each a slot list over one stacked table (see ``slots``): group g of record s is
entity ``s * G + g`` of the slot CSR. score = offset + sum of group biases + FM over the group vectors,
FM = (|sum_g v_g|^2 - sum_g |v_g|^2) / 2, whose gradient for v_g is (sum_h v_h) - v_g.

Each record draws ``n`` negatives as ``GroupSampler`` does: a unit j with probability ``unit_p``, a value of
it from its flattened counts, redrawn (up to ``tries`` times) while the corrupted record equals an observed
one (a 64-bit hash of the units' value codes); the negative takes unit j's groups from the value's first
record. A negative differs from its record in one unit only, so its score costs that unit's groups.
Loss: NCE (noise probability ``q``) or negative sampling; one SGD step per record for every row it used.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from featvec.fused.kernels import gather, next_uniform, scatter, softplus, arr, F4, F8, I4, I8, SIDE

# units: unit_ptr, unit_groups, group_unit, group_dim (1: has a vector)
UNITS = nb.types.Tuple((arr(I8), arr(I4), arr(I4), arr(nb.int8)))
# sampler: unit_cdf, unit_p, value_off, value_cdf, value_p, first_row, codes [n, U], mult, hashes, observed, q_pos
FM_SAMPLER = nb.types.Tuple((arr(F8), arr(F8), arr(I8), arr(F8), arr(F8), arr(I8), arr(I8, 2), arr(nb.uint64),
                             arr(nb.uint64), arr(nb.uint64), arr(F8)))
FM_SIG = F8(arr(I4), I8, I8, SIDE, UNITS, FM_SAMPLER, nb.uint64, arr(F4), arr(F8))


@nb.njit(inline="always")
def _draw_value(state, cdf, lo, hi):
    state, x = next_uniform(state)
    base = cdf[lo - 1] if lo > 0 else 0.0
    target = base + x * (cdf[hi - 1] - base)
    a, b = lo, hi - 1
    while a < b:
        mid = (a + b) >> 1
        if cdf[mid] <= target:
            a = mid + 1
        else:
            b = mid
    return state, a - lo


@nb.njit(inline="always")
def _observed(observed, h):
    lo, hi = 0, observed.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if observed[mid] < h:
            lo = mid + 1
        else:
            hi = mid
    return lo < observed.shape[0] and observed[lo] == h


@nb.njit(inline="always")
def _buffers(G, d, n, unit_ptr):
    """fm_block's work arrays: V, bg, T (the record), Vn, bn, Tn (its negatives), unit_k, rep_k, c_k, gpos, cb,
    g_tmp; a negative holds up to the largest unit's group count."""
    max_u = 0
    for j in range(unit_ptr.shape[0] - 1):
        max_u = max(max_u, unit_ptr[j + 1] - unit_ptr[j])
    return (np.empty((G, d), dtype=np.float32), np.empty(G, dtype=np.float32), np.empty(d, dtype=np.float32),
            np.empty((n, max_u, d), dtype=np.float32), np.empty((n, max_u), dtype=np.float32),
            np.empty((n, d), dtype=np.float32), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.float32), np.empty((G, d), dtype=np.float32), np.empty(G, dtype=np.float32),
            np.empty(d, dtype=np.float32))


@nb.njit(inline="always")
def _record(ptr, rows, wts, W, B, Wp, Bp, loc, s, G, group_dim, V, bg, T):
    """Record s's group vectors into V (biases into bg), their total into T; returns (bias, sum of |v_g|^2)."""
    d = W.shape[1]
    zero = np.float32(0.0)
    for f in range(d):
        T[f] = zero
    s2 = zero
    bias = zero
    for g in range(G):
        bg[g] = gather(ptr, rows, wts, W, B, Wp, Bp, loc, False, s * G + g, V[g])
        bias += bg[g]
        if group_dim[g] > 0:
            for f in range(d):
                T[f] += V[g, f]
                s2 += V[g, f] * V[g, f]
    return bias, s2


@nb.njit(inline="always")
def _score_negative(ptr, rows, wts, W, B, Wp, Bp, loc, unit_ptr, unit_groups, group_dim, i, j, rep, V, bg, T, off,
                    bias, s2, Vn, bn, Tn):
    """Negative i: the record with unit j's groups taken from record rep (into Vn[i], bn[i]; total Tn[i]).
    Returns its score (offset ``off``)."""
    G, d = V.shape[0], W.shape[1]
    for f in range(d):
        Tn[i, f] = T[f]
    s2n = s2
    bias_n = bias
    for a in range(unit_ptr[j], unit_ptr[j + 1]):
        g = unit_groups[a]
        u = a - unit_ptr[j]
        bn[i, u] = gather(ptr, rows, wts, W, B, Wp, Bp, loc, False, rep * G + g, Vn[i, u])
        bias_n += bn[i, u] - bg[g]
        if group_dim[g] > 0:
            for f in range(d):
                Tn[i, f] += Vn[i, u, f] - V[g, f]
                s2n += Vn[i, u, f] * Vn[i, u, f] - V[g, f] * V[g, f]
    tt = np.float32(0.0)
    for f in range(d):
        tt += Tn[i, f] * Tn[i, f]
    return off + bias_n + np.float32(0.5) * (tt - s2n)


@nb.njit(inline="always")
def _step_negatives(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, unit_ptr, unit_groups, group_dim, n, unit_k, rep_k,
                    c_k, Vn, Tn, g_tmp, lr, reg):
    """The negatives' own groups step (gradient c_k (T_k - v), bias c_k)."""
    G, d, zero = group_dim.shape[0], W.shape[1], np.float32(0.0)
    for i in range(n):
        j = unit_k[i]
        c = c_k[i]
        for a in range(unit_ptr[j], unit_ptr[j + 1]):
            g = unit_groups[a]
            u = a - unit_ptr[j]
            if group_dim[g] > 0:
                for f in range(d):
                    g_tmp[f] = Tn[i, f] - Vn[i, u, f]
            scatter(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, False, rep_k[i] * G + g, c, g_tmp, c,
                    lr if group_dim[g] > 0 else zero, lr, reg, zero)


@nb.njit(inline="always")
def _step_record(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, group_unit, group_dim, s, n, c_pos, unit_k, c_k, V, T,
                 Tn, gpos, cb, g_tmp, lr, reg):
    """Record s's groups step: c_pos (T - v_g) + sum over the negatives keeping g of c_k (T_k - v_g)."""
    G, d, one, zero = group_unit.shape[0], W.shape[1], np.float32(1.0), np.float32(0.0)
    for g in range(G):
        cb[g] = c_pos
        for f in range(d):
            gpos[g, f] = c_pos * T[f]
    for i in range(n):
        j = unit_k[i]
        c = c_k[i]
        for g in range(G):
            if group_unit[g] != j:
                cb[g] += c
                for f in range(d):
                    gpos[g, f] += c * Tn[i, f]
    for g in range(G):
        if group_dim[g] > 0:
            for f in range(d):
                g_tmp[f] = gpos[g, f] - cb[g] * V[g, f]
        scatter(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, False, s * G + g, one, g_tmp, cb[g],
                lr if group_dim[g] > 0 else zero, lr, reg, zero)


@nb.njit(FM_SIG, cache=True, nogil=True, fastmath=True)
def fm_block(samples, start, end, side, units, sampler, seed, offset, hyper):
    """Records ``samples[start:end]``. hyper: lr, reg, n negatives, nce (1) or negative sampling (0),
    tries, lr of the offset. ``offset`` (one value) steps too. Returns the summed loss."""
    ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt = side
    unit_ptr, unit_groups, group_unit, group_dim = units
    unit_cdf, unit_p, value_off, value_cdf, value_p, first_row, codes, mult, hashes, observed, q_pos = sampler
    lr, reg = np.float32(hyper[0]), np.float32(hyper[1])
    n, nce, tries, lr_off = int(hyper[2]), hyper[3] > 0, int(hyper[4]), hyper[5]
    G = group_unit.shape[0]
    d = W.shape[1]
    V, bg, T, Vn, bn, Tn, unit_k, rep_k, c_k, gpos, cb, g_tmp = _buffers(G, d, n, unit_ptr)
    state = np.uint64(seed)
    log_n = math.log(n)
    total = 0.0
    for k in range(start, end):
        s = samples[k]
        bias, s2 = _record(ptr, rows, wts, W, B, Wp, Bp, loc, s, G, group_dim, V, bg, T)
        tt = np.float32(0.0)
        for f in range(d):
            tt += T[f] * T[f]
        s_pos = offset[0] + bias + np.float32(0.5) * (tt - s2)
        x = s_pos - (log_n + math.log(q_pos[s])) if nce else s_pos
        total += softplus(-x)
        c_pos = np.float32(-1.0 / (1.0 + math.exp(x)))
        grad_off = c_pos
        for i in range(n):
            state, xu = next_uniform(state)
            j = 0
            while j < unit_cdf.shape[0] - 1 and unit_cdf[j] <= xu:
                j += 1
            lo, hi = value_off[j], value_off[j + 1]
            v = 0
            for _ in range(tries):
                state, v = _draw_value(state, value_cdf, lo, hi)
                h = hashes[s] + (np.uint64(v) - np.uint64(codes[s, j])) * mult[j]
                if not _observed(observed, h):
                    break
            val = lo + v
            unit_k[i], rep_k[i] = j, first_row[val]
            s_neg = _score_negative(ptr, rows, wts, W, B, Wp, Bp, loc, unit_ptr, unit_groups, group_dim, i, j,
                                    rep_k[i], V, bg, T, offset[0], bias, s2, Vn, bn, Tn)
            x = s_neg - (log_n + math.log(unit_p[j] * value_p[val])) if nce else s_neg
            total += softplus(x)
            c_k[i] = np.float32(1.0 / (1.0 + math.exp(-x)))
            grad_off += c_k[i]
        # the negatives' own groups step first (their gradients use the record's vectors before its step)
        _step_negatives(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, unit_ptr, unit_groups, group_dim, n, unit_k,
                        rep_k, c_k, Vn, Tn, g_tmp, lr, reg)
        _step_record(ptr, rows, wts, W, B, Wp, Bp, loc, bm, cnt, group_unit, group_dim, s, n, c_pos, unit_k, c_k, V,
                     T, Tn, gpos, cb, g_tmp, lr, reg)
        offset[0] -= np.float32(lr_off * grad_off)
    return total
