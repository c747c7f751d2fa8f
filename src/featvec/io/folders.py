"""Folders written whole: built beside their place and renamed into it, so a failed write leaves nothing."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def written_folder(out, what: str = "folder"):
    """Yields an empty hidden folder beside ``out`` to write into; when the block ends it replaces ``out``
    whole (an old ``out`` is removed), when the block raises it is removed and ``out`` is left as it was."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"cannot write the {what} to {out}: it exists and is not a folder")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
