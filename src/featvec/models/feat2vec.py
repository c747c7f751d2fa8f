"""Feat2Vec: one vector for every value of every feature group, learned without labels by telling observed
records from corrupted ones (notebook 003; Gonzalez et al., "Learning features from co-occurrences")."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from featvec.encoding import EncodedBag, FeatureEncoder, take
from featvec.fused.train import fit_fm
from featvec.io import persistence
from featvec.io.persistence import register
from featvec.models.base import BaseModel
from featvec.nn.embedding import GroupSpec
from featvec.nn.feat2vec import Feat2VecNet
from featvec.sampling.groups import GroupSampler, unit_codes
from featvec.schema import Bag, Categorical, Feature, Numeric, feature_from_dict, feature_name, feature_to_dict
from featvec.training.rows import RecordRows
from featvec.training.trainer import Trainer, resolve_device
from featvec.util.arrays import unique
from featvec.validation import as_names, check_frame, check_k
from featvec.vectors import Vectors, VectorSet

OBJECTIVES = ("nce", "negative_sampling")
ALL = "all"


def _as_feature(g) -> Feature:
    if isinstance(g, (Categorical, Numeric, Bag)):
        return g
    if isinstance(g, dict):
        return feature_from_dict(g)
    if isinstance(g, str):
        return Categorical(g)
    raise TypeError(f"a group must be a column name, Categorical, Numeric or Bag; got {g!r}")


def _known_label(table, label):
    """``label`` as the table writes it: "rating=5" finds "rating=5.0" (and "rating=5.0" finds "rating=5")
    when only that form is known; anything else is returned as given (unknown labels are reported later)."""
    if not isinstance(label, str) or label in table or "=" not in label:
        return label
    group, _, value = label.partition("=")
    try:
        number = float(value)
    except ValueError:
        return label
    forms = [f"{group}={number}"] + ([f"{group}={int(number)}"] if number.is_integer() else [])
    return next((f for f in forms if f in table), label)


def _zero_untrained(net: Feat2VecNet, specs, inputs: dict) -> None:
    """Values that never occur in the training records (only in the held-out ones) keep no trained
    weights: zero them, so they score like unknown values."""
    emb = net.embedding
    with torch.no_grad():
        for s in specs:
            if s.kind == "numeric":
                continue
            x = inputs[s.name]
            idx = x.indices if isinstance(x, EncodedBag) else x
            unused = torch.bincount(idx, minlength=s.n_in) == 0
            unused[0] = False
            if s.dim:
                emb.table(s.name)[unused] = 0.0
            if s.bias and emb.bias_tables is not None:
                emb.bias_tables[emb.names.index(s.name)].weight[unused] = 0.0


@register
class Feat2Vec(BaseModel):
    """A factorization machine over feature groups, trained by feat2vec's group-resampling sampler.

    score(record) = offset + the groups' biases + the FM's pairwise dot products of the group vectors (+ an MLP
    over their concatenation with ``deep=True``: DeepFM). Each observed record is told from ``negatives``
    corrupted copies, each with one sampling unit (a group, or a ``tie`` of groups) taken from another training
    record (see ``featvec.sampling.groups``). With ``optimizer="sgd"`` and ``batch_size=1`` (the defaults) on the
    CPU every record and its negatives take one SGD step in featvec's fused kernel; ``deep=True``, any other
    optimizer, batch size or device trains mini-batches through torch.

    After ``fit``: ``vectors_``, ``similar`` (nearest values, e.g. of "genre=Comedy"), ``score`` (of records),
    ``rank_values`` / ``complete`` (the best values of a group for each record).

    Parameters
    ----------
    groups : sequence of str, Categorical, Numeric or Bag, default ()
        The feature groups (at least one): a column name (categorical), ``Categorical``, ``Numeric`` (several
        real columns mapped linearly to one vector) or ``Bag``.
    dim : int, default 32
        Length of every group's vector (a feature's own ``dim`` is not used: the FM needs one length).
    objective : {"nce", "negative_sampling"}, default "nce"
        "nce": noise-contrastive estimation with the sampler's noise probabilities (a score is then an
        unnormalised log-density); "negative_sampling": the logistic loss of records against their negatives.
    negatives : int, default 5
        Corrupted records per observed record (at least 1).
    group_alpha : float, default 0.5
        In [0, 1]: the unit a negative corrupts is picked with probability proportional to the unit's parameter
        count to this power (0: every unit alike).
    value_alpha : float, default 0.25
        In [0, 1]: the unit's new value is drawn with probability proportional to ``(count + value_bias) **
        value_alpha``, counts over the training records (0: uniform over its distinct values).
    value_bias : float, default 10.0
        Added to every value's count before ``value_alpha`` applies; larger flattens the draws further.
    tie : sequence of sequences of str, default ()
        Lists of group names resampled together as one unit (a movie and its genres); a group in one tie at most.
    bias_only : sequence of str, default ()
        Groups with a bias and no vector.
    embeddings_only : bool or sequence of str, default True
        True: every other group has a vector and no bias (feat2vec's default); False: a vector and a bias; a list
        of names: those groups have no bias, the others have both.
    offset : bool, default True
        Learn a global offset added to every score.
    reject_observed : bool, default True
        Redraw a negative while it equals an observed training record (up to 10 tries).
    deep : bool, default False
        Add an MLP over the concatenated group vectors (DeepFM); trains through torch.
    layers : sequence of int, default (64, 32)
        Hidden widths of the ``deep`` MLP (Linear-ReLU-dropout each); unused without ``deep``.
    dropout : float, default 0.0
        Dropout after each hidden layer of the ``deep`` MLP.
    epochs : int, default 20
        Passes over the training records.
    batch_size : int, default 1
        Records per step; 1 with ``optimizer="sgd"`` on the CPU (and no ``deep``) is the fused per-record SGD.
    lr : float, default 0.02
        Learning rate (the schedule's peak).
    optimizer : {"sgd", "adam", "adamw", "sparse_adam", "adagrad"}, default "sgd"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.0
        Weight decay of torch training (decoupled for "adamw", an L2 term in the gradient otherwise); the fused
        SGD refuses it (a ValueError at ``fit``): it regularises with ``reg``.
    schedule : {"cosine", "linear", "constant", "onecycle"}, default "cosine"
        Learning-rate schedule. Fused SGD, per epoch: "cosine" or "linear" down to a tenth of ``lr``, or "constant";
        torch, per step: "onecycle", "cosine" (down to 0) or "constant". Another raises a ValueError at ``fit``.
    init_std : float, default 0.1
        Standard deviation of the normal initial vectors (biases and the offset start at zero).
    reg : float, default 0.001
        L2 on the rows each fused SGD step uses; torch training does not use it (use ``weight_decay`` there).
    valid_frac : float, default 0.1
        Share of the records (drawn with ``seed``) held out for early stopping when ``patience`` is set, ``fit`` gets
        no ``valid`` and there are at least 20 records; values found only there keep zero vectors.
    patience : int, default 2
        Stop once the validation loss has not improved for more than ``patience`` epochs in a row, keeping the best
        epoch's weights; None: no early stopping, and no records held out.
    seed : int, default 0
        Seed of the validation split, the initial weights and the negative draws.
    device : str, default "cpu"
        Where torch training runs: "cpu", "cuda" (or any torch device), or "auto" (a CUDA GPU, else Apple's MPS,
        else the CPU). The fused SGD runs on the CPU only; the fitted network is kept on the CPU.
    show_progress : bool or "auto", default "auto"
        A tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.

    Attributes
    ----------
    vectors_ : VectorSet
        One table per group with vectors (its values, their vectors and biases), and "all": every value of every
        such group, labelled "group=value".
    history_ : list of dict
        One dict per epoch: epoch, train_loss, valid_loss (with validation records), lr, seconds.
    net_ : Feat2VecNet
        The trained network.
    encoder_ : FeatureEncoder
        The groups' vocabularies and scalings, from all the records given to ``fit`` (held-out ones included).
    features_ : list of Categorical, Numeric or Bag
        ``groups`` as feature objects.
    units_ : list of list of str
        The sampling units: each ``tie``, then every other group on its own.
    candidates_ : list of dict
        Per unit, its distinct value combinations in the records given to ``fit``: what ``rank_values`` ranks.
    """

    def __init__(self, groups: Sequence = (), dim: int = 32, objective: str = "nce", negatives: int = 5,
                 group_alpha: float = 0.5, value_alpha: float = 0.25, value_bias: float = 10.0,
                 tie: Sequence[Sequence[str]] = (), bias_only: Sequence[str] = (),
                 embeddings_only: bool | Sequence[str] = True, offset: bool = True, reject_observed: bool = True,
                 deep: bool = False, layers: Sequence[int] = (64, 32), dropout: float = 0.0,
                 epochs: int = 20, batch_size: int = 1, lr: float = 0.02, optimizer: str = "sgd",
                 weight_decay: float = 0.0, schedule: str = "cosine", init_std: float = 0.1, reg: float = 0.001,
                 valid_frac: float = 0.1, patience: int | None = 2, seed: int = 0, device: str = "cpu",
                 show_progress="auto"):
        self._init_params(locals())

    # ------------------------------------------------------------------ set-up

    def _check_params(self) -> list[Feature]:
        self._validate_params()
        if self._fused(resolve_device(self.device)):
            self._refuse_weight_decay("per-record SGD (optimizer='sgd', batch_size=1)")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if int(self.negatives) < 1:
            raise ValueError(f"negatives must be >= 1, got {self.negatives}")
        for name in ("group_alpha", "value_alpha"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        feats = [_as_feature(g) for g in self.groups]
        if not feats:
            raise ValueError("Feat2Vec needs at least one feature group (groups=[...])")
        names = [feature_name(f) for f in feats]
        for what, listed in (("tie", [n for t in self.tie for n in as_names(t)]),
                             ("bias_only", as_names(self.bias_only)),
                             ("embeddings_only", [] if isinstance(self.embeddings_only, bool)
                              else as_names(self.embeddings_only))):
            unknown = [n for n in listed if n not in names]
            if unknown:
                raise ValueError(f"{what} names unknown group(s) {unknown}; the groups are {names}")
        tied = [n for t in self.tie for n in as_names(t)]
        if len(tied) != len(set(tied)):
            raise ValueError(f"a group can be in one tie only; tie={self.tie!r}")
        if len([n for n in names if n not in as_names(self.bias_only)]) == 0:
            raise ValueError("every group is bias_only: nothing would get a vector")
        return feats

    def _units(self, names: list[str]) -> list[list[str]]:
        ties = [as_names(t) for t in self.tie]
        tied = {n for t in ties for n in t}
        return ties + [[n] for n in names if n not in tied]

    def _specs(self, encoder: FeatureEncoder) -> list[GroupSpec]:
        bias_only = set(as_names(self.bias_only))
        if isinstance(self.embeddings_only, bool):
            no_bias = {n for n in encoder.names if n not in bias_only} if self.embeddings_only else set()
        else:
            no_bias = set(as_names(self.embeddings_only))
        kinds = {feature_name(f): f.kind for f in encoder.features}
        return [GroupSpec(n, kinds[n], encoder.input_size(n), 0 if n in bias_only else int(self.dim),
                          bias=n not in no_bias) for n in encoder.names]

    def _make_sampler(self, inputs: dict, seed: int) -> GroupSampler:
        params = {s.name: s.n_in * (s.dim + int(s.bias)) for s in self.specs_}
        weights = [sum(params[n] for n in u) for u in self.units_]
        return GroupSampler(inputs, self.units_, weights, self.group_alpha, self.value_alpha, self.value_bias,
                            self.reject_observed, seed=seed)

    # ------------------------------------------------------------------ fit

    def fit(self, data: pd.DataFrame, valid: pd.DataFrame | None = None) -> "Feat2Vec":
        """Learn from the records in ``data`` (one row each), or an ingested folder
        (``featvec.data.Interactions``: its user and item columns as categorical groups, read from its shards).
        ``valid``: records for the validation loss (default: ``valid_frac`` of ``data`` when ``patience`` is
        set)."""
        return self._fit(data, valid)

    def _prepare(self, data: pd.DataFrame, feats: list[Feature], what: str) -> dict:
        """The records encoded. The vocabularies and the ranking candidates keep every value, also those of
        records then held out for early stopping. An ingested folder (``featvec.data.Interactions``) is
        records of its user and item columns, read from its shards."""
        from featvec.data import Interactions

        self.features_ = feats
        if isinstance(data, Interactions):
            self.encoder_, inputs = _folder_records(data, feats)
        else:
            data = check_frame(data, what)
            self.encoder_ = FeatureEncoder(feats).fit(data, what)
            inputs = None
        self.units_ = self._units(self.encoder_.names)
        if len(self.units_) < 2:
            raise ValueError("Feat2Vec needs at least two sampling units (groups not all tied together): a "
                             f"negative resamples one unit and keeps the others; units are {self.units_}")
        self.specs_ = self._specs(self.encoder_)
        inputs = self.encoder_.transform(data, what) if inputs is None else inputs
        self.candidates_ = self._candidates(inputs)
        return {"inputs": inputs, "n": len(next(iter(inputs.values())))}

    def _prepare_valid(self, valid: pd.DataFrame) -> dict:
        valid = check_frame(valid, "valid")
        return {"inputs": self.encoder_.transform(valid, "valid"), "n": len(valid)}

    def _n_rows(self, part: dict) -> int:
        return part["n"]

    def _take(self, part: dict, pos: np.ndarray) -> dict:
        rows = torch.as_tensor(pos)
        return {"inputs": {k: take(v, rows) for k, v in part["inputs"].items()}, "n": len(pos)}

    def _rows(self, part: dict, device, training: bool) -> tuple:
        """(the encoded records, their sampler); the validation records' sampler is seeded apart."""
        if training:
            return part["inputs"], self._make_sampler(part["inputs"], self.seed)
        try:
            return part["inputs"], self._make_sampler(part["inputs"], self.seed + 1)
        except ValueError as exc:
            raise ValueError(f"validation records: {exc} (pass more valid records, or valid_frac=0)") from None

    def _build_net(self, data: dict, train: tuple, valid, device) -> Feat2VecNet:
        return Feat2VecNet(self.specs_, self.objective, self.offset, self.deep, self.layers, self.dropout,
                           self.init_std).to(device)

    def _train(self, net: Feat2VecNet, train: tuple, valid, device) -> list[dict]:
        (inputs, sampler), patience = train, self.patience if valid is not None else None
        if self._fused(device):
            return fit_fm(net, inputs, sampler, self.units_, objective=self.objective,
                          negatives=int(self.negatives), epochs=self.epochs, lr=self.lr, schedule=self.schedule,
                          reg=self.reg, seed=self.seed, valid=valid, patience=patience,
                          show_progress=self.show_progress)
        valid_rows = None if valid is None else RecordRows(*valid, self.negatives, device, fixed=True)
        trainer = Trainer(self.epochs, self.batch_size, self.lr, self.optimizer, self.weight_decay,
                          self.schedule, patience, self.seed, self.show_progress)
        return trainer.fit(net, RecordRows(inputs, sampler, self.negatives, device), device, valid_rows)

    def _after_fit(self, net: Feat2VecNet, train: tuple, valid) -> None:
        self.net_ = net.cpu().eval()
        _zero_untrained(self.net_, self.specs_, train[0])

    def _fused(self, device) -> bool:
        """Per-record SGD in the fused kernel: the plain FM (no deep part), optimizer "sgd" with batch_size
        1, CPU."""
        return not self.deep and self.optimizer == "sgd" and self.batch_size == 1 and device.type == "cpu"

    def _candidates(self, inputs: dict) -> list[dict]:
        """Per unit: the distinct value combinations seen in training (encoded), the candidates of
        ``rank_values``."""
        out = []
        for unit in self.units_:
            _, first = unique(unit_codes(inputs, unit), return_index=True)
            rows = torch.as_tensor(np.sort(first), dtype=torch.long)
            out.append({n: take(inputs[n], rows) for n in unit})
        return out

    # ------------------------------------------------------------------ vectors

    @property
    def vectors_(self) -> VectorSet:
        self._check_fitted()
        if self._vectors is None:
            tables, labels, rows = {}, [], []
            emb = self.net_.embedding
            for s in self.specs_:
                if not s.dim:
                    continue
                if s.kind == "numeric":
                    values = list(self.encoder_.features[self.encoder_.names.index(s.name)].columns)
                    matrix = emb.table(s.name).detach().numpy()
                else:
                    values = self.encoder_.vocabs[s.name].values
                    matrix = emb.table(s.name).detach().numpy()[1:]
                bias = emb.bias_table(s.name) if s.bias else None
                if bias is not None:
                    bias = bias.detach().numpy()[1:] if s.kind != "numeric" else bias.detach().numpy()
                tables[s.name] = Vectors(values, matrix, bias, name=s.name)
                labels += [f"{s.name}={v}" for v in values]
                rows.append(matrix)
            tables[ALL] = Vectors(labels, np.concatenate(rows), name=ALL)
            self._vectors = VectorSet(tables)
        return self._vectors

    def similar(self, labels, k: int = 10, groups: Sequence[str] | None = None) -> pd.DataFrame:
        """Nearest values by cosine across every group's vectors (or only ``groups``), for labels like
        ``"genre=Comedy"``: columns query, label, score, rank."""
        table = self.vectors_[ALL]
        cands = None
        if groups is not None:
            groups = as_names(groups)
            unknown = [g for g in groups if g not in self.vectors_ or g == ALL]
            if unknown:
                raise ValueError(f"unknown group(s) {unknown}; groups with vectors: "
                                 f"{[g for g in self.vectors_ if g != ALL]}")
            cands = [f"{g}={v}" for g in groups for v in self.vectors_[g].labels]
        labels = [labels] if isinstance(labels, str) else list(labels)
        return table.similar([_known_label(table, q) for q in labels], k, candidates=cands)

    # ------------------------------------------------------------------ scoring

    def _encode(self, records: pd.DataFrame, what: str) -> dict:
        self._check_fitted()
        return self.encoder_.transform(check_frame(records, what), what)

    def score(self, records: pd.DataFrame, batch_size: int = 65536) -> np.ndarray:
        """The model's score of each record (higher = more like the training records; with NCE an
        unnormalised log-density)."""
        inputs = self._encode(records, "records")
        out = []
        with torch.no_grad():
            for s in range(0, len(records), batch_size):
                rows = torch.arange(s, min(s + batch_size, len(records)))
                out.append(self.net_({k: take(v, rows) for k, v in inputs.items()}))
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)

    def _unit_of(self, group: str) -> int:
        for j, unit in enumerate(self.units_):
            if group in unit:
                return j
        raise ValueError(f"unknown group {group!r}; the groups are {self.encoder_.names}")

    def candidate_labels(self, group: str) -> list:
        """The values of ``group`` that ``rank_values`` ranks (one per distinct training combination of
        the group's unit)."""
        j = self._unit_of(group)
        if group not in self.encoder_.vocabs:
            raise ValueError(f"group {group!r} is numeric; rank_values ranks categorical groups only")
        idx = self.candidates_[j][group]
        if isinstance(idx, EncodedBag):
            raise ValueError(f"group {group!r} is a Bag; rank_values ranks categorical groups only")
        return self.encoder_.vocabs[group].decode(idx.numpy())

    def rank_values(self, records: pd.DataFrame, group: str, chunk: int = 256) -> pd.DataFrame:
        """Score every candidate value of ``group`` for each record, the other groups as given (the
        groups tied to ``group`` come with each candidate): a DataFrame with the records' index, one column
        per candidate value (``candidate_labels``); ``complete`` gives the best ones. ``chunk``: records scored
        at a time by a deep model."""
        labels, scores = self._scores(records, group, chunk)
        return pd.DataFrame(scores, index=records.index, columns=pd.Index(labels, dtype=object, tupleize_cols=False))

    def _scores(self, records: pd.DataFrame, group: str, chunk: int = 256) -> tuple[list, np.ndarray]:
        """(candidate labels, scores [n_records, n_candidates]) of ``rank_values``."""
        check_frame(records, "records")
        labels = self.candidate_labels(group)
        j = self._unit_of(group)
        unit = self.units_[j]
        inputs = self._encode(records, "records")
        cand = self.candidates_[j]
        n, c = len(records), len(labels)
        out = np.empty((n, c), dtype=np.float32)
        with torch.no_grad():
            if self.net_.mlp is None:
                for s in range(0, n, 4096):
                    rows = torch.arange(s, min(s + 4096, n))
                    rec = {k: take(v, rows) for k, v in inputs.items() if k not in unit}
                    out[s:s + len(rows)] = self.net_.candidate_scores(rec, cand, unit).numpy()
                return labels, out
            for s in range(0, n, chunk):
                rows = torch.arange(s, min(s + chunk, n))
                m = len(rows)
                rec = {k: take(v, rows.repeat_interleave(c)) for k, v in inputs.items() if k not in unit}
                cid = torch.arange(c).repeat(m)
                rec.update({k: take(cand[k], cid) for k in unit})
                out[s:s + m] = self.net_(rec).view(m, c).numpy()
        return labels, out

    def complete(self, records: pd.DataFrame, group: str, k: int = 10) -> pd.DataFrame:
        """The ``k`` best values of ``group`` for each record: columns record (row position), value,
        score, rank."""
        k = check_k(k)
        labels, scores = self._scores(records, group)
        k = min(k, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        lab = np.asarray(labels, dtype=object)
        return pd.DataFrame({"record": np.repeat(np.arange(len(scores)), k), "value": lab[top].reshape(-1),
                             "score": np.take_along_axis(scores, top, 1).reshape(-1),
                             "rank": np.tile(np.arange(1, k + 1), len(scores))})

    # ------------------------------------------------------------------ persistence

    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        config = {"params": persistence.params_to_json(self.get_params()), "encoder": self.encoder_.state(),
                  "features": [feature_to_dict(f) for f in self.features_], "units": self.units_,
                  "specs": [vars(s) for s in self.specs_], "history": self.history_}
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        for j, cand in enumerate(self.candidates_):
            for name, value in cand.items():
                key = f"candidates.{j}.{name}"
                if isinstance(value, EncodedBag):
                    tensors.update({f"{key}.indptr": value.indptr, f"{key}.indices": value.indices,
                                    f"{key}.weights": value.weights})
                else:
                    tensors[key] = value
        return config, tensors

    @classmethod
    def _from_state(cls, config: dict, tensors: dict) -> "Feat2Vec":
        if "features" in config:
            params = persistence.params_from_json(config["params"])
            features = [feature_from_dict(g) for g in config["features"]]
        else:  # saved before the parameter codec: the groups as features, sequences as lists
            params = dict(config["params"])
            params["groups"] = features = [feature_from_dict(g) for g in params["groups"]]
            params["layers"] = tuple(params["layers"])
        model = cls(**params)
        model.features_ = features
        model.encoder_ = FeatureEncoder.from_state(model.features_, config["encoder"])
        model.units_ = config["units"]
        model.specs_ = [GroupSpec(**s) for s in config["specs"]]
        model.history_ = config.get("history", [])
        model.candidates_ = []
        for j, unit in enumerate(model.units_):
            cand = {}
            for name in unit:
                key = f"candidates.{j}.{name}"
                if key in tensors:
                    cand[name] = tensors[key]
                else:
                    cand[name] = EncodedBag(tensors[f"{key}.indptr"], tensors[f"{key}.indices"],
                                            tensors[f"{key}.weights"])
            model.candidates_.append(cand)
        model.net_ = Feat2VecNet(model.specs_, model.objective, model.offset, model.deep, model.layers, model.dropout)
        model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        model.net_.eval()
        model._vectors = None
        return model


def _folder_records(data, feats: list[Feature]) -> tuple[FeatureEncoder, dict]:
    """The encoder and encoded records of an ingested folder: every feature a ``Categorical`` of its user or
    item column, the vocabularies the folder's (their rows are the shards' rows)."""
    from featvec.encoding import Vocabulary

    cols = {data.columns["user"]: (data.users, 0), data.columns["item"]: (data.items, 1)}
    bad = [feature_name(f) for f in feats if not isinstance(f, Categorical) or f.column not in cols]
    if bad:
        raise ValueError(f"{data.path} holds the columns {list(cols)}: an ingested folder gives records of those "
                         f"two only, as categorical groups; {bad} is not one")
    enc, arrays, inputs = FeatureEncoder(feats), data.arrays(), {}
    for f in feats:
        values, k = cols[f.column]
        if f.min_count != 1 or f.max_size is not None:
            raise ValueError(f"{feature_name(f)}: min_count / max_size do not apply to an ingested folder (ingest "
                             "applies min_count)")
        enc.vocabs[feature_name(f)] = Vocabulary.fit(values)
        if list(enc.vocabs[feature_name(f)].values) != values:
            raise ValueError(f"{data.path}: the {f.column!r} ids are not in the order featvec sorts them")
        inputs[feature_name(f)] = torch.as_tensor(arrays[k].astype(np.int64))
    return enc, inputs
