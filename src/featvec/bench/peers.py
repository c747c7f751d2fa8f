"""Peer systems for protocol E, imported lazily (optional extra ``featvec[bench]``).

Every peer has the same small interface: ``Peer(seed)``, ``.setup()`` (imports the library; not timed),
``.fit(train, scale)`` (timed by the runner, including the library's own data preparation), ``.predict(test) -> ndarray`` and ``.params`` (a JSON-able
dict of the settings actually used). Frames have columns user_id, item_id, rating.

Unknown users/items in the test set:
- Surprise handles them natively: BaselineOnly/SVD/SVD++ use the biases of whichever side is known, and
  the global mean when the prediction is impossible.
- fastai: ``dls.test_dl`` maps unseen ids to the ``#na#`` category (index 0) -- fastai's own behaviour.
  That embedding row and bias are never seen in training, so weight decay (wd=0.1) pulls them towards
  zero: an unknown user's prediction is ``sigmoid_range(item bias)``, close to the item's bias-only
  prediction. No featvec-side fallback is added.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from featvec.bench.measure import known_names

COLS = ["user_id", "item_id", "rating"]


class _Surprise:
    algo: str = ""
    datasets: tuple[str, ...] | None = None
    _param_names: tuple[str, ...] = ()

    def __init__(self, seed: int, **settings):
        self.seed, self.settings = seed, settings  # settings: the algorithm's keyword arguments (defaults: its own)

    def _make(self, surprise):
        return getattr(surprise, self.algo)(random_state=self.seed, **self.settings)

    def setup(self):
        import surprise

        self.lib = surprise
        return self

    def fit(self, train: pd.DataFrame, scale: tuple[float, float]):
        surprise = self.lib
        data = surprise.Dataset.load_from_df(train[COLS], surprise.Reader(rating_scale=tuple(scale)))
        self.model = self._make(surprise)
        self.model.fit(data.build_full_trainset())
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        est = self.model.predict
        return np.fromiter((est(u, i, clip=True).est for u, i in zip(test["user_id"].tolist(),
                                                                      test["item_id"].tolist())),
                           dtype=np.float64, count=len(test))

    @property
    def params(self) -> dict:
        m = getattr(self, "model", None)
        return {k: _jsonable(getattr(m, k)) for k in self._param_names if m is not None and hasattr(m, k)}


class SurpriseBaselineOnly(_Surprise):
    algo = "BaselineOnly"

    def _make(self, surprise):
        return surprise.BaselineOnly(verbose=False, **self.settings)

    @property
    def params(self) -> dict:
        # surprise's documented defaults for bsl_options={} (ALS, 10 epochs, reg_u=15, reg_i=10)
        return {"method": "als", "n_epochs": 10, "reg_u": 15, "reg_i": 10}


class SurpriseSVD(_Surprise):
    algo = "SVD"
    _param_names = ("n_factors", "n_epochs", "biased", "init_mean", "init_std_dev", "lr_bu", "lr_bi", "lr_pu",
                    "lr_qi", "reg_bu", "reg_bi", "reg_pu", "reg_qi", "random_state")


class SurpriseSVDpp(SurpriseSVD):
    """Default parameters; slow (pure per-rating loops over the implicit bag), but run on both datasets:
    it is the strongest Surprise model, the one featvec's defaults must beat."""

    algo = "SVDpp"
    datasets = ("ml-100k", "ml-latest-small")
    _param_names = tuple(p for p in SurpriseSVD._param_names if p != "biased") + ("lr_yj", "reg_yj")


class FastaiEmbeddingDotBias:
    """fastai collab ``EmbeddingDotBias`` as in BENCHMARKS.md: 50 factors, y_range (0, 5.5),
    ``fit_one_cycle(5, 5e-3, wd=0.1)``, batch size 64 (fastai's default), seeded with ``set_seed(seed)``.

    All train rows are used for training: the DataLoaders are built from the train frame with every row in
    the training split and a small validation set of train rows (fastai needs one for its per-epoch
    report; it does not affect training, and keeping it small keeps ``fit_s`` about training).
    """

    datasets = None
    y_range, lr, wd, bs = (0.0, 5.5), 5e-3, 0.1, 64
    n_valid = 1000

    def __init__(self, seed: int, n_factors: int = 50, epochs: int = 5, num_threads: int | None = None):
        self.seed, self.n_factors, self.epochs, self.num_threads = seed, n_factors, epochs, num_threads

    def setup(self):
        import fastai.collab
        import fastai.data.block
        import fastai.tabular.core
        import fastai.torch_core

        self.lib = fastai
        return self

    def fit(self, train: pd.DataFrame, scale: tuple[float, float]):
        from fastai.collab import TabularCollab, collab_learner
        from fastai.data.block import TransformBlock
        from fastai.tabular.core import Categorify
        from fastai.torch_core import set_seed

        set_seed(self.seed)
        _torch_threads(self.num_threads)
        df = train[COLS].reset_index(drop=True)
        n = len(df)
        valid = np.random.default_rng(self.seed).choice(n, size=min(self.n_valid, n), replace=False)
        # the same construction as CollabDataLoaders.from_df, with all rows in the training split
        to = TabularCollab(df, [Categorify], cat_names=["user_id", "item_id"], y_names=["rating"],
                           y_block=TransformBlock(), splits=(list(range(n)), sorted(valid.tolist())))
        dls = to.dataloaders(path=".", bs=self.bs)
        self.learn = collab_learner(dls, n_factors=self.n_factors, y_range=self.y_range)
        with self.learn.no_bar(), self.learn.no_logging():
            self.learn.fit_one_cycle(self.epochs, self.lr, wd=self.wd)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        dl = self.learn.dls.test_dl(test[["user_id", "item_id"]].reset_index(drop=True))
        with self.learn.no_bar(), self.learn.no_logging():
            preds, _ = self.learn.get_preds(dl=dl)
        return preds.numpy().reshape(-1).astype(np.float64)

    @property
    def params(self) -> dict:
        return {"model": "EmbeddingDotBias", "n_factors": self.n_factors, "y_range": list(self.y_range),
                "fit_one_cycle": {"n_epoch": self.epochs, "lr_max": self.lr, "wd": self.wd}, "bs": self.bs,
                "train_rows": "all", "seed": self.seed}


class FastaiTabular:
    """fastai's ``tabular_learner``: an embedding per categorical column (fastai's size rule), the numeric
    columns normalised, an MLP of ``layers``; ``fit_one_cycle(epochs, 1e-2)`` at fastai's default batch of
    64, seeded with ``set_seed(seed)``; predictions clipped to the rating scale by the runner."""

    datasets = None
    lr, bs, n_valid = 1e-2, 64, 1000

    def __init__(self, seed: int, cat_names, cont_names, layers=(200, 100), epochs: int = 5,
                 num_threads: int | None = None):
        self.seed, self.cats, self.conts = seed, list(cat_names), list(cont_names)
        self.layers, self.epochs, self.num_threads = list(layers), epochs, num_threads

    def setup(self):
        import fastai.tabular.all  # noqa: F401

        return self

    def fit(self, train: pd.DataFrame, scale: tuple[float, float]):
        from fastai.tabular.all import (Categorify, FillMissing, Normalize, RegressionBlock, TabularPandas,
                                        set_seed, tabular_learner)

        set_seed(self.seed)
        _torch_threads(self.num_threads)
        df = train[self.cats + self.conts + ["rating"]].reset_index(drop=True)
        valid = np.random.default_rng(self.seed).choice(len(df), size=min(self.n_valid, len(df)), replace=False)
        to = TabularPandas(df, [Categorify, FillMissing, Normalize], self.cats, self.conts, y_names="rating",
                           y_block=RegressionBlock(), splits=(list(range(len(df))), sorted(valid.tolist())))
        self.learn = tabular_learner(to.dataloaders(path=".", bs=self.bs), layers=self.layers)
        with self.learn.no_bar(), self.learn.no_logging():
            self.learn.fit_one_cycle(self.epochs, self.lr)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        dl = self.learn.dls.test_dl(test[self.cats + self.conts].reset_index(drop=True))
        with self.learn.no_bar(), self.learn.no_logging():
            preds, _ = self.learn.get_preds(dl=dl)
        return preds.numpy().reshape(-1).astype(np.float64)

    @property
    def params(self) -> dict:
        return {"model": "tabular_learner", "layers": self.layers, "fit_one_cycle": {"n_epoch": self.epochs,
                "lr_max": self.lr}, "bs": self.bs, "seed": self.seed}


def _torch_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(int(n))


PEERS: dict[str, type] = {
    "surprise.BaselineOnly": SurpriseBaselineOnly,
    "surprise.SVD": SurpriseSVD,
    "surprise.SVDpp": SurpriseSVDpp,
    "fastai.EmbeddingDotBias": FastaiEmbeddingDotBias,
}
# peers that only protocol T runs (they need more than a ratings frame)
EXTRA_PEERS: dict[str, type] = {"fastai.tabular": FastaiTabular}


def peers_for(dataset: str, selection=True) -> list[str]:
    """Peer names to run on ``dataset``: ``True`` = every peer meant for it, ``False``/``None`` = none,
    or an explicit iterable of names (run even where not meant by default, e.g. SVD++ off ML-100K)."""
    if not selection:
        return []
    if selection is True:
        return [n for n, cls in PEERS.items() if cls.datasets is None or dataset in cls.datasets]
    names = known_names(selection, PEERS, "peer")
    return names


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return repr(v)
