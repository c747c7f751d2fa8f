"""scikit-learn's protocol: clone, check_is_fitted and cross_val_score work on featvec's estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import featvec

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

PRESETS = [featvec.MatrixFactorization(dim=8, epochs=3), featvec.DeepRecommender(layers=(16,)),
           featvec.ImplicitRecommender(loss="sampled_softmax"), featvec.Feat2Vec(groups=["a", "b"], tie=[]),
           featvec.TabularModel(categorical=["cat"], target="y", layers=(8,)),
           featvec.UserModel(bags=["items"], targets=["g"], dim={"items": 4})]
TABLE = pd.DataFrame({"cat": list("abcd") * 60, "x": np.arange(240.0) % 7,
                      "y": (np.arange(240) % 4) * 1.0 + np.random.default_rng(0).normal(0, 0.1, 240)})


@pytest.mark.parametrize("model", PRESETS, ids=lambda m: type(m).__name__)
def test_clone_gives_an_equal_unfitted_copy(model):
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(sklearn.exceptions.NotFittedError):
        check_is_fitted(copy)


def test_not_fitted_error_is_what_each_convention_expects():
    m = featvec.MatrixFactorization()
    for kind in (featvec.NotFittedError, RuntimeError, ValueError, AttributeError):
        with pytest.raises(kind, match="not fitted yet; call fit"):
            m.recommend([1])
    assert not hasattr(m, "vectors_")


def test_check_is_fitted_and_cross_val_score_on_a_tabular_model():
    model = featvec.TabularModel(categorical=["cat"], numeric=["x"], target="y", epochs=30, layers=(16,),
                                 show_progress=False)
    scores = cross_val_score(model, TABLE, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores)) and scores.mean() > 0.5  # R^2: y is the category plus noise
    check_is_fitted(clone(model).fit(TABLE))
