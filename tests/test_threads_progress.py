"""featvec.set_num_threads, the kernel thread pool, and progress bars."""
from __future__ import annotations

import io
import sys

import pytest
import torch

import featvec
from featvec.progress import progress_bar, wants_progress
from featvec.threads import get_num_threads, run_parallel, set_num_threads


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


def test_progress_auto_follows_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert not wants_progress("auto") and progress_bar("auto", 10, "rows") is None
    assert progress_bar(False, 10, "rows") is None

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert wants_progress("auto") and wants_progress(True) and not wants_progress(False)
    bar = progress_bar(True, 10, "rows")
    assert bar is not None and bar.total == 10
    bar.close()
