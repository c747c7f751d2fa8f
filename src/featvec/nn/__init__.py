"""Torch modules: the embedding layer, interactions and objectives (no I/O here)."""
from .embedding import FeatureEmbedding, GroupSpec
from .interactions import MLP, dot
from .objectives import Regression

__all__ = ["FeatureEmbedding", "GroupSpec", "MLP", "dot", "Regression"]
