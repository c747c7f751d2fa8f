"""``fit --test-frac`` writes the split beside the model, so ``evaluate`` can score the held-out rows; scoring
training rows warns."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import featvec
from cli_helpers import run

rng = np.random.default_rng(0)
RATINGS = pd.DataFrame({"user_id": rng.integers(0, 40, 600), "item_id": rng.integers(0, 30, 600),
                        "rating": rng.integers(1, 6, 600).astype(float)}).drop_duplicates(["user_id", "item_id"])


@pytest.mark.parametrize("model", ["mf", "implicit"])
def test_fit_writes_the_split_and_evaluate_scores_it(capsys, tmp_path, model):
    RATINGS.to_csv(tmp_path / "r.csv", index=False)
    status, out, err = run(capsys, "fit", "--ratings", tmp_path / "r.csv", "--model", model, "--epochs", "2",
                           "--test-frac", "0.2", "--out", tmp_path / "m")
    assert status == 0, err
    train, test = pd.read_csv(tmp_path / "m" / "train.csv"), pd.read_csv(tmp_path / "m" / "test.csv")
    assert len(train) + len(test) == len(RATINGS) and f"--ratings {tmp_path / 'm' / 'test.csv'}" in out
    pairs = set(zip(train["user_id"], train["item_id"]))
    assert not any((u, i) in pairs for u, i in zip(test["user_id"], test["item_id"]))
    assert type(featvec.load(tmp_path / "m")).__name__ in ("MatrixFactorization", "ImplicitRecommender")
    status, out, err = run(capsys, "evaluate", "--model-dir", tmp_path / "m", "--ratings", tmp_path / "m" / "test.csv")
    assert status == 0 and "warning" not in err and json.loads(out.strip().splitlines()[-1])
    if model == "mf":
        status, out, err = run(capsys, "evaluate", "--model-dir", tmp_path / "m", "--ratings",
                               tmp_path / "m" / "train.csv")
        assert status == 0 and "featvec: warning: 100% of these ratings were training ratings" in err


def test_evaluate_on_training_rows_warns():
    model = featvec.ImplicitRecommender(epochs=2).fit(RATINGS)
    assert model.training_share(RATINGS) == 1.0 and model.training_share(RATINGS.assign(item_id=999)) == 0.0
    with pytest.warns(UserWarning, match="100% of the test rows are training interactions"):
        featvec.evaluate(model, RATINGS)
