"""Peer systems for protocol I (implicit feedback, top-K), imported lazily (optional extra ``featvec[bench]``).

Every peer: ``Peer(seed, **params)``, ``.setup()`` (imports; not timed), ``.fit(train)`` (timed; includes
building the library's own matrices), ``.scores(users) -> [len(users), n_items]`` and ``.params``. The
train matrix comes as ``(indptr, indices, n_users, n_items)`` CSR over the protocol's shared indexing.

Confidence: implicit's ALS uses the matrix value times ``alpha`` as the confidence (so 1 * alpha for a
binary matrix); featvec's ALS uses ``1 + alpha * value``. The grid below is stated in implicit's terms
and featvec's ALS runs each setting with ``alpha - 1`` so the two solve the same problem.
"""
from __future__ import annotations

import numpy as np

# The grids: every setting is run on every seed; the report shows all and marks each system's best
# (highest mean Recall@20 over seeds).
GRIDS: dict[str, list[dict]] = {
    "popularity": [{}],
    "implicit.ALS": [{"factors": f, "regularization": r, "alpha": a, "iterations": 15}
                     for f in (64, 128) for r in (0.1, 1.0, 10.0) for a in (1.0, 5.0, 20.0)],
    "implicit.BPR": [{"factors": f, "learning_rate": lr, "regularization": r, "iterations": 100}
                     for f in (64, 128) for lr in (0.01, 0.05) for r in (0.01, 0.001)],
    "lightfm.WARP": [{"no_components": c, "learning_rate": lr, "item_alpha": a, "user_alpha": a, "epochs": 30}
                     for c in (32, 64, 128) for lr in (0.05,) for a in (0.0, 1e-5)],
    "lightfm.BPR": [{"no_components": c, "learning_rate": lr, "item_alpha": a, "user_alpha": a, "epochs": 30}
                    for c in (32, 64, 128) for lr in (0.05,) for a in (0.0, 1e-5)],
}


def _csr(train):
    import scipy.sparse as sp

    indptr, indices, n_users, n_items = train
    return sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(n_users, n_items))


class Popularity:
    """Every user gets the items with the most training interactions."""

    def __init__(self, seed: int):
        self.seed, self.params = seed, {}

    def setup(self):
        return self

    def fit(self, train):
        indptr, indices, n_users, n_items = train
        self.counts = np.bincount(indices, minlength=n_items).astype(np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), self.counts.size))


class ImplicitALS:
    def __init__(self, seed: int, factors=64, regularization=0.01, alpha=1.0, iterations=15, num_threads=0):
        self.seed = seed
        self.params = {"factors": factors, "regularization": regularization, "alpha": alpha,
                       "iterations": iterations, "random_state": seed, "num_threads": num_threads}

    def setup(self):
        import implicit.cpu.als  # noqa: F401
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, "blas")  # implicit's own advice: its threads, single-threaded BLAS
        return self

    def fit(self, train):
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(**self.params)
        self.model.fit(_csr(train), show_progress=False)
        return self

    def scores(self, users):
        return self.model.user_factors[users] @ self.model.item_factors.T


class ImplicitBPR:
    def __init__(self, seed: int, factors=64, learning_rate=0.01, regularization=0.01, iterations=100,
                 num_threads=0):
        self.seed = seed
        self.params = {"factors": factors, "learning_rate": learning_rate, "regularization": regularization,
                       "iterations": iterations, "random_state": seed, "num_threads": num_threads}

    def setup(self):
        import implicit.cpu.bpr  # noqa: F401
        return self

    def fit(self, train):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self.model = BayesianPersonalizedRanking(**self.params)
        self.model.fit(_csr(train), show_progress=False)
        return self

    def scores(self, users):
        return self.model.user_factors[users] @ self.model.item_factors.T


class LightFMPeer:
    loss = "warp"

    def __init__(self, seed: int, no_components=64, learning_rate=0.05, item_alpha=0.0, user_alpha=0.0, epochs=30,
                 num_threads=2):
        self.seed, self.epochs, self.num_threads = seed, epochs, num_threads
        self.model_params = {"no_components": no_components, "learning_rate": learning_rate,
                             "item_alpha": item_alpha, "user_alpha": user_alpha, "loss": self.loss}
        self.params = {**self.model_params, "epochs": epochs, "num_threads": num_threads, "random_state": seed}

    def setup(self):
        import lightfm  # noqa: F401
        return self

    def fit(self, train):
        from lightfm import LightFM

        self.model = LightFM(random_state=self.seed, **self.model_params)
        self.model.fit(_csr(train).tocoo(), epochs=self.epochs, num_threads=self.num_threads)
        _, self.ie = self.model.get_item_representations()
        self.ib, _ = self.model.get_item_representations()
        self.ue = self.model.get_user_representations()[1]
        return self

    def scores(self, users):
        return self.ue[users] @ self.ie.T + self.ib


class LightFMBPR(LightFMPeer):
    loss = "bpr"


PEERS: dict[str, type] = {
    "popularity": Popularity,
    "implicit.ALS": ImplicitALS,
    "implicit.BPR": ImplicitBPR,
    "lightfm.WARP": LightFMPeer,
    "lightfm.BPR": LightFMBPR,
}
