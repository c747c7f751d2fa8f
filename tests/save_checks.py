"""One check of the all-or-nothing save, shared by the model contracts and the persistence tests."""
from __future__ import annotations

import os
from typing import Callable

import pytest

from featvec.io import persistence


def fail_midway(monkeypatch, where: str) -> None:
    """Make the next save write part of one file ("save_file": the tensors, "json.dump": the config),
    then fail with OSError("disk full")."""

    def boom(*args, **kwargs):
        target = args[1]
        if isinstance(target, str):
            with open(target, "wb") as fh:
                fh.write(b"partial")
        else:
            target.write('{"format_version": ')
        raise OSError("disk full")

    if where == "save_file":
        monkeypatch.setattr(persistence, "save_file", boom)
    else:
        monkeypatch.setattr(persistence.json, "dump", boom)


def check_interrupted_save(save: Callable, tmp_path, monkeypatch, where: str, name: str = "m") -> None:
    """``save(path)`` writes a model to ``path``. A save that fails midway over an existing model leaves it
    byte for byte, and one to a new path leaves nothing (no temp folder, no half-written model)."""
    path = save(tmp_path / name)
    before = {f.name: f.read_bytes() for f in path.iterdir()}
    fail_midway(monkeypatch, where)
    with pytest.raises(OSError, match="disk full"):
        save(path)
    with pytest.raises(OSError, match="disk full"):
        save(tmp_path / "fresh")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [name]
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
