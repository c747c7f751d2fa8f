"""Data-parallel fits: two processes on this machine (gloo over loopback) against one process.

The fused SGD kernels and ALS give one process's result with as many threads as the ranks have together
(the ranks work disjoint blocks of one schedule; ALS solves disjoint rows); the torch Trainer under
DistributedDataParallel gives the same steps (each rank half of every batch, gradients averaged); Feat2Vec's
records are split per round, so its fit differs and only its loss is compared.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.cli import main
from featvec.training import distributed
from featvec.training.trainer import _rank_rows


@pytest.fixture
def two_threads():
    """One process with the two ranks' threads together (launch gives each rank cores // 2 of them)."""
    import os

    before = featvec.get_num_threads()
    featvec.set_num_threads(2 * max(1, (os.cpu_count() or 1) // 2))
    yield
    featvec.set_num_threads(before)


def ratings(n: int = 12_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": rng.integers(0, 300, n), "item_id": rng.integers(0, 200, n)})
    df["rating"] = ((df.user_id % 5) + (df.item_id % 3) + rng.normal(0, 0.3, n)).clip(1, 5)
    return df


def table(model, side: str) -> np.ndarray:
    return getattr(model.net_, side).tables[0].weight.detach().numpy()


@pytest.mark.parametrize("make", [
    lambda: featvec.MatrixFactorization(dim=8, epochs=4, seed=0),  # fused per-rating SGD
    lambda: featvec.ImplicitRecommender(dim=8, epochs=4, seed=0),  # fused BPR
    lambda: featvec.MatrixFactorization(dim=8, epochs=3, seed=0, batch_size=256, optimizer="adam"),  # DDP
], ids=["mf-fused", "bpr-fused", "mf-ddp"])
def test_two_processes_fit_what_one_process_fits(make, two_threads):
    df = ratings()
    data = df if isinstance(make(), featvec.MatrixFactorization) else df[["user_id", "item_id"]]
    one = make().fit(data)
    two = featvec.fit_parallel(make(), data, nproc=2)
    for side in ("users", "items"):
        np.testing.assert_allclose(table(two, side), table(one, side), atol=1e-5)
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"], rel=1e-5)


def test_two_process_als_from_an_ingested_folder_is_the_one_process_fit_to_the_bit(tmp_path, two_threads):
    from featvec.data import Interactions, ingest

    df = ratings()[["user_id", "item_id"]]
    df.to_parquet(tmp_path / "log.parquet")
    folder = Interactions(ingest(tmp_path / "log.parquet", tmp_path / "enc"))
    make = lambda: featvec.ImplicitRecommender(solver="als", dim=8, iterations=4, seed=0)  # noqa: E731
    one, two = make().fit(folder), featvec.fit_parallel(make(), folder, nproc=2)
    for side in ("users", "items"):
        np.testing.assert_array_equal(table(two, side), table(one, side))
    test = ratings(seed=1)[["user_id", "item_id"]]
    assert featvec.evaluate(two, test)["recall@20"] == featvec.evaluate(one, test)["recall@20"]


def test_two_process_feat2vec_and_tabular_fits_learn_as_one_process_does():
    rng = np.random.default_rng(0)
    user = rng.integers(0, 60, 6000)
    df = pd.DataFrame({"user": user, "item": (user % 4) * 10 + rng.integers(0, 10, 6000),
                       "x": rng.normal(size=6000)})
    df["genre"] = [f"g{i // 10}" for i in df["item"]]
    f2v = lambda: featvec.Feat2Vec(groups=["user", "item", "genre"], dim=6, epochs=4, seed=0)  # noqa: E731
    one, two = f2v().fit(df), featvec.fit_parallel(f2v(), df, nproc=2)
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"], rel=0.05)
    assert two.history_[-1]["train_loss"] < 0.8 * two.history_[0]["train_loss"]
    tab = lambda: featvec.TabularModel(categorical=["user", "genre"], numeric=["x"], target="item",  # noqa: E731
                                       layers=(16,), epochs=2, batch_size=64, seed=0)
    one, two = tab().fit(df), featvec.fit_parallel(tab(), df, nproc=2)
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"], rel=1e-4)


def test_fit_nproc_on_the_command_line_prints_and_saves_once(tmp_path, capsys):
    ratings().to_csv(tmp_path / "r.csv", index=False)
    assert main(["fit", "--ratings", str(tmp_path / "r.csv"), "--dim", "8", "--epochs", "2", "--nproc", "2",
                 "--device", "auto", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert out.count("fitted MatrixFactorization") <= 1  # rank 0 prints in its own process
    model = featvec.load(tmp_path / "m")
    assert model.predict(ratings().head(5)).shape == (5,) and model.device == "auto"  # the CPU here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "r.csv"]  # no leftover of another rank
    assert main(["fit", "--ratings", str(tmp_path / "r.csv"), "--nproc", "0"]) != 0
    assert "--nproc must be at least 1, got 0" in capsys.readouterr().err


def test_outside_a_process_group_nothing_is_distributed():
    assert distributed.world() == (0, 1) and not distributed.active() and distributed.is_writer()
    np.testing.assert_array_equal(distributed.all_sum(np.array([1.5, 2.0])), [1.5, 2.0])
    assert distributed.all_min(7) == 7
    assert [distributed.part(10, r, 3) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]
    assert _rank_rows(100, 164, 0, 1) == (100, 164)
    assert [_rank_rows(100, 164, r, 2) for r in range(2)] == [(100, 132), (132, 164)]
    assert [_rank_rows(10, 11, r, 2) for r in range(2)] == [(10, 11), (10, 11)]  # a short last batch
    with pytest.raises(ValueError, match="nproc"):
        featvec.fit_parallel(featvec.MatrixFactorization(), ratings(), nproc=0)


def test_two_process_user_model_and_deep_recommender_fit_as_one_process():
    from featvec import Bag, Numeric

    rng = np.random.default_rng(1)
    group = rng.integers(0, 3, 400)
    users = pd.DataFrame({"items": [[f"i{g}{k}" for k in rng.integers(0, 5, rng.integers(1, 8))] for g in group],
                          "genres": [[f"g{g}", "gx"] for g in group], "weights": [[2.0, 1.0]] * len(group),
                          "tenure": rng.normal(size=len(group)), "group": [f"G{g}" for g in group],
                          "band": rng.choice(["a", "b"], len(group))})
    make = lambda: featvec.UserModel(bags=["items", Bag("genres", weights="weights")],  # noqa: E731
                                     attributes=[Numeric(["tenure"])], targets=["group", "band"], layers=(16,),
                                     epochs=3, batch_size=32, dropout=0.0, seed=0)
    # one fresh process against two (the test process's torch state, left by other tests, stays out of it)
    one, two = featvec.fit_parallel(make(), users, nproc=1), featvec.fit_parallel(make(), users, nproc=2)
    # the same steps up to rounding (no dropout: the ranks would draw other masks than one process)
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"], rel=1e-4)
    np.testing.assert_allclose(two.predict_proba(users)["group"], one.predict_proba(users)["group"], atol=1e-4)
    deep = lambda: featvec.DeepRecommender(dim=8, layers=(16,), dropout=0.0, epochs=2, seed=0,
                                                   precision="float32")  # noqa: E731
    one, two = featvec.fit_parallel(deep(), ratings(), nproc=1), featvec.fit_parallel(deep(), ratings(), nproc=2)
    # float32: with "auto" precision a CPU with bfloat16 rounds the products by how the threads split them
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"], rel=1e-4)


def test_a_bad_input_in_the_ranks_is_the_callers_error(tmp_path, capfd):
    """A fit that fails in its processes raises its own error in the caller (no spawn traceback)."""
    df = ratings().drop(columns="rating")
    with pytest.raises(ValueError, match="rating"):
        featvec.fit_parallel(featvec.MatrixFactorization(), df, nproc=2)
    df.to_csv(tmp_path / "r.csv", index=False)
    assert main(["fit", "--ratings", str(tmp_path / "r.csv"), "--nproc", "2"]) != 0
    err = capfd.readouterr().err
    assert "featvec: error:" in err and "rating" in err and "Traceback" not in err
