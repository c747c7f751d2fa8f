"""featvec's optimisers (featvec.training.optim) checked by hand on tiny problems: dense and lazy sparse updates."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from featvec.training.optim import SGD, Adagrad, Adam, make_optimizer


class TwoPart(nn.Module):
    """A sparse embedding table (4 rows of 2) and a dense linear map."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(4, 2, sparse=True)
        self.lin = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.emb.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]))
            self.lin.weight.copy_(torch.tensor([[0.5, -1.0]]))

    def loss(self, rows):
        return self.lin(self.emb(rows)).sum()


def grads(model, rows):
    """The loss's gradients, by hand: d/d emb[r] = lin.weight (per use of r); d/d lin = sum of the rows used."""
    g_emb = torch.zeros(4, 2)
    for r in rows.tolist():
        g_emb[r] += model.lin.weight[0].detach()
    return g_emb, model.emb.weight.detach()[rows].sum(0, keepdim=True)


def step(opt_cls, rows, **kw):
    model = TwoPart()
    before_emb, before_lin = model.emb.weight.detach().clone(), model.lin.weight.detach().clone()
    g_emb, g_lin = grads(model, rows)
    opt = opt_cls(model.parameters(), **kw)
    model.loss(rows).backward()
    assert model.emb.weight.grad.is_sparse and not model.lin.weight.grad.is_sparse
    opt.step()
    return model, before_emb, before_lin, g_emb, g_lin


ROWS = torch.tensor([1, 3, 1])  # row 1 twice, row 3 once; rows 0 and 2 untouched


def test_sgd_moves_the_touched_rows_only():
    model, e0, l0, g_emb, g_lin = step(SGD, ROWS, lr=0.1, weight_decay=0.5)
    w = model.emb.weight.detach()
    torch.testing.assert_close(w[[0, 2]], e0[[0, 2]])  # untouched rows keep their values (no decay either)
    want = e0[[1, 3]] - 0.1 * (g_emb[[1, 3]] + 0.5 * e0[[1, 3]])
    torch.testing.assert_close(w[[1, 3]], want)
    torch.testing.assert_close(model.lin.weight.detach(), l0 - 0.1 * (g_lin + 0.5 * l0))


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_first_step_by_hand(decoupled):
    lr, wd, b1, b2, eps = 0.01, 0.1, 0.9, 0.999, 1e-8
    model, e0, l0, g_emb, g_lin = step(Adam, ROWS, lr=lr, weight_decay=wd, decoupled=decoupled)

    def adam(p, g):
        if not decoupled:
            g = g + wd * p
        m, v = (1 - b1) * g, (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1), v / (1 - b2)
        base = p * (1 - lr * wd) if decoupled else p
        return base - lr * m_hat / (v_hat.sqrt() + eps)

    w = model.emb.weight.detach()
    torch.testing.assert_close(w[[0, 2]], e0[[0, 2]])
    torch.testing.assert_close(w[[1, 3]], adam(e0[[1, 3]], g_emb[[1, 3]]))
    torch.testing.assert_close(model.lin.weight.detach(), adam(l0, g_lin))


def test_lazy_adam_keeps_untouched_moments_and_uses_the_global_step():
    lr, b1, b2 = 0.1, 0.9, 0.999
    model = TwoPart()
    opt = Adam(model.parameters(), lr=lr)
    model.loss(torch.tensor([0])).backward()  # step 1 touches row 0
    opt.step()
    opt.zero_grad()
    w1 = model.emb.weight.detach().clone()
    m_row0 = opt.m[id(model.emb.weight)][0].clone()
    model.loss(torch.tensor([2])).backward()  # step 2 touches row 2 only
    opt.step()
    w2 = model.emb.weight.detach()
    torch.testing.assert_close(w2[[0, 1, 3]], w1[[0, 1, 3]])  # row 0 does not keep moving on its momentum
    torch.testing.assert_close(opt.m[id(model.emb.weight)][0], m_row0)
    g = model.lin.weight.detach()[0]  # row 2's gradient, from the linear map as it was after step 1
    m, v = (1 - b1) * g, (1 - b2) * g * g
    want = w1[2] - lr * (m / (1 - b1 ** 2)) / ((v / (1 - b2 ** 2)).sqrt() + 1e-8)
    torch.testing.assert_close(w2[2], want)


def test_adagrad_by_hand():
    model, e0, l0, g_emb, g_lin = step(Adagrad, ROWS, lr=0.5)
    w = model.emb.weight.detach()
    torch.testing.assert_close(w[[0, 2]], e0[[0, 2]])
    g = g_emb[[1, 3]]
    torch.testing.assert_close(w[[1, 3]], e0[[1, 3]] - 0.5 * g / (g.abs() + 1e-10))


def test_make_optimizer_names_and_errors():
    model = TwoPart()
    assert isinstance(make_optimizer("adam", model, 0.1, 0.0), Adam)
    assert make_optimizer("adamw", model, 0.1, 0.0).decoupled
    assert make_optimizer("sparse_adam", model, 0.1, 0.0).decoupled
    assert isinstance(make_optimizer("sgd", model, 0.1, 0.0), SGD)
    assert isinstance(make_optimizer("adagrad", model, 0.1, 0.0), Adagrad)
    assert len(make_optimizer("adam", model, 0.1, 0.0).params) == 2
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", model, 0.1, 0.0)


def test_frozen_parameters_are_left_alone():
    model = TwoPart()
    model.lin.weight.requires_grad_(False)
    opt = make_optimizer("adam", model, 0.1, 0.0)
    assert opt.params == [model.emb.weight]
    model.loss(ROWS).backward()
    before = model.lin.weight.detach().clone()
    opt.step()
    torch.testing.assert_close(model.lin.weight.detach(), before)


def test_adam_matches_torch_adam_on_dense_parameters():
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours, theirs = Adam(a.parameters(), lr=0.05, weight_decay=0.01), torch.optim.Adam(b.parameters(), lr=0.05,
                                                                                      weight_decay=0.01)
    x = torch.randn(16, 5)
    for _ in range(5):
        for m, o in ((a, ours), (b, theirs)):
            o.zero_grad()
            (m(x) ** 2).mean().backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert math.isfinite(float(a.weight.detach().sum()))


@pytest.mark.parametrize("opt_cls", [SGD, Adam])
def test_add_l2_steps_as_the_penalty_in_the_loss_would(opt_cls):
    """A penalty coef * |W|^2 given to the optimiser moves the parameters exactly as the same penalty added
    to the loss; on a sparse table it reaches every row, as the loss's penalty does."""
    coef, rows = 0.3, torch.tensor([1, 3])
    a, b = TwoPart(), TwoPart()
    opt_a = opt_cls(a.parameters(), lr=0.1)
    opt_a.add_l2([a.emb.weight, a.lin.weight], coef)
    a.loss(rows).backward()
    opt_a.step()
    b.emb.sparse = False  # the loss's penalty makes the table's gradient dense anyway
    opt_b = opt_cls(b.parameters(), lr=0.1)
    (b.loss(rows) + coef * (b.emb.weight.pow(2).sum() + b.lin.weight.pow(2).sum())).backward()
    opt_b.step()
    torch.testing.assert_close(a.emb.weight, b.emb.weight)
    torch.testing.assert_close(a.lin.weight, b.lin.weight)
    e0 = TwoPart().emb.weight.detach()
    if opt_cls is SGD:  # row 0 was not in the batch: it moves by the penalty alone
        torch.testing.assert_close(a.emb.weight.detach()[0], e0[0] * (1 - 0.1 * 2 * coef))
