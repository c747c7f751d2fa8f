"""Request and response bodies of the service (pydantic): batch-first, ids as JSON numbers or strings."""
from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field

Id = Union[int, str]


class Scored(BaseModel):
    id: Any = Field(description="an item, user or feature value, as the model knows it")
    score: float
    rank: int


class RecommendRequest(BaseModel):
    users: list[Id] = Field(min_length=1, description="user ids, as trained (numbers stay numbers)")
    k: int = Field(10, ge=1, description="items per user")
    filter_seen: bool = Field(True, description="leave out each user's training items")


class UserItems(BaseModel):
    user: Any
    items: list[Scored]


class RecommendResponse(BaseModel):
    model: str
    results: list[UserItems]


class SimilarRequest(BaseModel):
    ids: list[Id] = Field(min_length=1, description="ids or feature values (Feat2Vec: 'group=value')")
    k: int = Field(10, ge=1)
    table: str | None = Field(None, description="a vector table of the model (default: items, or all values)")


class Neighbours(BaseModel):
    id: Any
    neighbours: list[Scored]


class SimilarResponse(BaseModel):
    model: str
    table: str
    results: list[Neighbours]


class Pair(BaseModel):
    user: Id
    item: Id


class PredictRequest(BaseModel):
    rows: list[Pair] = Field(min_length=1)


class PredictResponse(BaseModel):
    model: str
    predictions: list[float]


class InferRequest(BaseModel):
    records: list[dict[str, Any]] = Field(min_length=1, description="one object per user, with the model's bags")


class InferResponse(BaseModel):
    model: str
    results: list[dict[str, dict[str, float]]] = Field(description="per record: target -> class -> probability")


class LookalikeRequest(BaseModel):
    seed: list[Id] | None = Field(None, min_length=1, description="seed user ids (or give a segment)")
    segment: str | None = Field(None, description="a saved segment: its members are the seed, the others the "
                                                  "contrast (e.g. a category's funders)")
    top: int = Field(10, ge=1, description="users returned")
    weights: dict[str, float] | None = Field(None, description="block -> weight (default: the saved weights)")
    exclude_seed: bool = Field(True, description="leave the seed users out of the matches")


class Match(BaseModel):
    id: Any
    score: float
    rank: int
    contributions: dict[str, float] = Field(description="block -> its share of the score (they sum to it)")
    attributes: dict[str, Any] = Field(description="the user's saved attributes")


class LookalikeResponse(BaseModel):
    model: str
    seed_size: int
    results: list[Match]


class VectorsResponse(BaseModel):
    model: str
    table: str
    dim: int
    ids: list[Any]
    vectors: list[list[float]]


class ModelInfo(BaseModel):
    name: str
    kind: str
    path: str
    params: dict[str, Any]
    tables: dict[str, int] = Field(description="vector table -> number of rows")
    history: list[dict[str, Any]] = Field(description="the training history (losses, metrics per epoch)")
    loaded_at: float = Field(description="when this version of the folder was loaded (Unix time)")


class Health(BaseModel):
    status: str
    models: int
