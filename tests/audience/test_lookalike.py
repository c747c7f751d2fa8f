"""Look-alikes: contributions sum to the score, blocks are balanced, weights do what they say."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featvec import Vectors
from featvec.audience.lookalike import block_shares, lookalikes, user_vectors


def users(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"u{i}" for i in range(n)], "age": rng.choice(["a", "b", "c"], n),
                         "device": rng.choice(["ios", "android"], n),
                         "lat": rng.normal(40, 5, n), "lon": rng.normal(-100, 15, n)})


def tables(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"age": Vectors(["a", "b", "c"], rng.normal(size=(3, 4)), name="age"),
            "device": Vectors(["ios", "android"], rng.normal(size=(2, 3)), name="device")}


@pytest.mark.parametrize("normalize", [True, False])
def test_contributions_sum_to_the_score(normalize):
    df = users()
    uv = user_vectors(df, "id", vectors=tables(), numeric={"geo": ["lat", "lon"]}, normalize=normalize)
    c = uv.contributions(["u1", "u2", "u3"])
    np.testing.assert_allclose(c[["age", "device", "geo"]].sum(axis=1), c["score"], atol=1e-12)
    m = lookalikes(uv, "u1", top=10, weights={"geo": 3.0})
    contrib = ["contrib_age", "contrib_device", "contrib_geo"]
    assert list(m.columns) == ["id", "score", "rank", *contrib]
    np.testing.assert_allclose(m[contrib].sum(axis=1), m["score"], atol=1e-12)
    assert m["score"].is_monotonic_decreasing and m["rank"].tolist() == list(range(1, 11))


def test_single_seed_score_is_the_weighted_mean_of_block_cosines():
    df = users()
    uv = user_vectors(df, "id", vectors=tables(), numeric={"geo": ["lat", "lon"]})
    c = uv.contributions("u5", candidates=["u5"])
    assert c.loc["u5", "score"] == pytest.approx(1.0)  # every block's cosine with itself is 1
    m = uv.matrix()
    assert np.linalg.norm(m, axis=1).max() == pytest.approx(1.0)
    full = uv.contributions("u5")["score"].to_numpy()
    np.testing.assert_allclose(full, m @ m[5], atol=1e-12)


def test_no_block_dominates_by_scale_unless_weighted():
    df = users()
    raw = user_vectors(df, "id", vectors=tables(), numeric={"geo": ["lat", "lon"]}, normalize=False)
    bal = user_vectors(df, "id", vectors=tables(), numeric={"geo": ["lat", "lon"]})
    blocks = ["age", "device", "geo"]
    raw_share = block_shares(lookalikes(raw, "u0", top=0.25), blocks)
    bal_share = block_shares(lookalikes(bal, "u0", top=0.25), blocks)
    assert raw_share["geo"] > 0.95  # raw latitude/longitude (~40, ~-100) swamp unit-scale embeddings
    assert bal_share["geo"] < 0.6 and bal_share.sum() == pytest.approx(1.0)
    heavy = block_shares(lookalikes(bal, "u0", top=0.25, weights={"geo": 10.0}), blocks)
    assert heavy["geo"] > bal_share["geo"] and heavy["geo"] > 0.7
    # rescaling a block's raw values changes nothing once blocks are normalised
    scaled = user_vectors(df.assign(lat=df["lat"] * 1000), "id", vectors=tables(), numeric={"geo": ["lat", "lon"]})
    pd.testing.assert_frame_equal(lookalikes(scaled, "u0", top=20), lookalikes(bal, "u0", top=20))


def test_audience_seed_and_top_fraction():
    df = users()
    uv = user_vectors(df, "id", vectors=tables())
    seed = ["u1", "u2", "u3", "u4"]
    m = lookalikes(uv, seed, top=0.5)
    assert len(m) == round(0.5 * (200 - 4)) and not set(seed) & set(m["id"])
    kept = lookalikes(uv, seed, top=300, exclude_seed=False)
    assert len(kept) == 200 and set(seed) <= set(kept["id"])
    # the audience's score is the mean of the single-seed scores
    c = uv.contributions(seed)["score"]
    mean = np.mean([uv.contributions(s)["score"].to_numpy() for s in seed], axis=0)
    np.testing.assert_allclose(c.to_numpy(), mean, atol=1e-12)


def test_unknown_values_get_a_zero_block():
    df = users().assign(age=lambda d: d["age"].where(d.index != 0, "zzz"))
    uv = user_vectors(df, "id", vectors=tables())
    raw = user_vectors(df, "id", vectors=tables(), normalize=False)
    assert np.all(raw.blocks["age"][0] == 0) and np.isfinite(uv.blocks["age"]).all()


def test_errors():
    df = users()
    with pytest.raises(ValueError, match="at least one block"):
        user_vectors(df, "id")
    with pytest.raises(ValueError, match="nope"):
        user_vectors(df, "id", numeric={"geo": ["nope"]})
    with pytest.raises(ValueError, match="appears in more than one row"):
        user_vectors(pd.concat([df, df.iloc[:1]]), "id", vectors=tables())
    with pytest.raises(ValueError, match=r"column 'lat' has a missing or infinite value at row 3 \(index 3\): nan"):
        user_vectors(df.assign(lat=lambda d: d["lat"].where(d.index != 3)), "id", numeric={"geo": ["lat"]})
    uv = user_vectors(df, "id", vectors=tables())
    with pytest.raises(ValueError, match="unknown user id"):
        lookalikes(uv, "nobody")
    with pytest.raises(ValueError, match="unknown block"):
        lookalikes(uv, "u1", weights={"geo": 1.0})
    with pytest.raises(ValueError, match="positive sum"):
        lookalikes(uv, "u1", weights={"age": 0.0, "device": 0.0})
    with pytest.raises(ValueError, match="fraction must be in"):
        lookalikes(uv, "u1", top=1.5)
    with pytest.raises(ValueError, match="positive count"):
        lookalikes(uv, "u1", top=0)
