"""Implicit-feedback losses (featvec.nn.losses) against hand formulas on tiny tensors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from featvec.nn import losses
from featvec.nn.losses import LOSSES, bce, bpr, corrected_logits, softmax


def log1pexp(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bpr_hand_computed():
    # -log sigmoid(2 - 1) = log(1 + e^-1); -log sigmoid(2 - 3) = log(1 + e^1); mean of the two
    out = bpr(torch.tensor([2.0]), torch.tensor([[1.0, 3.0]]))
    assert out.shape == (1,)
    assert out.item() == pytest.approx((log1pexp(-1) + log1pexp(1)) / 2, rel=1e-6)


def test_bpr_batch_and_equal_scores():
    pos = torch.tensor([0.0, 1.0, -2.0])
    neg = torch.tensor([[0.0], [3.0], [-2.5]])
    # log 2; log(1 + e^2); log(1 + e^-0.5)
    np.testing.assert_allclose(bpr(pos, neg).numpy(), [math.log(2), log1pexp(2), log1pexp(-0.5)], rtol=1e-6)


def test_bpr_is_stable_for_large_margins():
    out = bpr(torch.tensor([0.0, 100.0]), torch.tensor([[100.0], [0.0]]))
    assert torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(100.0, rel=1e-6)  # softplus(100) ~ 100
    assert out[1].item() == pytest.approx(0.0, abs=1e-30)


def test_bce_hand_computed():
    # -log sigmoid(2) - log sigmoid(-1) - log sigmoid(-3) = log(1+e^-2) + log(1+e^1) + log(1+e^3)
    out = bce(torch.tensor([2.0]), torch.tensor([[1.0, 3.0]]))
    assert out.item() == pytest.approx(log1pexp(-2) + log1pexp(1) + log1pexp(3), rel=1e-6)


def test_bce_sums_over_negatives():
    pos = torch.tensor([0.5, -1.0])
    neg = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 2.0, 0.0]])
    want = [log1pexp(-0.5) + 3 * math.log(2), log1pexp(1.0) + log1pexp(-1.0) + log1pexp(2.0) + math.log(2)]
    np.testing.assert_allclose(bce(pos, neg).numpy(), want, rtol=1e-6)


def test_softmax_hand_computed():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([2, 0])
    # row 0: -log(e^3 / (e + e^2 + e^3)); row 1: log 3
    want = [-(3 - math.log(math.e + math.e ** 2 + math.e ** 3)), math.log(3)]
    np.testing.assert_allclose(softmax(logits, target).numpy(), want, rtol=1e-6)


def test_softmax_ignores_masked_entries():
    logits = torch.tensor([[1.0, float("-inf"), 3.0, float("-inf")]])
    # -log(e^1 / (e^1 + e^3)) = log(1 + e^2)
    assert softmax(logits, torch.tensor([0])).item() == pytest.approx(log1pexp(2), rel=1e-6)


def test_corrected_logits():
    scores = torch.tensor([[2.0, 4.0, -1.0]])
    log_q = torch.tensor([math.log(0.5), math.log(0.25), math.log(0.25)])
    # scores / 2 - log q = [1 + log 2, 2 + log 4, -0.5 + log 4]
    out = corrected_logits(scores, log_q, temperature=2.0)
    np.testing.assert_allclose(out.numpy(), [[1 + math.log(2), 2 + math.log(4), -0.5 + math.log(4)]], rtol=1e-6)
    # no correction, no temperature: unchanged
    assert torch.equal(corrected_logits(scores, None), scores)
    # the input is not modified
    assert torch.equal(scores, torch.tensor([[2.0, 4.0, -1.0]]))


def test_corrected_logits_mask_and_per_row_log_q():
    scores = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    log_q = torch.tensor([[0.0, -1.0], [-2.0, 0.0]])
    mask = torch.tensor([[False, True], [False, False]])
    out = corrected_logits(scores, log_q, mask=mask)
    assert out[0, 1].item() == float("-inf")
    np.testing.assert_allclose(out.numpy()[[0, 1, 1], [0, 0, 1]], [1.0, 5.0, 4.0])
    # fed to softmax, the masked column gets no probability: row 0 has only its target left
    assert softmax(out, torch.tensor([0, 1])).numpy()[0] == pytest.approx(0.0, abs=1e-7)


def test_sampled_softmax_with_uniform_log_q_equals_plain_softmax():
    # a constant logQ shifts every logit by the same amount: the cross-entropy is unchanged
    torch.manual_seed(0)
    scores = torch.randn(4, 6)
    target = torch.tensor([0, 3, 5, 1])
    log_q = torch.full((6,), math.log(1 / 6))
    np.testing.assert_allclose(softmax(corrected_logits(scores, log_q), target).numpy(),
                               softmax(scores, target).numpy(), rtol=1e-5)


def test_gradients_flow():
    pos = torch.tensor([1.0, 0.0], requires_grad=True)
    neg = torch.tensor([[0.5, 2.0], [-1.0, 0.0]], requires_grad=True)
    (bpr(pos, neg).sum() + bce(pos, neg).sum()).backward()
    assert torch.isfinite(pos.grad).all() and torch.isfinite(neg.grad).all()
    # d/dpos of bpr is negative (raising the positive lowers the loss), of neg positive
    assert (pos.grad < 0).all() and (neg.grad > 0).all()


def test_loss_names():
    assert LOSSES == ("bpr", "bce", "sampled_softmax")
    assert callable(losses.bpr) and callable(losses.bce) and callable(losses.softmax)
