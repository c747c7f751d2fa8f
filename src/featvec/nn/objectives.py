"""Objectives: the output transform and the loss."""
from __future__ import annotations

import math

import torch
from torch import nn


class Regression(nn.Module):
    """Squared error. With ``y_range=(lo, hi)`` the raw score goes through a scaled sigmoid
    (widened by 5% of the range each side so the ends stay reachable); without it, the raw score is the
    prediction and only ``predict`` clips."""

    def __init__(self, y_range: tuple[float, float] | None = None):
        super().__init__()
        self.y_range = tuple(y_range) if y_range is not None else None

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        if self.y_range is None:
            return raw
        lo, hi = self.y_range
        pad = 0.05 * (hi - lo)
        return torch.sigmoid(raw) * (hi - lo + 2 * pad) + (lo - pad)

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.mean((self.output(raw) - target) ** 2)


def mean_logit(mean: float, y_range) -> float:
    """The logit that a sigmoid scaled to ``y_range`` (padded by 5% each side) maps to ``mean``."""
    lo, hi = y_range
    pad = 0.05 * (hi - lo)
    p = (mean - lo + pad) / (hi - lo + 2 * pad)
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))
