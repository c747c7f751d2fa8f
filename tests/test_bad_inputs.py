"""The bad-input corpus, part one: every shared parameter of every preset and every ``k`` of the top-K
methods, each bad value refused at once with a ValueError that names the parameter and what it must be
(the model folders' corpus is tests/io/test_model_folder.py)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import featvec

RATINGS = pd.DataFrame({"user_id": np.repeat(np.arange(12), 4), "item_id": np.tile(np.arange(8), 6),
                        "rating": np.random.default_rng(0).integers(1, 6, 48).astype(float)})
TABLE = pd.DataFrame({"cat": list("abcd") * 10, "x": np.arange(40.0), "y": np.arange(40.0) % 3})
USERS = pd.DataFrame({"items": [["a", "b"], ["c"], ["a", "c"], ["b"]] * 8, "gender": ["F", "M"] * 16})

PRESETS = {
    "MatrixFactorization": (lambda **p: featvec.MatrixFactorization(**p), RATINGS),
    "DeepRecommender": (lambda **p: featvec.DeepRecommender(**p), RATINGS),
    "ImplicitRecommender": (lambda **p: featvec.ImplicitRecommender(**p), RATINGS[["user_id", "item_id"]]),
    "Feat2Vec": (lambda **p: featvec.Feat2Vec(groups=["user_id", "item_id"], **p), RATINGS),
    "TabularModel": (lambda **p: featvec.TabularModel(categorical=["cat"], numeric=["x"], target="y", **p), TABLE),
    "UserModel": (lambda **p: featvec.UserModel(bags=["items"], targets=["gender"], **p), USERS),
}

BAD = {
    "epochs": [0, -1, 2.5, True, "10", None],
    "batch_size": [0, -8, 2.5, False, "64"],
    "lr": [0, -0.1, math.nan, math.inf, "fast"],
    "valid_frac": [1.0, -0.1, math.nan, 2],
    "patience": [-1, 1.5, "3"],
    "seed": ["a", 1.5, None],
    "optimizer": ["rmsprop", None],
    "schedule": ["step", ""],
    "weight_decay": [-1, math.nan],
    "min_count": [0, -2, 1.5],
    "dim": [0, -4, 2.5, "8"],
    "show_progress": ["yes", 2],
}

CASES = [(preset, name, bad) for preset in PRESETS for name, values in BAD.items() for bad in values
         if name in featvec.__dict__[preset]._param_names() and not (preset == "UserModel" and name == "dim")]


@pytest.mark.parametrize("preset, name, bad", CASES, ids=[f"{p}-{n}={b!r}" for p, n, b in CASES])
def test_a_bad_shared_parameter_is_refused_at_fit_naming_it(preset, name, bad):
    make, data = PRESETS[preset]
    with pytest.raises(ValueError, match=f"^{name} must be .*, got {bad!r}$".replace("(", r"\(").replace(")", r"\)")):
        make(**{name: bad}).fit(data)


OWN = [
    (lambda: featvec.ImplicitRecommender(solver="als", alpha=-1), "alpha must be a number >= 0"),
    (lambda: featvec.ImplicitRecommender(beta=-0.5), "beta must be a number >= 0"),
    (lambda: featvec.ImplicitRecommender(temperature=0), "temperature must be a number > 0"),
    (lambda: featvec.ImplicitRecommender(reg_exponent=-1), "reg_exponent must be a number >= 0"),
    (lambda: featvec.ImplicitRecommender(iterations=0), "iterations must be an int >= 1"),
    (lambda: featvec.ImplicitRecommender(fold_in_steps=0), "fold_in_steps must be an int >= 1"),
    (lambda: featvec.ImplicitRecommender(reg=-0.1), "reg must be a number >= 0"),
    (lambda: featvec.MatrixFactorization(bias_reg=-1), "bias_reg must be a number >= 0"),
    (lambda: featvec.MatrixFactorization(init_std=math.nan), "init_std must be a number >= 0"),
    (lambda: featvec.DeepRecommender(precision="half"), "precision must be 'auto', 'float32' or 'bfloat16'"),
    (lambda: featvec.Feat2Vec(groups=["user_id", "item_id"], value_bias=-1), "value_bias must be a number >= 0"),
    # None where the preset has no rule for working the value out itself
    (lambda: featvec.MatrixFactorization(batch_size=None), "batch_size must be an int >= 1, got None"),
    (lambda: featvec.DeepRecommender(lr=None), "lr must be a number > 0, got None"),
    (lambda: featvec.Feat2Vec(groups=["user_id", "item_id"], batch_size=None), "batch_size must be an int >= 1"),
    (lambda: featvec.ImplicitRecommender(batch_size=None), "batch_size must be an int >= 1, got None"),
    # weight_decay where nothing would read it
    (lambda: featvec.MatrixFactorization(weight_decay=0.1), "weight_decay is for torch's optimisers; per-rating SGD"),
    (lambda: featvec.ImplicitRecommender(weight_decay=0.1), "weight_decay is for torch's optimisers; per-positive SGD"),
    (lambda: featvec.ImplicitRecommender(solver="als", weight_decay=0.1), "weight_decay is for torch's optimisers; ALS"),
    (lambda: featvec.Feat2Vec(groups=["user_id", "item_id"], weight_decay=0.1),
     "weight_decay is for torch's optimisers; per-record SGD"),
]


@pytest.mark.parametrize("i", range(len(OWN)))
def test_a_bad_own_parameter_is_refused_naming_it(i):
    make, message = OWN[i]
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make().fit(RATINGS)


def test_none_is_refused_where_the_preset_cannot_work_the_value_out():
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1 \(or 'auto'\), got None"):
        featvec.UserModel(bags=["items"], targets=["gender"], batch_size=None).fit(USERS)
    table = featvec.TabularModel(categorical=["cat"], numeric=["x"], target="y", batch_size=None, lr=None, epochs=1)
    assert table.fit(TABLE).history_  # TabularModel works both out from the data
    with pytest.raises(ValueError, match=r"batch_size must be None or an int >= 1, got 0"):
        featvec.TabularModel(categorical=["cat"], target="y", batch_size=0).fit(TABLE)


@pytest.fixture(scope="module")
def fitted():
    mf = featvec.MatrixFactorization(dim=4, epochs=1).fit(RATINGS)
    f2v = featvec.Feat2Vec(groups=["user_id", "item_id"], dim=4, epochs=1, patience=None).fit(RATINGS)
    return mf, f2v


BAD_K = [0, -3, 2.7, math.nan, True, "5", None]
K_CALLS = {
    "recommend": lambda mf, f2v, k: mf.recommend([0, 1], k=k),
    "similar_items": lambda mf, f2v, k: mf.similar_items([0], k=k),
    "similar_users": lambda mf, f2v, k: mf.similar_users([0], k=k),
    "evaluate": lambda mf, f2v, k: featvec.evaluate(mf, RATINGS.iloc[:10], k=k),
    "Vectors.similar": lambda mf, f2v, k: mf.vectors_["items"].similar([1], k=k),
    "Feat2Vec.similar": lambda mf, f2v, k: f2v.similar("item_id=1", k=k),
    "Feat2Vec.complete": lambda mf, f2v, k: f2v.complete(RATINGS.iloc[:2], "item_id", k=k),
}
K_CASES = [(call, k) for call in K_CALLS for k in BAD_K]


@pytest.mark.parametrize("call, k", K_CASES, ids=[f"{c}-k={k!r}" for c, k in K_CASES])
def test_a_bad_k_is_refused_naming_it(fitted, call, k):
    with pytest.raises(ValueError, match=f"k must be a whole number >= 1, got {k!r}"):
        K_CALLS[call](*fitted, k)


def test_numpy_integers_are_good_ks(fitted):
    mf, _ = fitted
    assert len(mf.recommend([0], k=np.int64(3))) == 3
