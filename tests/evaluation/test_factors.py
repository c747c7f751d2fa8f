"""featvec.latent_factors: PCA of the item vectors of the most-rated items (notebook 004)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featvec import LatentFactors, MatrixFactorization, latent_factors
from featvec.datasets import synthetic_ratings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIM = 6


@pytest.fixture(scope="module")
def train():
    return synthetic_ratings(n_users=150, n_items=60, n_ratings=3000, rank=3, seed=0).ratings


@pytest.fixture(scope="module")
def model(train):
    return MatrixFactorization(dim=DIM, epochs=10, lr=0.05, seed=0).fit(train)


@pytest.fixture(scope="module")
def lf(model):
    return latent_factors(model, top_n=30, n_components=3, n_ends=4)


def _item_matrix(model, ids):
    vecs = model.vectors_["items"]
    pos = {label: k for k, label in enumerate(vecs.labels)}
    return vecs.matrix[[pos[i] for i in ids]].astype(np.float64)


def test_components_frame(lf, train):
    comp = lf.components
    assert isinstance(lf, LatentFactors) and lf.n_components == 3
    assert list(comp.columns) == ["pc1", "pc2", "pc3", "count"] and comp.index.name == "item_id"
    assert len(comp) == 30 and comp.index.is_unique
    counts = train["item_id"].value_counts()
    assert comp["count"].tolist() == counts.loc[comp.index].tolist()  # training interactions per item
    assert (np.diff(comp["count"].to_numpy()) <= 0).all()  # most-rated first
    rest = counts.drop(comp.index)
    assert comp["count"].min() >= rest.max()  # and they are the 30 most-rated
    assert comp["count"].dtype == np.int64


def test_is_the_pca_of_the_item_vectors(lf, model):
    x = _item_matrix(model, lf.components.index)
    x -= x.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(x.T @ x))[::-1]
    np.testing.assert_allclose(lf.explained_variance_ratio, eig[:3] / eig.sum(), rtol=1e-6, atol=1e-9)
    assert lf.axes.shape == (3, DIM)
    np.testing.assert_allclose(lf.axes @ lf.axes.T, np.eye(3), atol=1e-8)  # orthonormal axes
    np.testing.assert_allclose(lf.components[["pc1", "pc2", "pc3"]].to_numpy(), x @ lf.axes.T, atol=1e-8)
    # the scores are uncorrelated, with variances in the order of the components
    scores = lf.components[["pc1", "pc2", "pc3"]].to_numpy()
    cov = scores.T @ scores
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0, atol=1e-6 * cov.max())


def test_explained_variance_ratio(lf):
    evr = lf.explained_variance_ratio
    assert evr.shape == (3,) and evr.dtype == np.float64
    assert ((evr >= 0) & (evr <= 1)).all() and evr.sum() <= 1 + 1e-12
    assert (np.diff(evr) <= 0).all()
    assert evr[0] > 1 / DIM  # a learned model has more structure than isotropic noise


def test_sign_convention(lf):
    for c in ("pc1", "pc2", "pc3"):
        col = lf.components[c]
        assert col.loc[col.abs().idxmax()] > 0  # the item furthest from the centre is on the + side


def test_deterministic(model, lf):
    again = latent_factors(model, top_n=30, n_components=3, n_ends=4)
    pd.testing.assert_frame_equal(again.components, lf.components)
    pd.testing.assert_frame_equal(again.ends, lf.ends)


def test_ends_table(lf):
    ends = lf.ends
    assert list(ends.columns) == ["component", "end", "rank", "item", "title", "value"]
    assert len(ends) == 3 * 2 * 4
    for c in ("pc1", "pc2", "pc3"):
        col = lf.components[c]
        top = ends[(ends["component"] == c) & (ends["end"] == "+")]
        low = ends[(ends["component"] == c) & (ends["end"] == "-")]
        assert top["rank"].tolist() == [1, 2, 3, 4] and low["rank"].tolist() == [1, 2, 3, 4]
        np.testing.assert_allclose(top["value"], np.sort(col.to_numpy())[::-1][:4])
        np.testing.assert_allclose(low["value"], np.sort(col.to_numpy())[:4])
        np.testing.assert_allclose(top["value"], col.loc[top["item"]].to_numpy())
    assert ends["title"].tolist() == [str(i) for i in ends["item"]]  # no titles: shown by id


def test_titles_from_dict_series_and_frames(model):
    ids = latent_factors(model, top_n=10, n_components=2).components.index.tolist()
    known = {i: f"Movie {i} \u00e9" for i in ids[:-1]}  # the last one has no title
    want = [known.get(i, str(i)) for i in ids]
    as_frame = pd.DataFrame({"item_id": list(known), "title": list(known.values()), "year": 2000})
    for titles in (known, pd.Series(known), as_frame, as_frame.set_index("item_id"),
                   as_frame.set_index("item_id")[["title"]].rename(columns={"title": "name"})):
        got = latent_factors(model, top_n=10, n_components=2, titles=titles, n_ends=2)
        assert got.components["title"].tolist() == want
        assert list(got.components.columns) == ["pc1", "pc2", "count", "title"]
        titled = dict(zip(ids, want))
        assert got.ends["title"].tolist() == [titled[i] for i in got.ends["item"]]
    dup = pd.Series(["first", "second"], index=[ids[0], ids[0]])
    assert latent_factors(model, top_n=10, n_components=2, titles=dup).components["title"].iloc[0] == "first"


def test_bad_titles(model):
    with pytest.raises(ValueError, match="titles must be a dict, Series or DataFrame, got list"):
        latent_factors(model, top_n=10, titles=["a", "b"])
    with pytest.raises(ValueError, match="column \\(or index\\) named 'item_id'"):
        latent_factors(model, top_n=10, titles=pd.DataFrame({"id": [1], "title": ["x"]}))
    with pytest.raises(ValueError, match="needs a 'title' column"):
        latent_factors(model, top_n=10, titles=pd.DataFrame({"item_id": [1], "a": ["x"], "b": ["y"]}))


def test_png_and_csvs_written(model, tmp_path):
    titles = {i: f"Film number {i} with a rather long title" for i in range(1, 61)}
    lf = latent_factors(model, top_n=25, n_components=2, titles=titles, out=tmp_path / "out")
    png = tmp_path / "out" / "latent_factors.png"
    assert lf.files == {"png": png, "csv": tmp_path / "out" / "latent_factors.csv",
                        "ends": tmp_path / "out" / "latent_factor_ends.csv"}
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    comp = pd.read_csv(lf.files["csv"], index_col="item_id")
    np.testing.assert_allclose(comp[["pc1", "pc2"]].to_numpy(), lf.components[["pc1", "pc2"]].to_numpy())
    assert comp["title"].tolist() == lf.components["title"].tolist()
    pd.testing.assert_frame_equal(pd.read_csv(lf.files["ends"]), lf.ends, check_dtype=False)
    other = lf.plot(tmp_path / "sub" / "pc2_pc1.png", x="pc2", y="pc1", n_labels=5, title="t")
    assert other.read_bytes()[:8] == PNG_SIGNATURE


def test_one_component_writes_no_png(model, tmp_path):
    lf = latent_factors(model, top_n=20, n_components=1, out=tmp_path)
    assert sorted(lf.files) == ["csv", "ends"] and not (tmp_path / "latent_factors.png").exists()
    with pytest.raises(ValueError, match="cannot plot 'pc2'.*n_components >= 2"):
        lf.plot(tmp_path / "x.png")


def test_top_n_larger_than_the_rated_items(model, train):
    lf = latent_factors(model, top_n=10_000, n_components=2)
    assert len(lf.components) == train["item_id"].nunique()


def test_argument_errors(model, train):
    with pytest.raises(ValueError, match="needs a fitted recommender.*not fitted"):
        latent_factors(MatrixFactorization(dim=4))
    with pytest.raises(ValueError, match=f"n_components=7 is more than the item vectors' dimension \\({DIM}\\)"):
        latent_factors(model, n_components=DIM + 1)
    with pytest.raises(ValueError, match="top_n=2 items cannot give 3 components"):
        latent_factors(model, top_n=2, n_components=3)
    for name, bad in (("top_n", 0), ("n_components", -1), ("n_ends", 0), ("top_n", 2.5), ("n_components", True)):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            latent_factors(model, **{name: bad})
    tiny = MatrixFactorization(dim=4, epochs=1).fit(train[train["item_id"].isin([1, 2])])
    with pytest.raises(ValueError, match="only 2 rated items: too few for 2 components"):
        latent_factors(tiny, n_components=2)


@pytest.mark.data
def test_real_ml_100k_latent_factors(data_dir, tmp_path):
    from featvec.datasets import load_movielens

    ml = load_movielens("ml-100k", data_dir=data_dir)
    mf = MatrixFactorization(dim=32, epochs=10, seed=0).fit(ml.ratings)
    lf = latent_factors(mf, top_n=500, n_components=3, titles=ml.items, out=tmp_path)
    comp = lf.components
    assert len(comp) == 500
    counts = ml.ratings["item_id"].value_counts()
    assert comp["count"].tolist() == counts.loc[comp.index].tolist()
    assert comp.index[0] == 50 and comp["count"].iloc[0] == 583 and comp["title"].iloc[0] == "Star Wars (1977)"
    evr = lf.explained_variance_ratio
    assert (np.diff(evr) <= 0).all()
    # three of 32 dimensions: isotropic vectors would give ~3/32; the learned ones are far more structured
    assert 0.2 < evr.sum() < 0.95 and evr[0] > 0.1
    titles = set(ml.items["title"])
    assert set(lf.ends["title"]) <= titles and len(lf.ends) == 3 * 2 * 10
    assert (tmp_path / "latent_factors.png").read_bytes()[:8] == PNG_SIGNATURE
