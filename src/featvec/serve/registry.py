"""The models a service holds: loaded from their folders, looked up by name (the folder's name), and swapped
for a newer save of the same folder when one appears."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("featvec.serve")


class UnknownIdError(LookupError):
    """Ids or a name the service does not know (HTTP 404), the message naming them."""


@dataclass
class Served:
    name: str
    path: Path
    model: object
    version: tuple | None = None  # what identifies the save loaded: (inode, mtime, size) of its config file
    loaded_at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return type(self.model).__name__


def signature(path: Path) -> tuple | None:
    """The save now in ``path`` (None while there is none, e.g. between the two renames of a save)."""
    from featvec.io.persistence import CONFIG_FILE

    try:
        st = (path / CONFIG_FILE).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Registry:
    """name -> Served. A request takes the Served object once and uses it to the end, so a swap (one dict
    assignment) never hands it half of one model and half of another."""

    def __init__(self, served: list[Served]):
        self.models = {s.name: s for s in served}
        self.warm = None  # model -> None: builds what requests will need (caches, indexes) before it is served

    def warm_all(self, warm) -> None:
        """Warm every loaded model with ``warm`` now, and each newer version before it is swapped in."""
        self.warm = warm
        for served in self.models.values():
            warm(served.model)

    @classmethod
    def load(cls, dirs) -> "Registry":
        from featvec.io.persistence import load

        served, seen = [], {}
        for d in dirs:
            path = Path(d).expanduser().resolve()
            if path.name in seen:
                raise ValueError(f"two model folders are named {path.name!r} ({seen[path.name]} and {path}); "
                                 f"the service names models by their folder")
            seen[path.name] = path
            version = signature(path)
            served.append(Served(path.name, path, load(path), version))
        if not served:
            raise ValueError("no model folder given")
        return cls(served)

    def get(self, name: str) -> Served:
        if name not in self.models:
            raise UnknownIdError(f"no model named {name!r}; the service holds {sorted(self.models)}")
        return self.models[name]

    def refresh(self) -> list[str]:
        """Load every folder whose save changed since it was loaded and swap it in; a folder mid-save or
        unreadable keeps the model it had (logged). Returns the names swapped."""
        from featvec.io.persistence import load

        swapped = []
        for name, cur in list(self.models.items()):
            version = signature(cur.path)
            if version is None or version == cur.version:
                continue
            try:
                model = load(cur.path)
                if self.warm is not None:
                    self.warm(model)
            except (OSError, ValueError) as e:
                log.warning("featvec serve: kept the loaded %s: %s", name, e)
                continue
            self.models[name] = Served(name, cur.path, model, version)
            swapped.append(name)
            log.info("featvec serve: %s reloaded from %s", name, cur.path)
        return swapped
