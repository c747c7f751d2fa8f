from .deep import DeepRecommender
from .feat2vec import Feat2Vec
from .implicit import ImplicitRecommender
from .mf import MatrixFactorization
from .tabular import TabularModel
from .user import UserModel

__all__ = ["Feat2Vec", "MatrixFactorization", "DeepRecommender", "ImplicitRecommender", "TabularModel", "UserModel"]
