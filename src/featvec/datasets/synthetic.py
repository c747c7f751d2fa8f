"""Synthetic ratings with planted biases and low-rank structure, for tests and benchmarks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from featvec.util.arrays import unique

FACTOR_STD = 0.6  # std of <u, v> for a rating range of width 4 (scaled with the range)
BIAS_STD = 0.3
_CHUNK = 1_000_000
_T0, _T1 = 946_684_800, 1_577_836_800  # 2000-01-01 .. 2020-01-01


@dataclass
class SyntheticRatings:
    """Ratings plus the true model that generated them.

    rating = clip(global_mean + user_bias + item_bias + <user_factors, item_factors> + N(0, noise_std)),
    rounded when discrete. `noise_floor_rmse` is the RMSE of the noise-free truth (clipped and rounded the
    same way) against `ratings`, the best RMSE any model can expect.
    """

    ratings: pd.DataFrame
    user_factors: pd.DataFrame
    item_factors: pd.DataFrame
    user_bias: pd.Series
    item_bias: pd.Series
    global_mean: float
    noise_std: float
    noise_floor_rmse: float
    rating_range: tuple[float, float] = (1.0, 5.0)
    discrete: bool = False

    def truth(self, user_id, item_id) -> np.ndarray:
        """Noise-free rating for id pairs, clipped (and rounded) like the observed ratings."""
        u = self.user_factors.index.get_indexer(np.asarray(user_id))
        i = self.item_factors.index.get_indexer(np.asarray(item_id))
        if (u < 0).any() or (i < 0).any():
            raise ValueError("unknown user_id or item_id")
        return _truth(u, i, self.user_factors.to_numpy(), self.item_factors.to_numpy(),
                      self.user_bias.to_numpy(), self.item_bias.to_numpy(), self.global_mean,
                      self.rating_range, self.discrete)


def _check_synthetic_args(n_users, n_items, n_ratings, rank, noise, zipf, rating_range) -> tuple[float, float]:
    """synthetic_ratings' arguments checked; the rating range as floats."""
    lo, hi = map(float, rating_range)
    if not hi > lo:
        raise ValueError(f"rating_range must be (low, high) with low < high, got {rating_range}")
    if n_users < 1 or n_items < 1 or rank < 1:
        raise ValueError("n_users, n_items and rank must be >= 1")
    if not n_users <= n_ratings <= n_users * n_items:
        raise ValueError(f"n_ratings must be between n_users ({n_users}) and n_users * n_items "
                         f"({n_users * n_items}), got {n_ratings}")
    if noise < 0 or zipf < 0:
        raise ValueError("noise and zipf must be >= 0")
    return lo, hi


def synthetic_ratings(n_users: int = 1000, n_items: int = 500, n_ratings: int = 50_000, rank: int = 8,
                      seed: int = 0, noise: float = 0.5, zipf: float = 1.0,
                      rating_range: tuple[float, float] = (1.0, 5.0), discrete: bool = False) -> SyntheticRatings:
    """Sample n_ratings unique (user, item) ratings; item popularity ~ 1/rank**zipf; every user rates >= 1 item.

    ids start at 1. Factors have std chosen so <u, v> has std ~0.6 and biases ~0.3 (for a 1-5 range;
    both scale with the range width). Vectorised and chunked, so 20M ratings are fine.
    """
    lo, hi = _check_synthetic_args(n_users, n_items, n_ratings, rank, noise, zipf, rating_range)

    rng = np.random.default_rng(seed)
    scale = (hi - lo) / 4.0
    global_mean = lo + 0.625 * (hi - lo)
    f_std = np.sqrt(FACTOR_STD * scale / np.sqrt(rank))
    user_f = rng.normal(0, f_std, (n_users, rank)).astype(np.float32)
    item_f = rng.normal(0, f_std, (n_items, rank)).astype(np.float32)
    user_b = rng.normal(0, BIAS_STD * scale, n_users).astype(np.float32)
    item_b = rng.normal(0, BIAS_STD * scale, n_items).astype(np.float32)

    # popularity: weight 1/r**zipf, ranks assigned to items in a random order
    p_item = np.empty(n_items)
    p_item[rng.permutation(n_items)] = 1.0 / np.arange(1, n_items + 1) ** zipf
    p_item /= p_item.sum()

    codes = _sample_pairs(rng, n_users, n_items, n_ratings, p_item)
    codes = codes[rng.permutation(len(codes))]
    users = (codes // n_items).astype(np.int32)
    items = (codes % n_items).astype(np.int32)
    del codes

    truth = np.empty(n_ratings, np.float32)
    rating = np.empty(n_ratings, np.float32)
    for s in range(0, n_ratings, _CHUNK):
        e = min(s + _CHUNK, n_ratings)
        raw = _raw(users[s:e], items[s:e], user_f, item_f, user_b, item_b, global_mean)
        truth[s:e] = _clip_round(raw, lo, hi, discrete)
        rating[s:e] = _clip_round(raw + rng.normal(0, noise, e - s).astype(np.float32), lo, hi, discrete)
    floor = float(np.sqrt(np.mean((truth.astype(np.float64) - rating) ** 2)))
    del truth
    timestamp = rng.integers(_T0, _T1, n_ratings, dtype=np.int64)

    ratings = pd.DataFrame({"user_id": users + 1, "item_id": items + 1, "rating": rating, "timestamp": timestamp})
    cols = [f"f{k}" for k in range(rank)]
    uid = pd.Index(np.arange(1, n_users + 1, dtype=np.int32), name="user_id")
    iid = pd.Index(np.arange(1, n_items + 1, dtype=np.int32), name="item_id")
    return SyntheticRatings(
        ratings=ratings,
        user_factors=pd.DataFrame(user_f, index=uid, columns=cols),
        item_factors=pd.DataFrame(item_f, index=iid, columns=cols),
        user_bias=pd.Series(user_b, index=uid, name="user_bias"),
        item_bias=pd.Series(item_b, index=iid, name="item_bias"),
        global_mean=float(global_mean), noise_std=float(noise), noise_floor_rmse=floor,
        rating_range=(lo, hi), discrete=discrete)


def _sample_pairs(rng: np.random.Generator, n_users: int, n_items: int, n: int, p_item: np.ndarray) -> np.ndarray:
    """n unique pair codes user*n_items+item: one popularity-weighted item per user, then the rest
    by weighted sampling without replacement (users uniform)."""
    def draw_items(m):  # m iid popularity-weighted items, in item order
        return np.repeat(np.arange(n_items, dtype=np.int64), rng.multinomial(m, p_item))

    first = np.arange(n_users, dtype=np.int64) * n_items + rng.permutation(draw_items(n_users))
    rest = n - n_users
    if rest == 0:
        return first
    total = n_users * n_items
    if total <= 5_000_000:
        # exact: smallest Exp(1)/w keys (Efraimidis-Spirakis) over all pairs not yet taken
        keys = rng.exponential(size=total) / np.tile(p_item, n_users)
        keys[first] = np.inf
        chosen = np.argpartition(keys, rest - 1)[:rest] if rest < total else np.flatnonzero(np.isfinite(keys))
        return np.concatenate([first, chosen.astype(np.int64)])
    # sparse: draw with replacement in chunks; keep a random subset of the new distinct pairs
    codes = np.sort(first)
    accept = 1.0
    for _ in range(1000):
        need = n - len(codes)
        if need <= 0:
            return codes
        m = int(min(max(need / max(accept, 0.05) * 1.1, 1024), 20_000_000))
        new = unique(rng.integers(0, n_users, m, dtype=np.int64) * n_items + draw_items(m))
        pos = np.minimum(np.searchsorted(codes, new), len(codes) - 1)
        new = new[codes[pos] != new]
        accept = max(len(new) / m, 1e-6)
        if len(new) > need:
            new = rng.choice(new, need, replace=False)
        codes = np.sort(np.concatenate([codes, new]))
    raise RuntimeError("could not sample enough unique pairs; lower n_ratings or zipf")


def _raw(u, i, user_f, item_f, user_b, item_b, mu) -> np.ndarray:
    return (mu + user_b[u] + item_b[i] + np.einsum("ij,ij->i", user_f[u], item_f[i])).astype(np.float32)


def _clip_round(x: np.ndarray, lo: float, hi: float, discrete: bool) -> np.ndarray:
    if discrete:
        x = np.rint(x)
    return np.clip(x, lo, hi).astype(np.float32)


def _truth(u, i, user_f, item_f, user_b, item_b, mu, rating_range, discrete) -> np.ndarray:
    lo, hi = rating_range
    out = np.empty(len(u), np.float32)
    for s in range(0, len(u), _CHUNK):
        e = min(s + _CHUNK, len(u))
        out[s:e] = _clip_round(_raw(u[s:e], i[s:e], user_f, item_f, user_b, item_b, mu), lo, hi, discrete)
    return out


def feat2vec_records(n: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """Notebook 003's synthetic records: ``item`` (10 values), ``id`` (50), real ``attr1``, ``attr2``
    (correlated normals) and ``attr3`` (uniform), and a target ``y``: the floor of a latent variable
    built from all of them plus noise (values with |latent| >= 10 are set to 0, as in the notebook).
    ``latent`` is returned too. Neighbouring ``y`` values come from neighbouring latent values, so a good
    embedding puts them next to each other."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    attrs = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.1], [0.1, 1.0]], size=n)
    item = rng.integers(0, 10, size=n)
    ident = rng.integers(0, 50, size=n)
    a1, a2, a3 = attrs[:, 0], attrs[:, 1], rng.uniform(size=n)
    latent = (a3 ** 4 / 600.0 + np.exp(a1 * a2) + (item <= 3) * np.pi - ((item == 2) | (item == 4)) * a3
              + ((item == 8) | (item == 7)) * a2 + (item >= 6) * a1 + (ident % 3) * a3
              + rng.normal(size=n) - 5)
    latent = np.where(np.abs(latent) >= 10, 0.0, latent)
    return pd.DataFrame({"item": item, "id": ident, "attr1": a1, "attr2": a2, "attr3": a3, "latent": latent,
                         "y": np.floor(latent).astype(np.int64)})


def user_sequences(n_users: int = 1000, seed: int = 0, planted: bool = False, effect: float = 4.0,
                   max_len: int = 200) -> tuple[pd.DataFrame, dict]:
    """Notebook 000's users: two sequences of categories per user (``seq1`` over 100 categories, ``seq2``
    over 50; lengths uniform in [0, max_len), so some are empty) and targets ``marital`` (single, married,
    divorced, widowed) and ``children`` (1, 2, 2+), each uniform.

    ``planted=False``: the notebook's pure noise -- the sequences say nothing about the targets, so no
    model can beat the majority rate. ``planted=True``: each class of each target has its own 3 categories
    of ``seq1`` drawn ``effect`` times as often as the others (``seq2`` stays noise), so a user's class
    shows in the share of those categories. Returns (frame, truth) with truth = {target: {class:
    [categories]}}."""
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    rng = np.random.default_rng(seed)
    targets = {"marital": ["single", "married", "divorced", "widowed"], "children": ["1", "2", "2+"]}
    y = {t: rng.choice(len(c), n_users) for t, c in targets.items()}
    truth: dict = {t: {} for t in targets}
    cats = rng.permutation(100)
    k = 0
    for t, classes in targets.items():
        for j, c in enumerate(classes):
            truth[t][c] = [int(v) for v in cats[k:k + 3]]
            k += 3
    seq1, seq2 = [], []
    for u in range(n_users):
        p = np.ones(100)
        if planted:
            for t, classes in targets.items():
                p[truth[t][classes[y[t][u]]]] *= effect
        p /= p.sum()
        seq1.append(rng.choice(100, rng.integers(max_len), p=p).tolist())
        seq2.append(rng.integers(0, 50, rng.integers(max_len)).tolist())
    frame = pd.DataFrame({"user_id": np.arange(n_users), "seq1": seq1, "seq2": seq2,
                          **{t: np.asarray(c, dtype=object)[y[t]] for t, c in targets.items()}})
    return frame, truth


def interaction_blocks(n_users: int, n_items: int, n: int, seed: int = 0, zipf: float = 1.0,
                       block_users: int = 100_000):
    """Protocol S's interactions (distinct pairs, Zipf item popularity, users uniform) for logs larger than
    memory: yields frames (user_id, item_id, ids from 1) block by block of ``block_users`` users, each block
    holding its share of ``n``. The popularity is one for all blocks; each block is seeded from ``seed``."""
    _check_synthetic_args(n_users, n_items, n, 1, 0.0, zipf, (1.0, 5.0))
    rng = np.random.default_rng(seed)
    p_item = np.empty(n_items)
    p_item[rng.permutation(n_items)] = 1.0 / np.arange(1, n_items + 1) ** zipf
    p_item /= p_item.sum()
    for b, start in enumerate(range(0, n_users, block_users)):
        users = min(block_users, n_users - start)
        m = int(round(n * (start + users) / n_users)) - int(round(n * start / n_users))
        codes = _sample_pairs(np.random.default_rng([seed, b]), users, n_items, m, p_item)
        yield pd.DataFrame({"user_id": (codes // n_items + start + 1).astype(np.int64),
                            "item_id": (codes % n_items + 1).astype(np.int64)})
