"""The torch modules of the recommenders: RecommenderNet (rating recommenders: two embedding layers, an
interaction, an objective) and ImplicitNet (ImplicitRecommender's SGD losses)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from featvec.nn import losses
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.interactions import dot
from featvec.nn.objectives import Regression
from featvec.nn.tower import EmbeddingMLP
from featvec.training.rows import PairBatch


class RecommenderNet(EmbeddingMLP):
    """score = offset + user biases + item biases + interaction(user vectors, item vectors).

    ``interaction="dot"``: <sum of user-side vectors, sum of item-side vectors> (matrix factorisation,
    SVD++ when the user side holds the bag of rated items). ``"mlp"``: an MLP over the concatenation of all
    vectors (EmbeddingMLP's trunk and one head, on the inputs "user" and "item"), plus the dot term when
    ``use_dot``. With the dot interaction there is no MLP (``mlp`` is None).
    """

    def __init__(self, user_groups: list[GroupSpec], item_groups: list[GroupSpec], interaction: str = "dot",
                 layers: Sequence[int] = (), dropout: float = 0.0, use_dot: bool = True,
                 y_range: tuple[float, float] | None = None, offset: float = 0.0, init_std: float = 0.01,
                 reg: float = 0.0, bias_reg: float = 0.0):
        nn.Module.__init__(self)  # the MLP comes after the embeddings (add_tower below), as it always has
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
            sides = {"user": sum(g.dim for g in user_groups), "item": sum(g.dim for g in item_groups)}
            self.add_tower((), sides, layers, 1, dropout, batchnorm=False)

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
            out = out + self({"user": u, "item": i}).squeeze(-1)
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


class ImplicitNet(nn.Module):
    """score(user, item) = <user vector, item vector> + item bias, each vector the sum of its groups."""

    def __init__(self, user_groups: list[GroupSpec], item_groups: list[GroupSpec], loss: str = "bpr",
                 init_std: float = 0.1, reg: float = 0.0, temperature: float = 1.0,
                 item_bias: bool = True):
        super().__init__()
        dims = {g.dim for g in list(user_groups) + list(item_groups)}
        if len(dims) != 1:
            raise ValueError(f"a dot product needs one dimension for every feature group, got {sorted(dims)}")
        if loss not in losses.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(losses.LOSSES)}; got {loss!r}")
        self.loss_name, self.reg, self.temperature = loss, reg, temperature
        self.users = FeatureEmbedding(user_groups, init_std=init_std, bias=False)
        self.items = FeatureEmbedding(item_groups, init_std=init_std, bias=item_bias)

    @staticmethod
    def side(emb: FeatureEmbedding, inputs: dict):
        """(summed vectors, biases or None, squared norm of all group vectors) for a batch of entities."""
        vectors, bias = emb(inputs)
        vs = list(vectors.values())
        out = vs[0]
        for v in vs[1:]:
            out = out + v
        sq = sum((v * v).sum(1) for v in vs)
        return out, bias, sq

    @staticmethod
    def score_matrix(u: torch.Tensor, ub: torch.Tensor, i: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
        return u @ i.T + ib.unsqueeze(0)

    def loss(self, b: "PairBatch") -> tuple[torch.Tensor, int]:
        u, _, usq = self.side(self.users, b.user_inputs)
        i, ib, isq = self.side(self.items, b.item_inputs)
        if ib is None:
            ib = torch.zeros(i.shape[0], device=i.device)
        ue = u[b.uinv]
        if self.loss_name in ("bpr", "bce"):
            s_pos = (ue * i[b.pos]).sum(1) + ib[b.pos]
            s_neg = torch.einsum("bd,bnd->bn", ue, i[b.neg]) + ib[b.neg]
            per = losses.bpr(s_pos, s_neg) if self.loss_name == "bpr" else losses.bce(s_pos, s_neg)
            reg = usq[b.uinv] + isq[b.pos] + isq[b.neg].mean(1)
        else:
            logits = ue @ i[b.cand].T + ib[b.cand]
            per = losses.softmax(losses.corrected_logits(logits, b.log_q, self.temperature, b.mask), b.target)
            reg = usq[b.uinv] + isq[b.pos]
        w = b.weights
        total = w.sum()
        out = (per * w).sum() / total
        if self.training and self.reg:
            out = out + self.reg * (reg * w).sum() / total
        return out, int(w.numel())
