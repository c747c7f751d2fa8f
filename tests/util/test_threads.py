"""featvec.set_num_threads and the kernel thread pool."""
from __future__ import annotations

import pytest
import torch

import featvec
from featvec.util.threads import get_num_threads, run_parallel, set_num_threads


def test_set_num_threads_sets_torch_too_and_checks_its_argument():
    before = get_num_threads()
    try:
        featvec.set_num_threads(1)
        assert get_num_threads() == 1 and torch.get_num_threads() == 1
        for bad in (0, -2, 1.5, "2", True):
            with pytest.raises(ValueError, match="positive int"):
                set_num_threads(bad)
    finally:
        set_num_threads(before)


def test_run_parallel_keeps_task_order():
    before = get_num_threads()
    try:
        set_num_threads(2)
        assert run_parallel(lambda a, b: a * b, [(i, 2) for i in range(7)]) == [0, 2, 4, 6, 8, 10, 12]
        assert run_parallel(lambda a: a, []) == []
    finally:
        set_num_threads(before)


def test_run_parallel_runs_task_t_on_the_same_thread_every_call_and_raises_errors():
    import threading

    before = get_num_threads()
    try:
        set_num_threads(3)
        where = [run_parallel(lambda t: threading.get_ident(), [(t,) for t in range(7)]) for _ in range(3)]
        assert where[0] == where[1] == where[2]  # task t always on thread t % 3
        assert [where[0][t] == where[0][t % 3] for t in range(7)] == [True] * 7
        assert len(set(where[0])) == 3 and where[0][0] == threading.get_ident()  # task 0 on the caller

        def fail(t):
            if t == 4:
                raise KeyError("task 4")
            return t
        with pytest.raises(KeyError, match="task 4"):
            run_parallel(fail, [(t,) for t in range(6)])
        assert run_parallel(fail, [(t,) for t in range(4)]) == [0, 1, 2, 3]  # the pool still works
        set_num_threads(2)
        assert run_parallel(lambda t: t, [(t,) for t in range(5)]) == [0, 1, 2, 3, 4]
    finally:
        set_num_threads(before)


def test_cached_builds_once_when_threads_ask_at_the_same_time():
    import threading
    import time

    from featvec.util.threads import cached

    class Holder:
        pass

    holder, builds, barrier = Holder(), [], threading.Barrier(8)

    def build():
        builds.append(1)
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        return object()

    got = []

    def ask():
        barrier.wait()
        got.append(cached(holder, "_big", build))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(g) for g in got}) == 1 and holder._big is got[0]
