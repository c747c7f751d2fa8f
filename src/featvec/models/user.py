"""UserModel: notebook 000's deep user model -- several sequences (bags) of categorical events per user, each
pooled into one embedding (the notebook's fraction vector times a matrix, done sparse), optional attributes
beside them, an MLP whose last hidden layer is the user vector, and one softmax head per categorical target
(gender, age bucket, occupation...), all trained together. A missing label masks only its own task's loss."""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from featvec.encoding import NA_LABEL, FeatureEncoder, bag_lists, check_weights, sorted_values, take, weight_lists
from featvec.io import persistence
from featvec.io.persistence import register
from featvec.models.base import BaseModel
from featvec.models.params import RULES
from featvec.nn.embedding import FeatureEmbedding, GroupSpec
from featvec.nn.user import UserNet
from featvec.schema import Bag, Categorical, Numeric, emb_size_rule, feature_from_dict, feature_name, feature_to_dict
from featvec.solvers.svd import svd_table
from featvec.training.trainer import LabelledRows, Trainer
from featvec.validation import as_names, check_frame, check_values, numeric_values, plain, require_columns
from featvec.vectors import Vectors, VectorSet

MISSING = -1  # the class position of a missing label: its row adds nothing to that task's loss
AUTO = "auto"
# The two recipes; a parameter left at "auto" takes the value of the recipe the data calls for.
RECIPES = {
    "deep": dict(layers=(256, 128), dropout=0.2, epochs=30, batch_size=256, lr=3e-3, patience=3, calibrate=True,
                 wide=False, wide_l2=1.0, bag_init="random", freeze_bags=False, batchnorm=True),
    "small_data": dict(layers=(64,), dropout=0.5, epochs=40, batch_size=64, lr=3e-3, patience=None,
                       calibrate=False, wide=True, wide_l2=2.0, bag_init="svd", freeze_bags=True, batchnorm=False),
}
SMALL_DATA_ROWS = 10_000  # recipe="auto": fewer training users than this get the small-data recipe
SMALL_DATA_DIM = 32  # under the small-data recipe a bag given by name is TF-IDF pooled, 32 wide unless dim is given
LOG_T_RANGE = (math.log(0.05), math.log(20.0))  # temperatures are searched in [0.05, 20]


def _features_list(x) -> list:
    """``bags`` / ``attributes`` as a list: one column name or feature object, or a sequence of them."""
    if x is None:
        return []
    return [x] if isinstance(x, (str, Bag, Categorical, Numeric)) else list(x)


def _labels(df: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """A target column's values (object) and where they are present."""
    present = df[target].notna().to_numpy()
    return df[target].to_numpy(dtype=object), present


def _codes(values: np.ndarray, present: np.ndarray, classes: list) -> np.ndarray:
    """Class positions of the present labels; MISSING where absent or not among ``classes``."""
    codes = np.full(len(values), MISSING, dtype=np.int64)
    if present.any():
        codes[present] = pd.Index(classes, dtype=object).get_indexer(pd.Index(values[present], dtype=object))
    return codes


def scale(logits: np.ndarray, temperature: float, center=None) -> np.ndarray:
    """Temperature scaling around ``center`` (a task's baseline log-probabilities; None: 0, the plain
    ``logits / T``): ``center + (logits - center) / T``. As T grows the probabilities go to softmax(center)."""
    if center is None:
        return logits / temperature
    center = np.asarray(center, dtype=np.float64)
    return center + (logits - center) / temperature


def _nll(logits: np.ndarray, y: np.ndarray, log_t: float, center=None) -> float:
    """Mean negative log-likelihood of the labels ``y`` under the softmax of the scaled logits."""
    z = scale(logits, math.exp(log_t), center)
    z = z - z.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray, center=None, iters: int = 60) -> float:
    """The temperature T in [0.05, 20] minimising the NLL of softmax(scale(logits, T, center)): golden-section
    search over log T (the logits are linear in 1/T, so the NLL is convex in 1/T, hence unimodal in log T).
    T = 1 when no temperature does better than 1."""
    lo, hi = LOG_T_RANGE
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(logits, y, a, center), _nll(logits, y, b, center)
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(logits, y, a, center)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(logits, y, b, center)
    best = a if fa <= fb else b
    return float(math.exp(best)) if min(fa, fb) < _nll(logits, y, 0.0, center) else 1.0


@register
class UserModel(BaseModel):
    """Notebook 000's deep user model: demographics (or any categorical attributes) inferred from several
    sequences of categorical events per user, all tasks trained together on one shared user vector.

    Each bag (a list of values per user) is pooled into one embedding, optional attributes sit beside them, an
    MLP's last hidden layer is the user vector and one softmax head per target reads it. Parameters left at
    "auto" take the value of the chosen ``recipe`` (``RECIPES`` in ``featvec.models.user``): "deep", or
    "small_data" for hundreds to a few thousand users, where a linear model on TF-IDF is hard to beat.

    After ``fit``: ``predict_proba`` (dict target -> DataFrame of probabilities, one column per class),
    ``predict`` (DataFrame, the most likely label per target), ``score`` (dict target -> accuracy over the rows
    holding a label; a label unseen in training counts as wrong), ``transform`` (the user vectors, columns
    ``u0``..) and ``vectors_``.

    Parameters
    ----------
    bags : sequence of str or Bag, default ()
        Columns holding a list of values per row. A name is ``Bag(col, min_count=min_count)``, mean-pooled; a
        ``Bag`` brings its own ``weights`` column, ``pooling`` ("sum", "sqrt", "tfidf"), ``min_count``,
        ``max_size`` or ``dim``. An empty bag (empty list, NaN or None) gives a zero vector.
    attributes : sequence of str, Categorical or Numeric, default ()
        Optional inputs beside the bags: a name (or ``Categorical``) is embedded, a missing value being its own
        category ``"#na#"``; a ``Numeric`` is standardised on the training rows and fed to the MLP as it is
        (``impute="mean"`` to allow NaN; its ``dim`` is not used).
    targets : sequence of str, default ()
        Categorical target columns, one softmax head each; required. A missing label (NaN/None) masks only that
        task's loss for that row; the training loss is the sum of the tasks' mean cross-entropies.
    dim : int, dict or None, default None
        Vector length per bag / categorical attribute: None for fastai's rule on its vocabulary size (32 for bags
        given by name under "small_data"), an int for all, or a dict name -> int (the rule for the others). A
        ``Bag`` / ``Categorical`` with its own ``dim`` keeps it unless the dict names it.
    recipe : {"auto", "deep", "small_data"}, default "auto"
        Where the "auto" parameters come from; "auto": "small_data" when ``fit`` gets fewer than 10,000 rows, else
        "deep". Under "small_data" bags given by name are TF-IDF pooled (``Bag(col, pooling="tfidf")``).
    layers : sequence of int or "auto", default "auto"
        Hidden widths of the MLP; the last one's output is the user vector. "auto": (256, 128) deep, (64,)
        small_data.
    dropout : float, sequence of float or "auto", default "auto"
        Dropout after each hidden layer: one value, or one per layer. "auto": 0.2 deep, 0.5 small_data.
    class_weight : "balanced", dict or None, default None
        "balanced": class c of a task weighs n / (k * count_c), counted over the labelled rows given to ``fit``; a
        dict target -> "balanced" or {class: weight} (unlisted classes weigh 1). Multiplies each row's cross-entropy.
    calibrate : bool or "auto", default "auto"
        Fit one softmax temperature per task on the validation rows after training, for ``predict_proba`` (see
        Notes). "auto": True deep, False small_data.
    min_count : int, default 1
        For bags and categorical attributes given by name: values seen fewer times share the 'unknown' row.
    epochs : int or "auto", default "auto"
        Passes over the training rows. "auto": 30 deep, 40 small_data.
    batch_size : int or "auto", default "auto"
        Rows per step. "auto": 256 deep, 64 small_data.
    lr : float or "auto", default "auto"
        Learning rate (the schedule's peak). "auto": 3e-3 under both recipes.
    optimizer : {"adamw", "adam", "sparse_adam", "sgd", "adagrad"}, default "adamw"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.01
        Weight decay (decoupled for "adamw", an L2 term in the gradient otherwise).
    schedule : {"onecycle", "cosine", "constant"}, default "onecycle"
        Learning-rate schedule, per step: "onecycle" (warm-up from lr/25 over the first quarter, then cosine down
        to lr/1e4), "cosine" (down to 0) or "constant". "linear" (fused SGD only) raises a ValueError at ``fit``.
    valid_frac : float, default 0.1
        Share of the rows (drawn with ``seed``) held out, not trained on, when ``patience`` is set or ``calibrate``
        is on, ``fit`` gets no ``valid`` and there are at least 20 rows.
    patience : int, None or "auto", default "auto"
        Stop once the validation loss has not improved for more than ``patience`` epochs in a row, keeping the best
        epoch's weights; None: no early stopping. "auto": 3 deep, None small_data.
    seed : int, default 0
        Seed of the validation split, the initial weights (and SVD), dropout and the order of the batches.
    device : str, default "cpu"
        "cpu", "cuda" (or any torch device), or "auto": a CUDA GPU, else Apple's MPS, else the CPU.
    show_progress : bool or "auto", default "auto"
        A tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.
    id_col : str, default None
        A column of unique user ids, not a feature; ``predict_proba``, ``predict`` and ``transform`` are then
        indexed by the ids instead of the frame's index.
    wide : bool, sequence of str or "auto", default "auto"
        True (every input) or a list of input names: a linear map from those inputs, pooled as each input is,
        straight to every task's logits beside the MLP (wide & deep); weights start at zero. "auto": False deep,
        True small_data.
    wide_l2 : float or "auto", default "auto"
        The wide weights' L2 penalty ``wide_l2 / (2 n) * |W|^2`` (n training rows): per task scikit-learn's
        ``LogisticRegression(C=1 / wide_l2)``. "auto": 1.0 deep, 2.0 small_data.
    bag_init : {"auto", "random", "svd"}, default "auto"
        How bag tables start: "random" (normal, std 0.01) or "svd" (the truncated SVD of the training rows' pooled
        bags, see Notes). "auto": "random" deep, "svd" small_data.
    freeze_bags : bool or "auto", default "auto"
        Keep the bag tables at their initial values (whichever ``bag_init``), leaving the MLP and heads to learn.
        "auto": False deep, True small_data.
    batchnorm : bool or "auto", default "auto"
        Batch norm in the MLP's hidden layers (it hurts on small data). "auto": True deep, False small_data.
    precision : {"auto", "float32", "bfloat16"}, default "auto"
        Dtype of the matrix products: "auto" is bfloat16 where the CPU (AVX512-BF16 / AMX) or CUDA GPU has it natively
        and a batch's largest layer is big enough to gain; parameters, optimiser state and losses stay float32.

    Attributes
    ----------
    recipe_ : str
        The recipe this fit used, "deep" or "small_data" (not kept by ``save``).
    classes_ : dict
        Target -> its labels present in the rows given to ``fit``, sorted; integral float labels (ints that pandas
        stored as floats because of NaN) become ints.
    class_weights_ : dict
        Target -> one weight per class (all 1 without ``class_weight``).
    baselines_ : dict
        Target -> the log of its (class-weighted) training label frequencies; the heads start from it.
    temperatures_ : dict
        Target -> its softmax temperature (1.0 without calibration or validation rows).
    embedding_sizes_ : dict
        Bag / categorical attribute -> its vector length.
    targets_ : list of str
        The target columns.
    features_ : list of Bag, Categorical or Numeric
        The inputs, bags first, as the model encodes them.
    bag_names_, attribute_names_ : list of str
        The names of the bag inputs and of the attribute inputs.
    encoder_ : FeatureEncoder
        Vocabularies and scalings, from the training rows only.
    net_ : UserNet
        The trained network.
    history_ : list of dict
        One dict per epoch: epoch, train_loss, valid_loss (with validation rows), lr, seconds. Losses are sums over
        tasks of the masked mean cross-entropies; the wide part's penalty acts through the optimiser, not in them.
    vectors_ : VectorSet
        One labelled table per bag and per categorical attribute (the 'unknown' row left out).

    Notes
    -----
    Validation and calibration: ``valid`` (or ``valid_frac`` of the rows) is scored every epoch for early stopping
    (when ``patience`` is set). With ``calibrate`` one temperature T per task is then fitted on those rows (NLL of
    the unweighted softmax, golden-section search over log T in [0.05, 20]) and used by ``predict_proba``:
    ``softmax(b + (z - b) / T)``, with ``z`` the logits and ``b`` the task's baseline (``baselines_``). Scaling
    around the baseline rather than around 0 means that a large T -- the model knows less than it claims --
    shrinks towards the class frequencies instead of the uniform distribution. Temperature does not change the
    argmax, so ``predict`` and ``score`` are the same either way. A label in ``valid`` that is not among the
    classes of ``fit``'s data cannot be scored; those rows are left out of that task with a warning.

    Small data: with ``Bag(col, pooling="tfidf")`` and ``wide`` the wide part is logistic regression on TF-IDF,
    learned jointly with the deep part. ``bag_init="svd"`` is latent semantic analysis: a value's row is
    V_k / sqrt(s_k), so a user's pooled bag is U_k sqrt(s_k), which places values that occur in similar bags close
    together even when their labels are few. ``UserModel.small_data(bags, targets)`` builds that recipe explicitly.
    Values never seen in training pool as the 'unknown' row, zero unless rare values were folded into it by
    ``min_count``.
    """

    def __init__(self, bags: Sequence[str | Bag] = (), attributes: Sequence[str | Categorical | Numeric] = (),
                 targets: Sequence[str] = (), dim: int | Mapping[str, int] | None = None, recipe: str = AUTO,
                 layers: Sequence[int] | str = AUTO, dropout: float | Sequence[float] | str = AUTO,
                 class_weight: str | Mapping | None = None, calibrate: bool | str = AUTO, min_count: int = 1,
                 epochs: int | str = AUTO, batch_size: int | str = AUTO, lr: float | str = AUTO,
                 optimizer: str = "adamw", weight_decay: float = 1e-2, schedule: str = "onecycle",
                 valid_frac: float = 0.1, patience: int | None | str = AUTO, seed: int = 0, device: str = "cpu",
                 show_progress="auto", id_col: str | None = None, wide: bool | Sequence[str] | str = AUTO,
                 wide_l2: float | str = AUTO, bag_init: str = AUTO, freeze_bags: bool | str = AUTO,
                 batchnorm: bool | str = AUTO, precision: str = "auto"):
        self._init_params(locals())

    @classmethod
    def small_data(cls, bags: Sequence[str | Bag], targets: Sequence[str], dim: int = 32, **params) -> "UserModel":
        """The recipe for hundreds to a few thousand labelled users (protocol U: 750 MovieLens users), where a
        deep model alone loses to logistic regression on TF-IDF: bags given by name become
        ``Bag(name, pooling="tfidf", dim=dim)`` (``Bag`` objects are kept as they are); a wide part over every
        input with ``wide_l2=2`` (per task, LogisticRegression(C=0.5)); bag tables from the SVD of the TF-IDF
        bags, frozen; one hidden layer of 64 without batch norm, dropout 0.5; 40 epochs of 64 rows at lr 3e-3,
        no early stopping. ``params`` override any of those (or set others, e.g. ``attributes``)."""
        bags = [Bag(b, pooling="tfidf", dim=int(dim)) if isinstance(b, str) else b for b in _features_list(bags)]
        return cls(bags=bags, targets=targets, **{"recipe": "small_data", **params})

    # ------------------------------------------------------------------ set-up

    _rules = {k: ((lambda v, ok=rule[0]: v == AUTO or ok(v)), rule[1] + " (or 'auto')") for k, rule in RULES.items()
              if k != "dim"}  # dim: None, an int or a dict (_check_dims)

    def _uses_valid(self) -> bool:
        return self._p("patience") is not None or bool(self._p("calibrate"))

    def _p(self, name: str):
        """A recipe parameter's value for this fit: as given, or the chosen recipe's when left at "auto"."""
        value = getattr(self, name)
        return RECIPES[self.recipe_][name] if isinstance(value, str) and value == AUTO else value

    def _choose_recipe(self, n: int) -> str:
        if self.recipe == AUTO:
            return "small_data" if n < SMALL_DATA_ROWS else "deep"
        return self.recipe

    def _check_params(self) -> tuple[list, list, list[str]]:
        """The bag features, the attribute features and the target names, after checking the arguments."""
        self._validate_params()
        bags, attrs = self._input_features()
        targets = as_names(self.targets)
        if not bags and not attrs:
            raise ValueError("UserModel needs at least one input: bags=['items', ...] or attributes=[...]")
        if not targets:
            raise ValueError("UserModel needs at least one target column: UserModel(targets=['gender'], ...)")
        bad = [t for t in targets if not isinstance(t, str)]
        if bad:
            raise ValueError(f"target column names must be strings, got {bad[:5]}")
        dup = sorted({t for t in targets if targets.count(t) > 1})
        if dup:
            raise ValueError(f"targets lists column(s) {dup} more than once")
        names = [feature_name(f) for f in bags + attrs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two inputs are named {dup}; give Bag/Numeric objects a different name=")
        inputs = [c for f in bags + attrs for c in f.columns]
        clash = [t for t in targets if t in inputs]
        if clash:
            raise ValueError(f"target column(s) {clash} are also inputs (bags or attributes)")
        if self.id_col is not None and (self.id_col in inputs or self.id_col in targets):
            raise ValueError(f"id_col {self.id_col!r} is also an input or a target; it only names the users")
        self._check_dims(bags + attrs)
        if self.recipe != AUTO and self.recipe not in RECIPES:
            raise ValueError(f"recipe must be 'auto', 'deep' or 'small_data', got {self.recipe!r}")
        if not isinstance(self.wide, bool) and not (isinstance(self.wide, str) and self.wide == AUTO):
            wide = as_names(self.wide)
            unknown = [w for w in wide if w not in names]
            if unknown:
                raise ValueError(f"wide names input(s) {unknown} that are not bags or attributes; those are {names}")
        self._check_recipe_params()
        self._check_class_weight(targets)
        return bags, attrs, targets

    def _check_recipe_params(self) -> None:
        """The recipe parameters given (not "auto")."""
        wl2 = self.wide_l2
        if wl2 != AUTO and (isinstance(wl2, (bool, str)) or not isinstance(wl2, (int, float))
                            or not (math.isfinite(float(wl2)) and float(wl2) >= 0)):
            raise ValueError(f"wide_l2 must be a finite number >= 0 (or 'auto'), got {wl2!r}")
        if self.bag_init not in ("random", "svd", AUTO):
            raise ValueError(f"bag_init must be 'random', 'svd' or 'auto', got {self.bag_init!r}")
        if self.layers != AUTO and (isinstance(self.layers, str) or not self.layers
                                    or any(isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1
                                           for w in self.layers)):
            raise ValueError(f"layers needs at least one hidden layer width >= 1, got {self.layers!r}")
        for name in ("calibrate", "freeze_bags", "batchnorm"):
            if getattr(self, name) not in (True, False, AUTO):
                raise ValueError(f"{name} must be True, False or 'auto', got {getattr(self, name)!r}")

    def _input_features(self) -> tuple[list, list]:
        """The bags and attributes as features (names become Bag / Categorical with min_count)."""
        bags, attrs = [], []
        for b in _features_list(self.bags):
            if isinstance(b, str):
                bags.append(Bag(b, min_count=int(self.min_count)))
            elif isinstance(b, Bag):
                bags.append(b)
            else:
                raise ValueError(f"bags takes column names or featvec.Bag objects, got {b!r}")
        for a in _features_list(self.attributes):
            if isinstance(a, str):
                attrs.append(Categorical(a, min_count=int(self.min_count)))
            elif isinstance(a, (Categorical, Numeric)):
                attrs.append(a)
            elif isinstance(a, Bag):
                raise ValueError(f"attribute {a.column!r} is a Bag; pass it in bags=[...]")
            else:
                raise ValueError(f"attributes takes column names, featvec.Categorical or featvec.Numeric objects, "
                                 f"got {a!r}")
        return bags, attrs

    def _check_dims(self, features: list) -> None:
        """dim: one size, or sizes by input name (bags and categorical attributes only), all >= 1."""
        if isinstance(self.dim, Mapping):
            embedded = [feature_name(f) for f in features if not isinstance(f, Numeric)]
            unknown = [c for c in self.dim if c not in embedded]
            if unknown:
                raise ValueError(f"dim names input(s) {unknown} that are not bags or categorical attributes; "
                                 f"those are {embedded}")
            dims = list(self.dim.values())
        else:
            dims = [] if self.dim is None else [self.dim]
        dims += [f.dim for f in features if not isinstance(f, Numeric) and f.dim is not None]
        if any(int(d) < 1 for d in dims):
            raise ValueError(f"dim must be >= 1, got {self.dim!r}")

    def _check_class_weight(self, targets: list[str]) -> None:
        """class_weight: None, 'balanced', or per target 'balanced' or {class: finite weight >= 0}."""
        cw = self.class_weight
        if cw is not None and cw != "balanced":
            if not isinstance(cw, Mapping):
                raise ValueError(f"class_weight must be None, 'balanced' or a dict target -> {{class: weight}}, "
                                 f"got {cw!r}")
            unknown = [t for t in cw if t not in targets]
            if unknown:
                raise ValueError(f"class_weight names target(s) {unknown} that are not among targets {targets}")
            for t, w in cw.items():
                if w != "balanced" and not isinstance(w, Mapping):
                    raise ValueError(f"class_weight[{t!r}] must be 'balanced' or a dict class -> weight, got {w!r}")
                if isinstance(w, Mapping) and any(not (math.isfinite(float(v)) and float(v) >= 0)
                                                  for v in w.values()):
                    raise ValueError(f"class_weight[{t!r}] needs finite weights >= 0, got {dict(w)}")

    def _dim(self, f) -> int:
        name, n_in = feature_name(f), self.encoder_.input_size(feature_name(f))
        if isinstance(self.dim, Mapping) and name in self.dim:
            return int(self.dim[name])
        if f.dim is not None:
            return int(f.dim)
        if self.dim is None or isinstance(self.dim, Mapping):
            return emb_size_rule(n_in)
        return int(self.dim)

    def _classes(self, df: pd.DataFrame, t: str) -> list:
        values, present = _labels(df, t)
        classes = sorted_values(pd.unique(pd.Series(values[present], dtype=object)))
        if classes and all(isinstance(c, float) and c.is_integer() for c in classes):
            classes = [int(c) for c in classes]  # ints that NaN turned into floats
        if len(classes) < 2:
            held = "no label" if not classes else f"only {classes[0]!r}"
            raise ValueError(f"target {t!r} needs at least two classes among its present labels; it holds {held}")
        return classes

    def _class_weights(self, df: pd.DataFrame) -> dict[str, list[float]]:
        out = {}
        for t in self.targets_:
            classes = self.classes_[t]
            spec = self.class_weight.get(t) if isinstance(self.class_weight, Mapping) else self.class_weight
            if spec is None:
                out[t] = [1.0] * len(classes)
            elif spec == "balanced":
                values, present = _labels(df, t)
                counts = np.bincount(_codes(values, present, classes)[present], minlength=len(classes))
                out[t] = [float(counts.sum() / (len(classes) * c)) for c in counts]
            else:
                unknown = [c for c in spec if c not in classes]
                if unknown:
                    raise ValueError(f"class_weight[{t!r}] names class(es) {_py_list(unknown)} that target {t!r} "
                                     f"does not hold; its classes are {classes[:20]}")
                out[t] = [float(spec.get(c, 1.0)) for c in classes]
                if not any(out[t]):
                    raise ValueError(f"class_weight[{t!r}] gives every class weight 0")
        return out

    # ------------------------------------------------------------------ inputs

    def _frame(self, df: pd.DataFrame, what: str) -> pd.DataFrame:
        """The input columns the encoder reads, a missing categorical attribute becoming "#na#"."""
        cols = [c for f in self.features_ for c in f.columns]
        require_columns(df, cols + ([self.id_col] if self.id_col else []), what)
        out = {}
        for f in self.features_:
            for c in f.columns:
                values = df[c].to_numpy(dtype=object) if isinstance(f, (Bag, Categorical)) else df[c].to_numpy()
                if isinstance(f, Categorical):
                    missing = df[c].isna().to_numpy()
                    if missing.any():
                        values = values.copy()
                        values[missing] = NA_LABEL
                out[c] = values
        return pd.DataFrame(out, index=df.index)

    def _check_inputs(self, frame: pd.DataFrame, what: str) -> None:
        """What the encoder would refuse (a bag cell that is not a list, weights that do not match their bag,
        a non-numeric value), checked on all of the rows so that errors name rows of the frame given."""
        for f in self.features_:
            if isinstance(f, Bag):
                lists = bag_lists(frame, f, what)
                if f.weights:
                    check_weights(frame, f, lists, weight_lists(frame, f, what), what)
            elif isinstance(f, Numeric):
                for c in f.columns:
                    numeric_values(frame, c, what, allow_nan=f.impute is not None)

    def _encode(self, df: pd.DataFrame, what: str) -> dict:
        return self.encoder_.transform(self._frame(df, what), what)

    def _index(self, df: pd.DataFrame, what: str) -> pd.Index:
        if self.id_col is None:
            return df.index
        require_columns(df, [self.id_col], what)
        ids = check_values(df, self.id_col, what)
        dup = ids.duplicated().to_numpy()
        if dup.any():
            pos = int(np.flatnonzero(dup)[0])
            raise ValueError(f"{what}: user id {plain(df[self.id_col].iloc[pos])!r} in column {self.id_col!r} "
                             f"appears more than once (row {pos})")
        return pd.Index(ids.to_numpy(), name=self.id_col)

    def _y(self, df: pd.DataFrame, what: str) -> np.ndarray:
        """Class positions [n, tasks], MISSING where a label is absent (or, in ``valid``, unseen in fit)."""
        missing = [t for t in self.targets_ if t not in df.columns]
        if missing:
            raise ValueError(f"{what} has no target column(s) {missing}; it has {list(df.columns)[:20]}")
        y = np.empty((len(df), len(self.targets_)), dtype=np.int64)
        for j, t in enumerate(self.targets_):
            values, present = _labels(df, t)
            y[:, j] = _codes(values, present, self.classes_[t])
            unseen = present & (y[:, j] == MISSING)
            if unseen.any():
                bad = _py_list(pd.unique(pd.Series(values[unseen], dtype=object))[:5])
                warnings.warn(f"{what}: target {t!r} has {int(unseen.sum())} label(s) not among the classes of "
                              f"the training data, e.g. {bad}; those rows are left out of the {t!r} task",
                              UserWarning, stacklevel=3)
        return y

    # ------------------------------------------------------------------ fit

    def fit(self, df: pd.DataFrame, valid: pd.DataFrame | None = None) -> "UserModel":
        """Learn from the users (rows) of ``df``. ``valid``: rows for early stopping and calibration (default:
        ``valid_frac`` of ``df`` when ``patience`` is set or ``calibrate`` is on and there are >= 20 rows)."""
        return self._fit(df, valid)

    def _prepare(self, df: pd.DataFrame, spec, what: str) -> dict:
        bags, attrs, targets = spec
        df = check_frame(df, what)
        self.recipe_ = self._choose_recipe(len(df))
        if self.recipe_ == "small_data":
            named = {b for b in _features_list(self.bags) if isinstance(b, str)}
            small = {"pooling": "tfidf", **({"dim": SMALL_DATA_DIM} if self.dim is None else {})}
            bags = [replace(b, **small) if b.column in named and b.name is None else b for b in bags]
        missing = [t for t in targets if t not in df.columns]
        if missing:
            raise ValueError(f"{what} has no target column(s) {missing}; it has {list(df.columns)[:20]}")
        self.features_, self.targets_ = bags + attrs, targets
        self.bag_names_ = [feature_name(f) for f in bags]
        self.attribute_names_ = [feature_name(f) for f in attrs]
        self._index(df, what)
        self.classes_ = {t: self._classes(df, t) for t in targets}
        self.class_weights_ = self._class_weights(df)
        frame = self._frame(df, what)
        self._check_inputs(frame, what)  # errors name rows of data, before any split
        return {"df": df, "frame": frame, "what": what}

    def _prepare_valid(self, valid: pd.DataFrame) -> dict:
        return {"df": check_frame(valid, "valid"), "frame": None, "what": "valid"}

    def _n_rows(self, part: dict) -> int:
        return len(part["df"])

    def _take(self, part: dict, pos: np.ndarray) -> dict:
        return {"df": part["df"].iloc[pos], "frame": part["frame"].iloc[pos], "what": part["what"]}

    def _fit_encoders(self, part: dict) -> None:
        """Vocabularies and scalings from the training rows only."""
        self.encoder_ = FeatureEncoder(self.features_).fit(part["frame"], "data")
        self.specs_ = [GroupSpec(feature_name(f), f.kind, self.encoder_.input_size(feature_name(f)), self._dim(f),
                                 bias=False) for f in self.features_ if not isinstance(f, Numeric)]
        self.embedding_sizes_ = {s.name: s.dim for s in self.specs_}

    def _rows(self, part: dict, device, training: bool) -> tuple:
        """(the rows for the trainer, their encoded inputs, their labels)."""
        frame = part["frame"] if part["frame"] is not None else self._frame(part["df"], part["what"])
        inputs, y = self.encoder_.transform(frame, part["what"]), self._y(part["df"], part["what"])
        return LabelledRows(inputs, torch.as_tensor(y), device), inputs, y

    def _build_net(self, data: dict, train: tuple, valid, device) -> UserNet:
        _, inputs, y = train
        net = self._make_net()
        self.baselines_ = self._baselines(y)
        self._init_head(net)
        self._init_bags(net, inputs)
        net.wide_l2 = float(self._p("wide_l2")) / (2 * len(y))
        self._for_training(net, inputs, [r[0] for r in (train, valid) if r is not None])
        return net.to(device)

    def _train(self, net: UserNet, train: tuple, valid, device) -> list[dict]:
        trainer = Trainer(self._p("epochs"), self._p("batch_size"), self._p("lr"), self.optimizer, self.weight_decay,
                          self.schedule, self._p("patience") if valid is not None else None, self.seed,
                          self.show_progress,
                          precision=self.precision)
        return trainer.fit(net, train[0], device, None if valid is None else valid[0])

    def _after_fit(self, net: UserNet, train: tuple, valid) -> None:
        self.net_ = net.eval()
        self.temperatures_ = self._temperatures(*(valid[1:] if valid is not None else (None, None)))
        self._warn_if_constant(train[1], len(train[2]))

    def _warn_if_constant(self, inputs: dict, n: int, sample: int = 2000) -> None:
        """Warn when every task predicts (nearly) the same probabilities for every training user: the model
        learned nothing about the users (too few epochs or users for the recipe, or no signal)."""
        rows = torch.as_tensor(np.unique(np.linspace(0, n - 1, min(n, sample)).astype(np.int64)))  # evenly spread
        logits = self._logits({k: take(v, rows) for k, v in inputs.items()}, len(rows))
        spread = {t: float(torch.softmax(torch.as_tensor(z), 1).std(0).max()) for t, z in logits.items()}
        if len(rows) > 1 and max(spread.values()) < 1e-3:
            warnings.warn(f"UserModel ({self.recipe_} recipe) predicts nearly the same probabilities for every user "
                          f"(largest spread {max(spread.values()):.1e}); it learned nothing about the users: "
                          f"check the bags, or train longer (epochs=) or try recipe='small_data'", stacklevel=5)

    def _temperatures(self, valid_inputs, valid_y) -> dict[str, float]:
        """Each target's softmax temperature, fitted on the validation users when ``calibrate`` (else 1)."""
        temperatures = {t: 1.0 for t in self.targets_}
        if self._p("calibrate") and valid_inputs is not None:
            logits = self._logits(valid_inputs, len(valid_y))
            for j, t in enumerate(self.targets_):
                present = valid_y[:, j] >= 0
                if present.any():
                    temperatures[t] = fit_temperature(logits[t][present], valid_y[present, j], self.baselines_[t])
        return temperatures

    def _for_training(self, net: UserNet, train_inputs: dict, rows: list[LabelledRows]) -> None:
        """Sparse gradients for the tables a batch uses little of; each row set's small bags as dense
        matrices and its frozen tables' vectors looked up once."""
        for emb in (net.embedding, net.wide):
            if emb is not None:
                emb.set_sparse(FeatureEmbedding.sparse_groups(emb.groups, train_inputs, int(self._p("batch_size"))))
        for r in rows:
            r.inputs = FeatureEmbedding.densify(self.specs_, r.inputs)
            if net.embedding is not None:
                r.inputs = net.embedding.pooled_frozen(r.inputs)

    def _make_net(self) -> UserNet:
        numeric = {feature_name(f): self.encoder_.input_size(feature_name(f))
                   for f in self.features_ if isinstance(f, Numeric)}
        return UserNet(self.specs_, numeric, [int(w) for w in self._p("layers")],
                       [len(self.classes_[t]) for t in self.targets_], self._p("dropout"), self._wide_names(),
                       bool(self._p("batchnorm")))

    def _wide_names(self) -> list[str]:
        names = [feature_name(f) for f in self.features_]
        wide = self._p("wide")
        if wide is True:
            return names
        return [n for n in names if n in as_names(wide)] if wide else []

    def _init_bags(self, net: UserNet, inputs: dict) -> None:
        """``bag_init="svd"``: each bag's table from the SVD of the training rows' pooled bags; frozen with
        ``freeze_bags``."""
        for s in self.specs_:
            if s.kind != "bag":
                continue
            table = net.embedding.tables[net.embedding.names.index(s.name)].weight
            if self._p("bag_init") == "svd":
                with torch.no_grad():
                    table.copy_(svd_table(inputs[s.name], s.n_in, s.dim, self.seed))
            table.requires_grad_(not self._p("freeze_bags"))

    def _baselines(self, y: np.ndarray) -> dict[str, list[float]]:
        """Each task's baseline: the log of the (class-weighted) frequencies of its training labels."""
        out = {}
        for j, t in enumerate(self.targets_):
            k = len(self.classes_[t])
            freq = np.bincount(y[:, j][y[:, j] >= 0], minlength=k) * np.asarray(self.class_weights_[t])
            freq = freq / freq.sum() if freq.sum() > 0 else np.full(k, 1.0 / k)
            out[t] = [float(v) for v in np.log(np.maximum(freq, 1e-4))]
        return out

    def _init_head(self, net: UserNet) -> None:
        """Class weights into the loss, and each head starting from its baseline."""
        with torch.no_grad():
            net.class_weight.copy_(torch.as_tensor(np.concatenate([self.class_weights_[t] for t in self.targets_]),
                                                   dtype=torch.float32))
            net.head.bias.copy_(torch.as_tensor(np.concatenate([self.baselines_[t] for t in self.targets_]),
                                                dtype=torch.float32))

    # ------------------------------------------------------------------ prediction

    @property
    def _dev(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _run(self, inputs: dict, n: int, fn, batch_size: int = 65536) -> np.ndarray:
        """``fn`` (the network or its user-vector part) over encoded rows (on the CPU), batch by batch."""
        self.net_.eval()
        out = []
        with torch.no_grad():
            for s in range(0, n, batch_size):
                rows = torch.arange(s, min(s + batch_size, n))
                out.append(fn({k: take(v, rows).to(self._dev) for k, v in inputs.items()}).cpu())
        return torch.cat(out).double().numpy()

    def _logits(self, inputs: dict, n: int) -> dict[str, np.ndarray]:
        """Each task's logits (before the temperature)."""
        out, start, logits = {}, 0, self._run(inputs, n, self.net_)
        for t in self.targets_:
            k = len(self.classes_[t])
            out[t] = logits[:, start:start + k]
            start += k
        return out

    def _task_logits(self, df: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.Index]:
        self._check_fitted()
        df = check_frame(df, "data")
        index = self._index(df, "data")
        return self._logits(self._encode(df, "data"), len(df)), index

    def _classes_array(self, t: str) -> np.ndarray:
        return pd.Series(self.classes_[t], dtype=object).infer_objects().to_numpy()

    def predict_proba(self, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Target -> class probabilities (temperature-scaled): one column per class (``classes_[target]``),
        one row per row of ``df`` (indexed as ``df``, or by ``id_col``); rows sum to 1."""
        logits, index = self._task_logits(df)
        out = {}
        for t, z in logits.items():
            z = scale(z, self.temperatures_[t], self.baselines_[t])
            proba = torch.softmax(torch.as_tensor(z), dim=1).numpy()
            out[t] = pd.DataFrame(proba, index=index, columns=pd.Index(self.classes_[t], dtype=object))
        return out

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """The most likely class per target, as the labels came in (ints stay ints, strings strings): one
        column per target, rows as ``df`` (or indexed by ``id_col``)."""
        logits, index = self._task_logits(df)
        return pd.DataFrame({t: self._classes_array(t)[z.argmax(1)] for t, z in logits.items()}, index=index)

    def score(self, df: pd.DataFrame) -> dict[str, float]:
        """Target -> accuracy over the rows of ``df`` that hold a label for it (NaN when none does); a label
        the model never saw in training counts as wrong."""
        self._check_fitted()
        df = check_frame(df, "data")
        missing = [t for t in self.targets_ if t not in df.columns]
        if missing:
            raise ValueError(f"data has no target column(s) {missing}; it has {list(df.columns)[:20]}")
        logits, _ = self._task_logits(df)
        out = {}
        for t, z in logits.items():
            values, present = _labels(df, t)
            codes = _codes(values, present, self.classes_[t])
            out[t] = float(np.mean(z.argmax(1)[present] == codes[present])) if present.any() else float("nan")
        return out

    # ------------------------------------------------------------------ vectors

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """The user vectors (the last hidden layer's output), columns ``u0``.., rows as ``df`` (or by
        ``id_col``)."""
        self._check_fitted()
        df = check_frame(df, "data")
        index = self._index(df, "data")
        h = self._run(self._encode(df, "data"), len(df), self.net_.represent).astype(np.float32)
        return pd.DataFrame(h, index=index, columns=[f"u{i}" for i in range(h.shape[1])])

    @property
    def vectors_(self) -> VectorSet:
        """One table per bag (its values and their vectors) and per categorical attribute ("#na#" for
        missing); the 'unknown' row is left out."""
        self._check_fitted()
        if self._vectors is None:
            tables = {}
            for s in self.specs_:
                matrix = self.net_.embedding.table(s.name).detach().cpu().numpy()[1:]
                tables[s.name] = Vectors(self.encoder_.vocabs[s.name].values, matrix, name=s.name)
            self._vectors = VectorSet(tables)
        return self._vectors

    # ------------------------------------------------------------------ persistence

    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        config = {"params": persistence.params_to_json(self.get_params()),
                  "features": [feature_to_dict(f) for f in self.features_], "targets": self.targets_,
                  "bag_names": self.bag_names_, "attribute_names": self.attribute_names_,
                  "classes": [[t, self.classes_[t]] for t in self.targets_],
                  "class_weights": self.class_weights_, "temperatures": self.temperatures_,
                  "baselines": self.baselines_,
                  "encoder": self.encoder_.state(), "specs": [vars(s) for s in self.specs_],
                  "net": self.net_.config, "history": self.history_, "recipe": self.recipe_}
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        return config, tensors

    @classmethod
    def _from_state(cls, config: dict, tensors: dict) -> "UserModel":
        model = cls(**persistence.params_from_json(config["params"]))
        model.features_ = [feature_from_dict(d) for d in config["features"]]
        model.targets_ = list(config["targets"])
        model.bag_names_, model.attribute_names_ = config["bag_names"], config["attribute_names"]
        model.classes_ = {t: list(c) for t, c in config["classes"]}
        model.class_weights_ = config["class_weights"]
        model.temperatures_ = {t: float(v) for t, v in config["temperatures"].items()}
        model.baselines_ = config["baselines"]
        model.encoder_ = FeatureEncoder.from_state(model.features_, config["encoder"])
        model.specs_ = [GroupSpec(**s) for s in config["specs"]]
        model.embedding_sizes_ = {s.name: s.dim for s in model.specs_}
        model.history_ = config.get("history", [])
        model.recipe_ = config.get("recipe")  # None in files saved before the recipes (their parameters explicit)
        model.net_ = UserNet(model.specs_, **config["net"])
        model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        model.net_.eval()
        model._vectors = None
        return model


def _py_list(values) -> list:
    return [plain(v) for v in values]
