"""Rating recommenders: the shared fit / predict / recommend / similar / vectors / save machinery.

Unknown users or items at ``predict`` fall back to what is known: their embedding row is the zero
'unknown' row, so the prediction is the global offset plus the biases (and side features) of the known
side. For ``DeepRecommender`` the MLP's output on those zero vectors is added too (a constant for a pair
where both sides are unknown). ``recommend`` for an unknown user raises ``ValueError``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from featvec.encoding import EncodedBag
from featvec.evaluation.ranking import csr_from_pairs
from featvec.fused.train import fit_ratings
from featvec.io import persistence
from featvec.models.base import BaseModel
from featvec.models.entities import ID, EntityTable, folder_tables
from featvec.models.params import trainer_settings
from featvec.nn.objectives import mean_logit
from featvec.nn.recommender import RecommenderNet
from featvec.schema import Feature, feature_from_dict
from featvec.training.rows import RatingRows
from featvec.training.trainer import Trainer, resolve_device
from featvec.util.threads import cached
from featvec.validation import (check_frame, check_k, check_kind, id_list, numeric_values, plain, require_columns,
                                 with_values)
from featvec.vectors import Vectors, VectorSet

IMPLICIT = "rated_items"


class Recommender(BaseModel):
    """What every recommender preset shares once fitted: ``users_`` / ``items_`` (EntityTable), ``net_``
    (``users`` / ``items`` FeatureEmbedding, ``side``, ``score_matrix``) and ``seen_`` (training items per
    user row, CSR). Gives batch-first ``recommend``, ``similar_items``, ``similar_users``, ``vectors_``.
    """

    @property
    def _dev(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _clip_scores(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def training_share(self, df: pd.DataFrame) -> float:
        """The share of ``df``'s (user, item) rows that were training interactions of this model (a test set
        should hold none: evaluating on training rows measures nothing)."""
        self._check_fitted()
        u = self.users_.rows(df[self.user_col].to_numpy())
        i = self.items_.rows(df[self.item_col].to_numpy())
        return self._seen_share(u, i)

    def _seen_share(self, u: np.ndarray, i: np.ndarray) -> float:
        """The share of (user row, item row) pairs among the training pairs (``seen_``: each user's items
        sorted), by binary search."""
        from featvec.util.arrays import in_csr

        ptr, idx = (np.asarray(t) for t in self.seen_)
        return float(in_csr(ptr, idx, u, i).mean()) if len(u) else 0.0

    def _fold_in_users(self, user_items: pd.DataFrame):
        raise ValueError(f"{type(self).__name__} cannot fold in new users; use ImplicitRecommender")

    def _encode_all(self, table: EntityTable, emb, rows: torch.Tensor, chunk: int = 8192):
        vecs, biases = [], []
        with torch.no_grad():
            for s in range(0, rows.numel(), chunk):
                v, b, _ = self.net_.side(emb, table.inputs(rows[s:s + chunk]))
                vecs.append(v)
                biases.append(b if b is not None else torch.zeros(v.shape[0], device=v.device))
        if not vecs:
            return torch.zeros(0, 1, device=rows.device), torch.zeros(0, device=rows.device)
        return torch.cat(vecs), torch.cat(biases)

    def _lookup(self, table: EntityTable, ids, what: str) -> np.ndarray:
        ids = id_list(ids)
        if not ids:
            raise ValueError(f"no {what} given")
        rows = table.rows(ids)
        if (rows == 0).any():
            bad = [x for x, r in zip(ids, rows) if r == 0][:5]
            raise ValueError(f"unknown {what} {bad}: not seen in training (recommend needs known {what})")
        return rows

    def _all_items(self):
        """Every known item's vector and bias (rows 1..n), encoded once and kept until the next fit or load."""
        return cached(self, "_item_cache", lambda: self._encode_all(
            self.items_, self.net_.items, torch.arange(1, len(self.items_), device=self._dev)))

    def _score_rows(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores of the given user rows against every known item (columns = item rows 1..n)."""
        if self.net_.training:  # eval() walks every submodule: a fifth of a one-user call
            self.net_.eval()
        dev = self._dev
        iv, ib = self._all_items()
        uv, ub = self._encode_all(self.users_, self.net_.users, torch.as_tensor(np.asarray(user_rows), device=dev))
        with torch.no_grad():
            return self._clip_scores(self.net_.score_matrix(uv, ub, iv, ib).cpu().numpy())

    def recommend(self, users, k: int = 10, filter_seen: bool = True, items=None, user_items: pd.DataFrame | None = None,
                  item_features: pd.DataFrame | None = None, batch_size: int | None = None,
                  approximate: bool = False) -> pd.DataFrame:
        """Top-k items for each user (batch-first). Returns columns user, item, score, rank.

        ``items`` restricts the candidates; ``filter_seen`` drops each user's training interactions.
        ``user_items`` (user, item rows) folds in users unseen in training -- or gives known users' current
        interactions -- where the preset supports it; those items are then the ones filtered.
        ``item_features`` describes items unseen in training so they can be scored from their features.
        Top-k by ``argpartition`` over chunks of users, so memory stays bounded for any number of users.
        ``approximate=True`` (known users, the whole catalogue; needs faiss): the candidates come from an
        inverted-file index over the item vectors (``featvec.ann``, built at the first call and kept), their
        scores are exact; for catalogues of 100,000+ items, where a full product per user costs milliseconds.
        """
        from featvec.evaluation.ranking import rank_users

        self._check_fitted()
        k = check_k(k)
        if self.net_.training:
            self.net_.eval()
        dev = self._dev
        if approximate:
            if items is not None or user_items is not None or item_features is not None:
                raise ValueError("approximate=True ranks the whole catalogue for known users: leave items, "
                                 "user_items and item_features out")
            return self._recommend_approximate(id_list(users), k, filter_seen)
        items_t = self.items_ if item_features is None else self.items_.extend(item_features, "item_features").to(dev)
        user_ids = id_list(users)
        if not user_ids:
            raise ValueError("no users given")
        rows, fold, fold_pos = self._recommend_users(user_ids, user_items)
        irows = (np.arange(1, len(items_t)) if items is None
                 else pd.unique(self._lookup(items_t, items, "items")))  # a repeated candidate counts once
        col_of = np.full(len(items_t), -1, dtype=np.int64)
        col_of[irows] = np.arange(len(irows))
        if items is None and item_features is None:  # the whole catalogue: its vectors are cached
            iv, ib = self._all_items()
        else:
            iv, ib = self._encode_all(items_t, self.net_.items, torch.as_tensor(irows, device=dev))
        exclude = self._seen_columns(rows, fold, fold_pos, col_of) if filter_seen else None

        def score_fn(pos: np.ndarray) -> np.ndarray:
            r = torch.as_tensor(rows[pos], device=dev)
            uv, ub = self._encode_all(self.users_, self.net_.users, r)
            fp = fold_pos[pos]
            if (fp >= 0).any():
                sel = torch.as_tensor(np.flatnonzero(fp >= 0), device=dev)
                fsel = torch.as_tensor(fp[fp >= 0], device=dev)
                uv[sel], ub[sel] = fold["vectors"][fsel], fold["biases"][fsel]
            with torch.no_grad():
                return self._clip_scores(self.net_.score_matrix(uv, ub, iv, ib).cpu().numpy())

        kk = min(int(k), len(irows))
        ranked, scores = rank_users(score_fn, np.arange(len(user_ids)), kk, exclude=exclude, n_items=len(irows),
                                    batch_size=batch_size, with_scores=True)
        return self._ranked_frame(user_ids, items_t.vocab, irows, ranked, scores)

    def _ranked_frame(self, user_ids: list, vocab, irows: np.ndarray, ranked: np.ndarray, scores: np.ndarray):
        """recommend's answer: user, item, score, rank per kept (ranked >= 0) column, ids as they came in."""
        ok = ranked >= 0
        out = pd.DataFrame({
            self.user_col: np.repeat(np.asarray(user_ids, dtype=object), ok.sum(1)),
            self.item_col: vocab.array[irows - 1][ranked[ok]],
            "score": scores[ok].astype(np.float32),
            "rank": (np.cumsum(ok, 1)[ok]).astype(np.int64),
        })
        out[self.user_col] = _restore_dtype(out[self.user_col], user_ids)
        out[self.item_col] = _restore_dtype(out[self.item_col], vocab.values)
        return out

    def recommend_lists(self, users, k: int = 10, filter_seen: bool = True) -> list[tuple[list, list]]:
        """``recommend`` for known users over the whole catalogue as plain lists, one (items, scores) pair per
        user, best first: what a service answers, without the DataFrame (a third of the time for one user)."""
        from featvec.evaluation.ranking import top_k

        self._check_fitted()
        k = check_k(k)
        ids = id_list(users)
        if not ids:
            raise ValueError("no users given")
        rows, _, _ = self._recommend_users(ids, None)
        scores = np.array(self._score_rows(rows), dtype=np.float32)
        if filter_seen:
            ptr, idx = cached(self, "_seen_np", lambda: tuple(np.asarray(t) for t in self.seen_))
            for j, r in enumerate(rows):
                scores[j, idx[ptr[r]:ptr[r + 1]] - 1] = -np.inf  # seen_ holds item rows (1-based)
        top = top_k(scores, k)
        labels = self.items_.vocab.array
        out = []
        for j in range(len(rows)):
            t = top[j][top[j] >= 0]
            out.append(([plain(v) for v in labels[t]], scores[j, t].tolist()))
        return out

    def _recommend_approximate(self, user_ids: list, k: int, filter_seen: bool) -> pd.DataFrame:
        """``recommend`` with candidates from ``featvec.ann.IPIndex`` over [item vector, item bias] (the order
        of offset + user bias + item bias + dot within one user), scored exactly."""
        from featvec.ann import IPIndex

        if getattr(self.net_, "mlp", None) is not None:
            raise ValueError(f"approximate=True needs a score that is a dot product plus biases; this "
                             f"{type(self).__name__} has an MLP")
        if not user_ids:
            raise ValueError("no users given")
        rows, _, _ = self._recommend_users(user_ids, None)
        iv, ib = self._all_items()
        index = cached(self, "_ann_items", lambda: IPIndex(torch.cat([iv, ib[:, None]], 1).cpu().numpy(),
                                                           self._sample_user_queries()))
        uv, ub = self._encode_all(self.users_, self.net_.users, torch.as_tensor(rows, device=self._dev))
        ptr, idx = (np.asarray(t) for t in self.seen_)
        n_seen = np.diff(ptr)[rows] if filter_seen else np.zeros(len(rows), dtype=np.int64)
        _, cand = index.search(torch.cat([uv, torch.ones_like(ub)[:, None]], 1).cpu().numpy(), k + int(n_seen.max()))
        users, items, scores, ranks = [], [], [], []
        labels = self.items_.vocab.array
        for j, r in enumerate(rows):
            c = cand[j][cand[j] >= 0]
            if filter_seen and n_seen[j]:
                c = c[~np.isin(c + 1, idx[ptr[r]:ptr[r + 1]])]  # seen_ holds item rows (1-based)
            with torch.no_grad():
                ct = torch.as_tensor(c, device=self._dev)
                s = self._clip_scores(self.net_.score_matrix(uv[j:j + 1], ub[j:j + 1], iv[ct], ib[ct]).cpu().numpy())[0]
            top = np.argsort(-s, kind="stable")[:k]
            users += [user_ids[j]] * len(top)
            items.append(labels[c[top]])
            scores.append(s[top])
            ranks.append(np.arange(1, len(top) + 1))
        out = pd.DataFrame({self.user_col: pd.Series(users, dtype=object),
                            self.item_col: np.concatenate(items) if items else [],
                            "score": np.concatenate(scores).astype(np.float32) if scores else [],
                            "rank": np.concatenate(ranks).astype(np.int64) if ranks else []})
        out[self.user_col] = _restore_dtype(out[self.user_col], user_ids)
        out[self.item_col] = _restore_dtype(out[self.item_col], self.items_.vocab.values)
        return out

    def _sample_user_queries(self, n: int = 200) -> np.ndarray:
        """[user vector, 1] of ``n`` random users (seeded): the queries the item index is calibrated on."""
        rng = np.random.default_rng(0)
        rows = rng.choice(np.arange(1, len(self.users_)), min(n, len(self.users_) - 1), replace=False)
        uv, ub = self._encode_all(self.users_, self.net_.users, torch.as_tensor(rows, device=self._dev))
        return torch.cat([uv, torch.ones_like(ub)[:, None]], 1).cpu().numpy()

    def _recommend_users(self, user_ids: list, user_items) -> tuple:
        """The users' rows, the folded-in users (``user_items``) and each user's position among them (-1:
        a known user); unknown users that are not folded in raise."""
        fold = self._fold_in_users(user_items) if user_items is not None else None
        fold_pos = np.full(len(user_ids), -1, dtype=np.int64)
        if fold is not None:
            fold_pos = fold["index"].get_indexer(pd.Index(user_ids))
        # users folded in may carry ids of any kind ("new" beside int ids); the others must be of the model's
        check_kind(self.users_.vocab.kind, [u for u, f in zip(user_ids, fold_pos) if f < 0], self.user_col, "data")
        rows = self.users_.vocab.encode(user_ids)
        bad = [u for u, r, f in zip(user_ids, rows, fold_pos) if r == 0 and f < 0]
        if bad:
            hint = " or pass their interactions as user_items" if type(self)._fold_in_users is not Recommender._fold_in_users else ""
            raise ValueError(f"unknown users {bad[:5]}: not seen in training (recommend needs known users{hint})")
        return rows, fold, fold_pos

    def _seen_columns(self, rows, fold, fold_pos, col_of) -> tuple[np.ndarray, np.ndarray]:
        """Each user's seen items (training, or the folded-in interactions) as candidate columns, CSR."""
        ptr, idx = (np.asarray(t) for t in self.seen_)
        e_ptr, e_idx = _take_csr(ptr, idx, np.where(fold_pos >= 0, 0, rows))
        if fold is not None and (fold_pos >= 0).any():
            f_ptr, f_idx = _take_csr(*fold["seen"], np.maximum(fold_pos, 0))
            lens = np.where(fold_pos >= 0, np.diff(f_ptr), np.diff(e_ptr))
            e_ptr, e_idx = _merge_csr(e_ptr, e_idx, f_ptr, f_idx, fold_pos >= 0, lens)
        return _drop_negative(e_ptr, col_of[e_idx])

    def similar_items(self, ids, k: int = 10) -> pd.DataFrame:
        """Most similar items by cosine of their full item vectors: columns item, similar_item, score, rank."""
        return self._similar(self.vectors_["items"], ids, k, self.item_col)

    def similar_users(self, ids, k: int = 10) -> pd.DataFrame:
        """Most similar users by cosine of their full user vectors: columns user, similar_user, score, rank."""
        return self._similar(self.vectors_["users"], ids, k, self.user_col)

    def _similar(self, vecs: Vectors, ids, k: int, col: str) -> pd.DataFrame:
        self._check_fitted()
        out = vecs.similar(ids, k)
        out.columns = [col, f"similar_{col}", "score", "rank"]
        for c in out.columns[:2]:
            out[c] = _restore_dtype(out[c], vecs.labels)
        return out

    # ---- vectors
    @property
    def vectors_(self) -> VectorSet:
        """Labelled tables: ``users`` and ``items`` (the vectors the model scores with), and one table per
        feature group, ``user.<group>`` / ``item.<group>`` (``user.id``, ``item.genres``, ...)."""
        self._check_fitted()
        return cached(self, "_vectors", self._vector_tables)

    def _vector_tables(self) -> VectorSet:
        self.net_.eval()
        tables = {}
        for side, table, emb in (("user", self.users_, self.net_.users), ("item", self.items_, self.net_.items)):
            if side == "item":  # the item vectors recommend scores with, encoded once for both
                v, b = self._all_items()
            else:
                v, b = self._encode_all(table, emb, torch.arange(1, len(table), device=self._dev))
            tables[side + "s"] = Vectors(table.vocab.values, v.cpu().numpy(), b.cpu().numpy(), side + "s")
            for g in emb.groups:
                w = emb.table(g.name).detach().cpu().numpy()
                bias = emb.bias_table(g.name)
                bias = None if bias is None else bias.detach().cpu().numpy()
                labels = (self.items_.labels(ID) if g.name == IMPLICIT else table.labels(g.name))
                tables[f"{side}.{g.name}"] = Vectors(labels, w, bias, f"{side}.{g.name}")
        return VectorSet(tables)

    @staticmethod
    def _features(spec) -> list[Feature] | None:
        if spec is None:
            return None
        return [feature_from_dict(f) if isinstance(f, dict) else f for f in spec]

    # ---- persistence: what every recommender saves; presets add theirs in _extra_state / _restore
    def _fit_entities(self, df: pd.DataFrame, user_features, item_features) -> tuple[EntityTable, EntityTable]:
        """The user and item tables (ids, side features, vocabularies) fitted on the training frame."""
        users = EntityTable(self.user_col, self._features(self.user_features), self.min_count)
        users.fit(df[self.user_col], user_features, "user_features")
        items = EntityTable(self.item_col, self._features(self.item_features), self.min_count)
        items.fit(df[self.item_col], item_features, "item_features")
        return users, items

    def _extra_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return {}, {}

    def _restore(self, config: dict, tensors: dict) -> None:
        """Set the preset's own fitted attributes and build ``net_`` (weights are loaded after)."""
        raise NotImplementedError

    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        params = self.get_params()
        params.pop("callbacks", None)
        ucfg, ut = self.users_.state("users")
        icfg, it = self.items_.state("items")
        extra_cfg, extra_t = self._extra_state()
        config = {"params": persistence.params_to_json(params), "users": ucfg, "items": icfg, **extra_cfg,
                  "history": self.history_}
        tensors = {**ut, **it, "seen.indptr": self.seen_[0], "seen.indices": self.seen_[1], **extra_t}
        tensors.update({f"net.{k}": v for k, v in self.net_.state_dict().items()})
        return config, tensors

    @classmethod
    def _from_state(cls, config: dict, tensors: dict):
        model = cls(**persistence.params_from_json(config["params"]))
        model.users_ = EntityTable.from_state(config["users"], tensors, "users")
        model.items_ = EntityTable.from_state(config["items"], tensors, "items")
        model.seen_ = (tensors["seen.indptr"], tensors["seen.indices"])
        model.history_ = config.get("history", [])
        model._restore(config, tensors)
        model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        model.net_.eval()
        model._vectors = model._item_cache = None
        return model


class RatingRecommender(Recommender):
    """Shared base of MatrixFactorization and DeepRecommender (not used directly)."""

    _interaction = "dot"

    def _uses_valid(self) -> bool:
        return True  # valid_frac (0 by default) alone asks for the logged validation loss

    # ---- construction hooks for presets
    def _net_kwargs(self) -> dict:
        return {}

    # ---- input checks
    def _check_ratings(self, df, what: str, need_rating: bool) -> pd.DataFrame:
        check_frame(df, what)
        cols = [self.user_col, self.item_col] + ([self.rating_col] if need_rating else [])
        require_columns(df, cols, what)
        return with_values(df, [self.user_col, self.item_col], what)

    def fit(self, ratings: pd.DataFrame, user_features: pd.DataFrame | None = None,
            item_features: pd.DataFrame | None = None, valid: pd.DataFrame | None = None):
        """Learn from ``ratings`` (user, item, rating columns), or an ingested folder
        (``featvec.data.Interactions``, its weight column the rating); side tables are keyed by the id column.

        ``valid`` (or ``valid_frac`` of the ratings, drawn with ``seed``) is scored every epoch; with
        ``patience`` training stops early and keeps the best epoch.
        """
        return self._fit(ratings, valid, user_features=user_features, item_features=item_features)

    def _check_params(self) -> None:
        self._validate_params()
        if self._fused():
            self._refuse_weight_decay("per-rating SGD (optimizer='sgd', batch_size=1)")

    def _prepare(self, ratings: pd.DataFrame, spec, what: str, user_features=None, item_features=None) -> dict:
        from featvec.data import Interactions

        if isinstance(ratings, Interactions):  # an ingested folder: its weight column is the rating
            tables = folder_tables(ratings, self.user_col, self.item_col, self.rating_col, "rating_col",
                                   self.min_count, user_features, item_features)
            u, i, w = ratings.arrays()
            if w is None:
                raise ValueError(f"{ratings.path} has no weight column: ingest it with the rating as the weight "
                                 f"(featvec ingest --weight-col {self.rating_col})")
            return {"tables": tables, "u": u, "i": i, "y": w.astype(np.float64), "side": (None, None)}
        df = self._check_ratings(ratings, "ratings", True)
        return {"df": df, "y": numeric_values(df, self.rating_col, "ratings"), "side": (user_features, item_features)}

    def _prepare_valid(self, valid: pd.DataFrame) -> dict:
        return {"df": self._check_ratings(valid, "valid", need_rating=False)}

    def _n_rows(self, part: dict) -> int:
        return len(part["y"])

    def _take(self, part: dict, pos: np.ndarray) -> dict:
        if "tables" in part:
            return {**part, "u": part["u"][pos], "i": part["i"][pos], "y": part["y"][pos]}
        return {"df": part["df"].iloc[pos], "y": part["y"][pos], "side": part["side"]}

    def _fit_encoders(self, part: dict) -> None:
        """The user and item tables, each user's training items, the range of the ratings."""
        y, dev = part["y"], resolve_device(self.device)
        if "tables" in part:
            (users, items), u_rows, i_rows = part["tables"], part["u"], part["i"]
        else:
            df = part["df"]
            users, items = self._fit_entities(df, *part["side"])
            u_rows, i_rows = users.rows(df[self.user_col].to_numpy()), items.rows(df[self.item_col].to_numpy())
        seen_ptr, seen_idx = csr_from_pairs(u_rows, i_rows, len(users))
        if self.implicit:
            users.add_bag(IMPLICIT, EncodedBag.from_csr(seen_ptr, seen_idx, "sqrt"), len(items))
        self.rating_range_ = (float(y.min()), float(y.max()))
        self.users_, self.items_ = users.to(dev), items.to(dev)
        self.seen_ = (torch.as_tensor(seen_ptr), torch.as_tensor(seen_idx))

    def _rows(self, part: dict, device, training: bool):
        """Training: (rows, user rows, item rows, ratings); validation: rows."""
        if not training and "tables" not in part:
            return self._rating_rows(part["df"], "valid", device)
        y = part["y"]
        if "tables" in part:  # the folder's rows are the tables' rows
            u_rows, i_rows = part["u"].astype(np.int64), part["i"].astype(np.int64)
        else:
            u_rows = self.users_.rows(part["df"][self.user_col].to_numpy())
            i_rows = self.items_.rows(part["df"][self.item_col].to_numpy())
        rows = RatingRows(self.users_, self.items_, torch.as_tensor(u_rows, device=device),
                          torch.as_tensor(i_rows, device=device), torch.tensor(y, dtype=torch.float32, device=device))
        return rows if not training else (rows, u_rows, i_rows, y)

    def _build_net(self, data: dict, train, valid, device) -> RecommenderNet:
        y_range = self.rating_range_ if self.y_range == "auto" else self.y_range
        if y_range is not None and not y_range[1] > y_range[0]:
            y_range = None  # one rating value only: no range to squash into; predictions are that value
        mean = float(data["y"].mean())
        offset = mean if y_range is None else mean_logit(mean, y_range)
        return self._make_net(y_range, offset).to(device)

    def _train(self, net: RecommenderNet, train, valid, device) -> list[dict]:
        rows, u_rows, i_rows, y = train
        if self._fused():
            valid_fn = None
            if valid is not None:
                valid_fn = lambda: Trainer().evaluate(net, valid, device)  # noqa: E731
            self.trainer_ = fit_ratings(net, self.users_, self.items_, u_rows, i_rows, y, epochs=self.epochs,
                                        lr=self.lr, schedule=self.schedule, reg=self.reg, bias_reg=self.bias_reg,
                                        seed=self.seed, valid=valid_fn, patience=self.patience,
                                        callbacks=self.callbacks, show_progress=self.show_progress)
            return self.trainer_.history
        run = trainer_settings(self, device, "ratings")  # on a GPU the per-example settings train in batches
        self.trainer_ = Trainer(self.epochs, run["batch_size"], run["lr"] or self.lr, run["optimizer"],
                                self.weight_decay, self.schedule, self.patience, self.seed, self.show_progress,
                                self.callbacks, precision=self.precision)
        return self.trainer_.fit(net, rows, device, valid)

    def _after_fit(self, net: RecommenderNet, train, valid) -> None:
        self.net_ = net
        self._item_cache = None

    def _fused(self) -> bool:
        """Per-rating SGD in the fused kernels: the dot interaction, optimizer "sgd" with batch_size 1, CPU."""
        return (self._interaction == "dot" and self.optimizer == "sgd" and self.batch_size == 1
                and resolve_device(self.device).type == "cpu")

    def _make_net(self, y_range, offset) -> RecommenderNet:
        ug = self.users_.group_specs(self.dim)
        ig = self.items_.group_specs(self.dim)
        return RecommenderNet(ug, ig, self._interaction, y_range=y_range, offset=offset, init_std=self.init_std,
                              reg=self.reg, bias_reg=self.bias_reg,
                              **self._net_kwargs())

    def _rating_rows(self, df, what, dev, user_features=None, item_features=None) -> RatingRows:
        df = self._check_ratings(df, what, need_rating=False)
        users = self.users_.extend(user_features, "user_features").to(dev) if user_features is not None else self.users_
        items = self.items_.extend(item_features, "item_features").to(dev) if item_features is not None else self.items_
        y = None
        if self.rating_col in df.columns:
            y = torch.from_numpy(numeric_values(df, self.rating_col, what).astype(np.float32)).to(dev)
        return RatingRows(users, items, torch.as_tensor(users.rows(df[self.user_col].to_numpy()), device=dev),
                          torch.as_tensor(items.rows(df[self.item_col].to_numpy()), device=dev), y)

    def _clip_scores(self, scores: np.ndarray) -> np.ndarray:
        return np.clip(scores, *self.rating_range_)

    # ---- prediction
    def predict(self, df: pd.DataFrame, user_features: pd.DataFrame | None = None,
                item_features: pd.DataFrame | None = None, batch_size: int = 65536) -> np.ndarray:
        """Predicted ratings, clipped to the training range. Unknown ids get the bias-only prediction;
        side tables given here describe users/items unseen in training (cold start)."""
        self._check_fitted()
        rows = self._rating_rows(df, "data", self._dev, user_features, item_features)
        out = np.empty(len(rows), dtype=np.float32)
        self.net_.eval()
        with torch.no_grad():
            for s in range(0, len(rows), batch_size):
                uin, uinv, iin, iinv, _ = rows.batch(torch.arange(s, min(s + batch_size, len(rows)), device=self._dev))
                u, ub, _ = self.net_.side(self.net_.users, uin)
                i, ib, _ = self.net_.side(self.net_.items, iin)
                raw = self.net_.raw(u[uinv], ub[uinv], i[iinv], ib[iinv])
                out[s:s + len(uinv)] = self.net_.objective.output(raw).cpu().numpy()
        return np.clip(out, *self.rating_range_)

    # ---- persistence hooks (see Recommender._state / _from_state)
    def _extra_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        y_range = self.net_.objective.y_range
        return {"rating_range": list(self.rating_range_), "y_range": list(y_range) if y_range else None}, {}

    def _restore(self, config: dict, tensors: dict) -> None:
        if isinstance(self.y_range, list):
            self.y_range = tuple(self.y_range)
        self.rating_range_ = tuple(config["rating_range"])
        self.net_ = self._make_net(tuple(config["y_range"]) if config["y_range"] else None, 0.0)


def _restore_dtype(col: pd.Series, values: list) -> pd.Series:
    """Give id columns back the type the ids came in with (ints stay ints)."""
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values[:100]):
        return col.astype(np.int64)
    return col


def _take_csr(ptr: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR rows ``rows`` (in that order) as a new CSR."""
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=out_ptr[1:])
    pos = np.repeat(starts - out_ptr[:-1], lens) + np.arange(out_ptr[-1])
    return out_ptr, idx[pos]


def _merge_csr(a_ptr, a_idx, b_ptr, b_idx, use_b: np.ndarray, lens: np.ndarray):
    """Row r from b where use_b[r], else from a (both CSR with the same number of rows)."""
    out_ptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=out_ptr[1:])
    src_a = _take_csr(a_ptr, a_idx, np.flatnonzero(~use_b))[1]
    src_b = _take_csr(b_ptr, b_idx, np.flatnonzero(use_b))[1]
    row_of = np.repeat(np.arange(len(lens)), lens)
    out = np.empty(out_ptr[-1], dtype=np.int64)
    mask = use_b[row_of]
    out[~mask], out[mask] = src_a, src_b
    return out_ptr, out


def _drop_negative(ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = idx >= 0
    rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    new_ptr = np.zeros(len(ptr), dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=len(ptr) - 1), out=new_ptr[1:])
    return new_ptr, idx[keep]
