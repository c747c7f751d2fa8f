"""Deterministic parallel SGD: the samples are cut into a P x P grid of (user group, item group) blocks, and
an epoch runs P rounds of P blocks that share no user and no item (LIBMF's scheme, with a fixed schedule).
P is at least the thread count, and larger when the tables outgrow a core's cache (``grid_size``): a block
then touches few enough rows to stay in cache.

Blocks of one round touch disjoint users' and items' own rows, so the threads never race on them; rows that
many entities share (side-feature values, the unknown row) are updated on a private copy per block and the
copies' changes are added up after the round, in block order. The result depends on the seed and on P,
never on timing: reruns with the same data and thread count are bit-identical.

Each epoch draws new groups (random, balanced by sample count), so blocks mix differently every epoch, and
visits a block's samples in a new random order; a sampler that draws negative items draws them from the
block's item group, which over the epochs is a uniform random subset holding the positive.
"""
from __future__ import annotations

import numba as nb
import numpy as np


RUN = 16  # entities grouped together: one 64-byte cache line of their float32 biases


def balanced_groups(counts: np.ndarray, p: int, rng: np.random.Generator) -> np.ndarray:
    """A group in 0..p-1 for every entity: runs of ``RUN`` consecutive entities in random order, cut into p
    parts of equal sample mass. Whole runs, so that two threads never write the same cache line of a bias
    array (single entities where there are too few runs to balance)."""
    n = len(counts)
    if p == 1:
        return np.zeros(n, dtype=np.int32)
    run = RUN if n >= 8 * p * RUN else 1
    mass = np.add.reduceat(np.asarray(counts, dtype=np.float64), np.arange(0, n, run)) if n else np.zeros(0)
    perm = rng.permutation(len(mass))
    c = mass[perm]
    total = max(c.sum(), 1.0)
    mid = np.cumsum(c) - c / 2
    groups = np.empty(len(mass), dtype=np.int32)
    groups[perm] = np.minimum((mid / total * p).astype(np.int32), p - 1)
    return np.repeat(groups, run)[:n]


@nb.njit("void(i4[::1], i4[::1], f4[::1], i4[::1], i4[::1], i8, u8, i8[::1], i4[::1], i4[::1], f4[::1])",
         cache=True, nogil=True)
def _bucket(su, si, sy, gu, gi, p, seed, ptr, bu, bi, by):
    """The samples into blocks (user group * p + item group): ``bu`` / ``bi`` / ``by`` their values, block
    after block, each block's run shuffled (Fisher-Yates on a splitmix64 stream from ``seed``)."""
    counts = np.zeros(p * p + 1, dtype=np.int64)
    for s in range(su.shape[0]):
        counts[gu[su[s]] * p + gi[si[s]] + 1] += 1
    for b in range(p * p):
        counts[b + 1] += counts[b]
    ptr[:] = counts
    for s in range(su.shape[0]):  # read in order, write each block's run
        b = gu[su[s]] * p + gi[si[s]]
        k = counts[b]
        bu[k], bi[k], by[k] = su[s], si[s], sy[s]
        counts[b] = k + 1
    state = seed
    mask = np.uint64(0xFFFFFFFFFFFFFFFF)
    for b in range(p * p):
        lo = ptr[b]
        for k in range(ptr[b + 1] - 1, lo, -1):
            state = (state + np.uint64(0x9E3779B97F4A7C15)) & mask
            z = ((state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & mask
            z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & mask
            z = z ^ (z >> np.uint64(31))
            j = lo + np.int64(((z >> np.uint64(32)) * np.uint64(k - lo + 1)) >> np.uint64(32))  # in [lo, k]
            bu[k], bu[j] = bu[j], bu[k]
            bi[k], bi[j] = bi[j], bi[k]
            by[k], by[j] = by[j], by[k]


def grid_size(threads: int, n_rows: int, row_bytes: int, n_samples: int, target: int = 1 << 20) -> int:
    """The number of user (and item) groups: at least the threads, and enough that one block's rows fit
    in about ``target`` bytes (a core's cache), so a block's steps hit cache instead of memory; a
    multiple of the threads so every round splits evenly; at most what keeps ~10,000 samples a block."""
    p = max(threads, -(-n_rows * row_bytes // target))
    p = min(p, max(threads, int((n_samples / 10_000) ** 0.5)))
    return threads * -(-p // threads)


class BlockSchedule:
    """The blocks of one epoch: the samples' user rows, item rows and values block after block (``su`` /
    ``si`` / ``sy``; ``ptr``: where each of the p*p blocks starts), the groups, and the rounds (lists of
    (user group, item group)). Each epoch the samples of a block come in a new random order."""

    def __init__(self, su: np.ndarray, si: np.ndarray, sy: np.ndarray, n_users: int, n_items: int, p: int,
                 seed: int):
        self.p = int(p)
        self.rng = np.random.default_rng(seed)
        self.inputs = (np.ascontiguousarray(su, dtype=np.int32), np.ascontiguousarray(si, dtype=np.int32),
                       np.ascontiguousarray(sy, dtype=np.float32))
        self.user_counts = np.bincount(su, minlength=n_users)
        self.item_counts = np.bincount(si, minlength=n_items)
        self.ptr = np.zeros(self.p * self.p + 1, dtype=np.int64)
        self.su, self.si, self.sy = (np.empty_like(a) for a in self.inputs)

    def epoch(self) -> list[list[tuple[int, int]]]:
        """Draw this epoch's groups and blocks; return the rounds."""
        p = self.p
        self.user_group = balanced_groups(self.user_counts, p, self.rng)
        self.item_group = balanced_groups(self.item_counts, p, self.rng)
        seed = self.rng.integers(0, 2 ** 63, dtype=np.uint64)
        _bucket(*self.inputs, self.user_group, self.item_group, p, seed, self.ptr, self.su, self.si,
                self.sy)
        shifts = self.rng.permutation(p)
        return [[(b, (b + int(s)) % p) for b in range(p)] for s in shifts]

    def block(self, ug: int, ig: int) -> tuple[int, int]:
        b = ug * self.p + ig
        return int(self.ptr[b]), int(self.ptr[b + 1])
