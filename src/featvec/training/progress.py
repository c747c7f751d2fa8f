"""Progress bars for long work: shown on an interactive terminal once the work has taken a few seconds."""
from __future__ import annotations

import sys

DELAY_S = 3.0  # a fit shorter than this never shows a bar


def wants_progress(show) -> bool:
    """``show_progress``: True, False, or "auto" (an interactive terminal on stderr)."""
    if show == "auto" or show is None:
        try:
            return bool(sys.stderr.isatty())
        except (AttributeError, ValueError):
            return False
    return bool(show)


def progress_bar(show, total: int, unit: str):
    """A tqdm bar over ``total`` units (None when progress is off); it appears after ``DELAY_S`` seconds."""
    if not wants_progress(show):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, leave=False, delay=DELAY_S, dynamic_ncols=True)
