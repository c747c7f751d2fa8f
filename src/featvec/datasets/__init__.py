"""Datasets: MovieLens loaders and synthetic ratings with planted structure."""
from featvec.datasets.movielens import (AGE_BUCKETS, DatasetNotFoundError, MovieLens, age_bucket, default_data_dir,
                                       find_data_dir, load_movielens)
from featvec.datasets.synthetic import SyntheticRatings, feat2vec_records, synthetic_ratings, user_sequences

__all__ = ["AGE_BUCKETS", "DatasetNotFoundError", "age_bucket", "MovieLens", "load_movielens", "find_data_dir", "default_data_dir", "SyntheticRatings",
           "synthetic_ratings", "feat2vec_records", "user_sequences"]
