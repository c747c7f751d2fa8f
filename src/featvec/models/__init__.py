from featvec.models.deep import DeepRecommender
from featvec.models.feat2vec import Feat2Vec
from featvec.models.implicit import ImplicitRecommender
from featvec.models.mf import MatrixFactorization
from featvec.models.tabular import TabularModel
from featvec.models.user import UserModel

__all__ = ["Feat2Vec", "MatrixFactorization", "DeepRecommender", "ImplicitRecommender", "TabularModel", "UserModel"]
