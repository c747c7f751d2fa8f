from .deep import DeepRecommender
from .feat2vec import Feat2Vec
from .implicit import ImplicitRecommender
from .mf import MatrixFactorization

__all__ = ["Feat2Vec", "MatrixFactorization", "DeepRecommender", "ImplicitRecommender"]
