"""Implicit ALS by conjugate gradient (featvec.solvers.als) against exact numpy solves on tiny problems."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from featvec.solvers.als import CSRMatrix, als, fold_in, solve_side

N_USERS, N_ITEMS, K, REG = 30, 20, 4, 0.1


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny sparse products here are dominated by OpenMP start-up: on a busy machine one thread is
    ~50x faster than several. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def random_problem(seed=0, n_users=N_USERS, n_items=N_ITEMS, density=0.25, empty_rows=(3, 17)):
    """A CSR of confidences c_ui = 1 + alpha * r_ui (> 1) on random (user, item) pairs, as a dense matrix too."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[list(empty_rows)] = False  # users without any interaction
    conf = np.where(mask, 1.0 + rng.uniform(0.5, 10.0, (n_users, n_items)), 0.0)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))])
    rows, cols = np.nonzero(mask)  # row-major: sorted by user then item
    return CSRMatrix(indptr, cols, conf[rows, cols]), mask, conf


def exact_solution(Y: np.ndarray, mask: np.ndarray, conf: np.ndarray, reg: float) -> np.ndarray:
    """x_u = (Y^T Y + sum_i (c_ui - 1) y_i y_i^T + reg I)^-1 sum_i c_ui y_i for every row u."""
    k = Y.shape[1]
    out = np.zeros((mask.shape[0], k))
    for u in range(mask.shape[0]):
        items = np.flatnonzero(mask[u])
        c = conf[u, items]
        A = Y.T @ Y + (Y[items].T * (c - 1.0)) @ Y[items] + reg * np.eye(k)
        b = (Y[items] * c[:, None]).sum(0)
        out[u] = np.linalg.solve(A, b)
    return out


def objective(X: np.ndarray, Y: np.ndarray, mask: np.ndarray, conf: np.ndarray, reg: float) -> float:
    """sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2); p = 1, c = conf on observed, p = 0, c = 1 else."""
    P = mask.astype(np.float64)
    C = np.where(mask, conf, 1.0)
    return float((C * (P - X @ Y.T) ** 2).sum() + reg * ((X ** 2).sum() + (Y ** 2).sum()))


def rel_err(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-12))


# ---------------------------------------------------------------- solve_side


def test_solve_side_equals_exact_solution():
    C, mask, conf = random_problem(0)
    rng = np.random.default_rng(1)
    Y = torch.as_tensor(rng.normal(size=(N_ITEMS, K)))
    X = torch.as_tensor(rng.normal(scale=0.1, size=(N_USERS, K)))  # warm start from anywhere
    solve_side(X, Y, C, REG, cg_steps=50)
    want = exact_solution(Y.numpy(), mask, conf, REG)
    assert rel_err(X.numpy(), want) < 1e-4
    # users without interactions solve (Y^T Y + reg I) x = 0
    np.testing.assert_allclose(X.numpy()[[3, 17]], 0.0, atol=1e-8)


def test_solve_side_few_steps_reduce_the_residual():
    C, mask, conf = random_problem(2)
    rng = np.random.default_rng(3)
    Y = torch.as_tensor(rng.normal(size=(N_ITEMS, K)))
    want = exact_solution(Y.numpy(), mask, conf, REG)
    errs = []
    for steps in (0, 1, 2, K):
        X = torch.zeros(N_USERS, K, dtype=torch.float64)
        solve_side(X, Y, C, REG, cg_steps=steps)
        errs.append(rel_err(X.numpy(), want))
    assert errs[0] == pytest.approx(1.0)  # zero steps leave the zero start
    assert errs[1] < errs[0] and errs[2] < errs[1]
    assert errs[-1] < 1e-6  # CG is exact after k steps, up to rounding


def test_solve_side_chunking_gives_the_same_result():
    C, mask, conf = random_problem(4)
    rng = np.random.default_rng(5)
    Y = torch.as_tensor(rng.normal(size=(N_ITEMS, K)))
    X0 = torch.as_tensor(rng.normal(scale=0.1, size=(N_USERS, K)))
    one, chunked = X0.clone(), X0.clone()
    solve_side(one, Y, C, REG, cg_steps=3)
    assert len(list(C.chunks(3))) > N_USERS // 2
    solve_side(chunked, Y, C, REG, cg_steps=3, chunk_nnz=3)
    np.testing.assert_allclose(chunked.numpy(), one.numpy(), rtol=1e-9, atol=1e-12)
    # and solved to convergence (CG is exact after k steps; a few more for rounding), both agree with numpy
    solve_side(one, Y, C, REG, cg_steps=K + 4)
    solve_side(chunked, Y, C, REG, cg_steps=K + 4, chunk_nnz=3)
    want = exact_solution(Y.numpy(), mask, conf, REG)
    assert rel_err(one.numpy(), want) < 1e-4 and rel_err(chunked.numpy(), want) < 1e-4


def test_solve_side_rows_updates_only_those_rows():
    C, mask, conf = random_problem(6)
    rng = np.random.default_rng(7)
    Y = torch.as_tensor(rng.normal(size=(N_ITEMS, K)))
    X0 = torch.as_tensor(rng.normal(size=(N_USERS, K)))
    X = X0.clone()
    solve_side(X, Y, C, REG, cg_steps=50, rows=(5, 12))
    want = exact_solution(Y.numpy(), mask, conf, REG)
    assert rel_err(X.numpy()[5:12], want[5:12]) < 1e-4
    np.testing.assert_array_equal(X.numpy()[:5], X0.numpy()[:5])
    np.testing.assert_array_equal(X.numpy()[12:], X0.numpy()[12:])


def test_chunks_bound_the_non_zeros():
    C, mask, _ = random_problem(8)
    nnz = mask.sum(1)
    spans = list(C.chunks(7))
    assert spans[0][0] == 0 and spans[-1][1] == N_USERS
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    for s, e in spans:
        assert e > s
        assert nnz[s:e].sum() <= 7 or e - s == 1
    assert list(C.chunks(10**9)) == [(0, N_USERS)]


# ---------------------------------------------------------------- transpose


def test_transpose_is_a_transpose():
    C, mask, conf = random_problem(9)
    T = C.transpose(N_ITEMS)
    assert T.n_rows == N_ITEMS
    dense = np.zeros((N_ITEMS, N_USERS))
    ptr = T.indptr.numpy()
    for i in range(N_ITEMS):
        users = T.indices.numpy()[ptr[i]:ptr[i + 1]]
        assert (np.diff(users) > 0).all()  # sorted within each row
        dense[i, users] = T.conf.numpy()[ptr[i]:ptr[i + 1]]
    np.testing.assert_allclose(dense, conf.T.astype(np.float32))
    # twice is the identity
    TT = T.transpose(N_USERS)
    assert torch.equal(TT.indptr, C.indptr) and torch.equal(TT.indices, C.indices) and torch.equal(TT.conf, C.conf)


def test_transpose_with_empty_columns():
    C = CSRMatrix([0, 2, 2, 3], [1, 3, 1], [2.0, 3.0, 4.0])  # 3 rows, columns 0, 2, 4 empty
    T = C.transpose(5)
    np.testing.assert_array_equal(T.indptr.numpy(), [0, 0, 2, 2, 3, 3])
    np.testing.assert_array_equal(T.indices.numpy(), [0, 2, 0])
    np.testing.assert_allclose(T.conf.numpy(), [2.0, 4.0, 3.0])


# ---------------------------------------------------------------- als


def test_als_is_deterministic_with_a_seed():
    C, _, _ = random_problem(10)
    X1, Y1 = als(C, N_ITEMS, K, REG, iterations=3, seed=5)
    X2, Y2 = als(C, N_ITEMS, K, REG, iterations=3, seed=5)
    assert torch.equal(X1, X2) and torch.equal(Y1, Y2)
    X3, _ = als(C, N_ITEMS, K, REG, iterations=3, seed=6)
    assert not torch.equal(X1, X3)
    assert X1.shape == (N_USERS, K) and Y1.shape == (N_ITEMS, K)


@pytest.mark.parametrize("cg_steps", [3, 20])
def test_als_objective_decreases(cg_steps):
    C, mask, conf = random_problem(11)
    seen = []
    als(C, N_ITEMS, K, REG, iterations=6, cg_steps=cg_steps, seed=0,
        callback=lambda it, X, Y: seen.append((it, objective(X.double().numpy(), Y.double().numpy(), mask, conf, REG))))
    assert [it for it, _ in seen] == list(range(1, 7))
    losses = [v for _, v in seen]
    start = objective(np.zeros((N_USERS, K)), np.zeros((N_ITEMS, K)), mask, conf, REG)
    assert losses[0] < start
    for a, b in zip(losses, losses[1:]):
        assert b <= a * (1 + 1e-5), losses  # monotone (float32 rounding aside)
    assert losses[-1] < 0.7 * losses[0]


def test_als_half_steps_decrease_the_objective():
    # each half step minimises the objective over one side exactly (many CG steps): so it can only go down
    C, mask, conf = random_problem(12)
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.normal(scale=0.1, size=(N_USERS, K)))
    Y = torch.as_tensor(rng.normal(scale=0.1, size=(N_ITEMS, K)))
    Ct = C.transpose(N_ITEMS)
    values = [objective(X.numpy(), Y.numpy(), mask, conf, REG)]
    for _ in range(4):
        solve_side(X, Y, C, REG, cg_steps=50)
        values.append(objective(X.numpy(), Y.numpy(), mask, conf, REG))
        solve_side(Y, X, Ct, REG, cg_steps=50)
        values.append(objective(X.numpy(), Y.numpy(), mask, conf, REG))
    assert all(b <= a + 1e-9 * abs(a) for a, b in zip(values, values[1:])), values
    # the item side (solved last) is at its exact optimum for the final user vectors
    assert rel_err(Y.numpy(), exact_solution(X.numpy(), mask.T, conf.T, REG)) < 1e-4


# ---------------------------------------------------------------- fold_in


def test_fold_in_reproduces_the_exact_solve():
    C, mask, conf = random_problem(13)
    Y = torch.as_tensor(np.random.default_rng(14).normal(size=(N_ITEMS, K)))
    X = fold_in(Y, C, REG)
    assert X.dtype == Y.dtype and X.shape == (N_USERS, K)
    assert rel_err(X.numpy(), exact_solution(Y.numpy(), mask, conf, REG)) < 1e-4


def test_fold_in_float32():
    C, mask, conf = random_problem(15)
    Y = np.random.default_rng(16).normal(size=(N_ITEMS, K))
    X = fold_in(torch.as_tensor(Y, dtype=torch.float32), C, REG)
    assert X.dtype == torch.float32
    assert rel_err(X.numpy(), exact_solution(Y.astype(np.float32).astype(np.float64), mask, conf, REG)) < 1e-3


def test_fold_in_matches_the_fitted_user_side():
    # after als, folding in the training rows against the final items gives the last user half-step
    # solved exactly, which a few more exact sweeps of the user side also reach
    C, mask, conf = random_problem(17)
    X, Y = als(C, N_ITEMS, K, REG, iterations=3, cg_steps=3, seed=0)
    Yd = Y.double()
    Xd = X.double().clone()
    solve_side(Xd, Yd, C, REG, cg_steps=50)
    np.testing.assert_allclose(fold_in(Yd, C, REG).numpy(), Xd.numpy(), rtol=1e-6, atol=1e-9)


def test_solve_side_chunks_of_empty_rows_and_empty_matrix():
    # chunk_nnz=1 puts the trailing users without interactions into a chunk with no non-zero at all
    C = CSRMatrix([0, 2, 2, 2, 2], [1, 2], [2.0, 3.0])
    assert list(C.chunks(1)) == [(0, 1), (1, 4)]
    rng = np.random.default_rng(18)
    Y = torch.as_tensor(rng.normal(size=(4, 3)))
    X = torch.ones(4, 3, dtype=torch.float64)
    solve_side(X, Y, C, REG, cg_steps=20, chunk_nnz=1)
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, [1, 2]] = True
    conf = np.zeros((4, 4))
    conf[0, [1, 2]] = [2.0, 3.0]
    np.testing.assert_allclose(X.numpy(), exact_solution(Y.numpy(), mask, conf, REG), atol=1e-8)
    np.testing.assert_array_equal(fold_in(Y, CSRMatrix([0, 0, 0], [], []), REG).numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize("steps", [2, K + 4])
def test_the_torch_solver_takes_the_fused_kernels_steps(steps):
    """solve_side_torch (what a GPU runs) against the numba kernel, on the CPU: the same CG steps, row by
    row (few steps: mid-way; many: converged, where rows stop early), and the same rows only."""
    from featvec.solvers.als import solve_side_torch

    C, mask, conf = random_problem(8)
    rng = np.random.default_rng(9)
    Y = torch.as_tensor(rng.normal(size=(N_ITEMS, K)))
    X0 = torch.as_tensor(rng.normal(scale=0.1, size=(N_USERS, K)))
    fused, torched = X0.clone(), X0.clone()
    reg = REG * (1.0 + C.indptr.diff().to(torch.float64))
    solve_side(fused, Y, C, reg, cg_steps=steps, rows=(2, 25))
    solve_side_torch(torched, Y, C, reg, cg_steps=steps, rows=(2, 25), chunk_nnz=7)
    np.testing.assert_allclose(torched.numpy(), fused.numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(torched.numpy()[:2], X0.numpy()[:2])
