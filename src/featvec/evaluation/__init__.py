"""Evaluation: full-ranking evaluation, metrics, train/test splits, latent factors."""
from featvec.evaluation.ranking import (csr_from_pairs, evaluate, full_ranking, mask_rows, rank_users, top_k)

__all__ = ["csr_from_pairs", "evaluate", "full_ranking", "mask_rows", "rank_users", "top_k"]
