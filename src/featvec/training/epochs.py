"""The one epoch loop, shared by the torch Trainer and the fused engines: the schedule of epochs, the
training loss check, validation, early stopping with the best epoch kept, callbacks, progress, history."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

from featvec.training.progress import progress_bar
from featvec.training.stopping import EarlyStopping


def run_epochs(owner, epochs: int, run_epoch: Callable, *, valid: Callable | None = None,
               patience: int | None = None, snapshot: Callable[[], Any] | None = None,
               restore: Callable[[Any], None] | None = None, finish: Callable[[], None] | None = None, callbacks: Sequence = (), show_progress=False,
               total: int = 0, unit: str = "rows") -> list[dict]:
    """Run ``run_epoch(epoch, bar) -> {"train_loss": mean loss, "lr": rate}`` for ``epochs`` epochs.

    ``valid()``, when given, is the validation loss read after each epoch; with ``patience`` training stops
    once it has not improved for more than ``patience`` epochs and ``restore(snapshot())`` of the best epoch
    is put back; then ``finish()``. ``owner`` (the trainer) is what callbacks receive; its ``history`` is filled as the epochs
    run and a callback or ``owner.stop = True`` ends training after the epoch. ``total`` items of ``unit``
    for the progress bar. Returns the history: one dict per epoch (epoch, train_loss, valid_loss, lr,
    seconds).
    """
    owner.history, owner.stop = [], False
    stopper = EarlyStopping(patience if valid is not None else None)
    for cb in callbacks:
        cb.on_train_begin(owner)
    bar = progress_bar(show_progress, total=total, unit=unit)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        logs = {"epoch": epoch + 1, **run_epoch(epoch, bar)}
        if not math.isfinite(logs["train_loss"]):
            raise FloatingPointError(f"training loss became {logs['train_loss']} at epoch {epoch + 1}; "
                                     "lower lr or check the inputs")
        if valid is not None:
            logs["valid_loss"] = float(valid())
        logs["seconds"] = time.perf_counter() - t0
        owner.history.append(logs)
        if bar is not None:
            bar.set_postfix(epoch=epoch + 1, loss=f"{logs['train_loss']:.4f}")
        for cb in callbacks:
            if cb.on_epoch_end(owner, epoch + 1, logs):
                owner.stop = True
        if valid is not None and stopper.update(logs["valid_loss"], snapshot):
            owner.stop = True
        if owner.stop:
            break
    if bar is not None:
        bar.close()
    if stopper.best_state is not None:
        restore(stopper.best_state)
    if finish is not None:
        finish()
    for cb in callbacks:
        cb.on_train_end(owner)
    return owner.history
