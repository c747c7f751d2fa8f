"""How many threads featvec trains with: one setting for torch's intra-op pool and featvec's own kernels.

The default is torch's thread count (which follows ``OMP_NUM_THREADS``, else the cores available).
``set_num_threads(n)`` sets both, once, so the two pools never oversubscribe the machine: featvec's
kernels run in ``n`` Python threads that release the GIL, while torch's pool idles.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

_state: dict = {"n": None, "pool": None}


def get_num_threads() -> int:
    """The number of threads featvec's kernels use (torch's thread count unless set)."""
    return int(_state["n"] or torch.get_num_threads())


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for training and scoring: featvec's kernels and torch's intra-op pool."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a positive int, got {n!r}")
    _state["n"] = n
    torch.set_num_threads(n)
    pool = _state["pool"]
    if pool is not None and pool._max_workers != n:
        pool.shutdown(wait=True)
        _state["pool"] = None


def run_parallel(fn, tasks: list) -> list:
    """``[fn(*t) for t in tasks]``, the tasks spread over the kernel threads (results in task order). ``fn``
    should release the GIL (a numba ``nogil`` kernel) for the threads to run at once."""
    if len(tasks) <= 1 or get_num_threads() == 1:
        return [fn(*t) for t in tasks]
    pool = _state["pool"]
    if pool is None:
        pool = _state["pool"] = ThreadPoolExecutor(max_workers=get_num_threads(), thread_name_prefix="featvec")
    return [f.result() for f in [pool.submit(fn, *t) for t in tasks]]
