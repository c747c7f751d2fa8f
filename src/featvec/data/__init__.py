"""Data utilities: train/test splits."""
from .splits import leave_last_out, per_user_split, random_split, temporal_split, user_holdout

__all__ = ["random_split", "per_user_split", "user_holdout", "temporal_split", "leave_last_out"]
