"""One embedding layer for every feature kind: lookup, pooled bag, or linear map of numeric columns."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..encoding import EncodedBag


@dataclass
class GroupSpec:
    name: str
    kind: str  # "categorical" | "bag" | "numeric"
    n_in: int  # vocabulary size (with the unknown row) or number of numeric columns
    dim: int  # 0: the group has a bias only, no vector
    bias: bool = True  # False: the group has a vector only (its bias table stays zero and frozen)


class FeatureEmbedding(nn.Module):
    """Maps encoded inputs to one vector (and one bias) per feature group.

    Row 0 of every table (the unknown value) starts at zero; it only moves when training data maps
    to it (values rarer than ``min_count``), so unseen values contribute nothing by default.
    A group with ``dim=0`` has no vector (bias only); one with ``bias=False`` adds no bias.
    """

    def __init__(self, groups: list[GroupSpec], init_std: float = 0.01, bias: bool = True, sparse: bool = False):
        super().__init__()
        self.groups = list(groups)
        self.tables = nn.ModuleList()
        self.bias_tables = nn.ModuleList() if bias else None
        for g in self.groups:
            self.tables.append(self._make(g.kind, g.n_in, g.dim, sparse))
            if bias:
                table = self._make(g.kind, g.n_in, 1, sparse)
                table.weight.requires_grad_(g.bias)
                self.bias_tables.append(table)
        self.reset_parameters(init_std)

    @staticmethod
    def _make(kind: str, n_in: int, dim: int, sparse: bool) -> nn.Module:
        if kind == "categorical":
            return nn.Embedding(n_in, dim, sparse=sparse)
        if kind == "bag":
            return nn.EmbeddingBag(n_in, dim, mode="sum", sparse=sparse)
        if kind == "numeric":
            return nn.Linear(n_in, dim, bias=False)
        raise ValueError(f"unknown feature kind {kind!r}")

    def reset_parameters(self, init_std: float) -> None:
        with torch.no_grad():
            for g, t in zip(self.groups, self.tables):
                t.weight.normal_(0.0, init_std)
                if g.kind != "numeric":
                    t.weight[0].zero_()
            if self.bias_tables is not None:
                for b in self.bias_tables:
                    b.weight.zero_()

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.groups]

    @staticmethod
    def _lookup(table: nn.Module, kind: str, x):
        if kind == "bag":
            bag: EncodedBag = x
            return table(bag.indices, bag.indptr[:-1], per_sample_weights=bag.weights)
        return table(x)

    def forward(self, inputs: dict, only=None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Vectors of the groups (those in ``only`` when given) and the sum of their biases."""
        vectors, bias = {}, None
        for i, g in enumerate(self.groups):
            if only is not None and g.name not in only:
                continue
            x = inputs[g.name]
            if g.dim:
                vectors[g.name] = self._lookup(self.tables[i], g.kind, x)
            if self.bias_tables is not None and g.bias:
                b = self._lookup(self.bias_tables[i], g.kind, x).squeeze(-1)
                bias = b if bias is None else bias + b
        return vectors, bias

    def table(self, name: str) -> torch.Tensor:
        """The weight matrix of one group, rows = vocabulary indices (numeric: one row per column)."""
        i = self.names.index(name)
        w = self.tables[i].weight
        return w.T if self.groups[i].kind == "numeric" else w

    def bias_table(self, name: str) -> torch.Tensor | None:
        if self.bias_tables is None:
            return None
        i = self.names.index(name)
        w = self.bias_tables[i].weight
        return (w.T if self.groups[i].kind == "numeric" else w).squeeze(-1)
