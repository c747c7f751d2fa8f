"""Training rows: what the trainer draws batches from (``__len__`` and ``batch(rows)``) for the recommenders
and Feat2Vec; the labelled rows of the tabular and user models are ``training.LabelledRows``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from featvec.encoding import EncodedBag, take, to_device
from featvec.sampling.groups import GroupSampler
from featvec.sampling.negatives import NegativeSampler


class RatingRows:
    """Interaction rows for the trainer. A batch encodes each distinct user and item once."""

    def __init__(self, users, items, user_rows: torch.Tensor, item_rows: torch.Tensor, y: torch.Tensor | None):
        self.users, self.items = users, items
        self.user_rows, self.item_rows, self.y = user_rows, item_rows, y

    def __len__(self) -> int:
        return self.user_rows.numel()

    def batch(self, rows: torch.Tensor):
        uu, uinv = torch.unique(self.user_rows[rows], return_inverse=True)
        ii, iinv = torch.unique(self.item_rows[rows], return_inverse=True)
        y = self.y[rows] if self.y is not None else None
        return self.users.inputs(uu), uinv, self.items.inputs(ii), iinv, y


@dataclass
class PairBatch:
    user_inputs: dict
    uinv: torch.Tensor          # [B] row of each example's user in the encoded users
    item_inputs: dict
    pos: torch.Tensor           # [B] row of each example's item in the encoded items
    weights: torch.Tensor       # [B]
    neg: torch.Tensor | None = None     # [B, n] (bpr, bce)
    cand: torch.Tensor | None = None    # [C] candidate items (softmax)
    target: torch.Tensor | None = None  # [B] column of the positive among the candidates
    log_q: torch.Tensor | None = None   # [C]
    mask: torch.Tensor | None = None    # [B, C] accidental hits


class PairRows:
    """(user, item, weight) positives for the trainer; each batch draws its negatives from ``sampler``.

    bpr / bce: ``negatives`` per positive, rejecting the user's own items when the sampler does.
    sampled_softmax: the batch's positives are each other's negatives (in-batch), plus ``negatives`` items
    drawn once per batch from the sampler; logits get the logQ correction (log of each candidate's expected
    count in the set); a candidate equal to the row's positive, or another of the user's items, is masked.
    ``negatives="all"``: a full softmax over every item (no sampling, no correction).
    """

    def __init__(self, users, items, user_rows, item_rows, weights, sampler: NegativeSampler, loss: str,
                 negatives, item_freq: torch.Tensor, fixed_seed: int | None = None):
        self.users, self.items, self.sampler, self.loss, self.negatives = users, items, sampler, loss, negatives
        self.user_rows, self.item_rows, self.weights = user_rows, item_rows, weights
        self.item_freq = item_freq  # P(item is a batch positive), for the in-batch logQ term
        self.sample_probs = sampler.probs.to(device=item_freq.device, dtype=torch.float32)  # once, not per batch
        self.n_items = len(items)
        self.fixed_seed = fixed_seed  # validation rows: the same negatives on every pass (a comparable loss)

    def __len__(self) -> int:
        return self.user_rows.numel()

    def batch(self, rows: torch.Tensor) -> PairBatch:
        u, i, w = self.user_rows[rows], self.item_rows[rows], self.weights[rows]
        if self.fixed_seed is not None:
            self.sampler.gen.manual_seed(self.fixed_seed + int(rows[0]))
        uu, uinv = torch.unique(u, return_inverse=True)
        user_inputs = self.users.inputs(uu)
        n_b = u.numel()
        if self.loss in ("bpr", "bce"):
            neg = self.sampler.sample(u, int(self.negatives))
            ii, inv = torch.unique(torch.cat([i, neg.reshape(-1)]), return_inverse=True)
            return PairBatch(user_inputs, uinv, self.items.inputs(ii), inv[:n_b], w, neg=inv[n_b:].view(n_b, -1))
        if self.negatives == "all":
            every = torch.arange(1, self.n_items, device=u.device)
            pos = i - 1
            return PairBatch(user_inputs, uinv, self.items.inputs(every), pos, w,
                             cand=torch.arange(every.numel(), device=u.device), target=pos)
        n = int(self.negatives)
        extra = self.sampler.draw((n,)).to(u.device) if n else i[:0]
        cand_items = torch.cat([i, extra])
        ii, inv = torch.unique(cand_items, return_inverse=True)
        expected = n_b * self.item_freq[cand_items] + n * self.sample_probs[cand_items]
        cols = torch.arange(cand_items.numel(), device=u.device)
        own = cols.unsqueeze(0) == torch.arange(n_b, device=u.device).unsqueeze(1)
        mask = (cand_items.unsqueeze(0) == i.unsqueeze(1)) & ~own
        if self.sampler.positives is not None:
            mask |= self.sampler.is_positive(u, cand_items.expand(n_b, -1)) & ~own
        return PairBatch(user_inputs, uinv, self.items.inputs(ii), inv[:n_b], w, cand=inv,
                         target=torch.arange(n_b, device=u.device), log_q=torch.log(expected.clamp_min(1e-12)),
                         mask=mask)


@dataclass
class Feat2VecBatch:
    inputs: dict  # the records, then their negatives (n_neg per record, record by record)
    n_pos: int
    q_pos: torch.Tensor
    q_neg: torch.Tensor


class RecordRows:
    """Observed records and the sampler built on them: each batch holds the records and freshly drawn
    negatives. With ``fixed=True`` the negatives are drawn once (validation), so the loss is comparable
    from epoch to epoch."""

    def __init__(self, inputs: Mapping, sampler: GroupSampler, negatives: int, device, fixed: bool = False):
        self.inputs, self.sampler, self.negatives = dict(inputs), sampler, int(negatives)
        self.device = device
        self.n = len(next(iter(self.inputs.values())))
        self._fixed = sampler.sample(np.arange(self.n), self.negatives) if fixed else None

    def __len__(self) -> int:
        return self.n

    def batch(self, rows: torch.Tensor) -> Feat2VecBatch:
        r = rows.cpu().numpy()
        if self._fixed is None:
            draw = self.sampler.sample(r, self.negatives)
        else:
            neg = (r[:, None] * self.negatives + np.arange(self.negatives)).reshape(-1)
            draw = {"take": {g: t[neg] for g, t in self._fixed["take"].items()}, "q": self._fixed["q"][neg],
                    "q_pos": self._fixed["q_pos"][r]}
        own = torch.as_tensor(r, dtype=torch.long)
        out = {name: _concat(take(value, own), take(value, torch.as_tensor(draw["take"][name], dtype=torch.long)))
               for name, value in self.inputs.items()}
        return Feat2VecBatch(to_device(out, self.device), len(r), draw["q_pos"].to(self.device),
                             draw["q"].to(self.device))


def _concat(a, b):
    if isinstance(a, EncodedBag):
        return EncodedBag(torch.cat([a.indptr, b.indptr[1:] + a.indptr[-1]]), torch.cat([a.indices, b.indices]),
                          torch.cat([a.weights, b.weights]))
    return torch.cat([a, b])
