"""Approximate top-k by inner product for large tables: a faiss inverted-file index (IVF), built once.

Maximum inner product search is turned into nearest-neighbour search (Bachrach et al., 2014): every row
``x`` gets one more coordinate ``sqrt(M^2 - |x|^2)`` (``M`` the largest norm) so all rows have norm ``M``,
queries get a 0 there, and the row nearest a query in L2 is the one with the largest inner product. The
rows are clustered into ``nlist`` lists (k-means on a seeded sample); a query scans the ``nprobe`` lists
nearest it. The candidates' scores are then computed exactly by the caller; only recall is approximate
(measured in protocol W).
"""
from __future__ import annotations

import math

import numpy as np

MIN_ROWS = 100_000  # below this an exact matrix product is about as fast


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("approximate search needs faiss: pip install 'featvec[faiss]'") from None
    return faiss


class IPIndex:
    """Top-k rows of ``matrix`` (n x d) by inner product with each query. ``nlist``: lists (default about
    sqrt(n)); ``nprobe``: lists scanned per query; ``seed``: the k-means sample and initialisation."""

    def __init__(self, matrix: np.ndarray, nlist: int | None = None, nprobe: int = 32, seed: int = 0):
        faiss = _faiss()
        x = np.ascontiguousarray(matrix, dtype=np.float32)
        if x.ndim != 2 or not len(x):
            raise ValueError(f"IPIndex needs a non-empty 2-D matrix, got shape {x.shape}")
        n, d = x.shape
        self.n, self.dim = n, d
        norms = np.einsum("ij,ij->i", x, x)
        self.max_norm2 = float(norms.max())
        extra = np.sqrt(np.maximum(self.max_norm2 - norms, 0.0)).astype(np.float32)
        rows = np.concatenate([x, extra[:, None]], axis=1)
        self.nlist = int(nlist or max(1, min(n // 39, round(math.sqrt(n)))))
        quantizer = faiss.IndexFlatL2(d + 1)
        index = faiss.IndexIVFFlat(quantizer, d + 1, self.nlist, faiss.METRIC_L2)
        index.cp.seed = seed
        sample = rows
        if n > 64 * self.nlist:
            sample = rows[np.random.default_rng(seed).choice(n, 64 * self.nlist, replace=False)]
        index.train(sample)
        index.add(rows)
        self.index, self.quantizer = index, quantizer
        self.nprobe = nprobe

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, row numbers), each [n_queries, k], best first; row -1 where fewer were found."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be [n, {self.dim}], got shape {q.shape}")
        k = int(min(k, self.n))
        self.index.nprobe = min(self.nprobe, self.nlist)
        dist, rows = self.index.search(np.concatenate([q, np.zeros((len(q), 1), np.float32)], axis=1), k)
        # |q - x|^2 = |q|^2 + M^2 - 2 q.x for every row (all of norm M)
        ip = (np.einsum("ij,ij->i", q, q)[:, None] + self.max_norm2 - dist) / 2
        ip[rows < 0] = -np.inf
        return ip, rows
