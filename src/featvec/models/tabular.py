"""TabularModel: fastai's tabular network (notebook 001) -- one embedding per categorical column, the
standardised numeric columns beside them, an MLP on top -- for regression (one or several targets) or
classification, and the learned category vectors as its by-product."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from featvec.encoding import NA_LABEL, FeatureEncoder, py_values, sorted_values
from featvec.io import persistence
from featvec.io.persistence import register
from featvec.models.base import BaseModel
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.objectives import mean_logit
from featvec.nn.tabular import NUMERIC, TabularNet
from featvec.schema import Categorical, Numeric, emb_size_rule
from featvec.training.trainer import LabelledRows, Trainer, auto_batch, auto_lr
from featvec.validation import as_names, check_frame, check_no_missing, numeric_values, plain, require_columns
from featvec.vectors import Vectors, VectorSet

TASKS = ("auto", "regression", "classification")
AUTO_MAX_CLASSES = 20  # task="auto": an integer target with at most this many values is a classification


@register
class TabularModel(BaseModel):
    """fastai's tabular model: a vector per value of each ``categorical`` column and the standardised ``numeric``
    columns, side by side into an MLP, for regression (one or several targets) or classification; the learned
    category vectors are its by-product.

    After ``fit``: ``predict``, ``predict_proba`` (classification), ``score`` (R^2 averaged over the targets, or
    accuracy), ``transform`` (each row's category vectors side by side: the "row vectors") and ``vectors_``.
    Embedding tables that a batch uses only a few rows of get sparse gradients, updated lazily.

    Parameters
    ----------
    categorical : sequence of str, default ()
        Columns embedded with a vector per value. A missing value (NaN/None) is its own category, ``"#na#"``;
        values never seen in training (or fewer than ``min_count`` times) share the 'unknown' row.
    numeric : sequence of str, default ()
        Columns standardised on the training rows and fed to the MLP as they are (not embedded). A missing value
        becomes the column's training median, plus a 0/1 input ``<col>_na`` where the training rows had any.
    target : str or sequence of str, default None
        The target column, or a list of columns (multi-output regression); required.
    task : {"auto", "regression", "classification"}, default "auto"
        "auto": classification for a bool / string / categorical target or an integer target with at most 20
        distinct values, else regression; several targets are regression. Classification: a logit per class.
    layers : sequence of int, default (512, 256)
        Hidden widths of the MLP (Linear-BatchNorm-ReLU-dropout each); at least one.
    dropout : float or sequence of float, default 0.0
        Dropout after each hidden layer: one value, or one per layer.
    emb_dim : int, dict or None, default None
        Vector length per categorical column: None for fastai's rule on its number of values (``min(600,
        round(1.6 * n ** 0.56))``), an int for every column, or a dict column -> int (the rule for the others).
    y_range : (float, float), default None
        Regression only: the output is a sigmoid scaled to (lo, hi), padded by 5% of the range each side, and
        predictions are clipped to it. None: the targets are standardised on the training rows instead.
    epochs : int, default 20
        Passes over the training rows.
    batch_size : int, default None
        Rows per step. None: a sixteenth of the training rows, between 256 and 4,096.
    lr : float, default None
        Learning rate (the schedule's peak). None: 1e-2 up to 512 rows a batch, grown by the square root of the
        batch size beyond (``1e-2 * sqrt(batch_size / 512)``).
    optimizer : {"adamw", "adam", "sparse_adam", "sgd", "adagrad"}, default "adamw"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.01
        Weight decay (decoupled for "adamw", an L2 term in the gradient otherwise).
    schedule : {"onecycle", "cosine", "constant"}, default "onecycle"
        Learning-rate schedule, per step: "onecycle" (warm-up from lr/25 over the first quarter, then cosine down
        to lr/1e4), "cosine" (down to 0) or "constant". "linear" (fused SGD only) raises a ValueError at ``fit``.
    valid_frac : float, default 0.1
        Share of the rows (drawn with ``seed``) held out, not trained on, for early stopping when ``patience`` is
        set, ``fit`` gets no ``valid`` and there are at least 20 rows.
    patience : int, default 3
        Stop once the validation loss has not improved for more than ``patience`` epochs in a row, keeping the best
        epoch's weights; None: no early stopping, and no rows held out.
    min_count : int, default 1
        Values of a categorical column seen fewer times in the training rows share the 'unknown' row.
    seed : int, default 0
        Seed of the validation split, the initial weights, dropout and the order of the batches.
    device : str, default "cpu"
        "cpu", "cuda" (or any torch device), or "auto": a CUDA GPU, else Apple's MPS, else the CPU.
    show_progress : bool or "auto", default "auto"
        A tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.
    precision : {"auto", "float32", "bfloat16"}, default "auto"
        Dtype of the matrix products: "auto" is bfloat16 where the CPU (AVX512-BF16 / AMX) or CUDA GPU has it natively
        and a batch's largest layer is big enough to gain; parameters, optimiser state and losses stay float32.

    Attributes
    ----------
    task_ : str
        "regression" or "classification", as resolved from ``task`` and the target.
    classes_ : list or None
        The classes (sorted), the columns of ``predict_proba``; None for regression.
    targets_, categorical_, numeric_ : list of str
        The target, categorical and numeric columns.
    target_scale_ : dict or None
        Target -> (mean, std) of its training values (regression without ``y_range``), else None.
    medians_ : dict
        Numeric column -> its training median, which replaces missing values.
    na_columns_ : list of str
        The numeric columns with missing values in the training rows (each has a ``<col>_na`` input).
    embedding_sizes_ : dict
        Categorical column -> its vector length.
    encoder_ : FeatureEncoder
        Vocabularies and scalings, from the training rows only (a value only in held-out rows is 'unknown').
    net_ : TabularNet
        The trained network.
    history_ : list of dict
        One dict per epoch: epoch, train_loss, valid_loss (with validation rows), lr, seconds. Losses: mean squared
        error of the standardised targets (regression without ``y_range``), of the targets (with it), or cross-entropy.
    vectors_ : VectorSet
        One labelled table per categorical column.
    """

    def __init__(self, categorical: Sequence[str] = (), numeric: Sequence[str] = (),
                 target: str | Sequence[str] | None = None, task: str = "auto", layers: Sequence[int] = (512, 256),
                 dropout: float | Sequence[float] = 0.0, emb_dim: int | Mapping[str, int] | None = None,
                 y_range: tuple[float, float] | None = None, epochs: int = 20, batch_size: int | None = None,
                 lr: float | None = None, optimizer: str = "adamw", weight_decay: float = 1e-2,
                 schedule: str = "onecycle", valid_frac: float = 0.1, patience: int | None = 3, min_count: int = 1,
                 seed: int = 0, device: str = "cpu", show_progress="auto", precision: str = "auto"):
        self._init_params(locals())

    @property
    def _estimator_type(self) -> str | None:
        return {"classification": "classifier", "regression": "regressor"}.get(self.task)

    # ------------------------------------------------------------------ set-up

    _nullable = ("batch_size", "lr")  # None: worked out from the data (auto_batch, auto_lr)

    def _check_params(self) -> tuple[list[str], list[str], list[str]]:
        self._validate_params()
        cats, nums, targets = as_names(self.categorical), as_names(self.numeric), as_names(self.target)
        named = [c for c in cats + nums + targets if not isinstance(c, str)]
        if named:
            raise ValueError(f"column names must be strings, got {named[:5]}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not targets:
            raise ValueError("TabularModel needs a target column: TabularModel(target='y', ...)")
        if not cats and not nums:
            raise ValueError("TabularModel needs at least one feature column (categorical=[...] or numeric=[...])")
        for what, cols in (("categorical", cats), ("numeric", nums), ("target", targets)):
            dup = sorted({c for c in cols if cols.count(c) > 1})
            if dup:
                raise ValueError(f"{what} lists column(s) {dup} more than once")
        both = [c for c in cats if c in nums]
        if both:
            raise ValueError(f"column(s) {both} are listed as both categorical and numeric; pick one")
        feat = [c for c in targets if c in cats or c in nums]
        if feat:
            raise ValueError(f"target column(s) {feat} are also listed as features")
        if NUMERIC in cats:
            raise ValueError(f"a categorical column cannot be named {NUMERIC!r} (reserved)")
        if len(targets) > 1 and self.task == "classification":
            raise ValueError(f"classification takes one target column, got {targets}; several targets are "
                             "supported for regression only")
        if self.y_range is not None:
            if len(self.y_range) != 2 or not float(self.y_range[1]) > float(self.y_range[0]):
                raise ValueError(f"y_range must be (low, high) with low < high, got {self.y_range!r}")
            if self.task == "classification":
                raise ValueError("y_range is for regression; it cannot be used with task='classification'")
        if isinstance(self.emb_dim, Mapping):
            unknown = [c for c in self.emb_dim if c not in cats]
            if unknown:
                raise ValueError(f"emb_dim names column(s) {unknown} that are not categorical; those are {cats}")
            dims = list(self.emb_dim.values())
        else:
            dims = [] if self.emb_dim is None else [self.emb_dim]
        if any(int(d) < 1 for d in dims):
            raise ValueError(f"emb_dim must be >= 1, got {self.emb_dim!r}")
        if not self.layers or any(int(w) < 1 for w in self.layers):
            raise ValueError(f"layers needs at least one hidden layer width >= 1, got {self.layers!r}")
        return cats, nums, targets

    def _resolve_task(self, df: pd.DataFrame, targets: list[str]) -> str:
        if len(targets) > 1:
            return "regression"
        if self.task != "auto":
            return self.task
        s = df[targets[0]]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            return "classification"
        if pd.api.types.is_integer_dtype(s) and s.nunique() <= AUTO_MAX_CLASSES:
            return "classification"
        return "regression"

    def _dim(self, column: str, n_in: int) -> int:
        if isinstance(self.emb_dim, Mapping):
            return int(self.emb_dim[column]) if column in self.emb_dim else emb_size_rule(n_in)
        return emb_size_rule(n_in) if self.emb_dim is None else int(self.emb_dim)

    def _features(self) -> list:
        feats = [Categorical(c, min_count=int(self.min_count)) for c in self.categorical_]
        num_cols = self.numeric_ + [f"{c}_na" for c in self.na_columns_]
        if num_cols:
            feats.append(Numeric(num_cols, name=NUMERIC))
        return feats

    # ------------------------------------------------------------------ inputs

    def _numeric_values(self, df: pd.DataFrame, what: str) -> dict[str, np.ndarray]:
        """The numeric columns as float64 (NaN where missing), or an error naming a non-number or infinity."""
        out = {}
        for c in self.numeric_:
            x = numeric_values(df, c, what, allow_nan=True)
            inf = np.isinf(x)
            if inf.any():
                pos = int(np.flatnonzero(inf)[0])
                raise ValueError(f"{what}: column {c!r} has an infinite value at row {pos} "
                                 f"(index {plain(df.index[pos])!r}): {plain(x[pos])!r}")
            out[c] = x
        return out

    def _frame(self, df: pd.DataFrame, what: str) -> pd.DataFrame:
        """The model's view of ``df``: categorical NaN -> "#na#", numeric NaN -> train median (+ indicators)."""
        require_columns(df, self.categorical_ + self.numeric_, what)
        cols = {}
        for c in self.categorical_:
            values = df[c].to_numpy(dtype=object)
            missing = df[c].isna().to_numpy()
            if missing.any():
                values = values.copy()
                values[missing] = NA_LABEL
            cols[c] = values
        for c, x in self._numeric_values(df, what).items():
            nan = np.isnan(x)
            cols[c] = np.where(nan, self.medians_[c], x)
            if c in self.na_columns_:
                cols[f"{c}_na"] = nan.astype(np.float64)
        return pd.DataFrame(cols, index=df.index)

    def _encode(self, df: pd.DataFrame, what: str) -> dict:
        return self.encoder_.transform(self._frame(df, what), what)

    def _target(self, df: pd.DataFrame, what: str) -> np.ndarray:
        """Regression: float targets [n, k]; classification: class positions [n]."""
        missing = [t for t in self.targets_ if t not in df.columns]
        if missing:
            raise ValueError(f"{what} has no target column(s) {missing}; it has {list(df.columns)[:20]}")
        if self.task_ == "regression":
            return np.stack([numeric_values(df, t, what) for t in self.targets_], axis=1)
        t = self.targets_[0]
        check_no_missing(df, t, what)
        codes = pd.Index(self.classes_).get_indexer(df[t].to_numpy(dtype=object))
        if (codes < 0).any():
            bad = pd.unique(df[t].to_numpy(dtype=object)[codes < 0])[:5]
            raise ValueError(f"{what}: target {t!r} has value(s) {py_values(bad)} that are not among the classes "
                             f"seen in training {self.classes_[:20]}")
        return codes

    # ------------------------------------------------------------------ fit

    def fit(self, df: pd.DataFrame, valid: pd.DataFrame | None = None) -> "TabularModel":
        """Learn from the rows of ``df``. ``valid``: rows for the validation loss (default: ``valid_frac`` of
        ``df`` when ``patience`` is set and there are at least 20 rows)."""
        return self._fit(df, valid)

    def _prepare(self, df: pd.DataFrame, spec, what: str) -> dict:
        cats, nums, targets = spec
        df = check_frame(df, what)
        missing = [t for t in targets if t not in df.columns]
        if missing:
            raise ValueError(f"{what} has no target column(s) {missing}; it has {list(df.columns)[:20]}")
        require_columns(df, cats + nums, what)
        self.categorical_, self.numeric_, self.targets_ = cats, nums, targets
        self.task_ = self._resolve_task(df, targets)
        self.classes_ = self._fit_classes(df, targets)
        return self._part(df, what)

    def _part(self, df: pd.DataFrame, what: str) -> dict:
        """The rows with their targets and numeric values (errors name rows of ``what``, before any split)."""
        return {"df": df, "y": self._target(df, what), "x": self._numeric_values(df, what), "what": what}

    def _prepare_valid(self, valid: pd.DataFrame) -> dict:
        return self._part(check_frame(valid, "valid"), "valid")

    def _n_rows(self, part: dict) -> int:
        return len(part["df"])

    def _take(self, part: dict, pos: np.ndarray) -> dict:
        return {"df": part["df"].iloc[pos], "y": part["y"][pos], "x": {c: x[pos] for c, x in part["x"].items()},
                "what": part["what"]}

    def _rows(self, part: dict, device, training: bool) -> LabelledRows:
        return LabelledRows(self._encode(part["df"], part["what"]), self._y_tensor(part["y"]), device)

    def _build_net(self, data: dict, train: LabelledRows, valid, device) -> TabularNet:
        net = self._make_net()
        self._init_head(net, data["y"])
        if net.embedding is not None:
            batch = auto_batch(self.batch_size, len(train))
            net.embedding.set_sparse(FeatureEmbedding.sparse_groups(net.embedding.groups, train.inputs, batch))
        return net.to(device)

    def _train(self, net: TabularNet, train: LabelledRows, valid, device) -> list[dict]:
        batch = auto_batch(self.batch_size, len(train))
        trainer = Trainer(self.epochs, batch, auto_lr(self.lr, batch, 1e-2, 512), self.optimizer,
                          self.weight_decay, self.schedule, self.patience if valid is not None else None,
                          self.seed, self.show_progress, precision=self.precision)
        return trainer.fit(net, train, device, valid)

    def _fit_classes(self, df: pd.DataFrame, targets: list[str]) -> list | None:
        """The classes of a classification target (at least two, no missing values); None for regression."""
        if self.task_ == "classification":
            if self.y_range is not None:
                raise ValueError(f"y_range is for regression, but target {targets[0]!r} is a classification "
                                 "target (pass task='regression' to regress on it)")
            check_no_missing(df, targets[0], "data")
            classes = sorted_values(pd.unique(df[targets[0]].to_numpy(dtype=object)))
            if len(classes) < 2:
                raise ValueError(f"classification needs at least two classes; target {targets[0]!r} only holds "
                                 f"{classes[0]!r}")
            return classes
        return None

    def _fit_encoders(self, part: dict) -> None:
        """From the training rows: numeric fill values and missing indicators, the target scaling, the
        encoder and the embedding sizes."""
        cats, nums, targets, y = self.categorical_, self.numeric_, self.targets_, part["y"]
        self.medians_, self.na_columns_ = {}, []
        for c in nums:
            x = part["x"][c]
            med = np.nanmedian(x) if np.isfinite(x).any() else 0.0
            self.medians_[c] = float(med) if np.isfinite(med) else 0.0
            if np.isnan(x).any():
                self.na_columns_.append(c)
        clash = [f"{c}_na" for c in self.na_columns_ if f"{c}_na" in cats + nums]
        if clash:
            raise ValueError(f"column(s) {clash} clash with the missing-value indicator(s) of "
                             f"{[c[:-3] for c in clash]}; rename them")
        self.target_scale_ = None
        if self.task_ == "regression" and self.y_range is None:
            mean, std = y.mean(0), y.std(0)
            std = np.where(std > 1e-12, std, 1.0)
            self.target_scale_ = {t: (float(m), float(s)) for t, m, s in zip(targets, mean, std)}
        self.encoder_ = FeatureEncoder(self._features()).fit(self._frame(part["df"], "data"), "data")
        self.specs_ = [GroupSpec(c, "categorical", self.encoder_.input_size(c),
                                 self._dim(c, self.encoder_.input_size(c)), bias=False) for c in cats]
        self.embedding_sizes_ = {s.name: s.dim for s in self.specs_}
        self.n_numeric_ = self.encoder_.input_size(NUMERIC) if NUMERIC in self.encoder_.names else 0

    def _n_out(self) -> int:
        return len(self.classes_) if self.task_ == "classification" else len(self.targets_)

    def _make_net(self) -> TabularNet:
        y_range = tuple(float(v) for v in self.y_range) if self.y_range is not None else None
        return TabularNet(self.specs_, self.n_numeric_, [int(w) for w in self.layers], self._n_out(),
                          self.dropout, self.task_, y_range if self.task_ == "regression" else None)

    def _y_tensor(self, y: np.ndarray) -> torch.Tensor:
        if self.task_ == "classification":
            return torch.as_tensor(y, dtype=torch.long)
        if self.target_scale_ is not None:
            mean = np.array([m for m, _ in self.target_scale_.values()])
            std = np.array([s for _, s in self.target_scale_.values()])
            y = (y - mean) / std
        return torch.as_tensor(y, dtype=torch.float32)

    def _init_head(self, net: TabularNet, y: np.ndarray) -> None:
        """Start from the baseline: the log class frequencies, or the mean target inside y_range."""
        with torch.no_grad():
            if self.task_ == "classification":
                freq = np.bincount(y, minlength=len(self.classes_)) / len(y)
                net.head.bias.copy_(torch.as_tensor(np.log(np.maximum(freq, 1e-4)), dtype=torch.float32))
            elif self.y_range is not None:
                lo_hi = tuple(float(v) for v in self.y_range)
                net.head.bias.copy_(torch.tensor([mean_logit(float(m), lo_hi) for m in y.mean(0)]))

    # ------------------------------------------------------------------ prediction

    @property
    def _dev(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _outputs(self, df: pd.DataFrame, batch_size: int = 65536) -> np.ndarray:
        self._check_fitted()
        df = check_frame(df, "data")
        inputs = self._encode(df, "data")
        self.net_.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(df), batch_size):
                batch = {k: v[s:s + batch_size].to(self._dev) for k, v in inputs.items()}
                out.append(self.net_(batch).cpu())
        return torch.cat(out).double().numpy()

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Regression: predictions in the targets' units, shape [n] (one target) or [n, k]; classification:
        the most likely class of each row, as the labels came in (ints stay ints, strings strings)."""
        out = self._outputs(df)
        if self.task_ == "classification":
            return pd.Series(self.classes_, dtype=object).infer_objects().to_numpy()[out.argmax(1)]
        if self.target_scale_ is not None:
            out = out * np.array([s for _, s in self.target_scale_.values()]) + \
                np.array([m for m, _ in self.target_scale_.values()])
        y_range = self.net_.objective.y_range
        if y_range is not None:
            out = np.clip(out, *y_range)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities (classification only): one column per class (``classes_``), rows as ``df``."""
        self._check_fitted()
        if self.task_ != "classification":
            raise ValueError("predict_proba is for classification; this model is a regression (use predict)")
        logits = torch.as_tensor(self._outputs(df))
        proba = torch.softmax(logits, dim=1).numpy()
        return pd.DataFrame(proba, index=df.index, columns=pd.Index(self.classes_, dtype=object))

    def score(self, df: pd.DataFrame) -> float:
        """R^2 (averaged over the targets) for regression, accuracy for classification."""
        self._check_fitted()
        df = check_frame(df, "data")
        y = self._target(df, "data")
        pred = self.predict(df)
        if self.task_ == "classification":
            return float(np.mean(np.asarray(self.classes_, dtype=object)[y] == np.asarray(pred, dtype=object)))
        pred = pred.reshape(len(df), -1)
        ss_res = ((y - pred) ** 2).sum(0)
        ss_tot = ((y - y.mean(0)) ** 2).sum(0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0))
        return float(r2.mean())

    # ------------------------------------------------------------------ vectors

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Each row's category vectors side by side: columns ``<col>_<i>`` in the order of ``categorical``
        (a value unseen in training gets the 'unknown' row: zeros unless rare values were folded into it)."""
        self._check_fitted()
        df = check_frame(df, "data")
        if not self.categorical_:
            return pd.DataFrame(index=df.index)
        inputs = self._encode(df, "data")
        parts, columns = [], []
        for c in self.categorical_:
            parts.append(self.net_.embedding.table(c).detach().cpu()[inputs[c]].numpy())
            columns += [f"{c}_{i}" for i in range(self.embedding_sizes_[c])]
        return pd.DataFrame(np.concatenate(parts, axis=1), index=df.index, columns=columns)

    @property
    def vectors_(self) -> VectorSet:
        """One table per categorical column: its values (``"#na#"`` for missing) and their vectors."""
        self._check_fitted()
        if self._vectors is None:
            tables = {}
            for c in self.categorical_:
                matrix = self.net_.embedding.table(c).detach().cpu().numpy()[1:]
                tables[c] = Vectors(self.encoder_.vocabs[c].values, matrix, name=c)
            self._vectors = VectorSet(tables)
        return self._vectors

    # ------------------------------------------------------------------ persistence

    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        config = {"params": persistence.params_to_json(self.get_params()), "task": self.task_,
                  "categorical": self.categorical_, "numeric": self.numeric_, "targets": self.targets_,
                  "classes": None if self.classes_ is None else py_values(self.classes_),
                  "medians": self.medians_, "na_columns": self.na_columns_, "target_scale": self.target_scale_,
                  "encoder": self.encoder_.state(), "specs": [vars(s) for s in self.specs_],
                  "n_numeric": self.n_numeric_, "net": self.net_.config, "history": self.history_}
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        return config, tensors

    @classmethod
    def _from_state(cls, config: dict, tensors: dict) -> "TabularModel":
        params = persistence.params_from_json(config["params"])
        for k in config.get("tuple_params", []):  # files written before the shared codec
            params[k] = tuple(params[k])
        model = cls(**params)
        model.task_, model.targets_, model.classes_ = config["task"], config["targets"], config["classes"]
        model.categorical_, model.numeric_ = config["categorical"], config["numeric"]
        model.medians_, model.na_columns_ = config["medians"], config["na_columns"]
        ts = config["target_scale"]
        model.target_scale_ = None if ts is None else {t: tuple(v) for t, v in ts.items()}
        model.encoder_ = FeatureEncoder.from_state(model._features(), config["encoder"])
        model.specs_ = [GroupSpec(**s) for s in config["specs"]]
        model.embedding_sizes_ = {s.name: s.dim for s in model.specs_}
        model.n_numeric_ = config["n_numeric"]
        model.history_ = config.get("history", [])
        net_config = dict(config["net"])
        net_config["y_range"] = None if net_config["y_range"] is None else tuple(net_config["y_range"])
        model.net_ = TabularNet(model.specs_, **net_config)
        model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        model.net_.eval()
        model._vectors = None
        return model
