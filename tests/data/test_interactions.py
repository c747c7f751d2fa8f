"""featvec.data: streaming ingestion of interaction folders into encoded shards, and fits from them."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.cli import main
from featvec.data import Interactions, InteractionsError, ingest

pytest.importorskip("pyarrow")


def events(n=6000, seed=0, strings=False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": rng.integers(0, 200, n), "item_id": rng.zipf(1.4, n) % 700,
                       "plays": rng.integers(1, 5, n).astype(float)})
    if strings:
        df["user_id"], df["item_id"] = "u" + df["user_id"].astype(str), "i" + df["item_id"].astype(str)
    return df


def write(df: pd.DataFrame, folder, kind: str, parts: int = 3):
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(df), parts + 1).astype(int)
    for k, part in enumerate(df.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])):
        if kind == "parquet":
            part.to_parquet(folder / f"part-{k}.parquet", index=False)
        elif kind == "csv":
            part.to_csv(folder / f"part-{k}.csv", index=False)
        elif kind == "tsv":
            part.to_csv(folder / f"part-{k}.tsv", index=False, sep="\t")
        else:
            with gzip.open(folder / f"part-{k}.jsonl.gz", "wt") as fh:
                fh.write(part.to_json(orient="records", lines=True))
    return folder


@pytest.mark.parametrize("kind", ["parquet", "csv", "tsv", "jsonl"])
@pytest.mark.parametrize("strings", [False, True])
def test_ingest_encodes_every_row_as_the_model_would(tmp_path, kind, strings):
    df = events(strings=strings)
    out = ingest(write(df, tmp_path / "src", kind), tmp_path / "enc", weight_col="plays", batch_rows=1000)
    data = Interactions(out)
    assert data.rows == len(df) and data.users == sorted(df["user_id"].unique().tolist())
    assert data.items == sorted(df["item_id"].unique().tolist())
    assert len(data.manifest["shards"]) >= 6  # a shard per batch, batches within each file
    u, i, w = data.arrays()
    assert u.dtype == np.int32 and w.dtype == np.float32
    back = pd.DataFrame({"user_id": np.asarray(data.users, dtype=object)[u - 1],
                         "item_id": np.asarray(data.items, dtype=object)[i - 1], "plays": w})
    pd.testing.assert_frame_equal(back, df.astype({"user_id": object, "item_id": object}), check_dtype=False)


@pytest.mark.parametrize("solver", ["als", "sgd"])
def test_a_fit_from_the_folder_is_the_fit_from_the_frame(tmp_path, solver):
    df = events()
    data = Interactions(ingest(write(df, tmp_path / "src", "parquet"), tmp_path / "enc", weight_col="plays"))
    params = dict(solver=solver, dim=8, iterations=2, epochs=2, weight_col="plays", seed=3)
    if solver == "als":
        params.pop("epochs")
    else:
        params.pop("iterations")
    a = featvec.ImplicitRecommender(**params).fit(df)
    b = featvec.ImplicitRecommender(**params).fit(data)
    np.testing.assert_array_equal(a.vectors_["items"].matrix, b.vectors_["items"].matrix)
    pd.testing.assert_frame_equal(a.recommend([1, 2, 3], k=5), b.recommend([1, 2, 3], k=5))


@pytest.mark.parametrize("engine", [{}, {"batch_size": 64, "optimizer": "adam"}], ids=["fused", "torch"])
def test_a_rating_fit_from_the_folder_is_the_fit_from_the_frame(tmp_path, engine):
    """MatrixFactorization reads the folder's weight column as the rating: the same model as from the frame."""
    df = events()
    data = Interactions(ingest(write(df, tmp_path / "src", "parquet"), tmp_path / "enc", weight_col="plays"))
    params = dict(dim=8, epochs=2, rating_col="plays", implicit=True, seed=3, **engine)
    a = featvec.MatrixFactorization(**params).fit(df)
    b = featvec.MatrixFactorization(**params).fit(data)
    np.testing.assert_array_equal(a.vectors_["items"].matrix, b.vectors_["items"].matrix)
    np.testing.assert_array_equal(a.predict(df.head(50)), b.predict(df.head(50)))
    # held-out rows come from the folder's rows (its vocabularies hold every id: ingest saw them all)
    c = featvec.MatrixFactorization(**params, valid_frac=0.1).fit(data)
    assert len(c.history_) == 2 and np.isfinite(c.history_[-1]["valid_loss"])
    with pytest.raises(ValueError, match="this model reads .* rating_col='rating'"):
        featvec.MatrixFactorization().fit(data)
    bare = Interactions(ingest(write(df, tmp_path / "src2", "parquet"), tmp_path / "enc2"))
    with pytest.raises(ValueError, match="weight=None; this model reads .* rating_col='plays'"):
        featvec.MatrixFactorization(rating_col="plays").fit(bare)
    with pytest.raises(ValueError, match="min_count=2 does not apply to an ingested folder"):
        featvec.MatrixFactorization(rating_col="plays", min_count=2).fit(data)


def test_min_count_leaves_out_rare_ids_and_their_rows(tmp_path):
    df = events()
    data = Interactions(ingest(write(df, tmp_path / "src", "csv"), tmp_path / "enc", min_count=5))
    keep_u = df["user_id"].value_counts()
    keep_i = df["item_id"].value_counts()
    kept = df[df["user_id"].map(keep_u).ge(5) & df["item_id"].map(keep_i).ge(5)]
    assert data.rows == len(kept) and data.manifest["dropped_rows"] == len(df) - len(kept)
    assert data.items == sorted(keep_i[keep_i >= 5].index.tolist())
    assert data.columns == {"user": "user_id", "item": "item_id", "weight": None} and data.arrays()[2] is None


def _bad(tmp_path, frame_or_text, name="part.csv"):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    if isinstance(frame_or_text, str):
        (src / name).write_text(frame_or_text)
    else:
        frame_or_text.to_parquet(src / name, index=False)
    return src


@pytest.mark.parametrize("make, kwargs, message", [
    (lambda p: p / "nope", {}, "interactions source not found"),
    (lambda p: (p / "empty").mkdir() or p / "empty", {}, "no data files in the folder"),
    (lambda p: _bad(p, "a", "x.xlsx"), {}, "x.xlsx: cannot tell its format"),
    (lambda p: _bad(p, "user_id,item\n1,2\n"), {}, "no column(s) ['item_id']"),
    (lambda p: _bad(p, "user_id,item_id\n1,2\n,3\n"), {}, "column 'user_id' is missing a value at row 1"),
    (lambda p: _bad(p, "user_id,item_id,w\n1,2,1\n1,3,-2\n"), {"weight_col": "w"}, "has -2.0 at row 1"),
    (lambda p: _bad(p, "user_id,item_id,w\n1,2,x\n"), {"weight_col": "w"}, "column 'w' must hold numbers"),
    (lambda p: _bad(p, "user_id,item_id\n1,2\n"), {"min_count": 3}, "no user or no item is seen 3 time(s)"),
    (lambda p: _bad(p, "user_id,item_id\n1,2\n"), {"min_count": 0}, "min_count must be an integer >= 1"),
    (lambda p: _bad(p, "user_id,item_id\n"), {}, "no rows"),
])
def test_bad_sources_name_the_file_column_and_row(tmp_path, make, kwargs, message):
    with pytest.raises((InteractionsError, ValueError, FileNotFoundError)) as e:
        ingest(make(tmp_path), tmp_path / "enc", **kwargs)
    assert message in str(e.value)
    assert not (tmp_path / "enc").exists()


def test_files_of_several_formats_or_id_kinds_are_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text("user_id,item_id\n1,2\n")
    pd.DataFrame({"user_id": [1], "item_id": [2]}).to_parquet(src / "b.parquet")
    with pytest.raises(InteractionsError, match="files of several formats"):
        ingest(src, tmp_path / "enc")
    (src / "b.parquet").unlink()
    (src / "c.csv").write_text("user_id,item_id\nx,2\n")
    with pytest.raises(InteractionsError, match="column 'user_id' holds text values where earlier files held int"):
        ingest(src, tmp_path / "enc")


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    src = write(events(), tmp_path / "src", "parquet")
    calls = []

    def boom(*a, **k):
        calls.append(1)
        if len(calls) > 3:
            raise OSError("disk full")
        return real(*a, **k)
    real = np.save
    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        ingest(src, tmp_path / "enc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_damaged_folders_are_named(tmp_path):
    out = ingest(write(events(), tmp_path / "src", "parquet"), tmp_path / "enc")
    with pytest.raises(InteractionsError, match="not an interactions folder"):
        Interactions(tmp_path / "src")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(InteractionsError, match="format version 99 is newer"):
        Interactions(out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    first = out / "shards" / f"{manifest['shards'][0]['name']}.user.npy"
    np.save(first, np.load(first)[:-1])
    with pytest.raises(InteractionsError, match="not the .* rows the manifest says"):
        Interactions(out).arrays()


def test_cli_ingest_and_fit_from_the_folder(tmp_path, capsys):
    src = write(events(), tmp_path / "src", "parquet")
    assert main(["ingest", str(src), "--out", str(tmp_path / "enc"), "--weight-col", "plays"]) == 0
    assert main(["fit", "--data-dir", str(tmp_path / "enc"), "--model", "implicit", "--solver", "als",
                 "--iterations", "2", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "wrote 6,000 rows" in out and "fitted ImplicitRecommender(ALS" in out
    model = featvec.load(tmp_path / "m")
    assert model.weight_col == "plays" and len(model.recommend([1], k=3)) == 3
    assert main(["fit", "--data-dir", str(tmp_path / "enc"), "--model", "mf", "--epochs", "2",
                 "--out", str(tmp_path / "mf")]) == 0
    assert "fitted MatrixFactorization(dim=128) on 6,000 rows" in capsys.readouterr().out
    assert featvec.load(tmp_path / "mf").rating_col == "plays"
    assert main(["fit", "--data-dir", str(tmp_path / "enc"), "--model", "deep"]) == 2
    assert "--data-dir trains --model implicit (ALS or BPR) or mf" in capsys.readouterr().err
    with pytest.raises(ValueError, match="this model reads user_col='user'"):
        featvec.ImplicitRecommender(user_col="user", solver="als").fit(Interactions(tmp_path / "enc"))


def test_a_feat2vec_fit_from_the_folder_is_the_fit_from_its_records(tmp_path):
    """Feat2Vec over the folder's (user, item) records: the same vectors as over the frame's two columns."""
    df = events()[["user_id", "item_id"]]
    data = Interactions(ingest(write(df, tmp_path / "src", "parquet"), tmp_path / "enc"))
    make = lambda: featvec.Feat2Vec(groups=["user_id", "item_id"], dim=6, epochs=2, seed=1)  # noqa: E731
    a, b = make().fit(df), make().fit(data)
    for name in ("user_id", "item_id"):
        np.testing.assert_array_equal(a.vectors_[name].matrix, b.vectors_[name].matrix)
    assert a.history_[-1]["train_loss"] == b.history_[-1]["train_loss"]
    with pytest.raises(ValueError, match=r"gives records of those two only, as categorical groups; \['x'\]"):
        featvec.Feat2Vec(groups=["user_id", "x"]).fit(data)
