"""Negative samplers for implicit feedback: uniform or popularity^beta, seeded, optionally rejecting the
items a user interacted with; and the log-probabilities needed for the logQ correction.

Items are integer indices ``low .. n_items - 1`` (``low=1`` skips the unknown row 0 of featvec's tables).
"""
from __future__ import annotations

import numpy as np
import torch

from featvec.util.arrays import unique


class NegativeSampler:
    """Draw negative items for users.

    ``distribution="uniform"`` gives every item the same probability; ``"popularity"`` gives item i a
    probability proportional to ``counts[i] ** beta`` (beta=0 is uniform, 1 the empirical frequency,
    0.75 word2vec's choice). With ``positives`` (CSR over user indices: ``(indptr, indices)``) and
    ``reject_positives=True`` a draw that hits one of the user's items is redrawn, up to ``max_tries``
    rounds; a user who interacted with (nearly) every item may still get a positive after that, which
    ``sample`` reports in ``self.last_unrejected``.
    """

    def __init__(self, n_items: int, distribution: str = "uniform", counts=None, beta: float = 0.75,
                 positives: tuple | None = None, reject_positives: bool = True, low: int = 1, seed: int = 0,
                 max_tries: int = 10, device="cpu"):
        if distribution not in ("uniform", "popularity"):
            raise ValueError(f"distribution must be 'uniform' or 'popularity', got {distribution!r}")
        if n_items - low < 1:
            raise ValueError(f"need at least one item to sample from (n_items={n_items}, low={low})")
        self.n_items, self.low, self.max_tries = int(n_items), int(low), int(max_tries)
        self.distribution, self.beta = distribution, float(beta)
        self.device = torch.device(device)
        self.gen = torch.Generator(device=self.device).manual_seed(int(seed))
        p = np.zeros(self.n_items, dtype=np.float64)
        if distribution == "uniform":
            p[self.low:] = 1.0
        else:
            if counts is None:
                raise ValueError("popularity sampling needs item counts")
            c = np.asarray(counts, dtype=np.float64)
            if c.shape != (self.n_items,):
                raise ValueError(f"counts must have one entry per item ({self.n_items}), got {c.shape}")
            if (c < 0).any() or not np.isfinite(c).all():
                raise ValueError("counts must be finite and non-negative")
            p[self.low:] = c[self.low:] ** self.beta if self.beta > 0 else 1.0
            if p.sum() <= 0:
                raise ValueError("every item has count 0: nothing to sample")
        p /= p.sum()
        self.probs = torch.as_tensor(p, dtype=torch.float64)
        self.log_probs = torch.log(self.probs.clamp_min(1e-300)).to(torch.float32).to(self.device)
        self._cdf = torch.cumsum(self.probs, 0).to(self.device)
        self._cdf[-1] = 1.0 + 1e-12
        self.positives = None
        if positives is not None and reject_positives:
            indptr, indices = (np.asarray(a, dtype=np.int64) for a in positives)
            users = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
            keys = users * self.n_items + indices
            if len(keys) > 1 and not (np.diff(keys) > 0).all():  # a CSR with sorted, distinct rows is ready
                keys = unique(keys)
            self.positives = torch.as_tensor(keys, device=self.device)
        self.last_unrejected = 0

    def draw(self, shape) -> torch.Tensor:
        """Items drawn independently from the distribution (no rejection)."""
        n = int(np.prod(shape))
        if self.distribution == "uniform":
            out = torch.randint(self.low, self.n_items, (n,), generator=self.gen, device=self.device)
        else:
            u = torch.rand(n, generator=self.gen, device=self.device, dtype=torch.float64)
            out = torch.searchsorted(self._cdf, u, right=True).clamp_(self.low, self.n_items - 1)
        return out.view(*shape) if isinstance(shape, tuple) else out.view(shape)

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Boolean, same shape as ``items``: did ``users`` (broadcast over columns) interact with them?"""
        if self.positives is None or self.positives.numel() == 0:
            return torch.zeros_like(items, dtype=torch.bool)
        keys = users.reshape(-1, *([1] * (items.dim() - 1))).to(torch.long) * self.n_items + items
        pos = torch.searchsorted(self.positives, keys).clamp_(max=self.positives.numel() - 1)
        return self.positives[pos] == keys

    def sample(self, users, n: int) -> torch.Tensor:
        """``n`` negatives for each of ``users`` (user indices into ``positives``): long [len(users), n]."""
        users = torch.as_tensor(users, device=self.device).reshape(-1)
        out = self.draw((users.numel(), n))
        if self.positives is None:
            return out
        bad = self.is_positive(users, out)
        for _ in range(self.max_tries):
            if not bad.any():
                break
            out[bad] = self.draw((int(bad.sum()),))
            bad = self.is_positive(users, out)
        self.last_unrejected = int(bad.sum())
        return out

    def log_q(self, items: torch.Tensor) -> torch.Tensor:
        """log P(item) under this sampler (for the logQ correction of sampled softmax)."""
        return self.log_probs[items]


def in_batch_log_q(item_counts, low: int = 1) -> torch.Tensor:
    """log of the probability that an item appears as a batch positive: its share of all interactions
    (the logQ correction for in-batch negatives). Items never seen get a tiny probability."""
    c = torch.tensor(np.asarray(item_counts, dtype=np.float64))  # a copy: the caller's array stays as is
    c[:low] = 0
    p = c / c.sum().clamp_min(1.0)
    return torch.log(p.clamp_min(1e-12)).to(torch.float32)
