"""EmbeddingMLP: the embedding-plus-MLP network behind the tabular, user and deep recommender models."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.interactions import MLP


class EmbeddingMLP(nn.Module):
    """The vectors of the categorical / bag groups (``specs``), with the ``numeric`` inputs (name -> width)
    concatenated beside them (batch-normalised together when ``bn_numeric``), into an MLP trunk
    (Linear[-BatchNorm]-ReLU[-dropout] per hidden layer) and one linear head of ``n_out`` outputs: the
    heads' outputs side by side.

    ``represent`` is the last hidden layer's output, ``forward`` the head's. Subclasses that create other
    parameters first (the recommender's) build the same parts later with ``add_tower``."""

    def __init__(self, specs: Sequence[GroupSpec], numeric: Mapping[str, int], layers: Sequence[int], n_out: int,
                 dropout: float | Sequence[float] = 0.0, batchnorm: bool = True, bn_numeric: bool = False):
        super().__init__()
        self.add_tower(specs, numeric, layers, n_out, dropout, batchnorm, bn_numeric)

    def add_tower(self, specs: Sequence[GroupSpec], numeric: Mapping[str, int], layers: Sequence[int], n_out: int,
                  dropout: float | Sequence[float] = 0.0, batchnorm: bool = True, bn_numeric: bool = False) -> None:
        """The embedding, the numeric batch norm and the MLP, created in this order (the order in which
        torch's generator draws their initial weights)."""
        self.embedding = FeatureEmbedding(list(specs), bias=False) if specs else None
        self.numeric = list(numeric)
        n_numeric = sum(int(v) for v in numeric.values())
        self.bn_numeric = nn.BatchNorm1d(n_numeric) if bn_numeric and n_numeric else None
        n_in = sum(s.dim for s in specs) + n_numeric
        self.mlp = MLP(n_in, list(layers), n_out, dropout, batchnorm=batchnorm)

    @property
    def head(self) -> nn.Linear:
        return self.mlp.net[-1]

    def represent(self, inputs: Mapping) -> torch.Tensor:
        """The last hidden layer's output."""
        parts = []
        if self.embedding is not None:
            vectors, _ = self.embedding(inputs)
            parts += [vectors[g.name] for g in self.embedding.groups]
        numeric = [inputs[name] for name in self.numeric]
        if self.bn_numeric is not None:
            numeric = [self.bn_numeric(numeric[0] if len(numeric) == 1 else torch.cat(numeric, 1))]
        return self.mlp.net[:-1](torch.cat(parts + numeric, 1))

    def forward(self, inputs: Mapping) -> torch.Tensor:
        """The heads' outputs side by side, [B, n_out]."""
        return self.head(self.represent(inputs))
