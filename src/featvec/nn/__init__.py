"""Torch modules: the embedding layer, interactions, objectives and the networks (no I/O here)."""
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.interactions import MLP, dot
from featvec.nn.objectives import Regression
from featvec.nn.tower import EmbeddingMLP

__all__ = ["FeatureEmbedding", "GroupSpec", "MLP", "dot", "Regression", "EmbeddingMLP"]
