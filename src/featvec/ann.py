"""Approximate top-k by inner product for large tables: a faiss inverted-file index (IVF), built once and
calibrated.

The rows are clustered into ``nlist`` lists by inner product (k-means on a seeded sample); a query scans the
``nprobe`` lists whose centroids score highest. How many lists a query must scan depends on the data: on
clustered embeddings a few percent reach a recall@10 of 0.9, on vectors without structure a quarter may not.
So the index calibrates itself: on sample queries (given, e.g. user vectors, or rows of the table) it finds the
smallest ``nprobe`` whose recall@k against the exact answer reaches ``recall``, and keeps the measured recall
(``recall_``). The candidates' scores are computed exactly by the caller; only the recall is approximate.
"""
from __future__ import annotations

import importlib.util
import math

import numpy as np

MIN_ROWS = 100_000  # below this an exact matrix product is about as fast


def available() -> bool:
    return importlib.util.find_spec("faiss") is not None


def worth_it(rows: int, model=None) -> bool:
    """Whether to answer from an index: ``rows`` of ``MIN_ROWS`` or more, faiss installed, and (for a
    recommender) a score that is a dot product plus biases (no MLP)."""
    if rows < MIN_ROWS or not available():
        return False
    return model is None or getattr(model.net_, "mlp", None) is None


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("approximate search needs faiss: pip install 'featvec[faiss]'") from None
    return faiss


def exact_top(queries: np.ndarray, matrix: np.ndarray, k: int, chunk: int = 16) -> np.ndarray:
    """Row numbers of the k largest inner products per query (unordered within the k), by brute force."""
    out = []
    for s in range(0, len(queries), chunk):
        scores = queries[s:s + chunk] @ matrix.T
        out.append(np.argpartition(-scores, k - 1, axis=1)[:, :k])
    return np.concatenate(out)


class IPIndex:
    """Top-k rows of ``matrix`` (n x d) by inner product. ``queries``: a sample like the ones to come (default:
    200 rows of the matrix) on which ``nprobe`` is calibrated to reach ``recall`` at ``k`` (deeper than the k
    asked for later: a user's top items once their seen ones are left out lie deeper); ``nlist``: lists
    (default about sqrt(n)); ``seed``: the samples and the k-means initialisation."""

    def __init__(self, matrix: np.ndarray, queries: np.ndarray | None = None, recall: float = 0.9, k: int = 50,
                 nlist: int | None = None, seed: int = 0):
        faiss = _faiss()
        x = np.ascontiguousarray(matrix, dtype=np.float32)
        if x.ndim != 2 or not len(x):
            raise ValueError(f"IPIndex needs a non-empty 2-D matrix, got shape {x.shape}")
        if not 0 < recall <= 1:
            raise ValueError(f"recall must be in (0, 1], got {recall}")
        n, d = x.shape
        self.n, self.dim = n, d
        self.nlist = int(nlist or max(1, min(n // 39, round(math.sqrt(n)))))
        rng = np.random.default_rng(seed)
        self.quantizer = faiss.IndexFlatIP(d)
        self.index = faiss.IndexIVFFlat(self.quantizer, d, self.nlist, faiss.METRIC_INNER_PRODUCT)
        self.index.cp.seed = seed
        self.index.train(x if n <= 64 * self.nlist else x[rng.choice(n, 64 * self.nlist, replace=False)])
        self.index.add(x)
        if queries is None:
            queries = x[rng.choice(n, min(n, 200), replace=False)]
        self.nprobe, self.recall_ = self._calibrate(x, np.ascontiguousarray(queries, dtype=np.float32), recall, k)

    def _calibrate(self, x: np.ndarray, q: np.ndarray, target: float, k: int) -> tuple[int, float]:
        k = min(k, self.n)
        truth = exact_top(q, x, k)
        nprobe, got = 1, 0.0
        while True:
            self.index.nprobe = nprobe
            _, rows = self.index.search(q, k)
            got = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(rows, truth)]))
            if got >= target or nprobe >= self.nlist:
                return nprobe, got
            nprobe = min(self.nlist, nprobe * 2)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, row numbers), each [n_queries, k], best first; row -1 where fewer were found."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be [n, {self.dim}], got shape {q.shape}")
        self.index.nprobe = self.nprobe
        self.index.parallel_mode = 1 if len(q) < 4 else 0  # few queries: the threads share the lists instead
        ip, rows = self.index.search(q, int(min(k, self.n)))
        ip[rows < 0] = -np.inf
        return ip, rows
