"""``featvec export``: a saved model's vectors in one file; and commands given a model they cannot use."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import featvec
from cli_helpers import assert_one_line_error, run

RATINGS = pd.DataFrame({"user_id": np.repeat(np.arange(12), 4), "item_id": np.tile(np.arange(8), 6),
                        "rating": np.random.default_rng(0).integers(1, 6, 48).astype(float),
                        "genre": list("xyzw") * 12})


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    mf = featvec.MatrixFactorization(dim=4, epochs=1, show_progress=False).fit(RATINGS)
    f2v = featvec.Feat2Vec(groups=["user_id", "item_id", "genre"], dim=3, epochs=1, patience=None,
                           show_progress=False).fit(RATINGS)
    return {"mf": (mf, mf.save(d / "mf")), "f2v": (f2v, f2v.save(d / "f2v"))}


@pytest.mark.parametrize("name, suffix", [("mf", ".parquet"), ("mf", ".csv"), ("f2v", ".parquet"), ("f2v", ".csv")])
def test_export_writes_every_table(capsys, saved, tmp_path, name, suffix):
    model, path = saved[name]
    out = tmp_path / f"vectors{suffix}"
    status, stdout, err = run(capsys, "export", path, "--out", out)
    assert status == 0 and err == "" and f"wrote {out}" in stdout
    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"label": str})
    assert list(frame["table"].unique()) == list(model.vectors_)
    for table, v in model.vectors_.items():
        part = frame[frame["table"] == table]
        assert list(part["label"]) == [str(x) for x in v.labels]
        d = v.matrix.shape[1]
        np.testing.assert_allclose(part[[f"v{j}" for j in range(d)]].to_numpy(), v.matrix, rtol=1e-6)
        assert part[[c for c in frame.columns if c.startswith("v") and int(c[1:]) >= d]].isna().all().all()
        if v.bias is None:
            assert part["bias"].isna().all()
        else:
            np.testing.assert_allclose(part["bias"].to_numpy(), v.bias, rtol=1e-6)


def test_export_chosen_tables_and_errors(capsys, saved, tmp_path):
    _, path = saved["mf"]
    status, stdout, _ = run(capsys, "export", path, "--out", tmp_path / "v.csv", "--tables", "items")
    assert status == 0 and pd.read_csv(tmp_path / "v.csv")["table"].unique().tolist() == ["items"]
    status, _, err = run(capsys, "export", path, "--out", tmp_path / "v.csv", "--tables", "nope")
    assert_one_line_error(status, err, "--tables ['nope']: no such table")
    status, _, err = run(capsys, "export", path, "--out", tmp_path / "v.txt")
    assert_one_line_error(status, err, "give a .parquet or .csv file name")


@pytest.mark.parametrize("argv", [["recommend", "--users", "1"], ["evaluate", "--ratings", "RATINGS"],
                                  ["factors"]])
def test_a_command_given_a_model_it_cannot_use_says_so(capsys, saved, tmp_path, argv):
    RATINGS.to_csv(tmp_path / "r.csv", index=False)
    argv = [str(tmp_path / "r.csv") if a == "RATINGS" else a for a in argv]
    status, _, err = run(capsys, *argv, "--model-dir", saved["f2v"][1])
    assert_one_line_error(status, err, "holds a Feat2Vec;", "needs a MatrixFactorization or DeepRecommender or "
                                                            "ImplicitRecommender model")
