"""featvec.ann and the approximate paths of recommend and similar: exact scores, high recall, seen items left out."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import featvec

pytest.importorskip("faiss")
from featvec.ann import IPIndex  # noqa: E402


def test_ip_index_finds_the_largest_inner_products():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 16)) * 2  # clustered, as embeddings are (isotropic noise is IVF's worst case)
    x = (centres[rng.integers(0, 50, 5000)] + rng.normal(size=(5000, 16)) * 0.5) * rng.uniform(0.2, 3, size=(5000, 1))
    q = centres[rng.integers(0, 50, 50)] + rng.normal(size=(50, 16)) * 0.5  # norms vary: inner product, not cosine
    index = IPIndex(x, queries=q)
    ip, rows = index.search(q, 10)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact)])
    assert recall >= 0.95
    np.testing.assert_allclose(ip, np.take_along_axis(q @ x.T, rows, 1), rtol=1e-4, atol=1e-4)
    assert (np.diff(ip, axis=1) <= 1e-5).all()  # best first
    assert index.recall_ >= 0.9 and index.nprobe < index.nlist
    assert IPIndex(x[:3]).search(q[:2], 10)[1].shape == (2, 3)
    with pytest.raises(ValueError, match="queries must be"):
        IPIndex(x).search(q[:, :3], 5)


@pytest.fixture(scope="module")
def implicit():
    rng = np.random.default_rng(1)
    n = 30_000
    df = pd.DataFrame({"user_id": rng.integers(0, 400, n), "item_id": (rng.zipf(1.3, n) % 3000) + 1})
    return df.drop_duplicates(), featvec.ImplicitRecommender(solver="als", dim=16, iterations=3).fit(df)


@pytest.mark.parametrize("kind", ["als", "mf"])
def test_approximate_recommend_matches_the_exact_one(implicit, ratings, kind):
    df, model = implicit if kind == "als" else (ratings, featvec.MatrixFactorization(dim=8, epochs=5).fit(ratings))
    users = sorted(df["user_id"].unique())[:60]
    exact = model.recommend(users, k=10)
    approx = model.recommend(users, k=10, approximate=True)
    assert list(approx.columns) == list(exact.columns)
    hits = sum(len(set(a) & set(b)) for (_, a), (_, b) in zip(exact.groupby("user_id")["item_id"],
                                                             approx.groupby("user_id")["item_id"]))
    assert hits / len(exact) >= 0.85  # the index is calibrated for a recall of 0.9
    both = approx.merge(exact, on=["user_id", "item_id"], suffixes=("", "_exact"))
    np.testing.assert_allclose(both["score"], both["score_exact"], rtol=1e-5, atol=1e-5)  # scores are exact
    seen = set(zip(df["user_id"], df["item_id"]))
    assert not any((u, i) in seen for u, i in zip(approx["user_id"], approx["item_id"]))
    assert approx.groupby("user_id")["rank"].apply(list).map(lambda r: r == list(range(1, len(r) + 1))).all()


def test_approximate_similar_matches_the_exact_one(implicit):
    _, model = implicit
    vecs = model.vectors_["items"]
    ids = vecs.labels[:40]
    exact, approx = vecs.similar(ids, k=8), vecs.similar(ids, k=8, approximate=True)
    hits = sum(len(set(a) & set(b)) for (_, a), (_, b) in zip(exact.groupby("query")["label"],
                                                             approx.groupby("query")["label"]))
    assert hits / len(exact) >= 0.85  # the index is calibrated for a recall of 0.9
    assert not (approx["query"] == approx["label"]).any()


def test_approximate_refusals(implicit, ratings):
    _, model = implicit
    with pytest.raises(ValueError, match="leave items, user_items and item_features out"):
        model.recommend([1], items=[1, 2], approximate=True)
    deep = featvec.DeepRecommender(dim=4, epochs=1).fit(ratings)
    with pytest.raises(ValueError, match="has an MLP"):
        deep.recommend([int(ratings["user_id"].iloc[0])], approximate=True)
    with pytest.raises(ValueError, match="leave candidates out"):
        model.vectors_["items"].similar([2], candidates=[2, 3], approximate=True)
