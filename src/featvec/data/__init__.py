"""Data past memory: interaction folders ingested in streaming passes into encoded .npy shards."""
from featvec.data.interactions import Interactions, InteractionsError, ingest

__all__ = ["ingest", "Interactions", "InteractionsError"]
