"""The featvec command line, run in-process through featvec.cli.main (exit status, stdout, stderr)."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.cli import main
from featvec.evaluation.splits import random_split
from cli_helpers import assert_one_line_error, run

COMMANDS = ["fit", "evaluate", "recommend", "similar", "factors", "bench", "demo"]
TINY = ["--dim", "4", "--epochs", "2"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small ratings CSV with structure, a titles CSV and a held-out CSV."""
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 40
    uf, vf = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    u, i = rng.integers(0, n_users, 900), rng.integers(0, n_items, 900)
    r = np.clip(np.rint(3 + np.einsum("ij,ij->i", uf[u], vf[i]) + rng.normal(0, 0.3, 900)), 1, 5)
    df = pd.DataFrame({"user_id": u + 1, "item_id": i + 101, "rating": r}).drop_duplicates(["user_id", "item_id"])
    train, test = df.iloc[: len(df) - 60], df.iloc[len(df) - 60:]
    train.to_csv(root / "ratings.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    titles = pd.DataFrame({"item_id": np.arange(101, 101 + n_items),
                           "title": [f"Film \u00e9t\u00e9 {k}" for k in range(n_items)]})
    titles.to_csv(root / "titles.csv", index=False)
    return {"root": root, "ratings": root / "ratings.csv", "test": root / "test.csv", "titles": root / "titles.csv",
            "train_df": train, "test_df": test, "titles_df": titles}


@pytest.fixture(scope="module")
def model_dir(files):
    """`featvec fit --out` on the ratings file; the folder of the saved model."""
    out = files["root"] / "model"
    assert main(["fit", "--ratings", str(files["ratings"]), *TINY, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------------------------- help

@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(capsys, command):
    status, out, err = run(capsys, command, "--help")
    assert status == 0 and err == ""
    assert out.startswith(f"usage: featvec {command}")
    assert "options:" in out


def test_top_level_help_and_version(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in COMMANDS:
        assert command in out
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"featvec {featvec.__version__}"
    status, out, _ = run(capsys)  # no command: the help, and a usage error status
    assert status == 2 and "usage: featvec" in out


def test_usage_errors_exit_2(capsys):
    status, _, err = run(capsys, "fit")  # --ratings or --dataset is required
    assert status == 2 and "one of the arguments --ratings --dataset --records --data-dir is required" in err
    status, _, err = run(capsys, "frobnicate")
    assert status == 2 and "invalid choice" in err


# ------------------------------------------------------------------------------------------------- fit

def test_fit_prints_history_and_test_errors(capsys, files):
    status, out, err = run(capsys, "fit", "--ratings", files["ratings"], *TINY, "--test-frac", "0.2")
    assert status == 0, err
    n = len(files["train_df"])
    n_test = int(n * 0.2)
    lines = out.splitlines()
    fitted, _ = random_split(pd.read_csv(files["ratings"]), test_frac=0.2, seed=0)  # what --test-frac does
    assert len(fitted) == n - n_test
    assert lines[0] == (f"fitted MatrixFactorization(dim=4) on {n - n_test:,} ratings from {files['ratings']} "
                        f"({fitted['user_id'].nunique():,} users, {fitted['item_id'].nunique():,} items)")
    assert "epoch" in lines[1] and "train_loss" in lines[1]
    assert [ln.split()[0] for ln in lines[2:4]] == ["1", "2"]  # one history row per epoch
    test_line = [ln for ln in lines if ln.startswith("test ")]
    assert len(test_line) == 1
    scores = json.loads(test_line[0][5:])
    assert scores["n"] == n_test and 0 < scores["mae"] <= scores["rmse"] < 4


def test_fit_headerless_data_file(capsys, files, tmp_path):
    """A file without a header (like MovieLens u.data) is read as user, item, rating, timestamp."""
    path = tmp_path / "u.data"
    files["train_df"].assign(timestamp=1).to_csv(path, sep="\t", header=False, index=False)
    status, out, err = run(capsys, "fit", "--ratings", path, *TINY)
    assert status == 0, err
    n = len(files["train_df"])
    assert f"on {n:,} ratings" in out
    assert f"({files['train_df']['user_id'].nunique():,} users, {files['train_df']['item_id'].nunique():,} items)" in out


def test_fit_dataset_from_data_folder(capsys, movielens_fixtures):
    status, out, err = run(capsys, "fit", "--dataset", "ml-1m", "--data", movielens_fixtures, *TINY)
    assert status == 0, err
    assert "on 4 ratings from MovieLens ml-1m (3 users, 3 items)" in out


def test_fit_out_saves_a_loadable_model(capsys, files, tmp_path):
    out_dir = tmp_path / "m"
    status, out, err = run(capsys, "fit", "--ratings", files["ratings"], *TINY, "--out", out_dir)
    assert status == 0, err
    assert out.strip().splitlines()[-1] == f"saved the model to {out_dir}"
    assert (out_dir / "featvec.json").is_file() and (out_dir / "model.safetensors").is_file()
    model = featvec.load(out_dir)
    assert isinstance(model, featvec.MatrixFactorization) and model.dim == 4
    pred = model.predict(files["test_df"])
    assert pred.shape == (len(files["test_df"]),) and np.isfinite(pred).all()


# ------------------------------------------------------------------------------------------------- evaluate

def test_evaluate(capsys, files, model_dir):
    status, out, err = run(capsys, "evaluate", "--model-dir", model_dir, "--ratings", files["test"])
    assert status == 0, err
    scores = json.loads(out)
    assert list(scores) == ["rmse", "mae", "n", "unknown_users", "unknown_items"]
    test = files["test_df"]
    pred = featvec.load(model_dir).predict(test)
    d = pred.astype(np.float64) - test["rating"].to_numpy()
    assert scores["n"] == len(test)
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-6)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(d)), rel=1e-6)
    train = files["train_df"]
    assert scores["unknown_users"] == int((~test["user_id"].isin(train["user_id"])).sum())
    assert scores["unknown_items"] == int((~test["item_id"].isin(train["item_id"])).sum())


def test_evaluate_other_column_names_and_unknown_ids(capsys, files, model_dir, tmp_path):
    path = tmp_path / "renamed.csv"
    pd.DataFrame({"who": [1, 999, 2], "what": [101, 101, 5000], "stars": [4.0, 3.0, 2.0]}).to_csv(path, index=False)
    status, out, err = run(capsys, "evaluate", "--model-dir", model_dir, "--ratings", path,
                           "--user-col", "who", "--item-col", "what", "--rating-col", "stars")
    assert status == 0, err
    scores = json.loads(out)
    assert scores["n"] == 3 and scores["unknown_users"] == 1 and scores["unknown_items"] == 1


# ------------------------------------------------------------------------------------------------- recommend

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_recommend_machine_formats(capsys, files, model_dir, fmt):
    status, out, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "1", "2", "-k", "3",
                           "--format", fmt, "--titles", files["titles"])
    assert status == 0, err
    recs = pd.read_csv(io.StringIO(out)) if fmt == "csv" else pd.DataFrame(json.loads(out))
    assert list(recs.columns) == ["user_id", "item_id", "score", "rank", "title"]
    assert recs["user_id"].tolist() == [1, 1, 1, 2, 2, 2] and recs["rank"].tolist() == [1, 2, 3] * 2
    titles = files["titles_df"].set_index("item_id")["title"]
    assert recs["title"].tolist() == titles.loc[recs["item_id"]].tolist()  # non-ASCII titles survive
    train = files["train_df"]
    for u, part in recs.groupby("user_id"):
        seen = set(train.loc[train["user_id"] == u, "item_id"])
        assert not set(part["item_id"]) & seen  # items rated in training are left out
        assert (np.diff(part["score"].to_numpy()) <= 1e-6).all()
    # the scores are the model's predictions
    model = featvec.load(model_dir)
    pred = model.predict(recs[["user_id", "item_id"]])
    np.testing.assert_allclose(recs["score"].to_numpy(), pred, rtol=1e-5, atol=1e-5)


def test_recommend_table_and_no_filter_seen(capsys, files, model_dir):
    status, out, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "3", "-k", "40",
                           "--no-filter-seen")
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["user_id", "item_id", "score", "rank"]
    assert len(lines) == 1 + files["train_df"]["item_id"].nunique()  # every item, seen ones included
    status, out, _ = run(capsys, "recommend", "--model-dir", model_dir, "--users", "3", "-k", "2",
                         "--titles", files["titles"])
    assert status == 0 and out.splitlines()[0].split()[-1] == "title" and "Film \u00e9t\u00e9" in out


def test_recommend_titles_from_a_dataset(capsys, model_dir, movielens_fixtures):
    # the fixture ml-latest-small has no movie with ids 101..140: titles are then missing, not an error
    status, out, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "1", "-k", "2",
                           "--format", "json", "--dataset", "ml-latest-small", "--data", movielens_fixtures)
    assert status == 0, err
    assert [r["title"] for r in json.loads(out)] == [None, None]


# ------------------------------------------------------------------------------------------------- similar

def test_similar_items_with_titles(capsys, files, model_dir):
    status, out, err = run(capsys, "similar", "--model-dir", model_dir, "--items", "101", "102", "-k", "4",
                           "--format", "csv", "--titles", files["titles"])
    assert status == 0, err
    sims = pd.read_csv(io.StringIO(out))
    assert list(sims.columns) == ["item_id", "title", "similar_item_id", "score", "rank", "similar_title"]
    assert sims["item_id"].tolist() == [101] * 4 + [102] * 4
    assert not (sims["item_id"] == sims["similar_item_id"]).any()
    assert sims["score"].between(-1 - 1e-6, 1 + 1e-6).all()
    titles = files["titles_df"].set_index("item_id")["title"]
    assert sims["similar_title"].tolist() == titles.loc[sims["similar_item_id"]].tolist()
    # cosine of the model's item vectors
    vecs = featvec.load(model_dir).vectors_["items"]
    labels = list(vecs.labels)
    m = vecs.matrix
    a, b = m[labels.index(101)], m[labels.index(int(sims["similar_item_id"].iloc[0]))]
    assert sims["score"].iloc[0] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-4)


def test_similar_users_json(capsys, model_dir):
    status, out, err = run(capsys, "similar", "--model-dir", model_dir, "--users", "1", "-k", "3", "--format", "json")
    assert status == 0, err
    rows = json.loads(out)
    assert [list(r) for r in rows] == [["user_id", "similar_user_id", "score", "rank"]] * 3
    assert [r["rank"] for r in rows] == [1, 2, 3] and all(r["similar_user_id"] != 1 for r in rows)


def test_similar_needs_items_or_users(capsys, tmp_path):
    status, _, err = run(capsys, "similar", "--model-dir", tmp_path)
    assert status == 2 and "one of the arguments --items --users --values is required" in err


# ------------------------------------------------------------------------------------------------- factors

def test_factors_writes_the_png(capsys, files, model_dir, tmp_path):
    out_dir = tmp_path / "factors"
    status, out, err = run(capsys, "factors", "--model-dir", model_dir, "--top-n", "25", "--components", "3",
                           "--ends", "2", "--titles", files["titles"], "--out", out_dir)
    assert status == 0, err
    assert out.startswith("PCA of the item vectors of the 25 most-rated items")
    assert "explained variance ratio: pc1 " in out
    for name in ("latent_factors.png", "latent_factors.csv", "latent_factor_ends.csv"):
        assert f"wrote {out_dir / name}" in out
    assert (out_dir / "latent_factors.png").read_bytes()[:8] == PNG_SIGNATURE
    comp = pd.read_csv(out_dir / "latent_factors.csv")
    assert list(comp.columns) == ["item_id", "pc1", "pc2", "pc3", "count", "title"] and len(comp) == 25
    ends = pd.read_csv(out_dir / "latent_factor_ends.csv")
    assert len(ends) == 3 * 2 * 2 and ends["title"].str.startswith("Film").all()
    assert "pc1 +: Film" in out and "pc3 -: Film" in out


# ------------------------------------------------------------------------------------------------- bad input

def test_missing_ratings_file(capsys, tmp_path):
    status, out, err = run(capsys, "fit", "--ratings", tmp_path / "nope.csv", *TINY)
    assert_one_line_error(status, err, "ratings file not found", "nope.csv")
    assert out == ""


def test_missing_column(capsys, files):
    status, _, err = run(capsys, "fit", "--ratings", files["ratings"], "--rating-col", "stars", *TINY)
    assert_one_line_error(status, err, "missing column(s) ['stars']", "user_id")


def test_unknown_extension_and_folder(capsys, tmp_path):
    bad = tmp_path / "ratings.xlsx"
    bad.write_text("x")
    status, _, err = run(capsys, "fit", "--ratings", bad)
    assert_one_line_error(status, err, "cannot tell the format", ".xlsx")
    status, _, err = run(capsys, "fit", "--ratings", tmp_path)
    assert_one_line_error(status, err, "must be a file", "folder")


def test_not_a_model_folder(capsys, files, tmp_path):
    status, _, err = run(capsys, "evaluate", "--model-dir", tmp_path, "--ratings", files["test"])
    assert_one_line_error(status, err, "is not a saved featvec model")


def test_unknown_dataset_and_missing_data(capsys, tmp_path):
    status, _, err = run(capsys, "fit", "--dataset", "ml-3m", "--data", tmp_path)
    assert_one_line_error(status, err, "unknown MovieLens dataset 'ml-3m'")
    status, _, err = run(capsys, "fit", "--dataset", "ml-100k", "--data", tmp_path)
    assert_one_line_error(status, err, "missing u.data", str(tmp_path), "Pass --data DIR", "FEATVEC_DATA")
    assert "data_dir=" not in err and "download=True" not in err  # the CLI's terms, not Python's


def test_unknown_user_id(capsys, model_dir):
    status, out, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "1", "999")
    assert_one_line_error(status, err, "unknown users [999]")
    assert out == ""
    status, _, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "abc")
    assert_one_line_error(status, err, "user id 'abc' is not valid", "integers")
    status, _, err = run(capsys, "similar", "--model-dir", model_dir, "--items", "7")
    assert_one_line_error(status, err, "7")


def test_bad_titles_file(capsys, model_dir, tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"item_id": [101], "name": ["x"]}).to_csv(path, index=False)
    status, _, err = run(capsys, "recommend", "--model-dir", model_dir, "--users", "1", "--titles", path)
    assert_one_line_error(status, err, "needs a 'title' column")


def test_evaluate_non_numeric_rating(capsys, model_dir, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"user_id": [1, 2], "item_id": [101, 102], "rating": ["4", "good"]}).to_csv(path, index=False)
    status, _, err = run(capsys, "evaluate", "--model-dir", model_dir, "--ratings", path)
    assert_one_line_error(status, err, "'rating' must be numeric", "good")


def test_bench_unknown_protocol(capsys, tmp_path):
    status, out, err = run(capsys, "bench", "Z", "--seeds", "0", "--no-peers", "--out", tmp_path / "bench")
    assert_one_line_error(status, err, "unknown protocol 'Z'")
    assert out == ""


# ------------------------------------------------------------------------------------------------- feat2vec

@pytest.fixture(scope="module")
def f2v_files(tmp_path_factory):
    from featvec.datasets import feat2vec_records

    d = tmp_path_factory.mktemp("f2v")
    df = feat2vec_records(3000, 0)
    df["tags"] = ["a|b" if i % 2 else "c" for i in range(len(df))]
    df.to_csv(d / "r.csv", index=False)
    df.assign(tags=df["tags"].str.split("|")).to_parquet(d / "r.parquet")
    return d


@pytest.mark.parametrize("name", ["r.csv", "r.parquet"])
def test_fit_feat2vec_then_similar(capsys, f2v_files, tmp_path, name):
    out = tmp_path / "m"
    status, text, err = run(capsys, "fit", "--model", "feat2vec", "--records", f2v_files / name, "--groups", "item",
                            "id", "attrs=attr1,attr2,attr3", "y", "tags:bag", "--tie", "item,tags", "--epochs", "2",
                            "--dim", "8", "--out", out)
    assert status == 0, err
    assert "groups item, id, attrs, y, tags" in text and "valid_loss" in text
    model = featvec.load(out)
    assert isinstance(model, featvec.Feat2Vec) and model.units_[0] == ["item", "tags"]
    assert set(model.vectors_["tags"].labels) == {"a", "b", "c"}
    status, text, err = run(capsys, "similar", "--model-dir", out, "--values", "y=1", "-k", "3", "--format", "json")
    assert status == 0, err
    rows = json.loads(text)
    assert [r["rank"] for r in rows] == [1, 2, 3] and all(r["query"] == "y=1" for r in rows)
    status, text, err = run(capsys, "similar", "--model-dir", out, "--values", "y=1", "--groups", "item", "-k", "2",
                            "--format", "json")
    assert status == 0 and all(r["label"].startswith("item=") for r in json.loads(text))


def test_feat2vec_cli_errors(capsys, f2v_files, tmp_path):
    status, _, err = run(capsys, "fit", "--model", "feat2vec", "--records", f2v_files / "r.csv", "--groups", "nope")
    assert status == 2 and "no column 'nope'" in err
    status, _, err = run(capsys, "fit", "--model", "feat2vec", "--records", f2v_files / "r.csv")
    assert status == 2 and "needs --groups" in err
    status, _, err = run(capsys, "fit", "--records", f2v_files / "r.csv", "--groups", "item")
    assert status == 2 and "--records goes with --model feat2vec" in err
    status, _, err = run(capsys, "fit", "--model", "feat2vec", "--records", f2v_files / "r.csv", "--groups", "item:weird")
    assert status == 2 and "unknown kind 'weird'" in err
    out = tmp_path / "m"
    assert run(capsys, "fit", "--model", "feat2vec", "--records", f2v_files / "r.csv", "--groups", "item", "y",
               "--epochs", "1", "--out", out)[0] == 0
    status, _, err = run(capsys, "similar", "--model-dir", out, "--values", "y=100")
    assert status == 2 and "unknown value(s) ['y=100']" in err
    status, _, err = run(capsys, "similar", "--model-dir", out, "--items", "1")
    assert status == 2 and "--values" in err


def test_fit_takes_reg_alpha_and_iterations_where_the_model_has_them(tmp_path, capsys):
    from featvec import load

    ratings = tmp_path / "r.csv"
    pd.DataFrame({"user_id": np.repeat(np.arange(20), 5), "item_id": np.tile(np.arange(10), 10),
                  "rating": np.tile([1.0, 2, 3, 4, 5], 20)}).to_csv(ratings, index=False)
    out = tmp_path / "als"
    assert main(["fit", "--ratings", str(ratings), "--model", "implicit", "--solver", "als", "--reg", "0.3",
                 "--alpha", "5", "--iterations", "2", "--dim", "4", "--out", str(out)]) == 0
    model = load(out)
    assert (model.reg, model.alpha, model.iterations) == (0.3, 5.0, 2)
    assert main(["fit", "--ratings", str(ratings), "--reg", "0.1", "--dim", "4", "--epochs", "1",
                 "--out", str(tmp_path / "mf")]) == 0
    assert load(tmp_path / "mf").reg == 0.1
    capsys.readouterr()
    assert main(["fit", "--ratings", str(ratings), "--model", "mf", "--alpha", "5"]) == 2
    assert "--alpha does not apply to --model mf (MatrixFactorization has no alpha)" in capsys.readouterr().err
    assert main(["fit", "--ratings", str(ratings), "--model", "deep", "--iterations", "3"]) == 2
    assert "--iterations does not apply to --model deep" in capsys.readouterr().err


def test_a_diverged_fit_or_a_missing_package_is_one_line_and_FEATVEC_DEBUG_shows_the_traceback(tmp_path, capsys,
                                                                                                  monkeypatch):
    ratings = tmp_path / "r.csv"
    pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 2, 3], "rating": [1.0, 2.0, 3.0]}).to_csv(ratings, index=False)
    for error in (FloatingPointError("training loss became nan at epoch 1, batch 3; lower lr or check the inputs"),
                  ImportError("faiss is optional: pip install 'featvec[faiss]'")):
        def fail(self, *a, _e=error, **k):
            raise _e
        monkeypatch.setattr(featvec.MatrixFactorization, "fit", fail)
        status = main(["fit", "--ratings", str(ratings)])
        assert_one_line_error(status, capsys.readouterr().err, str(error))
        monkeypatch.setenv("FEATVEC_DEBUG", "1")
        with pytest.raises(type(error)):
            main(["fit", "--ratings", str(ratings)])
        monkeypatch.delenv("FEATVEC_DEBUG")
