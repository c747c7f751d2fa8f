"""Unit tests of the torch layers: embedding, MLP, dot, regression."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from featvec.encoding import EncodedBag
from featvec.nn import MLP, FeatureEmbedding, GroupSpec, Regression, dot


GROUPS = [GroupSpec("c", "categorical", 5, 4), GroupSpec("b", "bag", 6, 4), GroupSpec("n", "numeric", 3, 4)]


def _inputs():
    return {"c": torch.tensor([0, 1, 4]), "b": EncodedBag.from_lists([[1, 2], [], [5]]),
            "n": torch.randn(3, 3, generator=torch.Generator().manual_seed(0))}


def test_feature_embedding_shapes():
    emb = FeatureEmbedding(GROUPS, init_std=0.1)
    vectors, bias = emb(_inputs())
    assert list(vectors) == ["c", "b", "n"]
    assert all(v.shape == (3, 4) for v in vectors.values())
    assert bias.shape == (3,)
    assert emb.table("c").shape == (5, 4) and emb.table("b").shape == (6, 4)
    assert emb.table("n").shape == (3, 4)  # one row per numeric column
    assert emb.bias_table("n").shape == (3,) and emb.bias_table("c").shape == (5,)


def test_feature_embedding_unknown_row_and_biases_start_at_zero():
    emb = FeatureEmbedding(GROUPS, init_std=0.1)
    for name in ("c", "b"):
        assert torch.count_nonzero(emb.table(name)[0]) == 0
        assert torch.count_nonzero(emb.table(name)[1:]) > 0
    assert torch.count_nonzero(emb.table("n")) > 0
    vectors, bias = emb(_inputs())
    assert torch.count_nonzero(vectors["c"][0]) == 0  # unknown category
    assert torch.count_nonzero(vectors["b"][1]) == 0  # empty bag
    assert torch.count_nonzero(bias) == 0
    pooled = emb.table("b")[[1, 2]].sum(0)
    torch.testing.assert_close(vectors["b"][0], pooled * 0.5)  # mean pooling


def test_feature_embedding_options():
    emb = FeatureEmbedding(GROUPS, bias=False, sparse=True)
    assert emb(_inputs())[1] is None and emb.bias_table("c") is None
    assert emb.tables[0].sparse and emb.tables[1].sparse
    with pytest.raises(ValueError, match="kind"):
        FeatureEmbedding([GroupSpec("x", "image", 3, 2)])


def test_mlp():
    torch.manual_seed(0)
    mlp = MLP(6, layers=(8, 4), n_out=2, dropout=[0.1, 0.0], input_dropout=0.2, batchnorm=True)
    assert mlp(torch.randn(5, 6)).shape == (5, 2)
    assert sum(isinstance(m, nn.Linear) for m in mlp.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in mlp.modules()) == 2
    assert MLP(3, layers=()).net[0].in_features == 3
    with pytest.raises(ValueError, match="dropout"):
        MLP(6, layers=(8, 4), dropout=[0.1])


def test_dot():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(dot(a, b), torch.einsum("ij,ij->i", a, b))


def test_regression_y_range_bounds():
    obj = Regression((1.0, 5.0))
    raw = torch.linspace(-50, 50, 201)
    out = obj.output(raw)
    assert out.min() >= 0.8 - 1e-6 and out.max() <= 5.2 + 1e-6
    assert out.min() < 1.0 and out.max() > 5.0  # the ends stay reachable
    assert torch.all(out[1:] >= out[:-1])
    assert obj.output(torch.tensor(0.0)).item() == pytest.approx(3.0)
    y = torch.tensor([1.0, 5.0])
    torch.testing.assert_close(obj.loss(torch.zeros(2), y), torch.tensor(4.0))


def test_regression_without_y_range_is_identity():
    obj = Regression()
    raw = torch.tensor([-10.0, 0.5, 12.0])
    assert torch.equal(obj.output(raw), raw)
    torch.testing.assert_close(obj.loss(raw, torch.zeros(3)), (raw ** 2).mean())
