"""An entity's vector as a sparse row over one combined table: the representation the fused kernels use.

Every feature group of a ``FeatureEmbedding`` is a linear map of its input: a categorical value selects a
row, a bag sums weighted rows, a numeric group multiplies its columns' rows by the values. Stacking the
groups' tables gives one table ``W`` (and one bias vector ``B``), and an entity's vector is
``sum_k w_k W[r_k]`` over its *slots* ``(r_k, w_k)``: a CSR row per entity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from featvec.encoding import EncodedBag
from featvec.nn.embedding import FeatureEmbedding
from featvec.util.arrays import aligned


@dataclass
class Side:
    """One side (users or items) for the kernels: slots per entity, the stacked tables, what is trainable,
    and which rows belong to one entity only (``own``: row of entity e's own id vector, or -1)."""

    ptr: np.ndarray  # int64 [n_entities + 1]
    rows: np.ndarray  # int32 [slots]
    weights: np.ndarray  # float32 [slots]
    W: np.ndarray  # float32 [n_rows, dim]
    B: np.ndarray  # float32 [n_rows]
    bias_mask: np.ndarray  # float32 [n_rows]: 1 where the bias trains
    offsets: list[int]  # first row of each group
    exclusive: np.ndarray  # bool [n_rows]: the row is one entity's own (its id row)

    @property
    def n_entities(self) -> int:
        return len(self.ptr) - 1


def _group_slots(kind: str, x, offset: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entity, row, weight) triplets of one group's encoded inputs for entities 0..n-1."""
    if kind == "bag":
        bag: EncodedBag = x
        ptr = bag.indptr.numpy()
        ent = np.repeat(np.arange(n), np.diff(ptr))
        return ent, bag.indices.numpy() + offset, bag.weights.numpy()
    if kind == "numeric":
        v = x.numpy()
        ent, col = np.nonzero(v)
        return ent, col + offset, v[ent, col]
    return np.arange(n), x.numpy() + offset, np.ones(n)


def build_side(emb: FeatureEmbedding, inputs: dict, id_slot: torch.Tensor | None = None,
               per_group: bool = False) -> Side:
    """The kernels' view of ``emb`` for the entities whose encoded ``inputs`` are given (group name -> tensor
    or EncodedBag, one row per entity). ``id_slot``: the id group's input (row e: e, or 0 for an entity
    sharing the unknown row), whose own rows are exclusive to their entity. ``per_group``: one slot list per
    (row, group) instead of per row -- entity ``row * G + g`` (Feat2Vec's records)."""
    n = len(next(iter(inputs.values())))
    offsets, tables, biases, masks, parts = [], [], [], [], []
    off = 0
    for g, table in zip(emb.groups, emb.tables):
        offsets.append(off)
        w = table.weight.detach().cpu().float()
        tables.append((w.T if g.kind == "numeric" else w).numpy())
        if emb.bias_tables is not None:
            b = emb.bias_tables[emb.names.index(g.name)].weight.detach().cpu().float()
            biases.append((b.T if g.kind == "numeric" else b).numpy().reshape(-1))
        else:
            biases.append(np.zeros(g.n_in, dtype=np.float32))
        masks.append(np.full(g.n_in, float(emb.bias_tables is not None and g.bias), dtype=np.float32))
        ent, r, w = _group_slots(g.kind, inputs[g.name], off, n)
        parts.append((ent * len(emb.groups) + len(parts) if per_group else ent, r, w))
        off += g.n_in
    n_ent = n * len(emb.groups) if per_group else n
    ent = np.concatenate([p[0] for p in parts])
    order = np.argsort(ent, kind="stable")
    ptr = np.zeros(n_ent + 1, dtype=np.int64)
    np.cumsum(np.bincount(ent, minlength=n_ent), out=ptr[1:])
    exclusive = np.zeros(off, dtype=bool)
    if id_slot is not None:
        own = id_slot.cpu().numpy()
        own = own[own > 0]
        exclusive[own] = True
    return Side(ptr, np.concatenate([p[1] for p in parts])[order].astype(np.int32),
                np.concatenate([p[2] for p in parts])[order].astype(np.float32),
                aligned(np.concatenate(tables)), aligned(np.concatenate(biases)),
                np.concatenate(masks), offsets, exclusive)


def write_back(side: Side, emb: FeatureEmbedding) -> None:
    """Copy the trained stacked tables into ``emb``'s group tables."""
    with torch.no_grad():
        for g, table, off in zip(emb.groups, emb.tables, side.offsets):
            w = torch.from_numpy(side.W[off:off + g.n_in])
            table.weight.copy_(w.T if g.kind == "numeric" else w)
            if emb.bias_tables is not None:
                bt = emb.bias_tables[emb.names.index(g.name)].weight
                b = torch.from_numpy(side.B[off:off + g.n_in])
                bt.copy_(b.view(1, -1) if g.kind == "numeric" else b.view(-1, 1))
