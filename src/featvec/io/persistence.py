"""Save and load models as a folder: model.safetensors (tensors) + featvec.json (config, vocabularies,
format version). No pickle. Writes go to a temporary folder that is renamed into place at the end, so an
interrupted save leaves either the old model or none, never half of one."""
from __future__ import annotations

import json
import os
import shutil
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


class ModelFormatError(ValueError):
    """A model folder that cannot be read as a featvec model: a file missing, unreadable JSON, keys missing,
    an unsupported format version, a truncated tensor file, or tensors that do not fit the config. The message
    names the file."""


def save_state(path: str | os.PathLike, kind: str, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write the model folder at ``path`` so that it always holds a loadable model: the new one is written
    into a hidden folder beside it (its config last, so a folder with a config is complete), the old folder is
    renamed aside, the new one renamed into place, the old one removed. A kill between the two renames leaves
    both hidden folders; ``load`` recovers from them. Leftovers of saves whose process is gone are removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot save a model to {path}: it exists and is not a folder")
    _clean_leftovers(path)
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": config}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        tmp.mkdir()
        save_file(_unshared(tensors), str(tmp / TENSOR_FILE))
        with open(tmp / (CONFIG_FILE + ".part"), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, default=_json_default)
        os.replace(tmp / (CONFIG_FILE + ".part"), tmp / CONFIG_FILE)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _leftovers(path: Path) -> list[tuple[Path, int, bool]]:
    """The hidden folders saves of ``path`` leave behind: (folder, pid of the saving process, is it the new
    model); newest first."""
    out = []
    if not path.parent.is_dir():
        return []
    for p in path.parent.iterdir():
        if not p.name.startswith(f".{path.name}."):
            continue
        kind, _, rest = p.name[len(path.name) + 2:].partition("-")
        pid = rest.partition("-")[0]
        if kind in ("tmp", "old") and pid.isdigit() and p.is_dir():
            out.append((p, int(pid), kind == "tmp"))
    return sorted(out, key=lambda t: t[0].stat().st_mtime, reverse=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_leftovers(path: Path) -> None:
    for p, pid, _ in _leftovers(path):
        if not _alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def _recover(path: Path) -> Path | None:
    """After a save was killed between its renames ``path`` is missing: put the newest complete leftover of
    a process that is gone (the new model, else the old) in its place and remove the rest."""
    done = [(p, pid, new) for p, pid, new in _leftovers(path) if not _alive(pid) and (p / CONFIG_FILE).is_file()]
    if not done:
        return None
    best = sorted(done, key=lambda t: not t[2])[0][0]
    try:
        os.replace(best, path)
    except OSError:
        return best  # cannot move it (read-only folder): read it where it is
    _clean_leftovers(path)
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
    """(kind, config, tensors) of the model folder ``path``, checked: ``ModelFormatError`` names the file."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        found = _recover(path) if not path.exists() else None
        if found is None:
            if not path.exists():
                raise FileNotFoundError(f"{path} is not a saved featvec model: it does not exist")
            raise ModelFormatError(f"{path} is not a saved featvec model (no {CONFIG_FILE})")
        path = found
    meta = _read_config(path / CONFIG_FILE)
    try:
        tensors = load_file(str(path / TENSOR_FILE))
    except FileNotFoundError:
        raise ModelFormatError(f"{path / TENSOR_FILE} is missing") from None
    except Exception as e:  # safetensors' own error for a truncated or corrupted file
        raise ModelFormatError(f"{path / TENSOR_FILE} cannot be read ({type(e).__name__}: {e})") from None
    return meta["kind"], meta["config"], tensors


def _read_config(cfg_file: Path) -> dict:
    try:
        with open(cfg_file, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFormatError(f"{cfg_file} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ModelFormatError(f"{cfg_file} must hold a JSON object, got {type(meta).__name__}")
    missing = [k for k in ("format_version", "kind", "config") if k not in meta]
    if missing:
        raise ModelFormatError(f"{cfg_file} lacks {missing}; it is not a featvec model config")
    version = meta["format_version"]
    if version != FORMAT_VERSION:
        raise ModelFormatError(f"{cfg_file}: model format version {version!r} is not supported (this featvec "
                               f"reads {FORMAT_VERSION}{'; upgrade featvec' if _newer(version) else ''})")
    if not isinstance(meta["config"], dict) or not isinstance(meta["kind"], str):
        raise ModelFormatError(f"{cfg_file}: 'kind' must be a name and 'config' an object")
    return meta


def _newer(version) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION


def load(path: str | os.PathLike):
    """Load any saved featvec model; ``ModelFormatError`` (naming the file) when the folder is not one."""
    path = Path(path)
    kind, config, tensors = read_state(path)
    if kind not in _REGISTRY:
        raise ModelFormatError(f"{path / CONFIG_FILE}: unknown model kind {kind!r}; known: {sorted(_REGISTRY)}")
    try:
        return _REGISTRY[kind]._from_state(config, tensors)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        if isinstance(e, ModelFormatError):
            raise
        detail = " ".join(str(e).split())[:400] or repr(e)
        raise ModelFormatError(f"{path}: {CONFIG_FILE} and {TENSOR_FILE} do not describe one {kind} "
                               f"({type(e).__name__}: {detail})") from None
