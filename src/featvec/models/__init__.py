from .deep import DeepRecommender
from .implicit import ImplicitRecommender
from .mf import MatrixFactorization

__all__ = ["MatrixFactorization", "DeepRecommender", "ImplicitRecommender"]
