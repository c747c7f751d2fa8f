"""featvec: embeddings for everything in behavioural and tabular data."""
from featvec.audience.lookalike import lookalikes, user_vectors
from featvec.audience.saved import LookalikeIndex
from featvec.evaluation.factors import LatentFactors, latent_factors
from featvec.evaluation.ranking import evaluate
from featvec.io.persistence import ModelFormatError, load
from featvec.io.readers import EventFileError
from featvec.models import DeepRecommender, Feat2Vec, ImplicitRecommender, MatrixFactorization, TabularModel, UserModel
from featvec.models.base import NotFittedError
from featvec.models.parallel import fit_parallel
from featvec.schema import Bag, Categorical, Numeric
from featvec.util.threads import get_num_threads, set_num_threads
from featvec.vectors import Vectors, VectorSet

__version__ = "0.1.0"
__all__ = ["LookalikeIndex", "Feat2Vec", "TabularModel", "UserModel", "lookalikes", "user_vectors", "MatrixFactorization", "DeepRecommender", "ImplicitRecommender", "evaluate", "fit_parallel", "load", "ModelFormatError", "NotFittedError", "EventFileError", "Categorical", "Numeric", "Bag", "Vectors",
           "VectorSet", "latent_factors", "LatentFactors", "set_num_threads", "get_num_threads", "__version__"]
