"""Look-alike audiences: users scored by similarity to a seed user or audience, block by block.

A user's vector is several *blocks* (the embedding of their age, of their state, their standardised
latitude/longitude, ...). Concatenated raw, the block with the largest scale decides every similarity
(notebook 001's own conclusion: latitude and longitude dominated). Here each block is centred on the
population and every user's block scaled to unit length, then weighted: the score of user u against the
seed is

    score(u) = sum_b w_b / W * <x_u^b, s^b>,   W = sum_b w_b,

where ``s^b`` is the mean of the seed users' normalised block ``b`` (one seed user: their block). With
one seed user that is the weighted mean of the per-block cosines. Each term is the block's contribution;
the contributions sum to the score, so every match can be explained.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from featvec.validation import (check_frame, check_kind, check_values, id_list, numeric_values, plain,
                                require_columns, values_kind)
from featvec.vectors import Vectors


@dataclass
class UserVectors:
    """Users (``ids``) and their blocks (name -> [n_users, d_b]), normalised or raw, with block weights."""

    ids: pd.Index
    blocks: dict[str, np.ndarray]
    weights: dict[str, float]
    normalized: bool = True

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids, what: str = "seed") -> np.ndarray:
        ids = id_list(ids)
        if not ids:
            raise ValueError(f"no {what} user given: pass one user id or a list of them")
        check_kind(values_kind(self.ids), ids, "user id", what, "the user table holds")
        pos = self.ids.get_indexer(ids)
        if (pos < 0).any():
            bad = [i for i, p in zip(ids, pos) if p < 0][:5]
            raise ValueError(f"{what}: unknown user id(s) {[plain(b) for b in bad]}")
        return pos

    def matrix(self) -> np.ndarray:
        """The weighted concatenation (dot product of two rows = the score of one against the other)."""
        w = self._w()
        return np.concatenate([np.sqrt(w[b]) * x for b, x in self.blocks.items()], axis=1)

    def _w(self, weights: Mapping[str, float] | None = None) -> dict[str, float]:
        w = dict(self.weights)
        if weights:
            unknown = [b for b in weights if b not in self.blocks]
            if unknown:
                raise ValueError(f"weights name unknown block(s) {unknown}; blocks are {list(self.blocks)}")
            w.update({k: _weight(k, v) for k, v in weights.items()})
        if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ValueError(f"block weights must be >= 0 with a positive sum, got {w}")
        total = sum(w.values())
        return {b: v / total for b, v in w.items()}

    def contributions(self, seed, candidates=None, weights: Mapping[str, float] | None = None,
                      against=None) -> pd.DataFrame:
        """Each candidate's (default: every user's) score against ``seed`` (one id or a list) and each
        block's share of it: columns score and ``<block>`` (summing to score), indexed by user id.
        ``against``: a reference audience (e.g. the users known not to convert); the score becomes the
        similarity to the seed minus the similarity to it, so traits common to everyone count for
        nothing (normalised vectors only)."""
        seed_pos = self.positions(seed)
        cand = np.arange(len(self)) if candidates is None else self.positions(candidates, "candidates")
        w = self._w(weights)
        parts = {}
        if against is not None and not self.normalized:
            raise ValueError("against= needs normalised user vectors (normalize=True)")
        ref = None if against is None else self.positions(against, "against")
        if self.normalized:
            for b, x in self.blocks.items():
                centre = x[seed_pos].mean(0) - (x[ref].mean(0) if ref is not None else 0.0)
                parts[b] = w[b] * (x[cand] @ centre)
        else:  # raw: cosine of the concatenation to the seed centroid, split by block
            full = np.concatenate([np.sqrt(w[b]) * x for b, x in self.blocks.items()], axis=1)
            centre = full[seed_pos].mean(0)
            norm = np.linalg.norm(full[cand], axis=1) * max(np.linalg.norm(centre), 1e-12)
            start = 0
            for b, x in self.blocks.items():
                d = x.shape[1]
                parts[b] = (full[cand, start:start + d] @ centre[start:start + d]) / np.maximum(norm, 1e-12)
                start += d
        out = pd.DataFrame(parts, index=self.ids[cand])
        out.insert(0, "score", out.sum(axis=1))
        return out


def _weight(block: str, v) -> float:
    try:
        w = float(v)
    except (TypeError, ValueError):
        w = float("nan")
    if isinstance(v, bool) or not np.isfinite(w):
        raise ValueError(f"the weight of block {block!r} must be a finite number >= 0, got {v!r}")
    return w


def _block(x: np.ndarray, normalize: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not normalize:
        return x
    x = x - x.mean(0)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12)


def user_vectors(users: pd.DataFrame, id_col: str, vectors: Mapping[str, Vectors] | None = None,
                 numeric: Mapping[str, Sequence[str]] | None = None, weights: Mapping[str, float] | None = None,
                 normalize: bool = True) -> UserVectors:
    """Blocks for one row per user: for each ``vectors`` entry ``column: Vectors`` the vector of the
    user's value (values the table lacks get zeros), and for each ``numeric`` entry ``name: columns``
    the standardised columns. ``weights`` per block (default 1 each). ``normalize=False`` keeps the raw
    blocks (notebook 001's concatenation, for comparison)."""
    users = check_frame(users, "users")
    vectors, numeric = dict(vectors or {}), {k: [v] if isinstance(v, str) else list(v) for k, v in (numeric or {}).items()}
    if not vectors and not numeric:
        raise ValueError("user_vectors needs at least one block (vectors= or numeric=)")
    require_columns(users, [id_col, *vectors, *(c for cols in numeric.values() for c in cols)], "users")
    ids = pd.Index(check_values(users, id_col, "users"))
    if not ids.is_unique:
        dup = ids[ids.duplicated()][0]
        raise ValueError(f"users: id {plain(dup)!r} appears in more than one row; one row per user")
    blocks = {}
    for col, table in vectors.items():
        pos = table._pos.get_indexer(users[col].tolist())
        x = np.zeros((len(users), table.dim))
        x[pos >= 0] = table.matrix[pos[pos >= 0]]
        blocks[col] = _block(x, normalize)
    for name, cols in numeric.items():
        if name in blocks:
            raise ValueError(f"block {name!r} is given twice")
        x = np.stack([numeric_values(users, c, "users") for c in cols], axis=1)  # names a NaN, inf or text
        sd = x.std(0)
        blocks[name] = _block((x - x.mean(0)) / np.where(sd > 0, sd, 1.0), normalize) if normalize else x
    uv = UserVectors(ids, blocks, {b: 1.0 for b in blocks}, normalize)
    if weights:
        uv._w(weights)  # checks the names and values
        uv.weights.update({k: _weight(k, v) for k, v in weights.items()})
    return uv


def lookalikes(vectors: UserVectors, seed, top: float | int = 0.25, weights: Mapping[str, float] | None = None,
               exclude_seed: bool = True, against=None) -> pd.DataFrame:
    """The users most like ``seed`` (one user id or an audience: a list of ids). ``top``: a fraction of
    the users (0 < top <= 1) or a count; ``against``: a reference audience to contrast with (see
    ``UserVectors.contributions``). Returns one row per match, best first: id, score, rank and one
    column ``contrib_<block>`` per block with its contribution (the contributions sum to the score)."""
    scores = vectors.contributions(seed, weights=weights, against=against)
    if exclude_seed:
        scores = scores.drop(index=vectors.ids[vectors.positions(seed)])
    n = len(scores)
    if isinstance(top, float) and not isinstance(top, bool):
        if not 0 < top <= 1:
            raise ValueError(f"top as a fraction must be in (0, 1], got {top}")
        k = max(1, int(round(top * n)))
    else:
        k = int(top)
        if k < 1:
            raise ValueError(f"top must be a positive count or a fraction, got {top}")
    best = scores.sort_values("score", ascending=False, kind="stable").head(k)
    best = best.rename(columns={b: f"contrib_{b}" for b in vectors.blocks})
    out = best.reset_index().rename(columns={best.index.name or "index": "id"})
    out.insert(2, "rank", np.arange(1, len(out) + 1))
    return out


def block_shares(matches: pd.DataFrame, blocks: Sequence[str]) -> pd.Series:
    """Each block's share of the matches' total absolute contribution (sums to 1): which block decides.
    ``matches``: ``lookalikes`` output (``contrib_<block>`` columns) or ``contributions`` (``<block>``)."""
    cols = {b: f"contrib_{b}" if f"contrib_{b}" in matches.columns else b for b in blocks}
    a = matches[list(cols.values())].abs().sum().rename(index={v: k for k, v in cols.items()})
    return a / a.sum() if a.sum() > 0 else a
