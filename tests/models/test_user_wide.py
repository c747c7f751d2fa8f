"""UserModel's small-data options: the wide (linear) part beside the MLP with its L2 penalty, bag tables
started from the SVD of the pooled bags (svd_table checked against numpy's SVD), frozen bags, no batch norm,
and their persistence. Data: the planted generator of test_user_model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import featvec
from featvec import Bag
from featvec.encoding import EncodedBag, FeatureEncoder
from featvec.models.user import UserModel
from featvec.solvers.svd import bag_matrix, svd_table
from featvec.training.optim import make_optimizer
from test_user_model import planted

WIDE = dict(bags=[Bag("cats", pooling="tfidf", dim=8), Bag("brands", weights="ratings", pooling="tfidf", dim=4)],
            targets=["gender", "age"], wide=True, bag_init="svd", freeze_bags=True, batchnorm=False, layers=(16,),
            dropout=0.5, epochs=20, batch_size=64, lr=3e-3, patience=None, calibrate=False, wide_l2=1.0)


@pytest.fixture(scope="module")
def train():
    return planted(1000, 0)


@pytest.fixture(scope="module")
def test():
    return planted(1000, 1)


@pytest.fixture(scope="module")
def model(train):
    return UserModel(**WIDE).fit(train)


# ---------------------------------------------------------------- svd_table


def test_svd_table_gives_u_sqrt_s():
    rng = np.random.default_rng(0)
    # 12 columns: the randomised range (dim + 10 directions) covers all of them, so the SVD is exact
    lists = [list(rng.integers(1, 12, rng.integers(0, 15))) for _ in range(200)]
    bag = EncodedBag.from_lists(lists, pooling="sqrt")
    a = bag_matrix(bag, 12).to_dense().numpy()
    assert a[:, 0].sum() == 0 and np.isclose(a[0].sum(), len(lists[0]) / np.sqrt(max(len(lists[0]), 1)))
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    table = svd_table(bag, 12, 5, seed=3).numpy()
    pooled = a @ table
    ref = u[:, :5] * np.sqrt(s[:5])
    signs = np.sign((pooled * ref).sum(0))
    np.testing.assert_allclose(pooled * signs, ref, atol=1e-4)
    np.testing.assert_array_equal(svd_table(bag, 12, 5, seed=3).numpy(), table)  # seeded


def test_svd_table_beyond_the_rank_is_zero():
    bag = EncodedBag.from_lists([[1, 2], [1, 2], [3]], pooling="sum")  # rank 2: rows {1, 2} and {3}
    table = svd_table(bag, 4, 6).numpy()
    assert table.shape == (4, 6)
    assert np.abs(table[:, :2]).sum() > 0 and np.abs(table[:, 2:]).max() < 1e-6
    assert np.abs(table[0]).max() < 1e-6  # the unknown row holds in no bag
    assert svd_table(EncodedBag.from_lists([[], []]), 4, 3).abs().max() == 0  # nothing to decompose


# ---------------------------------------------------------------- the model


def test_wide_and_deep_finds_the_planted_demographics(model, test):
    # the same thresholds as the deep model on 2,000 users (test_user_model), here with 1,000
    acc = model.score(test)
    assert acc["gender"] > 0.9
    assert acc["age"] > 0.7
    assert model.net_.wide is not None and not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.net_.modules())


def test_frozen_svd_bags_keep_their_starting_tables(model, train):
    inputs = FeatureEncoder(model.features_).fit(train).transform(train)
    for name, dim in (("cats", 8), ("brands", 4)):
        n_in = len(model.encoder_.vocabs[name])  # with the unknown row
        start = svd_table(inputs[name], n_in, dim, seed=0).numpy()
        np.testing.assert_array_equal(model.vectors_[name].matrix, start[1:])
    # not frozen: the tables move from that start
    moved = UserModel(**{**WIDE, "freeze_bags": False, "epochs": 2}).fit(train)
    start = svd_table(inputs["cats"], len(moved.encoder_.vocabs["cats"]), 8, seed=0).numpy()
    assert np.abs(moved.vectors_["cats"].matrix - start[1:]).max() > 1e-3


def test_wide_tables_one_per_named_input(train):
    m = UserModel(**{**WIDE, "wide": ["brands"], "epochs": 1}).fit(train)
    assert m.net_.wide.names == ["brands"]
    assert m.net_.wide.table("brands").shape == (len(m.encoder_.vocabs["brands"]), 2 + 3)  # gender + age
    assert UserModel(**{**WIDE, "wide": False, "epochs": 1}).fit(train).net_.wide is None
    # wide over a categorical and a numeric attribute too
    both = UserModel(**{**WIDE, "attributes": ["region", featvec.Numeric(["tenure"])], "epochs": 1}).fit(train)
    assert both.net_.wide.names == ["cats", "brands", "region", "tenure"]
    assert both.net_.wide.table("tenure").shape == (1, 5)


def test_wide_l2_is_the_penalty_in_training_and_shrinks_the_weights(model, train):
    net = model.net_
    n = len(train)
    assert net.wide_l2 == pytest.approx(WIDE["wide_l2"] / (2 * n))
    # the penalty wide_l2 * |W|^2 on the wide tables goes to the optimiser (its gradient added at each step)
    (params, coef), = net.l2_terms()
    assert coef == net.wide_l2 and [id(p) for p in params] == [id(t.weight) for t in net.wide.tables]
    opt = make_optimizer("sgd", net, lr=0.5, weight_decay=0.0)  # takes the net's l2_terms
    before = [t.weight.detach().clone() for t in net.wide.tables]
    for t in net.wide.tables:
        t.weight.grad = torch.zeros_like(t.weight)
    opt.step()  # no loss gradient: the weights shrink by the penalty's alone
    for t, w0 in zip(net.wide.tables, before):
        torch.testing.assert_close(t.weight.detach(), w0 * (1 - 0.5 * 2 * net.wide_l2))
    with torch.no_grad():
        for t, w0 in zip(net.wide.tables, before):
            t.weight.copy_(w0)

    def wide_norm(l2):
        m = UserModel(**{**WIDE, "wide_l2": l2, "epochs": 5}).fit(train)
        return sum(float(t.weight.detach().pow(2).sum()) for t in m.net_.wide.tables)
    assert wide_norm(1e5) < 1e-3 * wide_norm(0.0)


def test_save_load_keeps_the_wide_part_and_the_idf(model, test, tmp_path):
    loaded = featvec.load(model.save(tmp_path / "m"))
    assert loaded.get_params() == model.get_params()
    assert loaded.net_.config["wide"] == ["cats", "brands"] and loaded.net_.config["batchnorm"] is False
    np.testing.assert_array_equal(loaded.encoder_.idf["cats"], model.encoder_.idf["cats"])
    rows = test.iloc[:30]
    for t, p in model.predict_proba(rows).items():
        pd.testing.assert_frame_equal(loaded.predict_proba(rows)[t], p)


def test_same_seed_same_model(train, test):
    a = UserModel(**{**WIDE, "epochs": 3}).fit(train).predict_proba(test.iloc[:20])
    b = UserModel(**{**WIDE, "epochs": 3}).fit(train).predict_proba(test.iloc[:20])
    for t in a:
        pd.testing.assert_frame_equal(a[t], b[t])


@pytest.mark.parametrize("params, match", [
    ({"wide": ["nope"]}, r"wide names input\(s\) \['nope'\]"),
    ({"wide_l2": -1.0}, "wide_l2 must be a finite number >= 0"),
    ({"wide_l2": float("nan")}, "wide_l2"),
    ({"bag_init": "pca"}, "bag_init must be 'random', 'svd' or 'auto'"),
])
def test_argument_errors(train, params, match):
    with pytest.raises(ValueError, match=match):
        UserModel(**{**WIDE, **params}).fit(train.iloc[:50])
