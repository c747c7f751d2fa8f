"""Save and load models as a folder: model.safetensors (tensors) + featvec.json (config, vocabularies,
format version). No pickle. Writes go to a temporary folder that is renamed into place at the end, so an
interrupted save leaves either the old model or none, never half of one."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1
CONFIG_FILE = "featvec.json"
TENSOR_FILE = "model.safetensors"
_REGISTRY: dict[str, type] = {}


def params_to_json(params: dict) -> dict:
    """A model's parameters as JSON that ``params_from_json`` turns back into equal values."""
    return {k: to_json(v) for k, v in params.items()}


def params_from_json(data: dict) -> dict:
    """The parameters ``params_to_json`` wrote; plain JSON (files from before it) comes back as it is."""
    return {k: from_json(v) for k, v in data.items()}


def to_json(v):
    """A value as JSON that comes back with the same types: feature objects, tuples and dicts (whose keys
    may be class labels of any type) are tagged."""
    from featvec.schema import KINDS, feature_to_dict

    if isinstance(v, tuple(KINDS.values())):
        return {"__feature__": feature_to_dict(v)}
    if isinstance(v, tuple):
        return {"__tuple__": [to_json(x) for x in v]}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, Mapping):
        return {"__dict__": [[to_json(k), to_json(x)] for k, x in v.items()]}
    return v.item() if hasattr(v, "item") else v


def from_json(v):
    from featvec.schema import feature_from_dict

    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if "__feature__" in v:
            return feature_from_dict(v["__feature__"])
        if "__tuple__" in v:
            return tuple(from_json(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {from_json(k): from_json(x) for k, x in v["__dict__"]}
    return v


def register(cls: type) -> type:
    """Class decorator: makes a model class loadable by name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def save_state(path: str | os.PathLike, kind: str, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot save a model to {path}: it exists and is not a folder")
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": config}
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        save_file(_unshared(tensors), str(tmp / TENSOR_FILE))
        with open(tmp / CONFIG_FILE, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, default=_json_default)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, and no two tensors sharing memory (safetensors refuses aliases, e.g. one CSR array
    stored under two names)."""
    out, storages = {}, set()
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        ptr = v.untyped_storage().data_ptr()
        if ptr in storages:
            v = v.clone()
        storages.add(v.untyped_storage().data_ptr())
        out[k] = v
    return out


def _json_default(o):
    if hasattr(o, "tolist"):  # numpy/torch scalars and arrays (arrays have .item() too, but it fails)
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"cannot store {type(o).__name__} in the model config")


def read_state(path: str | os.PathLike) -> tuple[str, dict, dict[str, torch.Tensor]]:
    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a saved featvec model (no {CONFIG_FILE})")
    with open(cfg_file, encoding="utf-8") as fh:
        meta = json.load(fh)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {version} is not supported (this featvec reads {FORMAT_VERSION})")
    return meta["kind"], meta["config"], load_file(str(path / TENSOR_FILE))


def load(path: str | os.PathLike):
    """Load any saved featvec model."""
    kind, config, tensors = read_state(path)
    if kind not in _REGISTRY:
        raise ValueError(f"{path}: unknown model kind {kind!r}")
    return _REGISTRY[kind]._from_state(config, tensors)
