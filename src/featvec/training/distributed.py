"""Data-parallel training on ``torch.distributed``: every rank runs the same fit on the same data and trains
on its shard of the samples; the ranks keep one model.

- the torch ``Trainer``: ``DistributedDataParallel`` (gradients all-reduced; sparse embedding gradients too,
  over gloo); each step's global batch is cut into one contiguous part per rank.
- the fused SGD kernels: every rank draws the same block schedule and works every size-th block of each
  round on its threads; the blocks of a round share no user or item, so after the round each row takes the
  value of the rank that moved it (``broadcast_rows`` from its owner; ``TableExchange`` where feature rows
  are shared): the result of one process with all the threads.
  Feat2Vec's records are split per round; a row several ranks moved takes their mean.
- ALS: each rank solves a contiguous range of rows (equal numbers of non-zeros); the ranges are broadcast
  from their ranks after every half-step (the fit is the one process's, to the bit).

A fit is distributed when a process group of two or more ranks is initialised (``torchrun`` or ``launch``).
Only rank 0 writes a saved model (``BaseModel.save`` on another rank writes nothing).
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
from typing import Callable

import numpy as np
import torch

try:  # torch builds without distributed support exist
    import torch.distributed as dist
except ImportError:  # pragma: no cover
    dist = None


def world() -> tuple[int, int]:
    """(rank, number of ranks); (0, 1) outside a process group."""
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def active() -> bool:
    """Whether fits run data-parallel: a process group of two or more ranks."""
    return world()[1] > 1


def is_writer() -> bool:
    """Whether this process writes files (rank 0, or no process group)."""
    return world()[0] == 0


def part(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous part [start, end) of ``n`` items cut into ``size`` near-equal parts."""
    return n * rank // size, n * (rank + 1) // size


def _comm_device() -> torch.device:
    """Where the group's collectives take tensors: the rank's GPU under nccl, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(array: np.ndarray) -> np.ndarray:
    """The element-wise sum of ``array`` over the ranks (a new float64 / int64 array; a copy outside a group)."""
    kind = np.float64 if np.asarray(array).dtype.kind == "f" else np.int64
    out = np.array(array, dtype=kind, copy=True)
    if active():
        t = torch.from_numpy(out).to(_comm_device())
        dist.all_reduce(t)
        out = t.cpu().numpy()
    return out


def all_min(value: int) -> int:
    if not active():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t[0])


def broadcast_ranges(t: torch.Tensor, bounds: list[tuple[int, int]]) -> None:
    """Rows ``bounds[r]`` of ``t`` (in place) from rank r, for every rank: each rank's solved rows to all."""
    if not active():
        return
    for r, (lo, hi) in enumerate(bounds):
        if hi > lo:
            chunk = t[lo:hi].contiguous()
            dist.broadcast(chunk, src=r)
            t[lo:hi] = chunk


def broadcast_rows(W: np.ndarray, B: np.ndarray, rows: np.ndarray, src: int) -> None:
    """Rows ``rows`` of the table ``W`` and its biases ``B`` (in place) from rank ``src`` to every rank, as one
    message."""
    buf = torch.empty(len(rows), W.shape[1] + 1, dtype=torch.float32)
    if world()[0] == src:
        buf[:, :-1] = torch.from_numpy(np.ascontiguousarray(W[rows], dtype=np.float32))
        buf[:, -1] = torch.from_numpy(np.ascontiguousarray(B[rows], dtype=np.float32))
    dist.broadcast(buf, src=src)
    if world()[0] != src:
        W[rows] = buf[:, :-1].numpy()
        B[rows] = buf[:, -1].numpy()


class TableExchange:
    """Merges the ranks' copies of some tables after each round: a row one rank moved takes that rank's
    value; a row several moved, their mean; a row none moved keeps its value. The tables are numpy arrays
    changed in place (rows first)."""

    def __init__(self, tables: list[np.ndarray]):
        self.tables = tables
        self.base = [t.copy() for t in tables]

    def __call__(self) -> None:
        if not active():
            return
        for t, base in zip(self.tables, self.base):
            flat, old = t.reshape(len(t), -1), base.reshape(len(t), -1)
            moved = (flat != old).any(1)
            # one all-reduce: the moved rows' values (zeros elsewhere) and a last column counting the movers
            buf = torch.zeros(len(t), flat.shape[1] + 1, dtype=torch.float32)
            buf[moved, :-1] = torch.from_numpy(np.ascontiguousarray(flat[moved], dtype=np.float32))
            buf[:, -1] = torch.from_numpy(moved.astype(np.float32))
            dist.all_reduce(buf)
            count = buf[:, -1].numpy()
            hit = count > 0  # a row one rank moved takes its value exactly (x / 1)
            flat[hit] = (buf[hit, :-1] / buf[hit, -1:]).numpy().astype(t.dtype)  # no rank moved the others
            base[...] = t


class LossForward(torch.nn.Module):
    """A module whose ``forward(batch)`` is ``module.loss(batch)``: what ``DistributedDataParallel`` wraps
    (it hooks the gradient all-reduce into forward)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, batch):
        return self.module.loss(batch)


class _SumOverRanks(torch.autograd.Function):
    """A tensor summed over the ranks; its gradient is summed over the ranks on the way back (every rank's
    loss depends on every rank's part of the sum)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncedBatchNorm(torch.nn.BatchNorm1d):
    """Batch norm whose training batches' statistics are summed over the ranks (torch's SyncBatchNorm runs on
    GPUs only): the ranks' halves of a batch are normalised as the whole batch would be. Outside a process
    group, or in eval mode, plain batch norm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not active():
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        c = x.shape[1]
        count = torch.full((1,), x.numel() / c, dtype=x.dtype, device=x.device)
        sums = _SumOverRanks.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        n = sums[-1]
        mean = sums[:c] / n
        var = (sums[c:2 * c] / n - mean * mean).clamp(min=0)
        if self.track_running_stats:
            self.num_batches_tracked += 1
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp(min=1), alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def wrap(module: torch.nn.Module, device: torch.device):
    """``module`` with a ``loss(batch)`` whose backward all-reduces the gradients, its batch norms synced
    (the module itself outside a process group)."""
    if not active():
        return module
    from torch.nn.parallel import DistributedDataParallel

    for m in module.modules():
        if type(m) is torch.nn.BatchNorm1d:
            m.__class__ = SyncedBatchNorm  # same parameters and buffers, statistics over all ranks

    gpu = [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else None
    ddp = DistributedDataParallel(LossForward(module), device_ids=gpu, find_unused_parameters=True)
    ddp.loss = ddp.forward
    return ddp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend(device: str | None = None) -> str:
    """nccl for CUDA fits when torch has it, gloo otherwise."""
    use_cuda = device not in (None, "cpu") and torch.cuda.is_available()
    return "nccl" if use_cuda and dist.is_nccl_available() else "gloo"


def init_from_env(device: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes (WORLD_SIZE, RANK, MASTER_ADDR / PORT in the
    environment) unless one is initialised; False when the environment describes none."""
    if dist is None or not dist.is_available() or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return False
    if not dist.is_initialized():
        _join(backend(device), int(os.environ.get("LOCAL_RANK", "0")))
    return True


def _join(name: str, local_rank: int, **kwargs) -> None:
    """Join the process group (``name``: gloo or nccl); under nccl each process of a machine takes its own GPU
    first (``device="cuda"`` then means that one)."""
    if name == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(name, **kwargs)


# the exceptions a rank's failure is raised again as in the caller (a bad input stays a ValueError naming it)
_PLAIN = (FileNotFoundError, IsADirectoryError, PermissionError, KeyError, TypeError, ValueError)


def _worker(rank: int, nproc: int, port: int, threads: int, device, fn: Callable, args: tuple, errors: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(nproc),
                      LOCAL_RANK=str(rank))
    from featvec.util.threads import set_num_threads

    set_num_threads(threads)
    _join(backend(device), rank, rank=rank, world_size=nproc)
    try:
        fn(*args)
    except BaseException as exc:  # written for launch to raise again; the rank exits, spawn ends the others
        kind = next((k.__name__ for k in _PLAIN if isinstance(exc, k)), None)
        with open(os.path.join(errors, f"rank-{rank}.json"), "w", encoding="utf-8") as f:
            json.dump({"kind": kind, "type": type(exc).__name__, "message": str(exc)}, f)
        raise
    dist.barrier()  # every rank done (rank 0 has saved) before the group's threads stop
    dist.destroy_process_group()


def _raise_rank_error(errors: str) -> None:
    """The first failed rank's exception, as the caller's: its kind (ValueError, ...) and message."""
    names = sorted(f for f in os.listdir(errors) if f.startswith("rank-"))
    if not names:
        return
    with open(os.path.join(errors, names[0]), encoding="utf-8") as f:
        err = json.load(f)
    kind = {k.__name__: k for k in _PLAIN}.get(err["kind"])
    if kind is not None:
        raise kind(err["message"])
    raise RuntimeError(f"{names[0][:-5].replace('-', ' ')} of the data-parallel fit failed: {err['type']}: "
                       f"{err['message']}")


def launch(fn: Callable, args: tuple = (), nproc: int = 2, device: str | None = None) -> None:
    """Run ``fn(*args)`` in ``nproc`` fresh processes on this machine, joined in a process group over loopback
    (gloo; nccl for CUDA), the cores shared out among them. ``fn`` must be importable (a module-level
    function). A rank that fails raises here: a ValueError (bad input) and the like as itself, anything else
    as a RuntimeError naming the rank."""
    if dist is None or not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed")
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    import torch.multiprocessing as mp

    threads = max(1, (os.cpu_count() or 1) // nproc)
    # the workers' torch logs C++ errors only: DDP warns on every rank that it looks for unused parameters
    # (featvec asks it to: a preset may leave a table out of a step) and that costs a graph walk
    env = {k: os.environ.get(k) for k in ("TORCH_CPP_LOG_LEVEL",)}
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    try:
        with tempfile.TemporaryDirectory(prefix="featvec-ranks-") as errors:
            try:
                mp.spawn(_worker, args=(nproc, free_port(), threads, device, fn, args, errors), nprocs=nproc,
                         join=True)
            except (mp.ProcessRaisedException, mp.ProcessExitedException):
                _raise_rank_error(errors)
                raise
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
