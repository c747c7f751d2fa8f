"""Unit tests of labelled vectors (Vectors, VectorSet)."""
from __future__ import annotations

import numpy as np
import pytest

from featvec import Vectors, VectorSet


@pytest.fixture
def vecs():
    m = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    return Vectors(["a", "b", "c", "d"], m, bias=[0.1, 0.2, 0.3, 0.4], name="items")


def test_vectors_similar_excludes_self(vecs):
    out = vecs.similar("a", k=2)
    assert list(out.columns) == ["query", "label", "score", "rank"]
    assert out["label"].tolist() == ["b", "c"]
    assert out["rank"].tolist() == [1, 2]
    assert "a" not in out["label"].tolist()
    assert out["score"].is_monotonic_decreasing
    assert out["score"].between(-1 - 1e-6, 1 + 1e-6).all()
    assert vecs.similar("a", k=1, exclude_self=False)["label"].tolist() == ["a"]


def test_vectors_similar_batch_and_k_larger_than_table(vecs):
    out = vecs.similar(["a", "d"], k=10)
    assert out.groupby("query").size().to_dict() == {"a": 3, "d": 3}
    assert not (out["query"] == out["label"]).any()
    assert out[out["query"] == "d"]["label"].iloc[-1] == "a"  # the opposite vector comes last


def test_vectors_similar_with_candidates(vecs):
    # the query is not among the candidates: all of them can be returned
    out = vecs.similar("a", k=3, candidates=["b", "c", "d"])
    assert out["label"].tolist() == ["b", "c", "d"]
    inside = vecs.similar("a", k=3, candidates=["a", "c", "d"])
    assert inside["label"].tolist() == ["c", "d"]


def test_vectors_dot_metric_and_bad_metric(vecs):
    out = vecs.similar("a", k=1, metric="dot")
    assert out["score"].iloc[0] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="metric"):
        vecs.similar("a", metric="euclid")


def test_vectors_unknown_label(vecs):
    with pytest.raises(ValueError, match="zzz"):
        vecs.similar(["a", "zzz"])
    with pytest.raises(ValueError, match="zzz"):
        vecs["zzz"]


def test_vectors_lookup_and_to_frame(vecs):
    np.testing.assert_array_equal(vecs["c"], [0.0, 1.0])
    assert vecs[["d", "a"]].shape == (2, 2)
    df = vecs.to_frame()
    assert list(df.index) == ["a", "b", "c", "d"] and df.index.name == "items"
    assert list(df.columns) == ["f0", "f1", "bias"]
    np.testing.assert_allclose(df["bias"], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    assert list(Vectors([1, 2], np.zeros((2, 3))).to_frame().columns) == ["f0", "f1", "f2"]
    assert len(vecs) == 4 and vecs.dim == 2 and "items" in repr(vecs)


def test_vectors_need_one_label_per_row():
    with pytest.raises(ValueError, match="label"):
        Vectors(["a"], np.zeros((2, 2)))


def test_vector_set(vecs):
    vs = VectorSet({"items": vecs})
    assert len(vs) == 1 and list(vs) == ["items"] and vs["items"] is vecs
    assert "items" in vs
    with pytest.raises(KeyError, match="users"):
        vs["users"]
