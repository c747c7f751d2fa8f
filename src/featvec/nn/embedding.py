"""One embedding layer for every feature kind: lookup, pooled bag, or linear map of numeric columns."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from featvec.encoding import EncodedBag


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
    ``sparse``: True (every table), False, or the names of the groups whose lookups give sparse gradients
    (the rows a batch used, which featvec's optimisers update lazily); see ``sparse_groups``.
    A group with ``dim=0`` has no vector (bias only); one with ``bias=False`` adds no bias.
    """

    def __init__(self, groups: list[GroupSpec], init_std: float = 0.01, bias: bool = True, sparse=True):
        super().__init__()
        self.groups = list(groups)
        self._pooled_key = f"#pooled{id(self)}"
        self.tables = nn.ModuleList()
        self.bias_tables = nn.ModuleList() if bias else None
        for g in self.groups:
            sp = sparse if isinstance(sparse, bool) else g.name in sparse
            self.tables.append(self._make(g.kind, g.n_in, g.dim, sp))
            if bias:
                table = self._make(g.kind, g.n_in, 1, sp)
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

    @staticmethod
    def sparse_groups(groups: list[GroupSpec], inputs: dict, batch_size: int) -> set[str]:
        """The groups whose gradient is cheaper sparse: a batch uses fewer entries (rows of the batch times
        values per row) than the table has rows. A bag of long lists over a small vocabulary is not."""
        out = set()
        for g in groups:
            x = inputs.get(g.name)
            if g.kind == "numeric" or x is None:
                continue
            per_row = x.indices.numel() / max(len(x), 1) if isinstance(x, EncodedBag) else 1.0
            if batch_size * per_row < g.n_in:
                out.add(g.name)
        return out

    @staticmethod
    def densify(groups: list[GroupSpec], inputs: dict, max_cells: int = 1 << 24) -> dict:
        """``inputs`` with each bag that fits in ``max_cells`` numbers as a dense [rows, vocabulary] matrix:
        for a small vocabulary a matrix product costs less than pooling lists and scattering their
        gradient (same result up to rounding)."""
        out = dict(inputs)
        for g in groups:
            x = inputs.get(g.name)
            if g.kind == "bag" and isinstance(x, EncodedBag) and len(x) * g.n_in <= max_cells:
                rows = torch.repeat_interleave(torch.arange(len(x), device=x.indices.device), x.indptr.diff())
                dense = torch.zeros(len(x), g.n_in, device=x.indices.device)
                out[g.name] = dense.index_put_((rows, x.indices), x.weights.to(dense.dtype), accumulate=True)
        return out

    def pooled_frozen(self, inputs: dict) -> dict:
        """``inputs`` plus, for every group whose table does not train, its vectors (under a key of this
        layer's own): a frozen table gives every row the same vector at every step, so it is looked up once."""
        out = dict(inputs)
        with torch.no_grad():
            for g, t in zip(self.groups, self.tables):
                if g.dim and not t.weight.requires_grad and g.name in inputs:
                    out[g.name + self._pooled_key] = self._lookup(t, g.kind, inputs[g.name])
        return out

    def set_sparse(self, names) -> "FeatureEmbedding":
        """Sparse gradients for the groups in ``names``, dense for the others (training only)."""
        for g, t in zip(self.groups, self.tables):
            if g.kind != "numeric":
                t.sparse = g.name in names
        if self.bias_tables is not None:
            for g, t in zip(self.groups, self.bias_tables):
                if g.kind != "numeric":
                    t.sparse = g.name in names
        return self

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.groups]

    @staticmethod
    def _lookup(table: nn.Module, kind: str, x):
        if kind == "bag":
            if not isinstance(x, EncodedBag):  # a bag given as a dense [rows, vocabulary] matrix
                return x @ table.weight
            return table(x.indices, x.indptr[:-1], per_sample_weights=x.weights)
        return table(x)

    def forward(self, inputs: dict, only=None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Vectors of the groups (those in ``only`` when given) and the sum of their biases."""
        vectors, bias = {}, None
        for i, g in enumerate(self.groups):
            if only is not None and g.name not in only:
                continue
            x = inputs[g.name]
            if g.dim:
                pooled = inputs.get(g.name + self._pooled_key)  # the group's vectors computed ahead (frozen)
                vectors[g.name] = pooled if pooled is not None else self._lookup(self.tables[i], g.kind, x)
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
