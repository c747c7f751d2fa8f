"""Datasets: MovieLens loaders and synthetic ratings with planted structure."""
from .movielens import MovieLens, default_data_dir, find_data_dir, load_movielens
from .synthetic import SyntheticRatings, synthetic_ratings

__all__ = ["MovieLens", "load_movielens", "find_data_dir", "default_data_dir", "SyntheticRatings",
           "synthetic_ratings"]
