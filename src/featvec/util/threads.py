"""How many threads featvec trains with: one setting for torch's intra-op pool and featvec's own kernels.

The default is torch's thread count (which follows ``OMP_NUM_THREADS``, else the cores available).
``set_num_threads(n)`` sets both, once, so the two pools never oversubscribe the machine: featvec's
kernels run in ``n`` Python threads that release the GIL, while torch's pool idles.
"""
from __future__ import annotations

import queue
import threading

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
    if pool is not None and pool.size != n:
        pool.shutdown()
        _state["pool"] = None


class _Workers:
    """``n - 1`` threads, each with its own queue: task t of a call always runs on the same thread
    (``t % n``; thread 0 is the caller), so a kernel that is given the same rows at the same place in
    successive calls finds them in that core's cache instead of another's."""

    def __init__(self, n: int):
        self.size = n
        self.queues = [queue.SimpleQueue() for _ in range(n - 1)]
        for q in self.queues:
            threading.Thread(target=self._loop, args=(q,), daemon=True, name="featvec").start()

    @staticmethod
    def _loop(q) -> None:
        while True:
            job = q.get()
            if job is None:
                return
            fn, tasks, slots, out, done = job
            try:
                for k in slots:
                    out[k] = fn(*tasks[k])
            except BaseException as e:  # handed to the caller
                out[slots[0]] = e
                done.errors = True
            done.set()

    def run(self, fn, tasks: list) -> list:
        n = self.size
        out: list = [None] * len(tasks)
        events = []
        for t, q in enumerate(self.queues, start=1):
            slots = list(range(t, len(tasks), n))
            if slots:
                done = threading.Event()
                done.errors = False
                q.put((fn, tasks, slots, out, done))
                events.append(done)
        error = None
        try:
            for k in range(0, len(tasks), n):
                out[k] = fn(*tasks[k])
        except BaseException as e:
            error = e
        for done in events:
            done.wait()
            if done.errors and error is None:
                error = next(x for x in out if isinstance(x, BaseException))
        if error is not None:
            raise error
        return out

    def shutdown(self) -> None:
        for q in self.queues:
            q.put(None)


def run_parallel(fn, tasks: list) -> list:
    """``[fn(*t) for t in tasks]``, task t on kernel thread ``t % n`` (results in task order). ``fn``
    should release the GIL (a numba ``nogil`` kernel) for the threads to run at once."""
    if len(tasks) <= 1 or get_num_threads() == 1:
        return [fn(*t) for t in tasks]
    pool = _state["pool"]
    if pool is None:
        pool = _state["pool"] = _Workers(get_num_threads())
    return pool.run(fn, tasks)


_CACHE_LOCK = threading.RLock()


def cached(obj, attr: str, build):
    """``obj.<attr>``, built by ``build()`` the first time: under one lock, so threads asking at once (a
    service's first requests) build it once instead of each holding its own large copy."""
    value = getattr(obj, attr, None)
    if value is None:
        with _CACHE_LOCK:
            value = getattr(obj, attr, None)
            if value is None:
                value = build()
                setattr(obj, attr, value)
    return value
