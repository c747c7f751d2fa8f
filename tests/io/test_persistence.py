"""Unit tests of persistence (the folder format)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from featvec.io import persistence
from save_checks import check_interrupted_save


def _state(value=1.0):
    return {"w": torch.full((2, 3), value), "ids": torch.arange(4)}


def test_save_state_roundtrip(tmp_path):
    path = persistence.save_state(tmp_path / "m", "Thing", {"a": np.int64(3), "b": np.arange(2)}, _state())
    assert sorted(os.listdir(path)) == sorted([persistence.TENSOR_FILE, persistence.CONFIG_FILE])
    kind, config, tensors = persistence.read_state(path)
    assert kind == "Thing" and config == {"a": 3, "b": [0, 1]}
    assert torch.equal(tensors["w"], _state()["w"]) and torch.equal(tensors["ids"], torch.arange(4))
    meta = json.loads((path / persistence.CONFIG_FILE).read_text())
    assert meta["format_version"] == persistence.FORMAT_VERSION


@pytest.mark.parametrize("where", ["save_file", "json.dump"])
def test_interrupted_save_state_keeps_the_old_folder(tmp_path, monkeypatch, where):
    version = iter([1.0, 2.0, 2.0])

    def save(p):
        v = next(version)
        return persistence.save_state(p, "Thing", {"v": int(v)}, _state(v))

    check_interrupted_save(save, tmp_path, monkeypatch, where)
    path = tmp_path / "m"
    assert persistence.read_state(path)[1] == {"v": 1}


def test_save_state_replaces_an_existing_model(tmp_path):
    persistence.save_state(tmp_path / "m", "Thing", {"v": 1}, _state(1.0))
    persistence.save_state(tmp_path / "m", "Thing", {"v": 2}, _state(2.0))
    assert os.listdir(tmp_path) == ["m"]
    _, config, tensors = persistence.read_state(tmp_path / "m")
    assert config == {"v": 2} and torch.equal(tensors["w"], _state(2.0)["w"])


def test_read_state_errors(tmp_path):
    with pytest.raises(persistence.ModelFormatError, match="featvec.json"):
        persistence.read_state(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        persistence.read_state(tmp_path / "nothing")
    path = persistence.save_state(tmp_path / "m", "Thing", {}, _state())
    meta = json.loads((path / persistence.CONFIG_FILE).read_text())
    meta["format_version"] = persistence.FORMAT_VERSION + 1
    (path / persistence.CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format version"):
        persistence.read_state(path)
    with pytest.raises(ValueError, match="format version"):
        persistence.load(path)


def test_load_unknown_kind_and_save_over_a_file(tmp_path):
    path = persistence.save_state(tmp_path / "m", "NoSuchModel", {}, _state())
    with pytest.raises(ValueError, match="NoSuchModel"):
        persistence.load(path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        persistence.save_state(tmp_path / "file", "Thing", {}, _state())


def test_save_state_with_tensors_sharing_memory(tmp_path):
    # e.g. one CSR array stored under two names: safetensors refuses aliases unless they are copied
    ptr = torch.arange(5)
    path = persistence.save_state(tmp_path / "m", "Thing", {}, {"a.indptr": ptr, "b.indptr": ptr,
                                                                "view": ptr[1:3]})
    tensors = persistence.read_state(path)[2]
    assert torch.equal(tensors["a.indptr"], ptr) and torch.equal(tensors["b.indptr"], ptr)
    assert torch.equal(tensors["view"], ptr[1:3])
