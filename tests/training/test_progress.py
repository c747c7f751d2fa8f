"""Progress bars."""
from __future__ import annotations

import io
import sys

from featvec.training.progress import progress_bar, wants_progress


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
