"""Implicit alternating least squares (Hu, Koren & Volinsky 2008) solved by conjugate gradient
(Takacs, Pilaszy & Tikk 2011), vectorised over all users of a chunk at once: no Python loop per user.

For user u with items I_u and confidences c_ui = 1 + alpha * r_ui, the user vector solves

    (Y^T Y + sum_{i in I_u} (c_ui - 1) y_i y_i^T + reg * I) x_u = sum_{i in I_u} c_ui y_i

and the item side the same with the roles swapped. Each half-step runs ``cg_steps`` CG iterations from the
current vectors (warm start), as the ``implicit`` library does. Interactions are processed in chunks of at
most ``chunk_nnz`` non-zeros so memory stays bounded on large data.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch


class CSRMatrix:
    """Rows -> (column, confidence) lists as torch tensors: indptr [n+1], indices [nnz], conf [nnz]."""

    def __init__(self, indptr, indices, conf):
        self.indptr = torch.as_tensor(np.asarray(indptr), dtype=torch.long)
        self.indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        self.conf = torch.as_tensor(np.asarray(conf), dtype=torch.float32)

    @property
    def n_rows(self) -> int:
        return self.indptr.numel() - 1

    def transpose(self, n_cols: int) -> "CSRMatrix":
        rows = torch.repeat_interleave(torch.arange(self.n_rows), self.indptr.diff())
        order = torch.argsort(self.indices * (self.n_rows + 1) + rows)
        indptr = torch.zeros(n_cols + 1, dtype=torch.long)
        torch.cumsum(torch.bincount(self.indices, minlength=n_cols), 0, out=indptr[1:])
        return CSRMatrix(indptr, rows[order], self.conf[order])

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
    or a tensor with one per row of ``C``."""
    gram = Y.T @ Y
    per_row = torch.is_tensor(reg) and reg.dim() == 1
    if not per_row:
        gram.diagonal().add_(float(reg))
    lo, hi = rows if rows is not None else (0, C.n_rows)
    sub = C if rows is None else _slice_rows(C, lo, hi)
    for s, e in sub.chunks(chunk_nnz):
        p0, p1 = int(sub.indptr[s]), int(sub.indptr[e])
        ptr = sub.indptr[s:e + 1] - p0
        cols, c = sub.indices[p0:p1], sub.conf[p0:p1].to(Y.dtype)
        shape = (e - s, Y.shape[0])
        weights = _csr(ptr, cols, c, shape)
        pattern = _csr(ptr, cols, torch.zeros_like(c), shape)
        cm1 = c - 1.0
        b = weights @ Y
        Yt = Y.T.contiguous()

        lam = reg[lo + s:lo + e].to(Y.dtype).unsqueeze(1) if per_row else None

        def matvec(v: torch.Tensor) -> torch.Tensor:
            dots = torch.sparse.sampled_addmm(pattern, v, Yt, beta=0.0).values()
            out = v @ gram + _csr(ptr, cols, dots * cm1, shape) @ Y
            return out if lam is None else out + lam * v

        x = X[lo + s:lo + e]
        x.copy_(_cg(matvec, b, x.clone(), cg_steps))


def _csr(ptr, cols, values, shape) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(ptr, cols, values, shape, check_invariants=False)


def _cg(matvec, b: torch.Tensor, x: torch.Tensor, steps: int, tol: float = 1e-10) -> torch.Tensor:
    r = b - matvec(x)
    p = r.clone()
    rs = (r * r).sum(1)
    for _ in range(steps):
        if float(rs.max()) < tol:
            break
        ap = matvec(p)
        denom = (p * ap).sum(1)
        a = torch.where(denom > 0, rs / denom.clamp_min(1e-30), torch.zeros_like(rs))
        x = x + a.unsqueeze(1) * p
        r = r - a.unsqueeze(1) * ap
        rs_new = (r * r).sum(1)
        beta = torch.where(rs > 0, rs_new / rs.clamp_min(1e-30), torch.zeros_like(rs))
        p = r + beta.unsqueeze(1) * p
        rs = rs_new
    return x


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
