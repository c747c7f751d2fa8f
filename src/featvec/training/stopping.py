"""Early stopping on the validation loss, shared by the torch Trainer and the fused engines."""
from __future__ import annotations

import math
from typing import Any, Callable


class EarlyStopping:
    """``update(loss, snapshot)`` after each epoch: keeps ``snapshot()`` of the best epoch in ``best_state``
    and returns True once the loss has not improved (by more than 1e-7) for more than ``patience`` epochs.
    ``patience=None`` never stops and keeps no snapshot."""

    def __init__(self, patience: int | None):
        self.patience, self.best, self.bad, self.best_state = patience, math.inf, 0, None

    def update(self, loss: float, snapshot: Callable[[], Any]) -> bool:
        if self.patience is None:
            return False
        if loss < self.best - 1e-7:
            self.best, self.bad, self.best_state = loss, 0, snapshot()
            return False
        self.bad += 1
        return self.bad > self.patience
