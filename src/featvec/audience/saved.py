"""A look-alike audience that can be saved, served and explored: the users' balanced blocks, their attributes
(for display: age, state, latitude, ...) and named segments (e.g. each category's funders).

``featvec lookalike ... --save DIR`` writes one; ``featvec serve DIR`` answers its look-alikes.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import torch

from featvec.audience.lookalike import UserVectors, lookalikes
from featvec.io import persistence
from featvec.validation import json_value, plain
from featvec.vectors import Vectors, VectorSet


@persistence.register
class LookalikeIndex:
    """Users' look-alike space. ``vectors``: their ``UserVectors``; ``attributes``: one row per user (indexed
    by user id, any columns), shown beside matches; ``segments``: name -> the member user ids (a segment is a
    seed whose non-members are the contrast, as ``featvec lookalike`` does for a category's funders)."""

    def __init__(self, vectors: UserVectors, attributes: pd.DataFrame | None = None,
                 segments: Mapping[str, list] | None = None):
        self.uv_ = vectors
        attrs = pd.DataFrame(index=vectors.ids) if attributes is None else attributes.reindex(vectors.ids)
        self.attributes_ = attrs
        self.segments_ = {}
        for name, members in (segments or {}).items():
            pos = vectors.positions(list(members), f"segment {name!r}")
            self.segments_[str(name)] = np.sort(pos)
        self.history_ = []
        self._vectors = None

    # ------------------------------------------------------------------ queries

    @property
    def ids(self) -> pd.Index:
        return self.uv_.ids

    def get_params(self) -> dict:
        return {"blocks": list(self.uv_.blocks), "weights": dict(self.uv_.weights),
                "normalized": self.uv_.normalized, "segments": {k: len(v) for k, v in self.segments_.items()}}

    @property
    def vectors_(self) -> VectorSet:
        """One table, ``users``: the weighted concatenation of the blocks (a dot product of two rows is one's
        look-alike score against the other)."""
        if self._vectors is None:
            self._vectors = VectorSet({"users": Vectors(list(self.ids), self.uv_.matrix(), name="users")})
        return self._vectors

    def members(self, segment: str) -> list:
        if segment not in self.segments_:
            raise ValueError(f"unknown segment {segment!r}; segments: {sorted(self.segments_)}")
        return [plain(v) for v in self.ids[self.segments_[segment]]]

    def lookalikes(self, seed=None, segment: str | None = None, top: float | int = 100,
                   weights: Mapping[str, float] | None = None, exclude_seed: bool = True) -> pd.DataFrame:
        """The users most like ``seed`` (ids) or a ``segment``'s members (contrasted with the other users);
        one of the two. Columns: id, score, rank, ``contrib_<block>`` (summing to score), then the attributes."""
        if (seed is None) == (segment is None):
            raise ValueError("give a seed (user ids) or a segment name, not both or neither")
        against = None
        if segment is not None:
            seed = self.members(segment)
            inside = np.zeros(len(self.ids), bool)
            inside[self.segments_[segment]] = True
            against = [plain(v) for v in self.ids[~inside]] or None
        out = lookalikes(self.uv_, seed, top=top, weights=weights, exclude_seed=exclude_seed, against=against)
        return out.join(self.attributes_, on="id")

    # ------------------------------------------------------------------ persistence

    def save(self, path):
        """Write the index to the folder ``path`` (safetensors + JSON); returns the path."""
        tensors = {f"block.{b}": torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
                   for b, x in self.uv_.blocks.items()}
        tensors.update({f"segment.{i}": torch.as_tensor(p.astype(np.int64)) for i, p in
                        enumerate(self.segments_.values())})
        config = {"ids": [plain(v) for v in self.ids], "blocks": list(self.uv_.blocks),
                  "weights": self.uv_.weights, "normalized": self.uv_.normalized,
                  "segments": list(self.segments_),
                  "attributes": {c: [json_value(v) for v in self.attributes_[c]] for c in self.attributes_.columns}}
        return persistence.save_state(path, type(self).__name__, config, tensors)

    @classmethod
    def load(cls, path) -> "LookalikeIndex":
        model = persistence.load(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    @classmethod
    def _from_state(cls, config: dict, tensors: dict) -> "LookalikeIndex":
        ids = pd.Index(config["ids"])
        blocks = {b: tensors[f"block.{b}"].numpy().astype(np.float64) for b in config["blocks"]}
        for b, x in blocks.items():
            if x.shape[0] != len(ids):
                raise ValueError(f"block {b!r} has {x.shape[0]} rows for {len(ids)} users")
        uv = UserVectors(ids, blocks, {b: float(w) for b, w in config["weights"].items()}, bool(config["normalized"]))
        attrs = pd.DataFrame(config["attributes"], index=ids)
        out = cls(uv, attrs)
        for i, name in enumerate(config["segments"]):
            pos = tensors[f"segment.{i}"].numpy()
            if len(pos) and (pos.min() < 0 or pos.max() >= len(ids)):
                raise ValueError(f"segment {name!r} holds rows outside the {len(ids)} users")
            out.segments_[name] = pos
        return out

