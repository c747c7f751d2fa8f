"""Feat2vec's negative sampler: corrupt one sampling unit of an observed record at a time.

A *unit* is a set of feature groups that are resampled together (a car's make and model; a movie and its
genres); every other group is its own unit. For each negative the sampler

1. picks the unit ``j`` with probability proportional to ``weights[j] ** group_alpha`` (the weight is the
   unit's parameter count, so big vocabularies are corrupted more often; 0 <= group_alpha <= 1 flattens);
2. draws the unit's new value ``v`` from its empirical distribution over the training records, flattened:
   ``p_j(v) ∝ (count(v) + value_bias) ** value_alpha``;
3. optionally redraws ``v`` while the corrupted record equals an observed training record.

The noise probability of a negative is ``Q = P(j) * p_j(v)``; that of an observed record x is the
probability that one draw reproduces it, ``sum_j P(j) * p_j(x_j)``. NCE needs both. (With rejection
the noise is the truncated distribution; Q is left unrenormalised, which shifts every logit of a record
by the same small amount.)

A unit's "values" are the distinct combinations of its groups' encoded values in the training records
(categories, numeric rows, bags), each kept as the row of its first occurrence, so a negative is simply
the source record with the unit's groups taken from another row. Everything is vectorised and seeded.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from featvec.encoding import EncodedBag
from featvec.util.arrays import unique


def value_codes(value) -> np.ndarray:
    """Integer code per row (equal codes = equal encoded values) of one encoded group."""
    if isinstance(value, EncodedBag):
        ptr = value.indptr.numpy()
        idx, w = value.indices.numpy(), value.weights.numpy()
        keys = [idx[s:e].tobytes() + w[s:e].tobytes() for s, e in zip(ptr[:-1], ptr[1:])]
        return pd.factorize(pd.Series(keys, dtype=object))[0].astype(np.int64)
    x = value.numpy()
    if x.ndim == 1:
        return unique(x, return_inverse=True)[1]
    return np.unique(x, axis=0, return_inverse=True)[1].astype(np.int64).reshape(-1)


def unit_codes(inputs: Mapping, names: Sequence[str]) -> np.ndarray:
    """Codes of the combinations of several groups' values, 0..n_distinct-1."""
    cols = [value_codes(inputs[n]) for n in names]
    if len(cols) == 1:
        return cols[0]
    stacked = np.stack(cols, 1)
    sizes = stacked.max(0).astype(np.float64) + 1
    if np.prod(sizes) < 2.0 ** 62:  # the combinations as one integer each (mixed radix): a 1-D unique
        key = np.zeros(len(stacked), dtype=np.int64)
        for c in range(stacked.shape[1]):
            key = key * int(sizes[c]) + stacked[:, c]
        return unique(key, return_inverse=True)[1]
    return np.unique(stacked, axis=0, return_inverse=True)[1].astype(np.int64).reshape(-1)


class GroupSampler:
    """Negatives for feat2vec by resampling one unit of each observed record (see the module docstring).

    ``inputs``: the encoded training records (group name -> tensor or EncodedBag); ``units``: lists of
    group names; ``weights``: one per unit (usually its parameter count). A unit with a single distinct
    value cannot make a negative and is never picked.
    """

    def __init__(self, inputs: Mapping, units: Sequence[Sequence[str]], weights: Sequence[float],
                 group_alpha: float = 0.5, value_alpha: float = 0.25, value_bias: float = 10.0,
                 reject_observed: bool = True, seed: int = 0, max_tries: int = 10):
        if len(units) != len(weights):
            raise ValueError("need one weight per unit")
        if value_bias < 0:
            raise ValueError(f"value_bias must be >= 0, got {value_bias}")
        self.units = [list(u) for u in units]
        self.n_rows = len(next(iter(inputs.values())))
        self.reject_observed, self.max_tries = reject_observed, int(max_tries)
        self.rng = np.random.default_rng(seed)
        self.codes, self.first_row, self.value_p = [], [], []
        for u in self.units:
            code = unit_codes(inputs, u)
            _, first = unique(code, return_index=True)
            counts = np.bincount(code, minlength=len(first)).astype(np.float64)
            p = (counts + value_bias) ** value_alpha
            self.codes.append(code)
            self.first_row.append(first.astype(np.int64))
            self.value_p.append(p / p.sum())
        w = np.array([float(x) if len(f) > 1 else 0.0 for x, f in zip(weights, self.first_row)])
        if not (w > 0).any():
            raise ValueError("no feature group has two or more distinct values to sample negatives from")
        w = w ** group_alpha * (w > 0)
        self.unit_p = w / w.sum()
        self.value_cdf = [np.cumsum(p) for p in self.value_p]
        # a 64-bit hash of every record's unit codes, to reject negatives that equal an observed record
        self.mult = np.random.default_rng(12345).integers(1, 2**62, size=len(self.units), dtype=np.uint64) | 1
        self.code_matrix = np.stack(self.codes, 1)
        self.hashes = self._hash(self.code_matrix)
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in self.value_p])[:-1]]).astype(np.int64)
        self.flat_p = np.concatenate(self.value_p)
        self.observed = unique(self.hashes)
        self.q_pos = sum(self.unit_p[j] * self.value_p[j][self.codes[j]] for j in range(len(self.units)))

    def _hash(self, codes: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (codes.astype(np.uint64) * self.mult).sum(1, dtype=np.uint64)

    def _draw_values(self, unit: np.ndarray) -> np.ndarray:
        value = np.zeros(len(unit), dtype=np.int64)
        for j in unique(unit):
            at = np.flatnonzero(unit == j)
            cdf = self.value_cdf[j]
            value[at] = np.minimum(np.searchsorted(cdf, self.rng.random(len(at)) * cdf[-1], side="right"),
                                   len(cdf) - 1)
        return value

    def _seen(self, src: np.ndarray, unit: np.ndarray, value: np.ndarray) -> np.ndarray:
        old = self.code_matrix[src, unit]
        with np.errstate(over="ignore"):
            h = self.hashes[src] + (value.astype(np.uint64) - old.astype(np.uint64)) * self.mult[unit]
        pos = np.minimum(np.searchsorted(self.observed, h), len(self.observed) - 1)
        return self.observed[pos] == h

    def sample(self, rows, n: int) -> dict:
        """``n`` negatives for each record in ``rows`` (row positions in the training inputs), ordered
        record by record. Returns ``src`` (the record each negative corrupts), ``unit``, ``value`` (the
        drawn value's code), ``take`` (group name -> the training row each negative takes that group's
        value from), ``q`` (the negatives' noise probabilities) and ``q_pos`` (the records')."""
        rows = np.asarray(rows, dtype=np.int64)
        src = np.repeat(rows, n)
        unit = self.rng.choice(len(self.units), size=len(src), p=self.unit_p)
        value = self._draw_values(unit)
        if self.reject_observed:
            bad = np.flatnonzero(self._seen(src, unit, value))
            for _ in range(self.max_tries):
                if not len(bad):
                    break
                value[bad] = self._draw_values(unit[bad])
                bad = bad[self._seen(src[bad], unit[bad], value[bad])]
        rep = np.zeros(len(src), dtype=np.int64)
        for j in unique(unit):
            at = unit == j
            rep[at] = self.first_row[j][value[at]]
        take = {}
        for j, names in enumerate(self.units):
            rows_j = np.where(unit == j, rep, src)
            for name in names:
                take[name] = rows_j
        q = self.unit_p[unit] * self.flat_p[self.offsets[unit] + value]
        return {"src": src, "unit": unit, "value": value, "take": take,
                "q": torch.as_tensor(q, dtype=torch.float32),
                "q_pos": torch.as_tensor(self.q_pos[rows], dtype=torch.float32)}
