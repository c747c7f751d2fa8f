"""The one trainer: batching, optimiser, schedule, validation, early stopping, progress, callbacks."""
from __future__ import annotations

import contextlib
import copy
import math
import random
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import nn

from featvec.encoding import EncodedBag, take
from featvec.training.distributed import all_sum, part, world, wrap
from featvec.training.epochs import run_epochs
from featvec.training.optim import make_optimizer


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'cpu' (default), 'cuda', 'mps', or 'auto' (a GPU when present, else CPU)."""
    if device is None or device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _deterministic(mode: bool, warn_only: bool) -> None:
    """torch's deterministic-algorithms switch without torch.use_deterministic_algorithms' import of
    torch._inductor (1.4 s and 60 MB on the first call, for a setting of torch.compile, which featvec does not
    use)."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:  # a torch without the private switch: the public one
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        setter(mode, warn_only=warn_only)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None):
    """Python's, numpy's and torch's global generators seeded for the block and given their state back after
    it: a fit is reproducible and leaves the caller's random streams where they were. On the CPU torch's
    deterministic algorithms are on for the block too (several threads summing a sparse gradient's rows
    would otherwise add them in varying order: two fits of a seed differed in the 3rd decimal)."""
    state = random.getstate(), np.random.get_state()
    flags = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        seed_everything(seed)
        if device is None or torch.device(device).type == "cpu":
            _deterministic(True, warn_only=True)
        try:
            yield
        finally:
            _deterministic(*flags)
            random.setstate(state[0])
            np.random.set_state(state[1])


class Rows(Protocol):
    """Training data as the trainer sees it: a length and a batch for given row indices."""

    def __len__(self) -> int: ...

    def batch(self, rows: torch.Tensor): ...


class LabelledRows:
    """Encoded inputs (tensors or CSR bags, moved to ``device`` once) and their targets ``y``, as ``Rows``."""

    def __init__(self, inputs: dict, y: torch.Tensor, device):
        self.inputs = {k: v.to(device) for k, v in inputs.items()}
        self.y = y.to(device)

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, rows: torch.Tensor):
        return {k: take(v, rows) for k, v in self.inputs.items()}, self.y[rows]

    def reorder(self, perm: torch.Tensor) -> "LabelledRows":
        """All rows in ``perm``'s order, gathered once, so an epoch's batches are slices (``rows(start, end)``)."""
        out = LabelledRows.__new__(LabelledRows)
        out.inputs = {k: take(v, perm) for k, v in self.inputs.items()}
        out.y = self.y[perm]
        return out

    def rows(self, start: int, end: int):
        """The batch of rows start..end-1: views, no copy."""
        return {k: (v.slice(start, end) if isinstance(v, EncodedBag) else v[start:end])
                for k, v in self.inputs.items()}, self.y[start:end]


def twice_if_single(module: nn.Module, inputs: dict, y: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """Batch norm cannot train on a one-row batch; the row twice has the same mean loss."""
    if not module.training or len(y) != 1:
        return inputs, y
    twice = torch.zeros(2, dtype=torch.long, device=y.device)
    return {k: take(v, twice) for k, v in inputs.items()}, y[twice]


class Trainable(Protocol):
    """What the trainer needs from a model: the mean loss of a batch and the batch's row count."""

    def loss(self, batch) -> tuple[torch.Tensor, int]: ...


class Callback:
    """Hook points; return True from ``on_epoch_end`` to stop training."""

    def on_train_begin(self, trainer: "Trainer") -> None: ...

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> bool | None: ...

    def on_train_end(self, trainer: "Trainer") -> None: ...


AUTO_BF16_WORK = 1 << 22  # multiply-adds of a batch's largest matrix product from which bfloat16 pays


def autocast_dtype(precision: str, device: torch.device, work: int = AUTO_BF16_WORK) -> torch.dtype | None:
    """The dtype matrix products run in: ``precision`` "float32", "bfloat16", or "auto": bfloat16 on a CPU
    with native bfloat16 arithmetic (about three times as fast) or a CUDA GPU that has it, when a batch's
    largest product (``work`` multiply-adds) is big enough to gain more than the casts cost; float32
    elsewhere. Parameters, optimiser state and losses stay float32."""
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}")
    if work < AUTO_BF16_WORK:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and _cpu_has_bf16():
        return torch.bfloat16
    return None


def auto_batch(batch_size: int | None, n_rows: int, low: int = 256, high: int = 4096) -> int:
    """``batch_size``, or when None about a sixteenth of the rows, between ``low`` and ``high``: big batches
    for big data (one step costs about the same at 256 rows as at 4,096), enough steps for small data."""
    if batch_size is not None:
        return int(batch_size)
    return int(min(high, max(low, n_rows // 16)))


def auto_lr(lr: float | None, batch_size: int, base: float, reference: int) -> float:
    """``lr``, or when None ``base`` grown by the square root of ``batch_size / reference`` for batches larger
    than ``reference`` rows (the rate tuned there; a bigger batch's gradient is less noisy)."""
    if lr is not None:
        return float(lr)
    return float(base * math.sqrt(max(batch_size, reference) / reference))


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def lr_at(schedule: str, lr: float, step: int, total: int, pct_start: float = 0.25) -> float:
    """Learning rate at ``step`` of ``total``: constant, cosine, or one-cycle (warm-up, then cosine down)."""
    t = step / max(total - 1, 1)
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (0.5 * (1 + math.cos(math.pi * t)))
    if schedule == "onecycle":
        lo, end = lr / 25.0, lr / 1e4
        if t < pct_start:
            return lo + (lr - lo) * 0.5 * (1 - math.cos(math.pi * t / pct_start))
        u = (t - pct_start) / (1 - pct_start)
        return end + (lr - end) * 0.5 * (1 + math.cos(math.pi * u))
    raise ValueError(f"unknown schedule {schedule!r}; use onecycle, cosine or constant")


class Trainer:
    """Minibatch training of any module with ``loss(batch) -> (mean loss, n)`` over any ``Rows``.

    Early stopping (``patience``) watches the validation loss and restores the best weights.
    ``history`` holds one dict per epoch: epoch, train_loss, valid_loss (when validating), lr, seconds.
    """

    def __init__(self, epochs: int = 10, batch_size: int = 1024, lr: float = 1e-2, optimizer: str = "adam",
                 weight_decay: float = 0.0, schedule: str = "onecycle", patience: int | None = None,
                 seed: int = 0, show_progress=False, callbacks: Sequence[Callback] = (),
                 eval_batch_size: int = 65536, precision: str = "float32"):
        if epochs < 1:
            raise ValueError("epochs must be >= 1")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.optimizer, self.weight_decay, self.schedule = optimizer, weight_decay, schedule
        self.patience, self.seed, self.show_progress = patience, seed, show_progress
        self.callbacks = list(callbacks)
        self.eval_batch_size, self.precision = eval_batch_size, precision
        self.history: list[dict] = []
        self.stop = False

    def evaluate(self, module, data: Rows, device: torch.device) -> float:
        """Mean loss of ``module`` over all of ``data``, in eval mode, without gradients."""
        module.eval()
        total, count = 0.0, 0
        lo, hi = part(len(data), *world())  # data-parallel: each rank its part, the sums all-reduced
        with torch.no_grad():
            for start in range(lo, hi, self.eval_batch_size):
                rows = torch.arange(start, min(start + self.eval_batch_size, hi), device=device)
                loss, n = module.loss(data.batch(rows))
                total += float(loss) * n
                count += n
        total, count = all_sum(np.array([total, count]))
        return total / max(count, 1)

    def fit(self, module, train: Rows, device: torch.device, valid: Rows | None = None) -> list[dict]:
        """Train ``module`` on ``train``; with ``valid``, log its loss each epoch (and early-stop)."""
        with seeded(self.seed, device):
            return self._fit(module, train, device, valid)

    def _fit(self, module, train: Rows, device: torch.device, valid: Rows | None) -> list[dict]:
        n_train = len(train)
        gen = torch.Generator().manual_seed(self.seed)
        opt = make_optimizer(self.optimizer, module, self.lr, self.weight_decay)
        widest = max((m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear)), default=0)
        amp = autocast_dtype(self.precision, device, self.batch_size * widest)
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        total = steps_per_epoch * self.epochs

        net = wrap(module, device)  # data-parallel: gradients all-reduced over the ranks
        rank, size = world()
        if size > 1:  # the ranks' rows get their own dropout masks (the weights start alike: seeded, broadcast)
            torch.manual_seed(int(np.random.SeedSequence([self.seed, rank]).generate_state(1)[0]))

        def run_epoch(epoch: int, bar) -> dict:
            module.train()
            perm = torch.randperm(n_train, generator=gen).to(device)
            ordered = train.reorder(perm) if hasattr(train, "reorder") else None  # batches become slices
            run_loss, run_n, lr = 0.0, 0, self.lr
            for b in range(steps_per_epoch):
                start, end = _rank_rows(b * self.batch_size, min((b + 1) * self.batch_size, n_train), rank, size)
                batch = ordered.rows(start, end) if ordered is not None else train.batch(perm[start:end])
                lr = opt.lr = lr_at(self.schedule, self.lr, epoch * steps_per_epoch + b, total)
                loss, n = _step(net, opt, batch, device, amp, f"epoch {epoch + 1}, batch {b + 1}")
                run_loss += loss * n
                run_n += n
                if bar is not None:
                    bar.update(end - start)
                    if b % 20 == 0:
                        bar.set_postfix(epoch=epoch + 1, loss=f"{run_loss / run_n:.4f}")
            run_loss, run_n = all_sum(np.array([run_loss, run_n]))
            return {"train_loss": run_loss / max(run_n, 1), "lr": lr}

        score = None if valid is None else (lambda: self.evaluate(module, valid, device))
        run_epochs(self, self.epochs, run_epoch, valid=score, patience=self.patience,
                   snapshot=lambda: copy.deepcopy(module.state_dict()), restore=module.load_state_dict, callbacks=self.callbacks, show_progress=self.show_progress,
                   total=n_train * self.epochs, unit="rows")
        module.eval()
        return self.history


def _rank_rows(start: int, end: int, rank: int, size: int) -> tuple[int, int]:
    """This rank's contiguous part of the global batch start..end-1 (all of it outside a process group); a
    rank left without a row of a short last batch takes its first row (every rank must step)."""
    lo, hi = part(end - start, rank, size)
    return (start + lo, start + hi) if hi > lo else (start, start + 1)


def _step(module, opt, batch, device: torch.device, amp, where: str) -> tuple[float, int]:
    """One optimiser step on ``batch``: (its mean loss, its number of examples); a loss that is not finite
    raises, naming ``where``."""
    opt.zero_grad()
    with torch.autocast(device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
        loss, n = module.loss(batch)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {float(loss)} at {where}; lower lr or check the inputs")
    loss.backward()
    opt.step()
    return float(loss.detach()), n
