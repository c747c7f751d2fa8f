"""Deterministic parallel SGD: the samples are cut into a P x P grid of (user group, item group) blocks, and
an epoch runs P rounds of P blocks that share no user and no item (LIBMF's scheme, with a fixed schedule).
P is at least the thread count, and larger when the tables outgrow a core's cache (``grid_size``): a block
then touches few enough rows to stay in cache.

Blocks of one round touch disjoint users' and items' own rows, so the threads never race on them; rows that
many entities share (side-feature values, the unknown row) are updated on a private copy per block and the
copies' changes are added up after the round, in block order. The result depends on the seed and on P,
never on timing: reruns with the same data and thread count are bit-identical.

Each epoch draws new groups (random, balanced by sample count), so blocks mix differently every epoch; a
sampler that draws negative items draws them from the block's item group, which over the epochs is a
uniform random subset holding the positive.
"""
from __future__ import annotations

import numba as nb
import numpy as np


def balanced_groups(counts: np.ndarray, p: int, rng: np.random.Generator) -> np.ndarray:
    """A group in 0..p-1 for every entity: random order, cut into p runs of equal sample mass."""
    n = len(counts)
    if p == 1:
        return np.zeros(n, dtype=np.int32)
    perm = rng.permutation(n)
    c = counts[perm].astype(np.float64)
    total = max(c.sum(), 1.0)
    mid = np.cumsum(c) - c / 2
    groups = np.empty(n, dtype=np.int32)
    groups[perm] = np.minimum((mid / total * p).astype(np.int32), p - 1)
    return groups


@nb.njit("void(i4[::1], i4[::1], i4[::1], i4[::1], i8, i8[::1], i4[::1])", cache=True, nogil=True)
def _bucket(su, si, gu, gi, p, ptr, out):
    """Samples 0..n-1 into blocks (user group * p + item group), in sample order within a block."""
    counts = np.zeros(p * p + 1, dtype=np.int64)
    for s in range(su.shape[0]):
        counts[gu[su[s]] * p + gi[si[s]] + 1] += 1
    for b in range(p * p):
        counts[b + 1] += counts[b]
    ptr[:] = counts
    for s in range(su.shape[0]):
        b = gu[su[s]] * p + gi[si[s]]
        out[counts[b]] = s
        counts[b] += 1


def grid_size(threads: int, n_rows: int, row_bytes: int, n_samples: int, target: int = 1 << 20) -> int:
    """The number of user (and item) groups: at least the threads, and enough that one block's rows fit
    in about ``target`` bytes (a core's cache), so a block's steps hit cache instead of memory; a
    multiple of the threads so every round splits evenly; at most what keeps ~10,000 samples a block."""
    p = max(threads, -(-n_rows * row_bytes // target))
    p = min(p, max(threads, int((n_samples / 10_000) ** 0.5)))
    return threads * -(-p // threads)


class BlockSchedule:
    """The blocks of one epoch: ``ptr`` / ``samples`` (sample ids per block, CSR over p*p blocks), the
    groups, and the rounds (lists of (user group, item group)).

    The samples are shuffled once: ``order`` is that shuffle, and ``su`` / ``si`` (and whatever the caller
    takes through ``order``) are the samples in it, so a block reads them in increasing positions."""

    def __init__(self, su: np.ndarray, si: np.ndarray, n_users: int, n_items: int, p: int, seed: int):
        self.p = int(p)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(su))
        self.su, self.si = su[self.order], si[self.order]
        self.user_counts = np.bincount(su, minlength=n_users)
        self.item_counts = np.bincount(si, minlength=n_items)
        self.ptr = np.zeros(self.p * self.p + 1, dtype=np.int64)
        self.samples = np.empty(len(su), dtype=np.int32)

    def epoch(self) -> list[list[tuple[int, int]]]:
        """Draw this epoch's groups and blocks; return the rounds."""
        p = self.p
        self.user_group = balanced_groups(self.user_counts, p, self.rng)
        self.item_group = balanced_groups(self.item_counts, p, self.rng)
        if p == 1:
            self.ptr[:] = (0, len(self.su))
            self.samples = np.arange(len(self.su), dtype=np.int32)
        else:
            _bucket(self.su, self.si, self.user_group, self.item_group, p, self.ptr, self.samples)
        shifts = self.rng.permutation(p)
        return [[(b, (b + int(s)) % p) for b in range(p)] for s in shifts]

    def block(self, ug: int, ig: int) -> tuple[int, int]:
        b = ug * self.p + ig
        return int(self.ptr[b]), int(self.ptr[b + 1])
