"""TabularNet: fastai's tabular network (the categorical columns' embeddings, the numeric columns, an MLP)."""
from __future__ import annotations

from typing import Sequence

import torch

from featvec.nn import losses
from featvec.nn.embedding import GroupSpec
from featvec.nn.objectives import Regression
from featvec.nn.tower import EmbeddingMLP
from featvec.training.trainer import twice_if_single

NUMERIC = "#numeric"  # the encoder's name for the group of numeric inputs


class TabularNet(EmbeddingMLP):
    """Embeddings of the categorical groups, concatenated with the batch-normalised numeric inputs, into an
    MLP (Linear-BatchNorm-ReLU-dropout per hidden layer). Regression: ``n_out`` values (through the scaled
    sigmoid of ``y_range`` when given); classification: ``n_out`` logits."""

    def __init__(self, specs: Sequence[GroupSpec], n_numeric: int, layers: Sequence[int], n_out: int,
                 dropout: float | Sequence[float] = 0.0, task: str = "regression",
                 y_range: tuple[float, float] | None = None):
        numeric = {NUMERIC: int(n_numeric)} if n_numeric else {}
        super().__init__(specs, numeric, layers, n_out, dropout, batchnorm=True, bn_numeric=True)
        self.config = {"n_numeric": int(n_numeric), "layers": [int(w) for w in layers], "n_out": int(n_out),
                       "dropout": dropout if isinstance(dropout, (int, float)) else [float(p) for p in dropout],
                       "task": task, "y_range": None if y_range is None else [float(v) for v in y_range]}
        self.classification = task == "classification"
        self.objective = None if self.classification else Regression(y_range)

    def forward(self, inputs) -> torch.Tensor:
        raw = super().forward(inputs)
        return raw if self.classification else self.objective.output(raw)

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        inputs, y = batch
        n = len(y)
        inputs, y = twice_if_single(self, inputs, y)
        out = self(inputs)
        if self.classification:
            return losses.softmax(out, y).mean(), n
        return torch.mean((out - y) ** 2), n
