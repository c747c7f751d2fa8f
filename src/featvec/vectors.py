"""Labelled embedding tables and nearest neighbours over them."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import torch

from featvec.util.threads import cached
from featvec.validation import check_k, check_kind, plain, values_kind


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def topk_rows(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    k = min(k, scores.shape[1])
    return torch.topk(scores, k, dim=1)


class Vectors:
    """One embedding table whose rows carry their original labels (ids, category values)."""

    def __init__(self, labels: Iterable, matrix, bias=None, name: str = ""):
        self.labels = list(labels)
        self.matrix = np.asarray(matrix, dtype=np.float32)
        if not self.matrix.flags.writeable:  # torch warns on read-only arrays; one copy
            self.matrix = self.matrix.copy()
        if self.matrix.ndim != 2 or len(self.labels) != self.matrix.shape[0]:
            raise ValueError(f"{name}: need one label per row, got {len(self.labels)} labels for {self.matrix.shape}")
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.name = name
        self._pos = pd.Index(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Vectors({self.name!r}, {len(self)} x {self.dim})"

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.matrix, index=pd.Index(self.labels, name=self.name or None),
                          columns=[f"f{i}" for i in range(self.dim)])
        if self.bias is not None:
            df["bias"] = self.bias
        return df

    @property
    def kind(self) -> str | None:
        """The kind of the labels ("number", "text", ...), found once (a scan of every label)."""
        return cached(self, "_kind", lambda: values_kind(self.labels))

    def positions(self, labels) -> np.ndarray:
        labels = list(labels)
        pos = self._pos.get_indexer(labels)
        if (pos < 0).any():
            check_kind(self.kind, labels, "label", self.name or "vectors", "the table holds")
            bad = [plain(lab) for lab, p in zip(labels, pos) if p < 0][:5]
            raise ValueError(f"{self.name or 'vectors'}: unknown label(s) {bad}")
        return pos

    def __getitem__(self, labels) -> np.ndarray:
        if np.isscalar(labels) or isinstance(labels, (str, tuple)):
            return self.matrix[self.positions([labels])[0]]
        return self.matrix[self.positions(labels)]

    def __contains__(self, label) -> bool:
        return label in self._pos

    def similar(self, labels, k: int = 10, metric: str = "cosine", exclude_self: bool = True,
                candidates: Iterable | None = None, approximate: bool = False) -> pd.DataFrame:
        """The k nearest rows to each label (batch-first): columns query, label, score, rank.
        ``approximate=True`` (the whole table; needs faiss): candidates from an inverted-file index built at
        the first call and kept (``featvec.ann``), for tables of 100,000+ rows; their scores are exact."""
        k = check_k(k)
        labels = [labels] if np.isscalar(labels) or isinstance(labels, str) else list(labels)
        pos = self.positions(labels)
        if approximate:
            if candidates is not None:
                raise ValueError("approximate=True searches the whole table: leave candidates out")
            return self._similar_approximate(labels, pos, k, metric, exclude_self)
        q = torch.as_tensor(self.matrix[pos])
        if candidates is None:  # the whole table: its unit rows and labels are kept (a service asks often)
            unit = metric == "cosine"
            m = self._unit() if unit else torch.as_tensor(self.matrix)
            return nearest(q, m, labels, self._label_array(), k, metric, self_pos=pos if exclude_self else None,
                           matrix_is_unit=unit)
        cand_pos = self.positions(candidates)
        m = torch.as_tensor(self.matrix[cand_pos])
        return nearest(q, m, labels, self._label_array()[cand_pos], k, metric,
                       self_pos=pos if exclude_self else None, cand_pos=cand_pos)

    def _similar_approximate(self, labels: list, pos: np.ndarray, k: int, metric: str, exclude_self: bool):
        from featvec.ann import IPIndex

        if metric not in ("cosine", "dot"):
            raise ValueError(f"metric must be 'cosine' or 'dot', got {metric!r}")
        m = self._unit() if metric == "cosine" else torch.as_tensor(self.matrix)
        index = cached(self, f"_ann_{metric}", lambda: IPIndex(m.numpy()))
        q = m[torch.as_tensor(pos)].numpy()
        ip, rows = index.search(q, k + (1 if exclude_self else 0))
        if exclude_self:
            ip[rows == pos[:, None]] = -np.inf
        order = np.argsort(-ip, axis=1, kind="stable")[:, :k]
        val = torch.as_tensor(np.take_along_axis(ip, order, 1))
        idx = torch.as_tensor(np.take_along_axis(rows, order, 1)).clamp_min(0)
        out_q, out_l, out_s, out_r = [], [], [], []
        _collect(val, idx, self._label_array(), labels, 0, out_q, out_l, out_s, out_r)
        return pd.DataFrame({"query": out_q, "label": out_l, "score": np.asarray(out_s, dtype=np.float32),
                             "rank": np.asarray(out_r, dtype=np.int64)})

    def _unit(self) -> torch.Tensor:
        return cached(self, "_unit_rows", lambda: _normalise(torch.as_tensor(self.matrix)))

    def _label_array(self) -> np.ndarray:
        return cached(self, "_labels_array", lambda: np.asarray(self.labels + [None], dtype=object)[:-1])


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _search_faiss(faiss, queries: torch.Tensor, matrix: torch.Tensor, k: int):
    """Exact inner-product search (IndexFlatIP) -> (scores, positions) as torch tensors [n, k]."""
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(np.ascontiguousarray(matrix.numpy(), dtype=np.float32))
    val, idx = index.search(np.ascontiguousarray(queries.numpy(), dtype=np.float32), k)
    val = torch.as_tensor(val)
    val[torch.as_tensor(idx) < 0] = -torch.inf
    return val, torch.as_tensor(idx).clamp_min(0)


def nearest(queries: torch.Tensor, matrix: torch.Tensor, query_labels: list, labels: np.ndarray, k: int,
            metric: str = "cosine", self_pos=None, cand_pos=None, chunk: int = 1024,
            backend: str = "auto", matrix_is_unit: bool = False) -> pd.DataFrame:
    """k-NN by cosine or dot product, chunked over queries; self-matches are removed. ``backend``:
    "faiss" (exact inner-product index), "exact" (torch matmul + topk), or "auto" (faiss when installed).
    ``cand_pos``: the positions of ``matrix``'s rows among those ``self_pos`` counts (None: the same);
    ``matrix_is_unit``: its rows are already unit length (cosine)."""
    if metric not in ("cosine", "dot"):
        raise ValueError(f"metric must be 'cosine' or 'dot', got {metric!r}")
    if backend not in ("auto", "faiss", "exact"):
        raise ValueError(f"backend must be 'auto', 'faiss' or 'exact', got {backend!r}")
    faiss = _faiss() if backend != "exact" else None
    if backend == "faiss" and faiss is None:
        raise ImportError("backend='faiss' needs faiss: pip install 'featvec[faiss]'")
    if metric == "cosine":
        queries, matrix = _normalise(queries), (matrix if matrix_is_unit else _normalise(matrix))
    out_q, out_l, out_s, out_r = [], [], [], []
    cand_index = None if cand_pos is None else pd.Index(cand_pos)

    def own_rows(part) -> np.ndarray:  # each query's own row among the candidates (-1: not one of them)
        return np.asarray(part) if cand_index is None else cand_index.get_indexer(part)
    for start in range(0, len(queries), chunk):
        if faiss is not None:
            extra = 0 if self_pos is None else 1
            val, idx = _search_faiss(faiss, queries[start:start + chunk], matrix,
                                     max(min(k + extra, matrix.shape[0]), 1) if len(matrix) else 0)
            if self_pos is not None:
                own = torch.as_tensor(own_rows(self_pos[start:start + chunk]), dtype=torch.long)
                val[idx == own[:, None]] = -torch.inf
                order = torch.sort(val, dim=1, descending=True, stable=True).indices[:, :max(min(k, val.shape[1]), 0)]
                val, idx = val.gather(1, order), idx.gather(1, order)
            else:
                val, idx = val[:, :k], idx[:, :k]
            _collect(val, idx, labels, query_labels, start, out_q, out_l, out_s, out_r)
            continue
        s = queries[start:start + chunk] @ matrix.T
        if self_pos is not None:
            own = own_rows(self_pos[start:start + chunk])
            rows = np.flatnonzero(own >= 0)
            s[torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(own[rows], dtype=torch.long)] = -torch.inf
        # self-matches are -inf and dropped below (a query outside the candidates loses nothing)
        val, idx = torch.topk(s, max(min(k, s.shape[1]), 0), dim=1)
        _collect(val, idx, labels, query_labels, start, out_q, out_l, out_s, out_r)
    return pd.DataFrame({"query": out_q, "label": out_l, "score": np.asarray(out_s, dtype=np.float32),
                         "rank": np.asarray(out_r, dtype=np.int64)})


def _collect(val, idx, labels, query_labels, start, out_q, out_l, out_s, out_r) -> None:
    for r in range(val.shape[0]):
        ok = torch.isfinite(val[r])
        n = int(ok.sum())
        out_q.extend([query_labels[start + r]] * n)
        out_l.extend(labels[idx[r][ok].numpy()])
        out_s.extend(val[r][ok].tolist())
        out_r.extend(range(1, n + 1))


class VectorSet(Mapping):
    """All of a model's labelled tables by name (``model.vectors_["items"]``)."""

    def __init__(self, tables: dict[str, Vectors]):
        self._tables = dict(tables)

    def __getitem__(self, name: str) -> Vectors:
        if name not in self._tables:
            raise KeyError(f"no vectors named {name!r}; have {list(self._tables)}")
        return self._tables[name]

    def __iter__(self):
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return "VectorSet(" + ", ".join(f"{k}: {len(v)}x{v.dim}" for k, v in self._tables.items()) + ")"
