"""DeepRecommender: an MLP over the concatenated user and item vectors, optionally plus their dot product."""
from __future__ import annotations

from typing import Sequence

from featvec.io.persistence import register
from featvec.models.recommender import RatingRecommender


@register
class DeepRecommender(RatingRecommender):
    """rating ~ offset + biases + MLP([user groups..., item groups...]) (+ <user, item> when ``use_dot``).

    The notebooks' "deep" model (concat + dense layers); with ``use_dot=True`` it is NeuMF-like, keeping the
    factorisation term so the MLP learns what the dot product misses.
    """

    _interaction = "mlp"

    def __init__(self, dim: int = 32, layers: Sequence[int] = (128, 64), dropout: float = 0.2,
                 use_dot: bool = True, user_features: Sequence | None = None,
                 item_features: Sequence | None = None, implicit: bool = False, user_col: str = "user_id",
                 item_col: str = "item_id", rating_col: str = "rating", min_count: int = 1, y_range="auto",
                 epochs: int = 15, batch_size: int = 1024, lr: float = 3e-3, optimizer: str = "adam",
                 weight_decay: float = 0.0, reg: float = 0.05, bias_reg: float = 0.0, init_std: float = 0.01,
                 schedule: str = "onecycle", valid_frac: float = 0.0, patience: int | None = None, seed: int = 0,
                 device: str = "cpu", show_progress="auto", callbacks: Sequence = (), precision: str = "auto"):
        self._init_params(locals())

    def _net_kwargs(self) -> dict:
        return {"layers": tuple(self.layers), "dropout": self.dropout, "use_dot": self.use_dot}
