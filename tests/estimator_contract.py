"""The contract every featvec estimator keeps, written once (a mixin, not collected itself):

parameters (``get_params`` follows ``__init__``'s signature, ``set_params`` checks names, ``repr`` shows
what differs from the defaults), ``__init__`` stores hyperparameters only, ``fit`` returns self and sets
fitted attributes ending in ``_``, a not-fitted model raises an error naming ``fit``, a seeded refit gives
identical outputs, and persistence (safetensors + JSON with the format version and the kind, the same
outputs after ``load``, an interrupted save keeps the previous model, a wrong format version is refused).

A preset's test class subclasses it and implements ``make_model()`` (a new, small, unfitted model),
``make_train()`` (the frame ``fit`` takes) and ``outputs(model, frame)`` (what the fitted model computes on
a frame, compared exactly across refits and loads). ``TopKContract`` (test_contract.py) extends it for the
recommenders.
"""
from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.io import persistence
from save_checks import check_interrupted_save

_FITTED: dict = {}


def assert_same(a, b) -> None:
    """Equal outputs: arrays, frames, or dicts / lists of them."""
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)) and not isinstance(a, str):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


class EstimatorContract:
    """Tests every estimator keeps: parameters, fitting conventions, determinism, persistence."""

    def make_model(self):
        raise NotImplementedError

    def make_train(self) -> pd.DataFrame:
        raise NotImplementedError

    def outputs(self, model, frame: pd.DataFrame):
        raise NotImplementedError

    def fit(self, model, train: pd.DataFrame):
        return model.fit(train)

    @pytest.fixture
    def est_train(self):
        return self.make_train()

    @pytest.fixture
    def fitted(self, est_train):
        cls = type(self)
        if cls not in _FITTED:
            _FITTED[cls] = self.fit(self.make_model(), est_train)
        return _FITTED[cls]

    def test_params_follow_init_and_repr_shows_changes(self):
        m = self.make_model()
        names = [p for p in inspect.signature(type(m).__init__).parameters if p != "self"]
        params = m.get_params()
        assert list(params) == names
        assert type(m)(**params).get_params() == params
        assert m.set_params(epochs=3, seed=5) is m
        assert m.get_params()["epochs"] == 3 and m.seed == 5
        with pytest.raises(ValueError, match="no_such_param"):
            m.set_params(no_such_param=1)
        r = repr(m)
        assert r.startswith(type(m).__name__ + "(") and "epochs=3" in r and "seed=5" in r
        assert "device=" not in r  # defaults are left out

    def test_init_stores_hyperparameters_and_fit_returns_self(self, est_train, fitted):
        fresh = self.make_model()
        before = set(vars(fresh))
        assert not [k for k in before if k.endswith("_") and not k.startswith("_")], "__init__ set fitted attributes"
        assert not fresh.is_fitted
        with pytest.raises(RuntimeError, match="fit"):
            self.outputs(fresh, est_train)
        assert self.fit(fresh, est_train) is fresh
        new = {k for k in set(vars(fresh)) - before if not k.startswith("_")}
        assert new and all(k.endswith("_") for k in new), new
        assert fresh.is_fitted and isinstance(fresh.history_, list) and len(fresh.history_) >= 1
        assert_same(self.outputs(fresh, est_train), self.outputs(fitted, est_train))  # seeded: the same model

    def test_save_load_gives_the_same_outputs(self, fitted, est_train, tmp_path):
        path = fitted.save(tmp_path / "model")
        assert sorted(os.listdir(path)) == ["featvec.json", "model.safetensors"]
        meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
        assert meta["format_version"] == persistence.FORMAT_VERSION and meta["kind"] == type(fitted).__name__
        loaded = featvec.load(path)
        assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
        assert_same(self.outputs(loaded, est_train), self.outputs(fitted, est_train))

    @pytest.mark.parametrize("where", ["save_file", "json.dump"])
    def test_interrupted_save_keeps_the_previous_model(self, fitted, est_train, tmp_path, monkeypatch, where):
        check_interrupted_save(fitted.save, tmp_path, monkeypatch, where, "model")
        assert_same(self.outputs(featvec.load(tmp_path / "model"), est_train), self.outputs(fitted, est_train))

    def test_load_refuses_a_wrong_format_version(self, fitted, tmp_path):
        path = fitted.save(tmp_path / "model")
        meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
        meta["format_version"] = persistence.FORMAT_VERSION + 1
        (path / "featvec.json").write_text(json.dumps(meta), encoding="utf-8")
        with pytest.raises(ValueError, match="format version"):
            featvec.load(path)
