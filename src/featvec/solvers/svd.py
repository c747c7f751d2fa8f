"""Embedding tables from a truncated SVD of the rows' pooled bags (latent semantic analysis)."""
from __future__ import annotations

import torch

from featvec.encoding import EncodedBag

DENSE_CELLS = 1 << 24  # a bag matrix up to this many cells is multiplied dense


def bag_matrix(bag: EncodedBag, n_in: int) -> torch.Tensor:
    """The pooled bags as a sparse [rows, n_in] matrix: row i holds bag i's pooling weights (a value
    repeated in a bag adds up)."""
    rows = torch.repeat_interleave(torch.arange(len(bag)), bag.indptr.diff())
    return torch.sparse_coo_tensor(torch.stack([rows, bag.indices]), bag.weights.double(),
                                   (len(bag), n_in), check_invariants=False).coalesce()


def svd_table(bag: EncodedBag, n_in: int, dim: int, seed: int = 0, power_iters: int = 6,
              oversample: int | None = None) -> torch.Tensor:
    """An [n_in, dim] table V_k / sqrt(s_k) from the top ``dim`` singular triplets of the rows' pooled bags
    A = U S V^T, so that pooling a row through it gives U_k sqrt(s_k): rows with similar bags get similar
    vectors, and values that occur in similar bags get similar rows. Randomised SVD (float32 on a small
    dense matrix, float64 on a sparse one), seeded, with ``oversample`` extra directions (default
    max(10, dim)). Columns beyond the rank of A are zero."""
    a = bag_matrix(bag, n_in)
    if len(bag) * n_in <= DENSE_CELLS:  # small: dense float32 products are many times faster than sparse ones
        a = a.to_dense().float()
        at = a.t()
        mm = torch.mm
    else:
        at = a.t().coalesce()
        mm = torch.sparse.mm
    q_dim = min(dim + (max(10, dim) if oversample is None else oversample), n_in, len(bag))
    if q_dim == 0:
        return torch.zeros(n_in, dim)
    g = torch.Generator().manual_seed(int(seed))
    q = torch.linalg.qr(mm(a, torch.randn(n_in, q_dim, generator=g, dtype=torch.float64).to(a.dtype)))[0]
    for _ in range(power_iters):
        q = torch.linalg.qr(mm(at, q))[0]
        q = torch.linalg.qr(mm(a, q))[0]
    b = mm(at, q).t()  # [q_dim, n_in] = Q^T A
    _, s, vt = torch.linalg.svd(b, full_matrices=False)
    k = min(dim, len(s))
    keep = s[:k] > s[0] * (1e-5 if s.dtype == torch.float32 else 1e-10)  # beyond: rounding noise, not rank
    table = torch.zeros(n_in, dim, dtype=s.dtype)
    v = vt[:k].t()[:, keep]
    table[:, : v.shape[1]] = v / s[:k][keep].sqrt()
    return table.float()
