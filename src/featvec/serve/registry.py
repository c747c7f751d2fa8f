"""The models a service holds: loaded from their folders once, looked up by name (the folder's name)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UnknownIdError(LookupError):
    """Ids or a name the service does not know (HTTP 404), the message naming them."""


@dataclass
class Served:
    name: str
    path: Path
    model: object

    @property
    def kind(self) -> str:
        return type(self.model).__name__


class Registry:
    """name -> Served; ``load`` reads every folder, refusing two folders of one name."""

    def __init__(self, served: list[Served]):
        self.models = {s.name: s for s in served}

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
            served.append(Served(path.name, path, load(path)))
        if not served:
            raise ValueError("no model folder given")
        return cls(served)

    def get(self, name: str) -> Served:
        if name not in self.models:
            raise UnknownIdError(f"no model named {name!r}; the service holds {sorted(self.models)}")
        return self.models[name]
