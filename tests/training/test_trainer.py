"""Unit tests of the torch Trainer and its schedules."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from featvec.training.trainer import Callback, Trainer, lr_at


class TensorRows:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def batch(self, rows):
        return self.x[rows], self.y[rows]


class Linear(nn.Module):
    def __init__(self, n_in=3):
        super().__init__()
        self.lin = nn.Linear(n_in, 1)

    def loss(self, batch):
        x, y = batch
        return ((self.lin(x).squeeze(-1) - y) ** 2).mean(), len(y)


def _problem(n=128, sign=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = sign * (x @ torch.tensor([2.0, -1.0, 0.5]) + 1.0) + 0.05 * torch.randn(n, generator=g)
    return TensorRows(x, y)


def _fresh(seed=0):
    torch.manual_seed(seed)
    return Linear()


def _history(h):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in h]


def test_trainer_loss_decreases():
    module, data = _fresh(), _problem()
    hist = Trainer(epochs=15, batch_size=16, lr=0.05).fit(module, data, torch.device("cpu"))
    assert [e["epoch"] for e in hist] == list(range(1, 16))
    assert hist[-1]["train_loss"] < 0.05 * hist[0]["train_loss"]
    assert not module.training  # left in eval mode


def test_trainer_validation_loss_is_logged():
    module = _fresh()
    trainer = Trainer(epochs=4, batch_size=32, lr=0.05)
    hist = trainer.fit(module, _problem(), torch.device("cpu"), valid=_problem(seed=1))
    assert all("valid_loss" in e and "lr" in e and "seconds" in e for e in hist)
    assert trainer.evaluate(module, _problem(seed=1), torch.device("cpu")) == pytest.approx(hist[-1]["valid_loss"])


def test_trainer_is_deterministic_with_a_seed():
    runs = []
    for _ in range(2):
        module = _fresh()
        hist = Trainer(epochs=5, batch_size=16, lr=0.05, seed=7).fit(module, _problem(), torch.device("cpu"),
                                                                     valid=_problem(seed=1))
        runs.append((module.state_dict(), _history(hist)))
    (w1, h1), (w2, h2) = runs
    assert h1 == h2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    other = Trainer(epochs=5, batch_size=16, lr=0.05, seed=8).fit(_fresh(), _problem(), torch.device("cpu"))
    assert _history(other) != [{k: v for k, v in e.items() if k != "valid_loss"} for e in h1]


def test_trainer_early_stopping_restores_the_best_epoch():
    # the validation targets have the opposite sign: every epoch after the first makes it worse
    module, snaps = _fresh(), {}

    class Snap(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            snaps[epoch] = copy.deepcopy(module.state_dict())

    valid = _problem(sign=-1.0, seed=1)
    trainer = Trainer(epochs=30, batch_size=16, lr=0.05, schedule="constant", patience=2, callbacks=[Snap()])
    hist = trainer.fit(module, _problem(), torch.device("cpu"), valid=valid)
    losses = [e["valid_loss"] for e in hist]
    best = int(np.argmin(losses)) + 1
    assert best == 1
    assert len(hist) == best + 2 + 1 < 30  # patience 2: the third bad epoch stops it
    assert all(torch.equal(module.state_dict()[k], snaps[best][k]) for k in snaps[best])
    assert trainer.evaluate(module, valid, torch.device("cpu")) == pytest.approx(losses[best - 1])


def test_trainer_without_patience_runs_every_epoch():
    hist = Trainer(epochs=6, batch_size=32, lr=0.05).fit(_fresh(), _problem(), torch.device("cpu"),
                                                        valid=_problem(sign=-1.0))
    assert len(hist) == 6


def test_trainer_callbacks_are_called_and_can_stop():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            events.append("begin")

        def on_epoch_end(self, trainer, epoch, logs):
            events.append((epoch, round(logs["train_loss"], 12) == round(trainer.history[-1]["train_loss"], 12)))
            return epoch == 3

        def on_train_end(self, trainer):
            events.append("end")

    trainer = Trainer(epochs=10, batch_size=32, lr=0.05, callbacks=[Recorder()])
    hist = trainer.fit(_fresh(), _problem(), torch.device("cpu"))
    assert len(hist) == 3 and trainer.stop
    assert events == ["begin", (1, True), (2, True), (3, True), "end"]


@pytest.mark.parametrize("kwargs, match", [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size")])
def test_trainer_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Trainer(**kwargs)


def test_trainer_rejects_unknown_optimizer_and_schedule():
    with pytest.raises(ValueError, match="optimizer 'rmsprop'"):
        Trainer(epochs=1, optimizer="rmsprop").fit(_fresh(), _problem(), torch.device("cpu"))
    with pytest.raises(ValueError, match="schedule 'linear'"):
        Trainer(epochs=1, schedule="linear").fit(_fresh(), _problem(), torch.device("cpu"))


def test_lr_at_constant_and_cosine():
    assert [lr_at("constant", 0.1, s, 10) for s in (0, 5, 9)] == [0.1] * 3
    assert lr_at("cosine", 0.1, 0, 11) == pytest.approx(0.1)
    assert lr_at("cosine", 0.1, 5, 11) == pytest.approx(0.05)
    assert lr_at("cosine", 0.1, 10, 11) == pytest.approx(0.0, abs=1e-12)


def test_lr_at_onecycle_warms_up_then_anneals():
    total, lr = 101, 0.1
    lrs = [lr_at("onecycle", lr, s, total) for s in range(total)]
    peak = int(np.argmax(lrs))
    assert lrs[0] == pytest.approx(lr / 25)
    assert peak == 25 and lrs[peak] == pytest.approx(lr)
    assert lrs[-1] == pytest.approx(lr / 1e4)
    assert np.all(np.diff(lrs[:peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert lr_at("onecycle", lr, 0, 1) == pytest.approx(lr / 25)  # a single step is fine


def test_lr_at_unknown_schedule():
    with pytest.raises(ValueError, match="schedule"):
        lr_at("step", 0.1, 0, 10)


def test_sparse_adam_trains_a_sparse_embedding():
    class Sparse(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(4, 1, sparse=True)

        def loss(self, batch):
            x, y = batch
            return ((self.emb(x).squeeze(-1) - y) ** 2).mean(), len(y)

    x = torch.arange(4).repeat(16)
    data = TensorRows(x, x.float())
    torch.manual_seed(0)
    hist = Trainer(epochs=20, batch_size=16, lr=0.1, optimizer="sparse_adam").fit(Sparse(), data, torch.device("cpu"))
    assert hist[-1]["train_loss"] < 0.1 * hist[0]["train_loss"]


def test_fits_leave_the_callers_random_generators_where_they_were():
    import random

    import featvec

    ratings = pd.DataFrame({"user_id": np.repeat(np.arange(20), 5), "item_id": np.tile(np.arange(10), 10)})

    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    fits = [lambda: featvec.DeepRecommender(epochs=1).fit(ratings.assign(rating=1.0 + ratings.index % 5)),
            lambda: featvec.ImplicitRecommender(dim=4, epochs=1, optimizer="adam", batch_size=16).fit(ratings),
            lambda: featvec.ImplicitRecommender(dim=4, epochs=1).fit(ratings).recommend(
                [999], user_items=pd.DataFrame({"user_id": [999], "item_id": [3]}))]
    for fit in fits:
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
        expected = draws()
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
        fit()
        assert draws() == expected


def test_a_torch_fit_is_bit_identical_on_two_threads():
    import featvec
    from featvec.datasets import synthetic_ratings

    ratings = synthetic_ratings(n_users=300, n_items=200, n_ratings=20_000, seed=0).ratings
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a, b = (featvec.DeepRecommender(epochs=2, seed=0).fit(ratings).predict(ratings.iloc[:500]) for _ in range(2))
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    assert not torch.are_deterministic_algorithms_enabled()  # the caller's setting given back


def test_seeding_a_fit_does_not_import_torch_compile():
    """torch.use_deterministic_algorithms imports torch._inductor (1.4 s and 60 MB the first time); a fit must
    not pay that: it flips the switch directly."""
    import subprocess
    import sys

    code = ("import sys, pandas as pd, featvec\n"
            "featvec.DeepRecommender(epochs=1).fit(pd.DataFrame({'user_id': [1, 2] * 20, 'item_id': [1, 2, 3, 4] * 10,"
            " 'rating': [1.0, 5.0] * 20}))\n"
            "print('torch._inductor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
