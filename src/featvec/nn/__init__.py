"""Torch modules: the embedding layer, interactions, objectives and the networks (no I/O here)."""
from .embedding import FeatureEmbedding, GroupSpec
from .interactions import MLP, dot
from .objectives import Regression
from .tower import EmbeddingMLP

__all__ = ["FeatureEmbedding", "GroupSpec", "MLP", "dot", "Regression", "EmbeddingMLP"]
