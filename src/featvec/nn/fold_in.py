"""Fold-in: vectors for users unseen in training, from their interactions, with every item's vector fixed."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from featvec.nn import losses


class FoldInNet(nn.Module):
    """One free vector per new user (starting at zero) scored against the fixed item vectors ``iv`` and
    biases ``ib`` by the model's own loss: bpr / bce against ``negatives`` items from ``sampler`` per
    interaction, or the full softmax over the catalogue (rows 1..n); plus ``reg * |x|^2``. A batch is
    ({"user": rows, "item": rows}, weight): each user's loss is the weighted mean over its items."""

    def __init__(self, n_users: int, iv: torch.Tensor, ib: torch.Tensor, loss: str, reg: float,
                 temperature: float = 1.0, sampler=None, negatives: int = 8):
        super().__init__()
        self.x = nn.Parameter(torch.zeros(n_users, iv.shape[1], device=iv.device))
        self.iv, self.ib, self.kind, self.reg = iv, ib, loss, float(reg)
        self.temperature, self.sampler, self.negatives = temperature, sampler, int(negatives)

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        inputs, scale = batch
        u, i = inputs["user"], inputs["item"]
        xu = self.x[u]
        s_pos = (xu * self.iv[i]).sum(1) + self.ib[i]
        if self.kind in ("bpr", "bce"):
            neg = self.sampler.sample(u, self.negatives)
            s_neg = torch.einsum("bd,bnd->bn", xu, self.iv[neg]) + self.ib[neg]
            per = losses.bpr(s_pos, s_neg) if self.kind == "bpr" else losses.bce(s_pos, s_neg)
        else:
            logits = (xu @ self.iv[1:].T + self.ib[1:]) / self.temperature
            per = F.cross_entropy(logits, i - 1, reduction="none")
        return (per * scale).sum() + self.reg * (self.x * self.x).sum(), 1
