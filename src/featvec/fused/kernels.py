"""Per-example SGD kernels (numba, compiled once and cached on disk) for the dot-product models.

Each kernel runs the samples of one block (``samples[start:end]``) on one thread, the GIL released. A side
(users or items) is passed as its slots and stacked tables (see ``slots``) plus a private copy ``Wp`` /
``Bp`` of its shared rows: ``loc[r] >= 0`` sends row r to that copy, and ``cnt`` counts the steps each
copied row takes (the merge weighs the blocks' copies by it). ``hyper`` holds the scalars.

Each kernel comes in variants compiled for fixed choices (``rating_kernel(plain, sigmoid)``,
``pair_kernel(plain, loss)``): ``plain`` when every entity of both sides is its own row alone (weight 1,
never shared), which skips the slot lookups. A choice made at run time inside the loop costs several times
the arithmetic (the compiler can no longer vectorise the row loops), so each variant is its own function.

Update rule for every slot (row r, weight w) of an entity whose vector gets gradient ``g`` (bias: ``gb``):
``W[r] -= lr * (w * g + reg * |w| * W[r])``, ``B[r] -= lr_bias * (w * gb + bias_reg * B[r])`` where the
bias trains. Random numbers come from a per-block splitmix64 stream, so results do not depend on threads.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic


def arr(dt, nd=1):
    """The numba type of a C-contiguous array."""
    return nb.types.Array(dt, nd, "C")


I4, I8, F4, F8 = nb.int32, nb.int64, nb.float32, nb.float64
# a side: ptr, rows, weights, W, B, Wp, Bp, loc, bias mask, step counts
SIDE = nb.types.Tuple((arr(I8), arr(I4), arr(F4), arr(F4, 2), arr(F4), arr(F4, 2), arr(F4), arr(I4), arr(F4), arr(I4)))
# the negative sampler: item group pointers, items by group, cdf (empty: uniform), log q, seen ptr, seen items,
# and the seen pairs as one bit per (user, item) when that is small (empty: binary search in seen items)
SAMPLER = nb.types.Tuple((arr(I8), arr(I4), arr(F8), arr(F4), arr(I8), arr(I4), arr(nb.uint64)))
BLOCK = (arr(I4), I8, I8, arr(I4), arr(I4), arr(F4))
_opts = dict(cache=True, nogil=True, fastmath=True)
AHEAD = 8  # samples whose rows are fetched ahead of their step
RING = 32  # the negatives drawn ahead, by sample (more than 2 * AHEAD)


def _prefetcher(write: int):
    @intrinsic
    def prefetch(typingctx, a, idx):
        if not isinstance(a, nb.types.Array) or not isinstance(idx, nb.types.Integer):
            return None

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                "llvm.prefetch.p0")
            ptr = builder.bitcast(builder.gep(data, [args[1]]), i8p)
            builder.call(fn, [ptr, ir.Constant(i32, write), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()
        return nb.types.void(a, idx), codegen
    return prefetch


# prefetch(a, i): ask the CPU to bring element i (flat index) of the C-contiguous array a into cache without
# waiting for it, to be written (prefetch) or only read (prefetch_read, which leaves other cores' copies be)
prefetch, prefetch_read = _prefetcher(1), _prefetcher(0)


@nb.njit(inline="always")
def prefetch_row(W, r):
    """Prefetch row r of the 2-D table W, one cache line (16 floats) at a time."""
    d = W.shape[1]
    for f in range(0, d, 16):
        prefetch(W, r * d + f)


@nb.njit(inline="always")
def prefetch_ahead(samples, su, si, Wu, Wi, k):
    """Prefetch the user's and the item's rows of sample k (entities that are their own rows)."""
    s = samples[k]
    prefetch_row(Wu, su[s])
    prefetch_row(Wi, si[s])


@nb.njit(inline="always")
def prefetch_seen(seen_ptr, seen_idx, u):
    """Prefetch user u's sorted seen items: every line when they span at most 16, else 16 lines spread
    over them (the first probes of a binary search)."""
    lo, hi = seen_ptr[u], seen_ptr[u + 1]
    n = hi - lo
    if n <= 256:
        for p in range(lo, hi, 16):
            prefetch_read(seen_idx, p)
    else:
        for t in range(16):
            prefetch_read(seen_idx, lo + (n * t) // 16)


@nb.njit(inline="always")
def next_uniform(state):
    """splitmix64: the next state and a uniform float in [0, 1)."""
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(inline="always")
def gather(ptr, rows, wts, W, B, Wp, Bp, loc, plain, e, out):
    """out = the entity's vector; returns its bias."""
    d = out.shape[0]
    bias = np.float32(0.0)
    if plain:
        for f in range(d):
            out[f] = W[e, f]
        bias = B[e]
    else:
        for f in range(d):
            out[f] = 0.0
        for j in range(ptr[e], ptr[e + 1]):
            r = rows[j]
            w = wts[j]
            lr_ = loc[r]
            if lr_ < 0:
                for f in range(d):
                    out[f] += w * W[r, f]
                bias += w * B[r]
            else:
                for f in range(d):
                    out[f] += w * Wp[lr_, f]
                bias += w * Bp[lr_]
    return bias


@nb.njit(inline="always")
def scatter(ptr, rows, wts, W, B, Wp, Bp, loc, bmask, cnt, plain, e, c, v, gb, lr, lr_b, reg, breg):
    """One SGD step for every slot of entity e: its vector's gradient is ``c * v``, its bias's ``gb``."""
    d = v.shape[0]
    if plain:
        decay = np.float32(1.0) - lr * reg
        step = lr * c
        for f in range(d):
            W[e, f] = decay * W[e, f] - step * v[f]
        if bmask[e] > 0:
            B[e] -= lr_b * (gb + breg * B[e])
    else:
        for j in range(ptr[e], ptr[e + 1]):
            r = rows[j]
            w = wts[j]
            decay = np.float32(1.0) - lr * reg * abs(w)
            step = lr * w * c
            lr_ = loc[r]
            if lr_ < 0:
                for f in range(d):
                    W[r, f] = decay * W[r, f] - step * v[f]
                if bmask[r] > 0:
                    B[r] -= lr_b * (w * gb + breg * B[r])
            else:
                cnt[lr_] += 1
                for f in range(d):
                    Wp[lr_, f] = decay * Wp[lr_, f] - step * v[f]
                if bmask[r] > 0:
                    Bp[lr_] -= lr_b * (w * gb + breg * Bp[lr_])


@nb.njit(inline="always")
def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))



@nb.njit(inline="always")
def dot(a, b):
    s = np.float32(0.0)
    for f in range(a.shape[0]):
        s += a[f] * b[f]
    return s


@nb.njit(inline="always")
def _rating(samples, start, end, su, si, sy, us, its, hyper, plain, sig):
    """Squared error of ``offset + biases + <user, item>`` (through the scaled sigmoid with ``sig``), one
    SGD step per rating. hyper: offset, low, span, (unused), lr, lr_bias, reg, bias_reg. Returns the sum of
    squared errors (before each step)."""
    uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt = us
    iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt = its
    offset, lo, span = np.float32(hyper[0]), np.float32(hyper[1]), np.float32(hyper[2])
    lr, lr_b, reg, breg = np.float32(hyper[4]), np.float32(hyper[5]), np.float32(hyper[6]), np.float32(hyper[7])
    d = Wu.shape[1]
    pu = np.empty(d, dtype=np.float32)
    qi = np.empty(d, dtype=np.float32)
    one = np.float32(1.0)
    total = 0.0
    for k in range(start, end):
        if plain and k + AHEAD < end:
            prefetch_ahead(samples, su, si, Wu, Wi, k + AHEAD)
        s = samples[k]
        u, i = su[s], si[s]
        bu = gather(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, plain, u, pu)
        bi = gather(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, plain, i, qi)
        raw = offset + bu + bi + dot(pu, qi)
        if sig:
            p = one / (one + math.exp(-raw))
            err = lo + span * p - sy[s]
            g = err * span * p * (one - p)
        else:
            err = raw - sy[s]
            g = err
        total += err * err
        scatter(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt, plain, u, g, qi, g, lr, lr_b, reg, breg)
        scatter(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt, plain, i, g, pu, g, lr, lr_b, reg, breg)
    return total


@nb.njit(inline="always")
def _is_seen(seen_ptr, seen_idx, bits, u, item):
    """Is ``item`` among user u's sorted items? One bit when the bitmap exists, else a binary search
    without branches to mispredict."""
    if bits.shape[0] > 0:
        words = bits.shape[0] // (seen_ptr.shape[0] - 1)
        return (bits[u * words + (item >> 6)] >> np.uint64(item & 63)) & np.uint64(1) != 0
    lo = seen_ptr[u]
    n = seen_ptr[u + 1] - lo
    if n == 0:
        return False
    while n > 1:
        half = n >> 1
        mid = lo + half
        lo = mid if seen_idx[mid] <= item else lo
        n -= half
    return seen_idx[lo] == item


@nb.njit(inline="always")
def _draw(state, group_ptr, group_items, cdf, g, u, seen_ptr, seen_idx, bits, tries):
    """A negative item from item group g (uniform, or by ``cdf`` when it is not empty), redrawn up to
    ``tries`` times while the user has it. Returns (state, item, accepted)."""
    a, b = group_ptr[g], group_ptr[g + 1]
    item = group_items[a]
    for _ in range(tries):
        state, x = next_uniform(state)
        if cdf.shape[0] == 0:
            pos = a + min(int(x * (b - a)), b - a - 1)
        else:
            lo_c = cdf[a - 1] if a > 0 else 0.0
            target = lo_c + x * (cdf[b - 1] - lo_c)
            lo, hi = a, b - 1
            while lo < hi:
                mid = (lo + hi) >> 1
                if cdf[mid] <= target:
                    lo = mid + 1
                else:
                    hi = mid
            pos = lo
        item = group_items[pos]
        if seen_ptr.shape[0] == 0 or not _is_seen(seen_ptr, seen_idx, bits, u, item):
            return state, item, True
    return state, item, False


@nb.njit(inline="always")
def _pair_loss(z, cand, log_q, w, inv_n, temp, loss_kind, total):
    """``_pairs``' loss for the scores ``z`` (the positive's first): overwrites z with dL/ds_j and returns
    ``total`` plus the sample's weighted loss (added term by term)."""
    n = z.shape[0] - 1
    one, zero = np.float32(1.0), np.float32(0.0)
    if loss_kind == 0:  # BPR: mean over negatives of softplus(s_neg - s_pos)
        gpos = zero
        for j in range(1, n + 1):
            x = z[j] - z[0]
            total += w * inv_n * softplus(x)
            c = w * inv_n / (one + math.exp(-x))
            gpos -= c
            z[j] = c
        z[0] = gpos
    elif loss_kind == 1:  # BCE: softplus(-s_pos) + sum of softplus(s_neg)
        x = z[0]
        total += w * softplus(-x)
        z[0] = -w / (one + math.exp(x))
        for j in range(1, n + 1):
            x = z[j]
            total += w * softplus(x)
            z[j] = w / (one + math.exp(-x))
    else:  # sampled softmax over the positive and the negatives, logQ-corrected
        top = np.float32(-3e38)
        for j in range(n + 1):
            z[j] = z[j] / temp - log_q[cand[j]]
            top = max(top, z[j])
        norm = zero
        for j in range(n + 1):
            z[j] = math.exp(z[j] - top)
            norm += z[j]
        total += w * (math.log(norm) - math.log(z[0]))
        scale = w / (norm * temp)
        for j in range(n + 1):
            z[j] = z[j] * scale
        z[0] -= w / temp
    return total


@nb.njit(inline="always")
def _pairs(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper, plain, loss_kind):
    """BPR (``loss_kind`` 0), BCE (1) or sampled softmax (2) for the positives of one block, ``n``
    negatives each drawn from item group ``g``. hyper: lr, lr_bias, reg, bias_reg, n negatives, (unused),
    temperature, tries. Sampled softmax corrects each candidate's logit by -log q (the sampler's
    probability), the positive's too. ``stats[0]`` counts negatives that stayed a positive of their user.
    Returns the sum of the weighted losses."""
    uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt = us
    iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt = its
    group_ptr, group_items, cdf, log_q, seen_ptr, seen_idx, bits = sampler
    lr, lr_b = np.float32(hyper[0]), np.float32(hyper[1])
    reg, breg = np.float32(hyper[2]), np.float32(hyper[3])
    n, temp, tries = int(hyper[4]), hyper[6], int(hyper[7])
    d = Wu.shape[1]
    pu = np.empty(d, dtype=np.float32)
    gu = np.empty(d, dtype=np.float32)
    q = np.empty((n + 1, d), dtype=np.float32)
    bq = np.empty(n + 1, dtype=np.float32)
    cand = np.empty(n + 1, dtype=np.int32)
    z = np.empty(n + 1, dtype=np.float32)
    state = np.uint64(seed)
    total = 0.0
    inv_n = np.float32(1.0 / n)
    temp = np.float32(temp)
    reg_neg = np.float32(reg * inv_n)
    one, zero = np.float32(1.0), np.float32(0.0)
    for k in range(start, end):
        s = samples[k]
        u = su[s]
        w = sw[s]
        gather(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, plain, u, pu)
        cand[0] = si[s]
        bq[0] = gather(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, plain, cand[0], q[0])
        for j in range(1, n + 1):
            state, item, ok = _draw(state, group_ptr, group_items, cdf, g, u, seen_ptr, seen_idx, bits, tries)
            if not ok:
                stats[0] += 1
            cand[j] = item
            bq[j] = gather(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, plain, item, q[j])
        for j in range(n + 1):
            z[j] = dot(pu, q[j]) + bq[j]
        total = _pair_loss(z, cand, log_q, w, inv_n, temp, loss_kind, total)  # dL/ds_j, into z
        for f in range(d):
            gu[f] = 0.0
        for j in range(n + 1):
            c = z[j]
            for f in range(d):
                gu[f] += c * q[j, f]
            r = reg if j == 0 else reg_neg
            scatter(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt, plain, cand[j], c, pu, c, lr, lr_b, r, breg)
        scatter(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt, plain, u, one, gu, zero, lr, lr_b, reg, breg)
    return total


@nb.njit(inline="always")
def _bpr_plain(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper):
    """``_pairs`` for BPR with one negative when every row is its own entity's: one pass over the three
    rows for the scores and one for the steps (the same update as ``_pairs``). The negatives are drawn
    ``AHEAD`` samples early (the same draws in the same order) and the rows of that sample prefetched, so
    the memory waits of successive samples overlap instead of adding up."""
    Wu, Bu, ubm, Wi, Bi, ibm = us[3], us[4], us[8], its[3], its[4], its[8]
    group_ptr, group_items, cdf, log_q, seen_ptr, seen_idx, bits = sampler
    lr, lr_b, reg, breg = np.float32(hyper[0]), np.float32(hyper[1]), np.float32(hyper[2]), np.float32(hyper[3])
    tries, d, one = int(hyper[7]), Wu.shape[1], np.float32(1.0)
    decay, state, total = one - lr * reg, np.uint64(seed), 0.0
    negs = np.empty(RING, dtype=np.int32)
    search = seen_ptr.shape[0] > 0 and bits.shape[0] == 0
    for t in range(start, end + 2 * AHEAD):
        if search and t < end:  # stage 1: the user's seen items, for the draw AHEAD samples later
            prefetch_seen(seen_ptr, seen_idx, su[samples[t]])
        k = t - AHEAD  # stage 2: draw the negative of sample k and prefetch its rows
        if start <= k < end:
            s = samples[k]
            u = su[s]
            state, j, ok = _draw(state, group_ptr, group_items, cdf, g, u, seen_ptr, seen_idx, bits, tries)
            if not ok:
                stats[0] += 1
            negs[k % RING] = j
            prefetch_row(Wu, u)
            prefetch_row(Wi, si[s])
            prefetch_row(Wi, j)
        k -= AHEAD  # stage 3: the step of sample k
        if k < start:
            continue
        s = samples[k]
        u, i = su[s], si[s]
        w = sw[s]
        j = negs[k % RING]
        x = Bi[j] - Bi[i]
        for f in range(d):
            x += Wu[u, f] * (Wi[j, f] - Wi[i, f])
        total += w * softplus(x)
        c = w / (one + math.exp(-x))
        step = lr * c
        if j == i:  # the positive drawn as its own negative: the two steps in turn, as in _pairs
            for f in range(d):
                a = Wu[u, f]
                Wi[i, f] = decay * (decay * Wi[i, f] + step * a) - step * a
                Wu[u, f] = decay * a
        else:
            for f in range(d):
                a = Wu[u, f]
                qi = Wi[i, f]
                qj = Wi[j, f]
                Wi[i, f] = decay * qi + step * a
                Wi[j, f] = decay * qj - step * a
                Wu[u, f] = decay * a - step * (qj - qi)
        if ibm[i] > 0:
            Bi[i] -= lr_b * (-c + breg * Bi[i])
        if ibm[j] > 0:
            Bi[j] -= lr_b * (c + breg * Bi[j])
        if ubm[u] > 0:
            Bu[u] -= lr_b * breg * Bu[u]
    return total


@nb.njit(inline="always")
def _shared_negatives(state, sampler, g, its, plain, neg, qn, bn, lq):
    """``_softmax``'s negatives for one chunk: ``neg.shape[0]`` items drawn from item group g (no
    rejection), with their vectors (qn), biases (bn) and log q (lq). Returns the new state."""
    iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt = its
    group_ptr, group_items, cdf, log_q, seen_ptr, seen_idx, bits = sampler
    no_seen = seen_ptr[:0]
    for j in range(neg.shape[0]):
        state, item, ok = _draw(state, group_ptr, group_items, cdf, g, 0, no_seen, seen_idx, bits[:0], 1)
        neg[j] = item
        bn[j] = gather(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, plain, item, qn[j])
        lq[j] = log_q[item]
    return state


@nb.njit(inline="always")
def _softmax_weights(z, pu, qp, bp, qn, bn, lq, neg, i, log_q, bits, row, words, inv_t):
    """``_softmax``'s unnormalised probabilities for positive i (z[0]) and the shared negatives (z[1:]; 0
    for one left out: the positive itself, or one the user has in the bitmap row at ``row``). Returns
    their sum."""
    n = neg.shape[0]
    zero = np.float32(0.0)
    z[0] = (dot(pu, qp) + bp) * inv_t - log_q[i]
    top = z[0]
    for j in range(n):
        z[j + 1] = (dot(pu, qn[j]) + bn[j]) * inv_t - lq[j]
    for j in range(n):
        item = neg[j]
        hit = item == i
        if words > 0:
            hit |= (bits[row + (item >> 6)] >> np.uint64(item & 63)) & np.uint64(1) != 0
        if hit:
            z[j + 1] = np.float32(-3e38)
        else:
            top = max(top, z[j + 1])
    norm = zero
    for j in range(n + 1):
        z[j] = math.exp(z[j] - top) if z[j] > np.float32(-1e38) else zero
        norm += z[j]
    return norm


@nb.njit(inline="always")
def _step_negatives(its, plain, neg, gq, gb, lr, lr_b, reg, breg):
    """``_softmax``'s chunk end: each shared negative steps once with its summed gradient (gq, gb), which
    is then cleared."""
    iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt = its
    one, zero = np.float32(1.0), np.float32(0.0)
    d = gq.shape[1]
    for j in range(neg.shape[0]):
        scatter(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt, plain, neg[j], one, gq[j], gb[j], lr, lr_b,
                reg, breg)
        for f in range(d):
            gq[j, f] = zero
        gb[j] = zero


@nb.njit(inline="always")
def _softmax(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper, plain):
    """Sampled softmax for the positives of one block, ``chunk`` positives at a time sharing ``n`` negatives
    drawn from item group ``g``: each positive's softmax runs over itself and the shared negatives, every
    logit corrected by -log q (the sampler's probability); a negative the user has (when the seen bitmap
    exists) or that equals the positive is left out of that positive's softmax. The positives and users
    step at once; the negatives step once per chunk, with their summed gradient. hyper: lr, lr_bias, reg,
    bias_reg, n negatives, chunk, temperature."""
    uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt = us
    iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt = its
    log_q, seen_ptr, bits = sampler[3], sampler[4], sampler[6]
    lr, lr_b = np.float32(hyper[0]), np.float32(hyper[1])
    reg, breg = np.float32(hyper[2]), np.float32(hyper[3])
    n, chunk, temp = int(hyper[4]), int(hyper[5]), np.float32(hyper[6])
    d = Wu.shape[1]
    one, zero = np.float32(1.0), np.float32(0.0)
    pu = np.empty(d, dtype=np.float32)
    qp = np.empty(d, dtype=np.float32)
    gu = np.empty(d, dtype=np.float32)
    qn = np.empty((n, d), dtype=np.float32)
    gq = np.zeros((n, d), dtype=np.float32)
    bn = np.empty(n, dtype=np.float32)
    gb = np.zeros(n, dtype=np.float32)
    lq = np.empty(n, dtype=np.float32)
    neg = np.empty(n, dtype=np.int32)
    z = np.empty(n + 1, dtype=np.float32)
    state = np.uint64(seed)
    words = bits.shape[0] // (seen_ptr.shape[0] - 1) if bits.shape[0] > 0 else 0  # bitmap words per user
    total = 0.0
    inv_t = one / temp
    for c0 in range(start, end, chunk):
        state = _shared_negatives(state, sampler, g, its, plain, neg, qn, bn, lq)
        for k in range(c0, min(c0 + chunk, end)):
            if plain and k + AHEAD < end:
                prefetch_ahead(samples, su, si, Wu, Wi, k + AHEAD)
            s = samples[k]
            u, i, w = su[s], si[s], sw[s]
            gather(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, plain, u, pu)
            bp = gather(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, plain, i, qp)
            norm = _softmax_weights(z, pu, qp, bp, qn, bn, lq, neg, i, log_q, bits, u * words, words, inv_t)
            total += w * (math.log(norm) - math.log(z[0]))
            scale = w * inv_t / norm
            for f in range(d):
                gu[f] = zero
            for j in range(n):
                c = z[j + 1] * scale
                if c != zero:
                    for f in range(d):
                        gu[f] += c * qn[j, f]
                        gq[j, f] += c * pu[f]
                    gb[j] += c
            c = z[0] * scale - w * inv_t
            for f in range(d):
                gu[f] += c * qp[f]
            scatter(iptr, irows, iwts, Wi, Bi, Wip, Bip, iloc, ibm, icnt, plain, i, c, pu, c, lr, lr_b, reg, breg)
            scatter(uptr, urows, uwts, Wu, Bu, Wup, Bup, uloc, ubm, ucnt, plain, u, one, gu, zero, lr, lr_b, reg,
                     breg)
        _step_negatives(its, plain, neg, gq, gb, lr, lr_b, reg, breg)
    return total


_variants: dict = {}
RATING_SIG = F8(*BLOCK, SIDE, SIDE, arr(F8))
PAIR_SIG = F8(*BLOCK, SIDE, SIDE, SAMPLER, I8, nb.uint64, arr(I8), arr(F8))


def rating_kernel(plain: bool, sigmoid: bool):
    """The rating kernel compiled for these choices (compiled on first use, then cached on disk)."""
    key = ("rating", bool(plain), bool(sigmoid))
    if key not in _variants:
        flag_plain, flag_sig = key[1], key[2]

        @nb.njit(RATING_SIG, **_opts)
        def kernel(samples, start, end, su, si, sy, us, its, hyper):
            return _rating(samples, start, end, su, si, sy, us, its, hyper, flag_plain, flag_sig)
        _variants[key] = kernel
    return _variants[key]


def pair_kernel(plain: bool, loss: int):
    """The pair kernel (loss 0 BPR, 1 BCE, 2 sampled softmax) compiled for these choices."""
    key = ("pairs", bool(plain), int(loss))
    if key not in _variants and loss == 2:
        flag_plain = key[1]

        @nb.njit(PAIR_SIG, **_opts)
        def kernel(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper):
            return _softmax(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper, flag_plain)
        _variants[key] = kernel
    if key not in _variants:
        flag_plain, flag_loss = key[1], key[2]

        @nb.njit(PAIR_SIG, **_opts)
        def kernel(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper):
            if flag_plain and flag_loss == 0 and hyper[4] == 1:
                return _bpr_plain(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper)
            return _pairs(samples, start, end, su, si, sw, us, its, sampler, g, seed, stats, hyper, flag_plain,
                          flag_loss)
        _variants[key] = kernel
    return _variants[key]
