"""featvec.bench: protocol E records, the markdown report, isolation, main(); one real-data check."""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.bench import main, markdown, run_protocol_e, write_report
from featvec.bench import ratings as protocol_e
from featvec.bench.measure import run_job

KEYS = ["protocol", "dataset", "seed", "system", "rmse", "fit_s", "peak_rss_mb", "params"]
MF_TINY = {"featvec.MatrixFactorization": lambda dataset, data: {
    "model": {"dim": 4, "epochs": 1, "y_range": None, "batch_size": 256}, "fit": {}}}


def _stand_in_split(df, test_frac=0.1, seed=0):
    """BENCHMARKS.md protocol E, for when featvec.evaluation.splits is not there yet."""
    perm = np.random.default_rng(seed).permutation(len(df))
    cut = len(df) // 10
    return df.iloc[np.sort(perm[cut:])], df.iloc[np.sort(perm[:cut])]


@pytest.fixture(autouse=True)
def _split_available(monkeypatch):
    try:
        from featvec.evaluation.splits import random_split  # noqa: F401
    except ImportError:
        monkeypatch.setattr(protocol_e, "split", lambda df, seed: _stand_in_split(df, 0.1, seed))


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    n = 1500
    return pd.DataFrame({"user_id": rng.integers(0, 40, n), "item_id": rng.integers(0, 60, n),
                         "rating": rng.integers(1, 6, n).astype(float), "timestamp": np.arange(n)})


def test_protocol_e_records_and_report(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "surprise", None)  # the peer is "not installed"
    lines = []
    rows = run_protocol_e(datasets=["tiny"], seeds=[0, 1], systems=MF_TINY, peers=["surprise.SVD"],
                          out_dir=tmp_path, emit=lines.append, frames={"tiny": tiny}, isolate=False)
    assert [json.loads(line) for line in lines] == rows
    assert [(r["system"], r["seed"]) for r in rows] == [
        ("featvec.MatrixFactorization", 0), ("surprise.SVD", 0), ("featvec.MatrixFactorization", 1),
        ("surprise.SVD", 1)]
    ok = [r for r in rows if r["system"].startswith("featvec.")]
    for r in ok:
        assert list(r) == KEYS
        assert r["protocol"] == "E" and r["dataset"] == "tiny"
        assert 0 < r["rmse"] < 4 and r["fit_s"] > 0 and r["peak_rss_mb"] > 0
        assert r["params"]["epochs"] == 1 and r["params"]["seed"] == r["seed"]
    err = rows[1]
    assert list(err) == ["protocol", "dataset", "seed", "system", "error"]
    assert "surprise" in err["error"] and "featvec[bench]" in err["error"]

    md = (tmp_path / "E.md").read_text()
    assert "## tiny" in md
    assert "| system | rmse (mean ± std) | rmse per seed (0, 1) | fit s (mean) | peak RSS MB |" in md
    mf = next(line for line in md.splitlines() if line.startswith("| featvec.MatrixFactorization"))
    mean, std = np.mean([r["rmse"] for r in ok]), np.std([r["rmse"] for r in ok], ddof=1)
    assert f"{mean:.4f} ± {std:.4f}" in mf
    assert f"{ok[0]['rmse']:.4f}, {ok[1]['rmse']:.4f}" in mf
    assert "| surprise.SVD | error: " in md
    assert "torch" in md.splitlines()[2]  # the date / machine / versions line
    saved = [json.loads(line) for line in (tmp_path / "E.jsonl").read_text().splitlines()]
    assert saved == rows


def test_unknown_ids_get_predictions(tiny):
    train, test = tiny.iloc[:1400], tiny.iloc[1400:].copy()
    test.iloc[:3, 0] = [1000, 1001, 1002]  # users never seen in training
    test.iloc[3:5, 1] = [2000, 2001]       # items never seen in training
    job = protocol_e.FeatvecJob("MatrixFactorization", {"dim": 4, "epochs": 1}, {}, train, test, (1.0, 5.0))
    out = run_job(job, isolate=False)
    assert "error" not in out and np.isfinite(out["rmse"])


def test_markdown_is_generic():
    rows = [{"protocol": "U", "dataset": "ml-100k", "seed": s, "system": "featvec.X", "accuracy_gender": a,
             "auc_gender": 0.8, "fit_s": 1.0, "peak_rss_mb": 100 + s, "params": {}}
            for s, a in [(0, 0.70), (1, 0.72), (2, 0.74)]]
    rows.append({"protocol": "U", "dataset": "ml-100k", "seed": 0, "system": "sklearn.LogisticRegression",
                 "error": "ImportError: no sklearn"})
    env = {"date": "D", "platform": "P", "python": "3", "cpu_count": 2, "torch_threads": 2,
           "versions": {"featvec": "0"}}
    md = markdown(rows, "U", notes=["a note"], env=env)
    lines = md.splitlines()
    assert lines[0] == "# Protocol U"
    assert ("| system | accuracy_gender (mean ± std) | auc_gender (mean ± std) | "
            "accuracy_gender per seed (0, 1, 2) | fit s (mean) | peak RSS MB |") in lines
    assert "| featvec.X | 0.7200 ± 0.0200 | 0.8000 ± 0.0000 | 0.7000, 0.7200, 0.7400 | 1.00 | 102 |" in lines
    assert "| sklearn.LogisticRegression | error: ImportError: no sklearn |  |  |  |  |" in lines
    assert lines[-1] == "- a note"


def test_write_report_paths(tmp_path):
    rows = [{"protocol": "E", "dataset": "d", "seed": 0, "system": "s", "rmse": 0.9, "fit_s": 1.0,
             "peak_rss_mb": 10.0, "params": {}}]
    md, jl = write_report(rows, tmp_path / "out", "E")
    assert md.name == "E.md" and jl.name == "E.jsonl" and "| s | 0.9000 | 0.9000 | 1.00 | 10 |" in md.read_text()


def test_isolated_job_runs_in_a_fresh_process(tiny):
    out = run_job(protocol_e.NullJob(tiny, tiny), isolate=True, timeout=120)
    assert set(out) == {"peak_rss_mb"} and out["peak_rss_mb"] > 0


def test_failing_job_is_an_error_record(tiny):
    bad = protocol_e.FeatvecJob("MatrixFactorization", {"dim": 4, "epochs": 1}, {}, tiny.iloc[:0], tiny, (1.0, 5.0))
    out = run_job(bad, isolate=False)
    assert list(out) == ["error"] and out["error"].startswith("ValueError: ratings is empty")


def test_main_protocols(tmp_path):
    with pytest.raises(ValueError, match="unknown protocol"):
        main("Z", None, ["ml-100k"], [0], False, tmp_path)
    with pytest.raises(ValueError, match="unknown featvec system"):
        main("E", None, ["ml-100k"], [0], False, tmp_path, systems=["featvec.Nope"])


@pytest.mark.data
def test_protocol_e_ml100k_mf(tmp_path):
    from featvec.datasets import find_data_dir

    data_dir = find_data_dir()
    if data_dir is None:
        pytest.skip("no data directory: set FEATVEC_DATA or provide ../shared/data (see BENCHMARKS.md)")
    systems = {"featvec.MatrixFactorization": lambda dataset, data: {
        "model": {"dim": 32, "epochs": 3, "y_range": None}, "fit": {}}}
    rows = run_protocol_e(data_dir, datasets=["ml-100k"], seeds=[0], systems=systems, peers=False,
                          out_dir=tmp_path, emit=None, isolate=False)
    (row,) = rows
    assert "error" not in row, row
    assert row["rmse"] < 1.0


def test_protocol_i_records_grid_best_and_report(tmp_path):
    from featvec.bench.implicit import run_protocol_i
    from featvec.datasets import synthetic_ratings

    ratings = synthetic_ratings(60, 40, 1500, rank=3, seed=0).ratings
    systems = {"featvec.ImplicitRecommender[als]": [{"solver": "als", "dim": 4, "reg": r, "iterations": 3}
                                                    for r in (0.1, 10.0)]}
    lines = []
    rows = run_protocol_i(datasets=["tiny"], seeds=[0, 1], systems=systems, peers=["popularity"],
                          out_dir=tmp_path, emit=lines.append, frames={"tiny": ratings})
    assert len(rows) == 2 * (2 + 1)
    for r in rows:
        assert r["protocol"] == "I" and 0 <= r["recall20"] <= 1 and 0 <= r["ndcg20"] <= 1 and r["fit_s"] >= 0
    best = [r for r in rows if r.get("best")]
    assert {r["system"] for r in best} == {"featvec.ImplicitRecommender[als]", "popularity"}
    assert len(best) == 4 and len(lines) == len(rows) + len(best)
    fv = [r for r in rows if r["system"].startswith("featvec")]
    means = {j: np.mean([r["recall20"] for r in fv if r["setting"] == j]) for j in (0, 1)}
    assert best[0]["setting"] == max(means, key=means.get) or best[1]["setting"] == max(means, key=means.get)
    md = (tmp_path / "I.md").read_text()
    assert "every setting" in md and "popularity" in md
    assert (tmp_path / "I.jsonl").read_text().count("\n") == len(rows)


def _tiny_movielens(seed: int = 0):
    """A MovieLens-shaped stand-in (ratings, users with age/gender/occupation, items with genres) whose
    users prefer one genre each, so a record model can learn which movie goes with which user."""
    from featvec.datasets import MovieLens

    rng = np.random.default_rng(seed)
    genres = ["Action", "Comedy", "Drama"]
    items = pd.DataFrame({"item_id": np.arange(1, 31), "title": [f"m{i}" for i in range(30)],
                          "genres": [[genres[i % 3]] + (["Romance"] if i % 5 == 0 else []) for i in range(30)]})
    users = pd.DataFrame({"user_id": np.arange(1, 41), "age": rng.integers(12, 70, 40),
                          "gender": rng.choice(["M", "F"], 40), "occupation": rng.choice(["a", "b", "c"], 40),
                          "zip": "0"})
    rows = []
    for u in range(1, 41):
        liked = [i for i in range(1, 31) if (i - 1) % 3 == u % 3]
        for i in rng.choice(liked, 8, replace=False):
            rows.append((u, int(i), int(rng.integers(3, 6)), 0))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return MovieLens("tiny", ratings, users, items)


def test_protocol_f_records_and_report(tmp_path):
    from featvec.bench.feat2vec import feat2vec_params, records, run_protocol_f

    data = _tiny_movielens()
    recs = records(data)
    assert list(recs.columns) == ["user_id", "item_id", "genres", "gender", "age", "occupation", "rating"]
    assert recs["age"].isin(["<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"]).all()
    systems = {"featvec.Feat2Vec[nce]": {**feat2vec_params("nce"), "dim": 8, "epochs": 30,
                                         "patience": None}}
    lines = []
    rows = run_protocol_f(datasets=["tiny"], seeds=[0], systems=systems, out_dir=tmp_path, emit=lines.append,
                          data={"tiny": data})
    by = {r["system"]: r for r in rows}
    assert set(by) == {"featvec.Feat2Vec[nce]", "popularity", "featvec.MatrixFactorization[predicted]",
                       "featvec.MatrixFactorization[closest]", "featvec.ImplicitRecommender[als]"}
    assert all("error" not in r for r in rows), rows
    assert [json.loads(x)["system"] for x in lines] == [r["system"] for r in rows]
    f2v = by["featvec.Feat2Vec[nce]"]
    for key in ("mpr_movie", "hit1_movie", "hit10_movie", "mpr_rating", "hit1_rating"):
        assert 0 <= f2v[key] <= 1
    assert f2v["records_per_s"] > 0 and f2v["n_test"] + f2v["n_dropped"] == len(recs) // 10
    # users stick to one genre: the record model ranks the true movie far above the middle
    assert f2v["mpr_movie"] < 0.35 and f2v["mpr_movie"] < by["popularity"]["mpr_movie"]
    md = (tmp_path / "F.md").read_text()
    assert "movie MPR" in md and "featvec.Feat2Vec[nce]" in md and (tmp_path / "F.jsonl").exists()


def test_protocol_f_split_is_the_protocols():
    from featvec.bench.feat2vec import records, split

    recs = records(_tiny_movielens())
    train, test = split(recs, 3)
    perm = np.random.default_rng(3).permutation(len(recs))
    assert len(test) == len(recs) // 10
    pd.testing.assert_frame_equal(test, recs.iloc[perm[:len(recs) // 10]].reset_index(drop=True))
    assert len(train) + len(test) == len(recs)


@pytest.mark.data
def test_protocol_f_ml100k_beats_popularity(tmp_path):
    from featvec.bench.feat2vec import feat2vec_params, run_protocol_f
    from featvec.datasets import find_data_dir

    data_dir = find_data_dir()
    if data_dir is None:
        pytest.skip("no data directory: set FEATVEC_DATA or provide ../shared/data (see BENCHMARKS.md)")
    systems = {"featvec.Feat2Vec[nce]": {**feat2vec_params("nce"), "epochs": 3, "patience": None}}
    rows = run_protocol_f(data_dir, seeds=[0], systems=systems, peers=["popularity"], out_dir=tmp_path, emit=None)
    by = {r["system"]: r for r in rows}
    assert "error" not in by["featvec.Feat2Vec[nce]"], by
    assert by["featvec.Feat2Vec[nce]"]["mpr_movie"] < by["popularity"]["mpr_movie"]


def test_protocol_t_on_a_small_generated_set(tmp_path):
    from featvec.bench.throughput import run_protocol_t, synthetic_shape

    assert synthetic_shape("synthetic-20k") == (138, 580, 20_000)
    assert synthetic_shape("synthetic-20M") == (138_493, 26_744, 20_000_263)
    with pytest.raises(ValueError, match="unknown dataset 'ml-99'"):
        run_protocol_t(datasets=["ml-99"], out_dir=tmp_path)
    lines = []
    rows = run_protocol_t(datasets=["synthetic-20k"], systems=["featvec.MatrixFactorization",
                                                                "featvec.ImplicitRecommender[als]"],
                          threads=[1], out_dir=tmp_path, emit=lines.append)
    assert [r["system"] for r in rows] == ["featvec.MatrixFactorization", "featvec.ImplicitRecommender[als]"]
    for r in rows:
        assert "error" not in r, r
        # fit_s is written with 4 decimals: on a fit of a few hundredths of a second that alone is 0.1-1%
        assert r["threads"] == 1 and r["samples_per_s"] == pytest.approx(r["n_train"] * r["epochs"] / r["fit_s"],
                                                                         rel=max(1e-3, 1e-4 / r["fit_s"]))
        assert r["peak_rss_mb"] > 0 and r["bytes_per_sample"] > 0 and r["bound_samples_per_s"] > 0
    assert rows[0]["rmse"] < 1.5 and 0 <= rows[1]["recall20"] <= 1
    text = (tmp_path / "T.md").read_text()
    assert "## synthetic-20k" in text and "featvec.MatrixFactorization" in text and "GB/s" in text
    assert len((tmp_path / "T.jsonl").read_text().splitlines()) == 2 == len(lines)


def test_data_parallel_systems_fit_what_one_process_with_their_threads_fits(tiny, tmp_path):
    """Protocol E's opt-in ``[nproc=2]`` systems: the same fit in two processes (one thread each here);
    protocol I's resolve by name."""
    import os

    from featvec.bench import implicit, ratings

    spec = {"model": {"dim": 4, "epochs": 2}, "fit": {}, "cls": "MatrixFactorization"}
    systems = {"one": lambda d, data: spec, "two": lambda d, data: {**spec, "nproc": 2}}
    before = featvec.get_num_threads()
    featvec.set_num_threads(2 * max(1, (os.cpu_count() or 1) // 2))
    try:
        rows = run_protocol_e(datasets=["tiny"], seeds=[0], systems=systems, peers=False, out_dir=None,
                              emit=None, frames={"tiny": tiny}, isolate=False)
    finally:
        featvec.set_num_threads(before)
    assert rows[1]["params"]["nproc"] == 2 and "nproc" not in rows[0]["params"]
    assert rows[1]["rmse"] == pytest.approx(rows[0]["rmse"], abs=1e-5)
    assert list(ratings.select_systems(["featvec.MatrixFactorization()[nproc=2]"]).values())[0]("x", None)["nproc"] == 2
    grid = implicit.select_systems(["featvec.ImplicitRecommender[als-freq,nproc=2]"])
    assert all(g["nproc"] == 2 and g["solver"] == "als" for g in next(iter(grid.values())))


def test_protocols_t_and_s_take_a_device_for_featvec_only():
    from featvec.bench.measure import gpu_memory
    from featvec.bench.throughput import Job

    assert gpu_memory("cpu") == {}
    job = Job("featvec.MatrixFactorization", "ml-100k", 0, 1, ".", None, device="cuda")
    assert job._params["device"] == "cuda"
    assert "device" not in Job("featvec.MatrixFactorization", "ml-100k", 0, 1, ".", None)._params
    assert "device" not in Job("surprise.SVD", "ml-100k", 0, 1, ".", None, device="cuda")._params
