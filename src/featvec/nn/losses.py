"""Losses for implicit feedback, one value per positive example (the caller weights and averages).

- ``bpr``: Bayesian personalised ranking, mean over the negatives of -log sigmoid(s_pos - s_neg).
- ``bce``: binary cross-entropy, -log sigmoid(s_pos) - sum over negatives of log sigmoid(-s_neg).
- ``softmax``: cross-entropy of the positive among candidate logits (sampled, in-batch or all items),
  after the logQ correction and masking of accidental hits (done by the caller).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """pos [B], neg [B, n] -> [B]."""
    return F.softplus(neg - pos.unsqueeze(1)).mean(1)


def bce(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """pos [B], neg [B, n] -> [B]."""
    return F.softplus(-pos) + F.softplus(neg).sum(1)


def softmax(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits [B, C] (masked entries -inf), target [B] column of each row's positive -> [B]."""
    return F.cross_entropy(logits, target, reduction="none")


def corrected_logits(scores: torch.Tensor, log_q: torch.Tensor | None, temperature: float = 1.0,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """``scores / temperature - log_q`` (the logQ correction of sampled softmax: log of the expected number
    of times each candidate is in the set), with ``mask`` entries set to -inf."""
    out = scores / temperature
    if log_q is not None:
        out = out - log_q
    if mask is not None:
        out = out.masked_fill(mask, float("-inf"))
    return out


LOSSES = ("bpr", "bce", "sampled_softmax")


def negative_sampling(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """word2vec's objective (the same as ``bce``): pos [B], neg [B, n] -> [B]."""
    return bce(pos, neg)


def nce(pos: torch.Tensor, neg: torch.Tensor, q_pos: torch.Tensor, q_neg: torch.Tensor) -> torch.Tensor:
    """Noise-contrastive estimation with ``n`` noise samples per positive: each record x is told apart from
    noise by the logit ``s(x) - log(n * Q(x))``, where ``Q(x)`` is the probability that the noise
    process draws x. pos, q_pos [B]; neg, q_neg [B, n] -> [B]."""
    log_n = torch.log(torch.tensor(float(neg.shape[1]), dtype=pos.dtype, device=pos.device))
    return F.softplus(-(pos - log_n - torch.log(q_pos))) + F.softplus(neg - log_n - torch.log(q_neg)).sum(1)
