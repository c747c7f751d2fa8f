"""Implicit alternating least squares (Hu, Koren & Volinsky 2008) solved by conjugate gradient
(Takacs, Pilaszy & Tikk 2011), one fused loop per row (``featvec.fused.als``), rows spread over threads.

For user u with items I_u and confidences c_ui = 1 + alpha * r_ui, the user vector solves

    (Y^T Y + sum_{i in I_u} (c_ui - 1) y_i y_i^T + reg * I) x_u = sum_{i in I_u} c_ui y_i

and the item side the same with the roles swapped. Each half-step runs ``cg_steps`` CG iterations from the
current vectors (warm start), as the ``implicit`` library does.
"""
from __future__ import annotations

import numpy as np
import torch

from featvec.fused.als import cg_rows, row_ranges
from featvec.util.threads import get_num_threads, run_parallel


class CSRMatrix:
    """Rows -> (column, confidence) lists as torch tensors: indptr [n+1], indices [nnz], conf [nnz]."""

    def __init__(self, indptr, indices, conf):
        self.indptr = torch.as_tensor(np.asarray(indptr), dtype=torch.long)
        # row / column numbers fit 4 bytes: at 160M non-zeros that is 0.64 GB less than int64, per orientation
        self.indices = torch.as_tensor(np.ascontiguousarray(indices, dtype=np.int32))
        self.conf = torch.as_tensor(np.ascontiguousarray(conf, dtype=np.float32))

    @property
    def n_rows(self) -> int:
        return self.indptr.numel() - 1

    def arrays(self, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """indptr, indices (int32) and confidences (``dtype``) as numpy arrays, converted once per dtype."""
        cache = self.__dict__.setdefault("_arrays", {})
        key = np.dtype(dtype).str
        if key not in cache:
            cache[key] = (self.indptr.numpy(), self.indices.numpy(), self.conf.numpy().astype(dtype, copy=False))
        return cache[key]

    def transpose(self, n_cols: int) -> "CSRMatrix":
        from featvec.util.arrays import transpose_csr

        return CSRMatrix(*transpose_csr(self.indptr.numpy(), self.indices.numpy(), self.conf.numpy(), n_cols))

    def chunks(self, max_nnz: int):
        """Contiguous row ranges (start, end) holding at most ``max_nnz`` non-zeros (or one row)."""
        ptr = self.indptr.numpy()
        start, n = 0, self.n_rows
        while start < n:
            end = int(np.searchsorted(ptr, ptr[start] + max_nnz, side="right")) - 1
            end = min(max(end, start + 1), n)
            yield start, end
            start = end


def solve_side(X: torch.Tensor, Y: torch.Tensor, C: CSRMatrix, reg, cg_steps: int = 3,
               chunk_nnz: int = 1 << 20, rows: tuple[int, int] | None = None) -> None:
    """Update ``X`` in place: for every row of ``C`` (restricted to ``rows``), ``cg_steps`` conjugate
    gradient steps on that row's least-squares system against the fixed ``Y``. ``reg`` is one L2 weight
    or a tensor with one per row of ``C``. The rows run in featvec's kernel threads, in ranges of about
    ``chunk_nnz`` non-zeros at most (the result is the same for any split)."""
    x, y = X.numpy(), np.ascontiguousarray(Y.detach().numpy(), dtype=X.numpy().dtype)
    if not x.flags.c_contiguous:
        raise ValueError("solve_side updates X in place and needs it C-contiguous")
    gram = y.T @ y
    lam = (reg.numpy() if torch.is_tensor(reg) and reg.dim() == 1 else np.full(C.n_rows, float(reg)))
    lam = np.ascontiguousarray(lam, dtype=x.dtype)
    indptr, indices, conf = C.arrays(x.dtype)
    lo, hi = rows if rows is not None else (0, C.n_rows)
    ranges = [r for s, e in _slice_rows(C, lo, hi).chunks(chunk_nnz)
              for r in row_ranges(indptr, lo + s, lo + e, get_num_threads())]
    run_parallel(cg_rows, [(x, y, gram, indptr, indices, conf, lam, a, b, int(cg_steps)) for a, b in ranges])


def _slice_rows(C: CSRMatrix, lo: int, hi: int) -> CSRMatrix:
    p0, p1 = int(C.indptr[lo]), int(C.indptr[hi])
    out = CSRMatrix.__new__(CSRMatrix)
    out.indptr = C.indptr[lo:hi + 1] - p0
    out.indices, out.conf = C.indices[p0:p1], C.conf[p0:p1]
    return out


def frequency_reg(C: CSRMatrix, reg: float, exponent: float) -> torch.Tensor | float:
    """Per-row L2 weights ``reg * (1 + n_row) ** exponent`` (exponent 0: the plain ``reg``)."""
    if not exponent:
        return reg
    return reg * (1.0 + C.indptr.diff().to(torch.float32)) ** exponent


def als(C: CSRMatrix, n_cols: int, dim: int, reg: float, iterations: int = 15, cg_steps: int = 3,
        seed: int = 0, init_std: float = 0.01, chunk_nnz: int = 1 << 20, callback=None, reg_exponent: float = 0.0):
    """Factorise the confidence matrix ``C`` (rows = users): returns (user vectors, item vectors).
    ``reg_exponent`` scales each row's L2 weight by its number of interactions to that power (frequency-
    scaled regularisation, as in Rendle et al. 2021's iALS). ``callback(iteration, X, Y)`` runs after
    every iteration."""
    gen = torch.Generator().manual_seed(int(seed))
    X = torch.rand(C.n_rows, dim, generator=gen) * init_std
    Y = torch.rand(n_cols, dim, generator=gen) * init_std
    Ct = C.transpose(n_cols)
    reg_u, reg_i = frequency_reg(C, reg, reg_exponent), frequency_reg(Ct, reg, reg_exponent)
    for it in range(iterations):
        solve_side(X, Y, C, reg_u, cg_steps, chunk_nnz)
        solve_side(Y, X, Ct, reg_i, cg_steps, chunk_nnz)
        if callback is not None:
            callback(it + 1, X, Y)
    return X, Y


def fold_in(Y: torch.Tensor, C: CSRMatrix, reg: float, steps: int | None = None,
            reg_exponent: float = 0.0) -> torch.Tensor:
    """Vectors for the rows of ``C`` against fixed ``Y``, solved to convergence from zero (CG for at
    most ``steps``, default the dimension + 10, which is exact up to rounding)."""
    X = torch.zeros(C.n_rows, Y.shape[1], dtype=Y.dtype)
    solve_side(X, Y, C, frequency_reg(C, reg, reg_exponent), steps or Y.shape[1] + 10)
    return X
