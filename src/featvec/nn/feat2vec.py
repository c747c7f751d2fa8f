"""Feat2Vec's network: a factorization machine over feature groups, optionally DeepFM."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from featvec.nn import losses
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.interactions import MLP, fm
from featvec.training.rows import Feat2VecBatch


class Feat2VecNet(nn.Module):
    """score(record) = offset + sum of group biases + FM over the group vectors (+ an MLP over their
    concatenation when ``deep``)."""

    def __init__(self, specs: Sequence[GroupSpec], objective: str = "nce", offset: bool = True,
                 deep: bool = False, layers: Sequence[int] = (64, 32), dropout: float = 0.0,
                 init_std: float = 0.1):
        super().__init__()
        self.embedding = FeatureEmbedding(list(specs), init_std=init_std, bias=any(s.bias for s in specs))
        self.vector_groups = [s.name for s in specs if s.dim]
        self.objective = objective
        self.offset = nn.Parameter(torch.zeros(())) if offset else None
        dim = max((s.dim for s in specs), default=0)
        self.mlp = MLP(dim * len(self.vector_groups), layers, 1, dropout) if deep else None

    def forward(self, inputs: Mapping) -> torch.Tensor:
        vectors, bias = self.embedding(inputs)
        n = len(next(iter(vectors.values())) if vectors else next(iter(inputs.values())))
        score = torch.zeros(n, device=self.embedding.tables[0].weight.device)
        if vectors:
            stacked = torch.stack([vectors[g] for g in self.vector_groups], 1)
            score = score + fm(stacked)
            if self.mlp is not None:
                score = score + self.mlp(stacked.flatten(1)).squeeze(-1)
        if bias is not None:
            score = score + bias
        if self.offset is not None:
            score = score + self.offset
        return score

    def candidate_scores(self, records: Mapping, candidates: Mapping, unit: Sequence[str]) -> torch.Tensor:
        """Scores [n, C] of n records with the groups of ``unit`` replaced by each of C candidates, by the
        FM's split into the records' own part, the candidates' own part and their cross term (the deep
        part needs every pair: the caller runs it pair by pair instead)."""
        rest = [g.name for g in self.embedding.groups if g.name not in unit]
        rv, rb = self.embedding(records, only=rest)
        cv, cb = self.embedding(candidates, only=unit)
        n = len(next(iter(records.values()))) if records else 0
        c = len(next(iter(candidates.values())))
        own = torch.zeros(n) + (self.offset if self.offset is not None else 0.0)
        cand = torch.zeros(c)
        if rb is not None:
            own = own + rb
        if cb is not None:
            cand = cand + cb
        rest_v = [rv[g] for g in self.vector_groups if g in rv]
        cand_v = [cv[g] for g in self.vector_groups if g in cv]
        if rest_v:
            own = own + fm(torch.stack(rest_v, 1))
        if cand_v:
            cand = cand + fm(torch.stack(cand_v, 1))
        cross = sum(rest_v) @ sum(cand_v).T if rest_v and cand_v else torch.zeros(n, c)
        return own[:, None] + cross + cand[None, :]

    def loss(self, batch: "Feat2VecBatch") -> tuple[torch.Tensor, int]:
        s = self(batch.inputs)
        pos, neg = s[:batch.n_pos], s[batch.n_pos:].view(batch.n_pos, -1)
        if self.objective == "nce":
            per = losses.nce(pos, neg, batch.q_pos, batch.q_neg.view(batch.n_pos, -1))
        else:
            per = losses.negative_sampling(pos, neg)
        return per.mean(), batch.n_pos
