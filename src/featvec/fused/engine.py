"""The epoch loop around the fused kernels: block rounds on the kernel threads, the shared rows' private
copies merged after each round, the learning-rate schedule, validation with early stopping, callbacks and
progress. The model's tables live in two ``Side``s while training and go back to its net at the end.
Data-parallel (``featvec.training.distributed``): every rank draws the same schedule and works every
size-th block of each round; the blocks of a round share no user and no item, so exchanging the rows each
rank moved after the round gives what one process with all the ranks' threads computes."""
from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np

from featvec.fused.schedule import BlockSchedule, grid_size
from featvec.fused.slots import Side
from featvec.training.distributed import TableExchange, active, all_min, all_sum, broadcast_rows, world
from featvec.training.epochs import run_epochs
from featvec.util.threads import get_num_threads, run_parallel


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The learning rate's factor for ``epoch`` (0-based) of ``epochs``: constant, linear decay to a
    tenth, or cosine to a tenth (per-example SGD wants its steps to shrink, not a warm-up)."""
    t = epoch / max(epochs - 1, 1)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - 0.9 * t
    if schedule == "cosine":
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {schedule!r} for per-example SGD; use linear, cosine or constant")


def warn_if_diverged(history: list[dict]) -> None:
    """Per-example SGD with too high a rate can blow the vectors up while the loss stays finite: warn when
    the last epoch's training loss is over ten times the first's."""
    if len(history) > 1 and history[-1]["train_loss"] > 10 * max(history[0]["train_loss"], 1e-12):
        warnings.warn(f"training diverged: the loss went from {history[0]['train_loss']:.4g} (epoch 1) to "
                      f"{history[-1]['train_loss']:.4g} (epoch {len(history)}); lower lr", RuntimeWarning,
                      stacklevel=4)


class SideState:
    """A side's stacked tables while training, and its shared rows (those of no single entity)."""

    def __init__(self, side: Side, parallel: bool):
        self.side = side
        self.shared = np.flatnonzero(~side.exclusive) if parallel else np.zeros(0, dtype=np.int64)
        self.loc = np.full(len(side.B), -1, dtype=np.int32)
        self.loc[self.shared] = np.arange(len(self.shared), dtype=np.int32)
        n = side.n_entities
        # entity e is row e alone with weight 1, rows of no other entity: the kernels skip the slot lookups
        self.plain = bool(len(side.rows) == n and (side.ptr == np.arange(n + 1)).all()
                          and (side.rows == np.arange(n)).all() and (side.weights == 1).all()
                          and side.exclusive[1:n].all())

    def copies(self, n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per block: a private copy of the shared rows and biases, and a step count per row."""
        k = len(self.shared)
        w, b = self.side.W[self.shared], self.side.B[self.shared]
        return [(w.copy(), b.copy(), np.zeros(k, dtype=np.int32)) for _ in range(n)]

    def merge(self, copies: list) -> None:
        """The blocks' copies of each shared row averaged, weighted by the steps each block took on it
        (a row no block touched keeps its value). Summing the changes instead would overshoot on rows
        that every block moves toward the same place."""
        if not len(self.shared):
            return
        steps = sum(c[2].astype(np.float64) for c in copies)
        w = sum(c[0] * c[2][:, None] for c in copies)
        b = sum(c[1] * c[2] for c in copies)
        moved = steps > 0
        self.side.W[self.shared[moved]] = (w[moved] / steps[moved, None]).astype(np.float32)
        self.side.B[self.shared[moved]] = (b[moved] / steps[moved]).astype(np.float32)

    def args(self, private) -> tuple:
        s = self.side
        return (s.ptr, s.rows, s.weights, s.W, s.B, private[0], private[1], self.loc, s.bias_mask, private[2])

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        return self.side.W.copy(), self.side.B.copy()

    def restore(self, snap) -> None:
        self.side.W[...], self.side.B[...] = snap


class BlockTrainer:
    """Runs ``kernel(plain)`` (the kernel variant for sides that are or are not plain) over the samples (user rows ``su``, item rows ``si``, values ``sy``) for ``epochs``.

    ``hyper(epoch, lr)`` gives the kernel's scalars for an epoch (``lr``: the schedule's rate that epoch);
    ``extra(task, schedule)`` the kernel's extra arguments for a block (``task``: dict with user/item
    group, epoch, round, block index and a seed for its random stream); ``valid()`` a validation loss, read after every epoch with the weights in
    the model (``sync()`` puts them there). ``history`` holds one dict per epoch like the Trainer's.
    """

    def __init__(self, kernel: Callable[[bool], Callable], users: Side, items: Side, su, si, sy, epochs: int, lr: float,
                 schedule: str, hyper: Callable, seed: int, extra: Callable | None = None, valid: Callable | None = None,
                 patience: int | None = None, sync: Callable | None = None, callbacks: Sequence = (),
                 show_progress=False, threads: int | None = None, what: str = "samples"):
        self.kernel, self.su, self.si, self.sy = kernel, su, si, sy
        self.epochs, self.lr, self.schedule = int(epochs), float(lr), schedule
        self.hyper, self.seed = hyper, int(seed)
        self.extra, self.valid, self.patience, self.sync = extra, valid, patience, sync
        self.callbacks, self.show_progress, self.what = list(callbacks), show_progress, what
        size = world()[1]  # data-parallel: the ranks' threads together work the blocks of each round
        t = max(1, min(int(threads or get_num_threads()) * size, users.n_entities - 1, items.n_entities - 1))
        self.p = grid_size(t, users.W.shape[0] + items.W.shape[0], 4 * (users.W.shape[1] + 1), len(su))
        self.p = all_min(min(self.p, max(1, min(users.n_entities, items.n_entities) - 1)))  # one grid for all
        self.users, self.items = SideState(users, self.p > 1), SideState(items, self.p > 1)
        plain = self.users.plain and self.items.plain
        # data-parallel, tables with rows shared by entities: the ranks' copies merged (plain ones: sent by owner)
        self.shared_rows = TableExchange([users.W, users.B, items.W, items.B]) if active() and not plain else None
        self.kernel = kernel(plain)
        self.history: list[dict] = []
        self.stop = False
        self.stats = np.zeros(1, dtype=np.int64)

    def _seed(self, *keys: int) -> np.uint64:
        return np.random.SeedSequence([self.seed, *keys]).generate_state(1, np.uint64)[0]

    def _epoch(self, sched: BlockSchedule, ident: np.ndarray, epoch: int, hyper, bar) -> float:
        """The rounds of one epoch, each round's blocks on the threads (data-parallel: this rank's blocks,
        every ``size``-th, then the ranks' tables exchanged); returns the summed training loss."""
        total = 0.0
        rank, size = world()
        for r, blocks in enumerate(sched.epoch()):
            mine = [(t, b) for t, b in enumerate(blocks) if t % size == rank]
            cu, ci = self.users.copies(len(mine)), self.items.copies(len(mine))
            tasks = []
            for j, (t, (ug, ig)) in enumerate(mine):
                start, end = sched.block(ug, ig)
                task = {"user_group": ug, "item_group": ig, "epoch": epoch, "round": r, "block": t,
                        "seed": self._seed(epoch, r, t)}
                tasks.append((ident, start, end, sched.su, sched.si, sched.sy,
                              self.users.args(cu[j]), self.items.args(ci[j]),
                              *(self.extra(task, sched) if self.extra else ()), hyper))
            total += sum(run_parallel(self.kernel, tasks))
            self.users.merge(cu)
            self.items.merge(ci)
            if size > 1:
                self._exchange(sched, blocks, size)
            if bar is not None:
                bar.update(int(sum(t[2] - t[1] for t in tasks)))
        return total

    def _exchange(self, sched: BlockSchedule, blocks: list, size: int) -> None:
        """After a round, the rows each rank moved to every rank: from their owner, or merged where entities
        share rows."""
        if self.shared_rows is not None:
            self.shared_rows()
        else:
            _send_owned_rows(sched, blocks, size, (self.users.side, self.items.side))

    def fit(self) -> list[dict]:
        sched = BlockSchedule(self.su, self.si, self.sy, self.users.side.n_entities, self.items.side.n_entities,
                              self.p, self.seed)
        # the kernels read a block's samples as one run of sched.su / si / sy, through the identity
        ident = np.arange(len(self.su), dtype=np.int32)
        self.schedule_ = sched
        n = len(self.su)

        def run_epoch(epoch: int, bar) -> dict:
            lr = self.lr * lr_factor(self.schedule, epoch, self.epochs)
            total = float(all_sum(np.array([self._epoch(sched, ident, epoch, self.hyper(epoch, lr), bar)]))[0])
            if self.valid is not None or self.callbacks:
                self.sync()
            return {"train_loss": total / max(n, 1), "lr": lr}

        def restore(best) -> None:
            self.users.restore(best[0])
            self.items.restore(best[1])

        run_epochs(self, self.epochs, run_epoch, valid=self.valid, patience=self.patience,
                   snapshot=lambda: (self.users.snapshot(), self.items.snapshot()), restore=restore,
                   finish=self.sync, callbacks=self.callbacks, show_progress=self.show_progress,
                   total=n * self.epochs, unit=self.what)
        warn_if_diverged(self.history)
        return self.history


def _send_owned_rows(sched: BlockSchedule, blocks: list, size: int, sides: tuple) -> None:
    """After a round, every rank's moved rows to the other ranks, sent by their owner: rank k worked blocks
    k, k + size, ... of the round, so it alone moved the users of those blocks' user groups and the items of
    their item groups (plain sides: entity e is row e)."""
    for k in range(size):
        mine = blocks[k::size]
        for side, group, pick in ((sides[0], sched.user_group, 0), (sides[1], sched.item_group, 1)):
            rows = np.flatnonzero(np.isin(group, [b[pick] for b in mine]))
            if rows.size:
                broadcast_rows(side.W, side.B, rows, k)
