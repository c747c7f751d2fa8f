"""run_epochs, the epoch loop of the torch Trainer and both fused engines."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from featvec.training.epochs import run_epochs


def _loop(losses, valid_losses=None, **kw):
    owner, state, restored, order = SimpleNamespace(), {"w": 0}, [], []

    def run_epoch(epoch, bar):
        state["w"] = epoch + 1
        order.append(("epoch", epoch))
        return {"train_loss": losses[epoch], "lr": 0.1}

    valid = None
    if valid_losses is not None:
        valid = lambda: valid_losses[state["w"] - 1]  # noqa: E731
    history = run_epochs(owner, len(losses), run_epoch, valid=valid, snapshot=lambda: dict(state),
                         restore=lambda best: (restored.append(best), state.update(best)),
                         finish=lambda: order.append(("finish", state["w"])), **kw)
    return owner, history, state, restored, order


def test_one_log_per_epoch_in_order():
    owner, history, *_ = _loop([3.0, 2.0, 1.0])
    assert [h["epoch"] for h in history] == [1, 2, 3] and owner.history is history
    assert [list(h) for h in history] == [["epoch", "train_loss", "lr", "seconds"]] * 3
    assert [h["train_loss"] for h in history] == [3.0, 2.0, 1.0] and not owner.stop


def test_early_stopping_restores_the_best_epoch_before_finish():
    _, history, state, restored, order = _loop([5, 4, 3, 2, 1], [0.5, 0.3, 0.4, 0.45, 0.2], patience=1)
    assert [h["valid_loss"] for h in history] == [0.5, 0.3, 0.4, 0.45]  # two epochs without improvement
    assert restored == [{"w": 2}] and state["w"] == 2
    assert order[-1] == ("finish", 2)  # finish sees the restored state


def test_without_validation_patience_does_nothing():
    _, history, _, restored, _ = _loop([1, 2, 3], patience=0)
    assert len(history) == 3 and restored == []


def test_a_callback_can_stop_and_sees_begin_and_end():
    seen = []

    class Cb:
        def on_train_begin(self, owner):
            seen.append("begin")

        def on_epoch_end(self, owner, epoch, logs):
            seen.append(epoch)
            return epoch == 2

        def on_train_end(self, owner):
            seen.append("end")

    owner, history, *_ = _loop([1, 1, 1, 1], callbacks=[Cb()])
    assert seen == ["begin", 1, 2, "end"] and len(history) == 2 and owner.stop


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_loss_that_is_not_finite_raises_naming_the_epoch(bad):
    with pytest.raises(FloatingPointError, match="at epoch 2"):
        _loop([1.0, bad, 1.0])
