"""The torch module behind every rating recommender: two embedding layers, an interaction, an objective."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..nn.embedding import FeatureEmbedding, GroupSpec
from ..nn.interactions import MLP, dot
from ..nn.objectives import Regression


class RecommenderNet(nn.Module):
    """score = offset + user biases + item biases + interaction(user vectors, item vectors).

    ``interaction="dot"``: <sum of user-side vectors, sum of item-side vectors> (matrix factorisation,
    SVD++ when the user side holds the bag of rated items). ``"mlp"``: an MLP over the concatenation of all
    vectors, plus the dot term when ``use_dot``.
    """

    def __init__(self, user_groups: list[GroupSpec], item_groups: list[GroupSpec], interaction: str = "dot",
                 layers: Sequence[int] = (), dropout: float = 0.0, use_dot: bool = True,
                 y_range: tuple[float, float] | None = None, offset: float = 0.0, init_std: float = 0.01,
                 reg: float = 0.0, bias_reg: float = 0.0):
        super().__init__()
        if interaction not in ("dot", "mlp"):
            raise ValueError(f"interaction must be 'dot' or 'mlp', got {interaction!r}")
        self.interaction, self.use_dot = interaction, use_dot or interaction == "dot"
        if self.use_dot:
            dims = {g.dim for g in list(user_groups) + list(item_groups)}
            if len(dims) != 1:
                raise ValueError(f"a dot product needs one dimension for every feature group, got {sorted(dims)}")
        self.users = FeatureEmbedding(user_groups, init_std=init_std)
        self.items = FeatureEmbedding(item_groups, init_std=init_std)
        self.objective = Regression(y_range)
        self.offset = nn.Parameter(torch.tensor(float(offset)))
        self.reg, self.bias_reg = reg, bias_reg
        self.mlp = None
        if interaction == "mlp":
            n_in = sum(g.dim for g in list(user_groups) + list(item_groups))
            self.mlp = MLP(n_in, layers, 1, dropout)

    def combine(self, vectors: dict[str, torch.Tensor]) -> torch.Tensor:
        """One vector per entity: the sum of its groups (dot) or their concatenation (mlp)."""
        vs = list(vectors.values())
        if self.interaction == "mlp":
            return torch.cat(vs, dim=1)
        out = vs[0]
        for v in vs[1:]:
            out = out + v
        return out

    def side(self, emb: FeatureEmbedding, inputs: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(combined vectors, biases, squared norm of all group vectors) for a batch of entities."""
        vectors, bias = emb(inputs)
        sq = sum((v * v).sum(1) for v in vectors.values())
        return self.combine(vectors), bias, sq

    def _dot_part(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        if self.interaction == "mlp":
            d = self.users.groups[0].dim
            nu, ni = u.shape[1] // d, i.shape[1] // d
            return dot(u.view(-1, nu, d).sum(1), i.view(-1, ni, d).sum(1))
        return dot(u, i)

    def raw(self, u: torch.Tensor, ub: torch.Tensor, i: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
        out = self.offset + ub + ib
        if self.mlp is not None:
            out = out + self.mlp(torch.cat([u, i], dim=1)).squeeze(-1)
        if self.use_dot:
            out = out + self._dot_part(u, i)
        return out

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        uin, uinv, iin, iinv, y = batch
        u, ub, usq = self.side(self.users, uin)
        i, ib, isq = self.side(self.items, iin)
        raw = self.raw(u[uinv], ub[uinv], i[iinv], ib[iinv])
        loss = self.objective.loss(raw, y)
        if self.training and self.reg:
            loss = loss + self.reg * (usq[uinv] + isq[iinv]).mean()
        if self.training and self.bias_reg:
            loss = loss + self.bias_reg * (ub[uinv] ** 2 + ib[iinv] ** 2).mean()
        return loss, int(y.numel())

    def score_matrix(self, u, ub, i, ib, chunk: int = 1 << 22) -> torch.Tensor:
        """Predictions for every (user, item) pair of the given encoded entities: [n_users, n_items]."""
        if self.mlp is None:
            raw = self.offset + ub[:, None] + ib[None, :] + u @ i.T
            return self.objective.output(raw)
        nu, ni = u.shape[0], i.shape[0]
        out = torch.empty(nu, ni, device=u.device)
        step = max(1, chunk // max(ni, 1))
        for s in range(0, nu, step):
            uu = u[s:s + step]
            m = uu.shape[0]
            raw = self.raw(uu.repeat_interleave(ni, 0), ub[s:s + step].repeat_interleave(ni),
                           i.repeat(m, 1), ib.repeat(m))
            out[s:s + m] = self.objective.output(raw).view(m, ni)
        return out


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
