"""UserNet: notebook 000's user network -- pooled bag and attribute embeddings into an MLP whose last hidden
layer is the user vector, one softmax head per task, and an optional wide part."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.tower import EmbeddingMLP
from featvec.training.trainer import twice_if_single


class UserNet(EmbeddingMLP):
    """The pooled bag embeddings and categorical attribute embeddings, concatenated with the standardised
    numeric attributes, into an MLP (Linear-BatchNorm-ReLU-dropout per hidden layer); the last hidden layer's
    output is the user vector, and one linear layer maps it to the logits of every task side by side
    (``n_classes`` per task: a softmax head each).

    ``wide``: inputs that also map straight to the logits (wide & deep): one table of per-class weights per
    input, pooled as the input is, added to the head's output. Those weights start at zero and carry the L2
    penalty ``wide_l2 * |W|^2`` (set by the model for training; not part of the saved config)."""

    def __init__(self, specs: Sequence[GroupSpec], numeric: Mapping[str, int], layers: Sequence[int],
                 n_classes: Sequence[int], dropout: float | Sequence[float] = 0.0, wide: Sequence[str] = (),
                 batchnorm: bool = True):
        super().__init__(specs, numeric, layers, sum(n_classes), dropout, batchnorm=batchnorm)
        self.config = {"numeric": {k: int(v) for k, v in numeric.items()}, "layers": [int(w) for w in layers],
                       "n_classes": [int(k) for k in n_classes],
                       "dropout": dropout if isinstance(dropout, (int, float)) else [float(p) for p in dropout],
                       "wide": list(wide), "batchnorm": bool(batchnorm)}
        self.n_classes = [int(k) for k in n_classes]
        # per-class weights of the cross-entropy, the tasks' classes side by side (all 1 without class_weight)
        self.register_buffer("class_weight", torch.ones(sum(n_classes)))
        # every task's classes as one row of columns, padded with a column of -inf: [tasks, most classes]
        starts = np.cumsum([0] + self.n_classes[:-1])
        pad = np.full((len(n_classes), max(self.n_classes, default=1)), sum(self.n_classes))
        for t, (a, k) in enumerate(zip(starts, self.n_classes)):
            pad[t, :k] = np.arange(a, a + k)
        self.register_buffer("task_columns", torch.as_tensor(pad), persistent=False)
        self.register_buffer("task_start", torch.as_tensor(starts), persistent=False)
        sizes = {s.name: (s.kind, s.n_in) for s in specs} | {k: ("numeric", int(v)) for k, v in numeric.items()}
        wide_specs = [GroupSpec(name, *sizes[name], sum(self.n_classes), bias=False) for name in wide]
        self.wide = FeatureEmbedding(wide_specs, init_std=0.0, bias=False) if wide_specs else None
        self.wide_l2 = 0.0

    def forward(self, inputs: Mapping) -> torch.Tensor:
        """Logits of all tasks, [B, sum of n_classes]: the heads (the user vector's), plus the wide part."""
        logits = super().forward(inputs)
        if self.wide is not None:
            logits = logits + sum(self.wide(inputs)[0].values())
        return logits

    def l2_terms(self) -> list[tuple[list[torch.Tensor], float]]:
        """The L2 penalty ``wide_l2 * |W|^2`` on the wide weights, for the optimiser to add to their
        gradients (the trainer asks for it)."""
        if self.wide is None or not self.wide_l2:
            return []
        return [([t.weight for t in self.wide.tables], self.wide_l2)]

    def task_losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each task's (class-weighted) cross-entropy, averaged over the rows whose label is present
        (``y[:, t] >= 0``); 0 for a task with no label in the batch. All tasks at once: [tasks]."""
        logits = logits.float()
        padded = F.pad(logits, (0, 1), value=-math.inf)[:, self.task_columns]  # [B, tasks, most classes]
        present = y >= 0
        column = y.clamp_min(0) + self.task_start
        ce = torch.logsumexp(padded, 2) - logits.gather(1, column)
        w = self.class_weight[column] * present
        return (ce * w).sum(0) / present.sum(0).clamp_min(1)

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        inputs, y = batch
        n = len(y)
        inputs, y = twice_if_single(self, inputs, y)
        loss = self.task_losses(self(inputs), y).sum()
        return loss, n
