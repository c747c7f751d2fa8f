"""The torch module and training rows behind ImplicitRecommender (SGD losses)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.samplers import NegativeSampler
from ..nn import losses
from ..nn.embedding import FeatureEmbedding, GroupSpec


class ImplicitNet(nn.Module):
    """score(user, item) = <user vector, item vector> + item bias, each vector the sum of its groups."""

    def __init__(self, user_groups: list[GroupSpec], item_groups: list[GroupSpec], loss: str = "bpr",
                 init_std: float = 0.1, reg: float = 0.0, temperature: float = 1.0,
                 item_bias: bool = True):
        super().__init__()
        dims = {g.dim for g in list(user_groups) + list(item_groups)}
        if len(dims) != 1:
            raise ValueError(f"a dot product needs one dimension for every feature group, got {sorted(dims)}")
        if loss not in losses.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(losses.LOSSES)}; got {loss!r}")
        self.loss_name, self.reg, self.temperature = loss, reg, temperature
        self.users = FeatureEmbedding(user_groups, init_std=init_std, bias=False)
        self.items = FeatureEmbedding(item_groups, init_std=init_std, bias=item_bias)

    @staticmethod
    def side(emb: FeatureEmbedding, inputs: dict):
        """(summed vectors, biases or None, squared norm of all group vectors) for a batch of entities."""
        vectors, bias = emb(inputs)
        vs = list(vectors.values())
        out = vs[0]
        for v in vs[1:]:
            out = out + v
        sq = sum((v * v).sum(1) for v in vs)
        return out, bias, sq

    @staticmethod
    def score_matrix(u: torch.Tensor, ub: torch.Tensor, i: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
        return u @ i.T + ib.unsqueeze(0)

    def loss(self, b: "PairBatch") -> tuple[torch.Tensor, int]:
        u, _, usq = self.side(self.users, b.user_inputs)
        i, ib, isq = self.side(self.items, b.item_inputs)
        if ib is None:
            ib = torch.zeros(i.shape[0], device=i.device)
        ue = u[b.uinv]
        if self.loss_name in ("bpr", "bce"):
            s_pos = (ue * i[b.pos]).sum(1) + ib[b.pos]
            s_neg = torch.einsum("bd,bnd->bn", ue, i[b.neg]) + ib[b.neg]
            per = losses.bpr(s_pos, s_neg) if self.loss_name == "bpr" else losses.bce(s_pos, s_neg)
            reg = usq[b.uinv] + isq[b.pos] + isq[b.neg].mean(1)
        else:
            logits = ue @ i[b.cand].T + ib[b.cand]
            per = losses.softmax(losses.corrected_logits(logits, b.log_q, self.temperature, b.mask), b.target)
            reg = usq[b.uinv] + isq[b.pos]
        w = b.weights
        total = w.sum()
        out = (per * w).sum() / total
        if self.training and self.reg:
            out = out + self.reg * (reg * w).sum() / total
        return out, int(w.numel())


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
