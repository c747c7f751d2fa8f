"""ImplicitRecommender: top-K recommendation from interactions without ratings (logs, clicks, plays)."""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from featvec.evaluation.ranking import csr_from_pairs
from featvec.fused.train import fit_pairs
from featvec.io.persistence import register
from featvec.models.entities import folder_tables
from featvec.models.params import trainer_settings
from featvec.models.recommender import Recommender
from featvec.nn.fold_in import FoldInNet
from featvec.nn.losses import LOSSES
from featvec.nn.recommender import ImplicitNet
from featvec.sampling.negatives import NegativeSampler
from featvec.solvers.als import CSRMatrix, als, fold_in as als_fold_in
from featvec.training.rows import PairRows
from featvec.training.trainer import LabelledRows, Trainer, resolve_device
from featvec.util.arrays import distinct_pairs
from featvec.validation import check_frame, id_list, numeric_values, plain, require_columns, with_values
from featvec.vectors import Vectors

SOLVERS = ("sgd", "als")
MAX_WEIGHT = 1e30  # float32 holds up to 3.4e38: confidences 1 + alpha * weight and their sums stay finite


@register
class ImplicitRecommender(Recommender):
    """Learns user and item vectors from positive interactions only; score = <user, item> + item bias.

    ``solver="sgd"`` trains ``loss`` against sampled negative items; user and item side features (``Categorical``
    / ``Numeric`` / ``Bag``) add their vectors to the id vector, so items unseen in training can be scored from
    their features. With ``optimizer="sgd"`` and ``batch_size=1`` (the defaults) on the CPU every positive takes
    one SGD step in featvec's fused kernel, the threads working on blocks of users x items that share no row
    (deterministic for a seed and thread count); any other optimizer, batch size or device, or
    ``negatives="all"``, trains mini-batches through torch. ``solver="als"`` is implicit alternating least
    squares on the id vectors only. Users unseen in training are folded in from their interactions: ``fold_in``
    / ``recommend(user_items=)``.

    Parameters
    ----------
    dim : int, default 64
        Length of the user and item vectors (of every feature group).
    loss : {"bpr", "bce", "sampled_softmax"}, default "bpr"
        SGD's loss: "bpr" ranks the positive above each of ``negatives`` sampled items (mean over them); "bce"
        labels positives 1 and the sampled items 0; "sampled_softmax" is a softmax over the positive and the
        sampled items, every logit logQ-corrected. Not used by ALS.
    solver : {"sgd", "als"}, default "sgd"
        "sgd": ``loss`` by stochastic gradient; "als": implicit ALS (confidence ``1 + alpha * weight``, L2 ``reg``,
        ``iterations`` sweeps of ``cg_steps`` conjugate-gradient steps), without side features or item bias.
    user_features : sequence of Categorical, Numeric or Bag, default None
        The user side table's features (SGD only). None: inferred from the table given to ``fit`` (lists -> ``Bag``,
        numbers -> ``Numeric`` with mean imputation, anything else -> ``Categorical``); no table, no features.
    item_features : sequence of Categorical, Numeric or Bag, default None
        The item side table's features, as ``user_features``.
    user_col : str, default "user_id"
        Column of the user ids (and the key of the user side table).
    item_col : str, default "item_id"
        Column of the item ids (and the key of the item side table).
    weight_col : str, default None
        Column of a non-negative strength per row (play counts, dwell time); repeated (user, item) rows add up and
        zero-weight pairs are dropped. It weighs each positive's loss (SGD, scaled to mean 1) or confidence (ALS).
    alpha : float, default 1.0
        ALS's confidence slope: a pair's confidence is ``1 + alpha * weight`` (weight 1 without ``weight_col``).
    reg : float, default None
        L2 strength: implicit's ``regularization`` for ALS; for SGD a penalty on the vectors each example uses.
        None: 0.1 (als); with the fused SGD 0.01 (bpr), 0.05 (bce), 0.1 (sampled_softmax); 0 through torch.
    reg_exponent : float, default 0.0
        ALS only: each user's and item's L2 weight is ``reg * (1 + n) ** reg_exponent`` for its n interactions
        (frequency-scaled regularisation, Rendle et al. 2021); 1.0 works well on MovieLens.
    iterations : int, default 15
        ALS sweeps (users, then items).
    cg_steps : int, default 3
        Conjugate-gradient steps per ALS solve.
    negatives : int or "all", default None
        Sampled items per positive (per batch for sampled_softmax through torch, beside the batch's positives).
        None: 4 (bpr, bce) or 16 (sampled_softmax). "all" (sampled_softmax): the full softmax over the catalogue,
        through torch; 0 (sampled_softmax through torch): the batch's other positives only.
    sampler : {"uniform", "popularity"}, default None
        Distribution of the negatives; "popularity" draws an item with probability proportional to its count to
        the power ``beta``. None: "popularity" for sampled_softmax, else "uniform".
    beta : float, default 0.75
        Exponent of the popularity sampler (0: uniform, 1: the empirical frequency).
    reject_seen : bool, default True
        Keep the user's own items out of its negatives: redrawn (up to 10 tries), or masked in a shared softmax.
    temperature : float, default 1.0
        sampled_softmax only (also when folding in): the scores are divided by it before the logQ correction.
    item_bias : bool, default True
        Learn an item bias (SGD only; ALS has none).
    min_count : int, default 1
        SGD only: users / items with fewer interactions share the 'unknown' id vector.
    epochs : int, default 30
        SGD passes over the training pairs.
    batch_size : int, default 1
        Positives per step; 1 with ``optimizer="sgd"`` on the CPU is the fused per-positive SGD.
    lr : float, default None
        Learning rate (the schedule's peak). None: with the fused SGD 0.4 (bpr; 0.2 with fewer than 4 negatives,
        where 0.4 diverges), 0.05 (bce), 0.03 (sampled_softmax); 1e-2 through torch.
    optimizer : {"sgd", "adam", "adamw", "sparse_adam", "adagrad"}, default "sgd"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.0
        Weight decay of torch training (decoupled for "adamw", an L2 term in the gradient otherwise); the fused
        SGD and ALS refuses it (a ValueError at ``fit``): it regularises with ``reg``.
    schedule : {"cosine", "linear", "constant", "onecycle"}, default "cosine"
        Learning-rate schedule. Fused SGD, per epoch: "cosine" or "linear" down to a tenth of ``lr``, or "constant";
        torch, per step: "onecycle", "cosine" (down to 0) or "constant". Another raises a ValueError at ``fit``.
    init_std : float, default 0.1
        SGD: standard deviation of the normal initial vectors (ALS starts from uniform values in [0, 0.01)).
    fold_in_steps : int, default 200
        Full-batch Adam steps that fold in new users under an SGD loss (ALS solves their vectors exactly).
    valid_frac : float, default 0.0
        SGD: share of the distinct pairs (drawn with ``seed``) held out, not trained on, and scored by the loss every
        epoch (``valid_loss`` in ``history_``). Not used when ``fit`` gets ``valid`` or there are fewer than 20 pairs.
    patience : int, default None
        SGD early stopping: stop once the validation loss has not improved for more than ``patience`` epochs in a
        row, keeping the best epoch's weights. Needs validation rows (``valid`` or ``valid_frac``).
    seed : int, default 0
        Seed of the validation split, the initial vectors and the negative draws.
    device : str, default "cpu"
        "cpu", "cuda" (or any torch device), or "auto": a CUDA GPU, else Apple's MPS, else the CPU. ALS solves
        on the device (its CG steps in torch on a GPU); the fused SGD runs on the CPU; on another device SGD
        trains through torch, and the per-example settings (batch_size 1, optimizer "sgd") become batches of
        1,024 with Adam at lr 0.003 (``featvec.models.params.GPU_BATCHES``; ML-100K recall@20 0.343 against
        the fused BPR's 0.370).
    show_progress : bool or "auto", default "auto"
        SGD: a tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.
    callbacks : sequence of Callback, default ()
        SGD: objects with ``on_train_begin(trainer)``, ``on_epoch_end(trainer, epoch, logs)`` (True stops training)
        and ``on_train_end(trainer)``, as ``featvec.training.Callback``; not saved with the model.

    Attributes
    ----------
    users_, items_ : EntityTable
        The known users / items: their ids (row 0 is 'unknown'), side features and encodings.
    seen_ : tuple of Tensor
        Each user's items among all the interactions given to ``fit``, CSR (indptr, item rows): what
        ``recommend(filter_seen=True)`` leaves out and ``reject_seen`` redraws.
    item_counts_ : ndarray of int
        The number of distinct users of each item row: the popularity sampler's counts.
    net_ : ImplicitNet
        The trained network.
    history_ : list of dict
        One dict per epoch (SGD: epoch, train_loss, valid_loss with validation rows, lr, seconds) or per ALS
        iteration (epoch, seconds).
    trainer_ : Trainer or BlockTrainer
        What trained the model with SGD (not set by ALS, not kept by ``save``).
    vectors_ : VectorSet
        Labelled tables: ``users`` and ``items`` (the full vectors the model scores with) and one per feature
        group, ``user.id``, ``item.id``, ``item.<feature>``, ...

    Notes
    -----
    The fused kernel's sampled softmax shares its negatives among 32 consecutive positives (a negative a user has
    is left out of that user's softmax where the catalogue is small enough for a bitmap of every user's items,
    64 MiB); through torch it also uses the batch's other positives. The loss-dependent defaults of ``negatives``,
    ``sampler``, ``lr`` and ``reg`` are tuned on MovieLens (protocol I).
    """

    def __init__(self, dim: int = 64, loss: str = "bpr", solver: str = "sgd", user_features: Sequence | None = None,
                 item_features: Sequence | None = None, user_col: str = "user_id", item_col: str = "item_id",
                 weight_col: str | None = None, alpha: float = 1.0, reg: float | None = None,
                 reg_exponent: float = 0.0, iterations: int = 15,
                 cg_steps: int = 3, negatives=None, sampler: str | None = None, beta: float = 0.75,
                 reject_seen: bool = True, temperature: float = 1.0, item_bias: bool = True, min_count: int = 1,
                 epochs: int = 30, batch_size: int = 1, lr: float | None = None, optimizer: str = "sgd",
                 weight_decay: float = 0.0, schedule: str = "cosine", init_std: float = 0.1,
                 fold_in_steps: int = 200, valid_frac: float = 0.0, patience: int | None = None, seed: int = 0,
                 device: str = "cpu", show_progress="auto", callbacks: Sequence = ()):
        self._init_params(locals())

    # ---- settings that depend on the loss and the engine
    def _negatives(self):
        if self.negatives is not None:
            return self.negatives
        return 16 if self.loss == "sampled_softmax" else 4

    def _sampler_name(self) -> str:
        if self.sampler is not None:
            return self.sampler
        return "popularity" if self.loss == "sampled_softmax" else "uniform"

    def _lr(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        if not self._fused():
            return 1e-2
        if self.loss == "bpr":  # its gradient is a mean over the negatives: with fewer, each steps further
            return 0.4 if self._negatives() >= 4 else 0.2
        return {"bce": 0.05, "sampled_softmax": 0.03}[self.loss]

    # ---- checks
    _nullable = ("lr",)

    def _check_params(self) -> None:
        self._validate_params()
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.solver == "als" or self._fused():
            self._refuse_weight_decay("ALS" if self.solver == "als" else "per-positive SGD (optimizer='sgd', "
                                      "batch_size=1)")
        if self.solver == "sgd" and self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        negatives = self._negatives()
        if negatives == "all":
            if self.loss != "sampled_softmax":
                raise ValueError("negatives='all' (full softmax) needs loss='sampled_softmax'")
        elif (isinstance(negatives, bool) or not isinstance(negatives, (int, np.integer)) or negatives < 0):
            raise ValueError(f"negatives must be a non-negative int or 'all', got {negatives!r}")
        elif self.solver == "sgd" and negatives < 1 and (self.loss in ("bpr", "bce") or self._fused()):
            raise ValueError(f"loss={self.loss!r} needs negatives >= 1"
                             + (" with per-example SGD" if self.loss == "sampled_softmax" else ""))

    def _reg(self) -> float:
        if self.reg is not None:
            return float(self.reg)
        if self.solver == "als":
            return 0.1
        if not self._fused():
            return 0.0
        return {"bpr": 0.01, "bce": 0.05, "sampled_softmax": 0.1}[self.loss]

    def _frame(self, df, what: str) -> tuple[pd.DataFrame, np.ndarray]:
        check_frame(df, what)
        require_columns(df, [self.user_col, self.item_col] + ([self.weight_col] if self.weight_col else []), what)
        df = with_values(df, [self.user_col, self.item_col], what)
        if self.weight_col is None:
            return df, np.ones(len(df))
        w = numeric_values(df, self.weight_col, what).astype(np.float64)
        if (w < 0).any():
            pos = int(np.flatnonzero(w < 0)[0])
            raise ValueError(f"{what}: column {self.weight_col!r} has a negative weight {w[pos]} at row {pos}")
        big = w * max(float(self.alpha), 1.0) > MAX_WEIGHT
        if big.any():
            pos = int(np.flatnonzero(big)[0])
            raise ValueError(f"{what}: column {self.weight_col!r} has the weight {w[pos]:g} at row {pos}, too large to "
                             f"train in float32 (weight x alpha must stay under {MAX_WEIGHT:g}); rescale the weights")
        return df, w

    # ---- fit
    def fit(self, interactions: pd.DataFrame, user_features: pd.DataFrame | None = None,
            item_features: pd.DataFrame | None = None, valid: pd.DataFrame | None = None):
        """Learn from ``interactions`` (one row per event: user and item columns, optional ``weight_col``).
        Side tables are keyed by the id column. ``valid`` (or ``valid_frac`` of the pairs) is scored by the
        same loss each epoch (SGD); with ``patience`` training stops early and keeps the best epoch."""
        return self._fit(interactions, valid, user_features=user_features, item_features=item_features)

    def _prepare(self, interactions, spec, what: str, user_features=None, item_features=None):
        """The user and item tables, and the distinct (user, item) pairs sorted by user then item, weights
        summed, zero-weight pairs dropped; each user's items (``seen_``) and the item counts come from all.
        ``interactions``: a frame, or an ingested folder (``featvec.data.Interactions``) read from its shards."""
        from featvec.data import Interactions

        if self.solver == "als" and (user_features is not None or item_features is not None
                                     or self.user_features or self.item_features):
            raise ValueError("solver='als' learns id vectors only; side features need solver='sgd'")
        dev = resolve_device(self.device)
        if isinstance(interactions, Interactions):
            users, items, (u, i, w) = self._encoded(interactions, user_features, item_features)
        else:
            df, w = self._frame(interactions, "interactions")
            users, items = self._fit_entities(df, user_features, item_features)
            u, i = users.rows(df[self.user_col].to_numpy()), items.rows(df[self.item_col].to_numpy())
        u, i, w = distinct_pairs(u, i, w)
        if u.size == 0:
            raise ValueError(f"interactions: every row has weight 0 in {self.weight_col!r}; nothing to learn")
        self.users_, self.items_ = users.to(dev), items.to(dev)
        ptr = np.zeros(len(users) + 1, dtype=np.int64)  # the pairs are distinct and sorted: CSR as they are
        np.cumsum(np.bincount(u, minlength=len(users)), out=ptr[1:])
        self.seen_ = (torch.as_tensor(ptr), torch.as_tensor(i))
        self.item_counts_ = np.bincount(i, minlength=len(items)).astype(np.int64)
        self._check_negatives(np.diff(ptr), len(items) - 1)
        return u, i, w

    def _encoded(self, data, user_features, item_features):
        """Entity tables from an ingested folder's vocabularies (its rows are theirs) and its arrays."""
        users, items = folder_tables(data, self.user_col, self.item_col, self.weight_col, "weight_col",
                                     self.min_count, user_features, item_features)
        u, i, w = data.arrays()
        return users, items, (u, i, np.ones(1) if w is None else w)

    def _check_negatives(self, per_user: np.ndarray, n_items: int) -> None:
        """Sampled losses need items a user did not interact with: refuse data where no user has one."""
        if self.solver != "sgd" or self._negatives() in (0, "all") or not self.reject_seen:
            return
        full = int((per_user >= n_items).sum())
        if full == int((per_user > 0).sum()):
            raise ValueError(f"interactions: every user interacted with every one of the {n_items} items, so "
                             f"loss={self.loss!r} has no negative item to draw; give more items, or use "
                             f"solver='als' or reject_seen=False")
        if full:
            warnings.warn(f"interactions: {full} user(s) interacted with every item; no negative can be drawn for "
                          f"them, so their rows teach the model little", stacklevel=4)

    def _prepare_valid(self, valid: pd.DataFrame):
        vdf, vw = self._frame(valid, "valid")
        vu, vi = self.users_.rows(vdf[self.user_col].to_numpy()), self.items_.rows(vdf[self.item_col].to_numpy())
        ok = (vu > 0) & (vi > 0) & (vw > 0)
        if not ok.any():
            raise ValueError("valid: no row has both a user and an item seen in training")
        return vu[ok], vi[ok], vw[ok]

    def _n_rows(self, pairs) -> int:
        return len(pairs[0])

    def _take(self, pairs, pos: np.ndarray):
        return tuple(a[pos] for a in pairs)

    def _fit_encoders(self, pairs) -> None:
        if self.solver == "als":  # ALS solves a vector for every row: min_count does not apply
            for table in (self.users_, self.items_):
                table.id_slot = torch.arange(len(table), device=table.id_slot.device)
            self.users_.id_slot[0] = self.items_.id_slot[0] = 0

    def _rows(self, pairs, device, training: bool):
        """Training: the pairs (the fused kernels and ALS read them as they are); validation: their rows,
        with the same negatives every epoch."""
        return pairs if training else self._pair_rows(*pairs, device, self.seed + 1, fixed=True)

    def _build_net(self, pairs, train, valid, device) -> ImplicitNet:
        return self._make_net().to(device)

    def _train(self, net: ImplicitNet, train, valid, device) -> list[dict]:
        u, i, w = train
        if self.solver == "als":
            return self._fit_als(net, u, i, w)
        if self._fused():
            valid_fn = None
            if valid is not None:
                valid_fn = lambda: Trainer().evaluate(net, valid, device)  # noqa: E731
            probs = self._sampler(device, self.seed).probs.numpy()
            self.trainer_ = fit_pairs(net, self.users_, self.items_, u, i, w, loss=self.loss,
                                      negatives=int(self._negatives()), probs=probs,
                                      seen=self.seen_ if self.reject_seen else None, epochs=self.epochs, lr=self._lr(),
                                      schedule=self.schedule, reg=self._reg(), temperature=self.temperature,
                                      seed=self.seed, valid=valid_fn, patience=self.patience,
                                      callbacks=self.callbacks, show_progress=self.show_progress)
            return self.trainer_.history
        run = trainer_settings(self, device, "pairs")  # on a GPU the per-example settings train in batches
        self.trainer_ = Trainer(self.epochs, run["batch_size"], run["lr"] or self._lr(), run["optimizer"],
                                self.weight_decay, self.schedule, self.patience, self.seed, self.show_progress,
                                self.callbacks)
        return self.trainer_.fit(net, self._pair_rows(u, i, w, device, self.seed), device, valid)

    def _after_fit(self, net: ImplicitNet, train, valid) -> None:
        self.net_ = net.eval()
        self._item_cache = None

    def _uses_valid(self) -> bool:
        return self.solver == "sgd"  # valid_frac (0 by default) alone asks for the logged validation loss

    def _make_net(self) -> ImplicitNet:
        return ImplicitNet(self.users_.group_specs(self.dim), self.items_.group_specs(self.dim),
                           self.loss if self.loss in LOSSES else "bpr", init_std=self.init_std,
                           reg=self._reg(),
                           temperature=self.temperature, item_bias=self.item_bias and self.solver == "sgd")

    def _fit_als(self, net: ImplicitNet, u, i, w) -> list[dict]:
        C = CSRMatrix(self.seen_[0], i, 1.0 + self.alpha * w)  # u, i are sorted by (user, item)
        history, t0 = [], time.perf_counter()

        def log(it, X, Y):
            nonlocal t0
            history.append({"epoch": it, "seconds": time.perf_counter() - t0})
            t0 = time.perf_counter()

        X, Y = als(C, len(self.items_), self.dim, self._reg(), self.iterations, self.cg_steps, self.seed,
                   callback=log, reg_exponent=self.reg_exponent, device=net.users.tables[0].weight.device)
        X[0].zero_()
        Y[0].zero_()
        with torch.no_grad():
            net.users.tables[0].weight.copy_(X)
            net.items.tables[0].weight.copy_(Y)
        return history

    def _sampler(self, dev, seed: int) -> NegativeSampler:
        ptr, idx = (t.numpy() for t in self.seen_)
        return NegativeSampler(len(self.items_), self._sampler_name(), counts=self.item_counts_, beta=self.beta,
                               positives=(ptr, idx) if self.reject_seen else None, low=1, seed=seed, device=dev)

    def _pair_rows(self, u, i, w, dev, seed, fixed: bool = False) -> PairRows:
        freq = torch.as_tensor(self.item_counts_ / max(self.item_counts_.sum(), 1), dtype=torch.float32, device=dev)
        t = lambda a, dt=torch.long: torch.as_tensor(a, dtype=dt, device=dev)  # noqa: E731
        return PairRows(self.users_, self.items_, t(u), t(i), t(w, torch.float32), self._sampler(dev, seed),
                        self.loss, self._negatives(), freq, fixed_seed=seed if fixed else None)

    def _fused(self) -> bool:
        """Per-positive SGD in the fused kernels: optimizer "sgd" with batch_size 1, sampled negatives, CPU."""
        return (self.solver == "sgd" and self.optimizer == "sgd" and self.batch_size == 1
                and self._negatives() != "all" and resolve_device(self.device).type == "cpu")

    # ---- scoring
    def predict(self, df: pd.DataFrame, batch_size: int = 65536) -> np.ndarray:
        """Scores of (user, item) rows: <user vector, item vector> + item bias. Higher means more likely;
        only the order is meaningful. Unknown users score the item bias; unknown items score 0."""
        self._check_fitted()
        check_frame(df, "data")
        require_columns(df, [self.user_col, self.item_col], "data")
        urows = torch.as_tensor(self.users_.rows(df[self.user_col].to_numpy()), device=self._dev)
        irows = torch.as_tensor(self.items_.rows(df[self.item_col].to_numpy()), device=self._dev)
        out = np.empty(len(df), dtype=np.float32)
        self.net_.eval()
        for s in range(0, len(df), batch_size):
            uv, _ = self._encode_all(self.users_, self.net_.users, urows[s:s + batch_size])
            iv, ib = self._encode_all(self.items_, self.net_.items, irows[s:s + batch_size])
            out[s:s + len(uv)] = ((uv * iv).sum(1) + ib).cpu().numpy()
        return out

    # ---- fold-in
    def fold_in(self, user_items) -> Vectors:
        """Vectors for users from their interactions, with the item vectors fixed: ``user_items`` is a frame
        (user and item columns, ``weight_col`` if set) or, for one new user, a list of item ids.

        ALS solves the user's least-squares system exactly; the SGD losses minimise the model's own loss
        (the full softmax for sampled_softmax) for the user vector by Adam, ``fold_in_steps`` steps.
        Items the model does not know are ignored. Labels are the user ids (``"new"`` for a list). With
        bpr / bce the negatives of all users in one call are drawn together (seeded), so a user's vector can
        differ slightly from folding them in alone.
        """
        fold = self._fold_in_users(user_items)
        return Vectors(list(fold["index"]), fold["vectors"].cpu().numpy(), None, "users")

    def _fold_in_users(self, user_items) -> dict:
        self._check_fitted()
        if not isinstance(user_items, pd.DataFrame):
            items = id_list(user_items)
            if not items:
                raise ValueError("fold_in needs at least one item")
            user_items = pd.DataFrame({self.user_col: ["new"] * len(items), self.item_col: items})
            if self.weight_col:
                user_items[self.weight_col] = 1.0
        df, w = self._frame(user_items, "user_items")
        index = pd.Index(pd.unique(df[self.user_col]))
        u = index.get_indexer(df[self.user_col])
        i = self.items_.rows(df[self.item_col].to_numpy())
        ok = (i > 0) & (w > 0)
        empty = np.flatnonzero(np.bincount(u[ok], minlength=len(index)) == 0)
        if len(empty):
            theirs = [plain(v) for v in pd.unique(df[self.item_col][u == empty[0]])[:5]]
            users = [plain(v) for v in index[empty][:5]]
            raise ValueError(f"user_items: user(s) {users} have no item known to the model (with a weight > 0), so "
                             f"there is nothing to fold in; e.g. items {theirs}")
        u, i, w = distinct_pairs(u[ok], i[ok], w[ok])
        ptr, idx = csr_from_pairs(u, i, len(index))
        with torch.no_grad():
            iv, ib = self._encode_all(self.items_, self.net_.items, torch.arange(len(self.items_), device=self._dev))
        if self.solver == "als":
            C = CSRMatrix(ptr, idx, 1.0 + self.alpha * w)
            vecs = als_fold_in(iv.cpu(), C, self._reg(), reg_exponent=self.reg_exponent).to(self._dev)
        else:
            vecs = self._fold_in_sgd(iv, ib, u, i, w, len(index))
        return {"index": index, "vectors": vecs, "biases": torch.zeros(len(index), device=self._dev),
                "seen": (ptr, idx)}

    def _fold_in_sgd(self, iv, ib, u, i, w, n_users) -> torch.Tensor:
        """The users' vectors by the Trainer: Adam, ``fold_in_steps`` full-batch steps, cosine rate from 0.05."""
        dev = self._dev
        u_t, i_t = torch.as_tensor(u, device=dev), torch.as_tensor(i, device=dev)
        w_t = torch.as_tensor(w, dtype=torch.float32, device=dev)
        per_user = torch.zeros(n_users, device=dev).index_add_(0, u_t, w_t).clamp_min(1e-12)
        sampler = None
        if self.loss in ("bpr", "bce"):
            ptr, idx = csr_from_pairs(u, i, n_users)
            sampler = NegativeSampler(len(self.items_), self._sampler_name(), counts=self.item_counts_, beta=self.beta,
                                      positives=(ptr, idx), low=1, seed=self.seed, device=dev)
        n_neg = max(int(self._negatives()) if self._negatives() != "all" else 1, 8)
        net = FoldInNet(n_users, iv, ib, self.loss, self._reg(), self.temperature, sampler, n_neg)
        rows = LabelledRows({"user": u_t, "item": i_t}, w_t / per_user[u_t], dev)
        Trainer(int(self.fold_in_steps), max(len(rows), 1), 0.05, "adam", schedule="cosine",
                seed=self.seed).fit(net, rows, dev)
        return net.x.detach()

    # ---- persistence hooks (see Recommender._state / _from_state)
    def _extra_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return {}, {"item_counts": torch.as_tensor(self.item_counts_)}

    def _restore(self, config: dict, tensors: dict) -> None:
        self.item_counts_ = tensors["item_counts"].numpy()
        self.net_ = self._make_net()

