from .deep import DeepRecommender
from .mf import MatrixFactorization

__all__ = ["MatrixFactorization", "DeepRecommender"]
