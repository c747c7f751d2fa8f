"""Interactions: how feature vectors combine into a score."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product of two [B, d] tensors."""
    return (a * b).sum(-1)


class MLP(nn.Module):
    """Linear-ReLU(-dropout) stack ending in ``n_out`` outputs."""

    def __init__(self, n_in: int, layers: Sequence[int] = (128, 64), n_out: int = 1,
                 dropout: float | Sequence[float] = 0.0, input_dropout: float = 0.0, batchnorm: bool = False):
        super().__init__()
        drops = [dropout] * len(layers) if isinstance(dropout, (int, float)) else list(dropout)
        if len(drops) != len(layers):
            raise ValueError("dropout needs one value per hidden layer")
        mods: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        prev = n_in
        for width, p in zip(layers, drops):
            mods.append(nn.Linear(prev, width))
            if batchnorm:
                mods.append(nn.BatchNorm1d(width))
            mods.append(nn.ReLU())
            if p:
                mods.append(nn.Dropout(p))
            prev = width
        mods.append(nn.Linear(prev, n_out))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fm(vectors: torch.Tensor) -> torch.Tensor:
    """Factorization machine over groups: the sum of dot products of every pair of the G group vectors,
    [B, G, d] -> [B], in O(G·d) as 0.5 * (|sum of vectors|^2 - sum of |vector|^2)."""
    total = vectors.sum(1)
    return 0.5 * ((total * total).sum(-1) - (vectors * vectors).sum((1, 2)))
