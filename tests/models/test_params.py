"""The parameters presets share (declared once with their rules) and the one validation split."""
from __future__ import annotations

import numpy as np
import pytest

import featvec
from featvec.models.base import MIN_HOLDOUT_ROWS
from featvec.models.params import RULES, check, holdout

PRESETS = [featvec.MatrixFactorization, featvec.DeepRecommender, featvec.ImplicitRecommender, featvec.Feat2Vec,
           featvec.TabularModel, featvec.UserModel]


@pytest.mark.parametrize("n, frac", [(20, 0.1), (101, 0.25), (1000, 0.5), (37, 0.01)])
def test_holdout_is_one_disjoint_sorted_seeded_rule(n, frac):
    train, valid = holdout(n, frac, seed=3)
    assert len(valid) == max(1, round(n * frac)) and len(train) + len(valid) == n
    assert np.array_equal(np.sort(np.concatenate([train, valid])), np.arange(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(valid) > 0)
    again = holdout(n, frac, seed=3)
    assert np.array_equal(again[0], train) and not np.array_equal(holdout(n, frac, seed=4)[1], valid)


def test_rows_are_held_out_only_when_used_and_enough():
    m = featvec.TabularModel(valid_frac=0.2, patience=None)
    assert m._holdout(1000) is None  # nothing uses them without early stopping
    m.set_params(patience=2)
    assert m._holdout(MIN_HOLDOUT_ROWS - 1) is None and len(m._holdout(1000)[1]) == 200
    assert featvec.UserModel(patience=None, calibrate=True)._holdout(100) is not None  # calibration uses them
    assert featvec.MatrixFactorization(valid_frac=0.1)._holdout(100) is not None  # the logged loss uses them
    assert featvec.ImplicitRecommender(solver="als", valid_frac=0.1)._holdout(100) is None


@pytest.mark.parametrize("name, bad", [("epochs", 0), ("epochs", 2.5), ("batch_size", 0), ("lr", 0.0),
                                       ("lr", float("nan")), ("optimizer", "rmsprop"), ("weight_decay", -1),
                                       ("valid_frac", 1.0), ("patience", -1), ("min_count", 0), ("dim", 0),
                                       ("dim", True)])
def test_a_shared_parameter_breaking_its_rule_is_named(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be .*got {bad!r}"):
        check(name, bad)


def test_every_preset_checks_the_shared_rules_at_fit():
    for cls in PRESETS:
        shared = [p for p in cls._param_names() if p in RULES]
        assert {"epochs", "valid_frac", "seed"} <= set(shared), cls.__name__
        with pytest.raises(ValueError, match="epochs must be an int >= 1"):
            cls(epochs=0)._validate_params()


def test_init_stores_the_arguments_as_given():
    layers = (16, 8)
    m = featvec.DeepRecommender(layers=layers, dim=7, lr=0.5)
    assert m.layers is layers and m.dim == 7 and m.lr == 0.5


def test_the_per_example_settings_train_in_batches_off_the_cpu():
    """What a GPU fit of the fused presets' defaults runs (the Trainer's settings; no GPU needed to check)."""
    import torch

    import featvec
    from featvec.models.params import GPU_BATCHES, trainer_settings

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    mf, bpr = featvec.MatrixFactorization(), featvec.ImplicitRecommender()
    assert trainer_settings(mf, cuda, "ratings") == GPU_BATCHES["ratings"] == {"batch_size": 4096,
                                                                               "optimizer": "adam", "lr": 1e-2}
    assert trainer_settings(bpr, cuda, "pairs")["batch_size"] == 1024
    assert trainer_settings(mf, cpu, "ratings") == {"batch_size": 1, "optimizer": "sgd", "lr": None}
    own = featvec.MatrixFactorization(batch_size=256, optimizer="adamw")
    assert trainer_settings(own, cuda, "ratings") == {"batch_size": 256, "optimizer": "adamw", "lr": None}
