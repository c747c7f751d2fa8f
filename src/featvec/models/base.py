"""What every preset shares: scikit-learn style parameters, the one fit, and persistence."""
from __future__ import annotations

import inspect
from pathlib import Path

from featvec.io import persistence
from featvec.models.params import RULES, check, holdout
from featvec.training.distributed import is_writer
from featvec.training.trainer import resolve_device, seeded

MIN_HOLDOUT_ROWS = 20  # fewer rows than this: no validation rows are held out


class NotFittedError(RuntimeError, ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit`` (also a ValueError and an AttributeError,
    as scikit-learn's NotFittedError is, and a RuntimeError, as featvec's was)."""


class BaseModel:
    """``__init__`` only stores hyperparameters; fitted attributes end in ``_``; ``fit`` returns self."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self" and sig.parameters[p].kind != inspect.Parameter.VAR_KEYWORD]

    def _init_params(self, values: dict) -> None:
        """Store the signature's arguments (``locals()`` of ``__init__``) as they are."""
        for k in self._param_names():
            setattr(self, k, values[k])

    def _validate_params(self) -> None:
        """Each parameter of the signature against its rule: ``models.params.RULES``, declared once for every
        preset (a preset with rules of its own sets ``_rules``); presets then check what is their own."""
        rules = getattr(type(self), "_rules", RULES)
        for k in self._param_names():
            check(k, getattr(self, k), rules, self._nullable)

    _nullable: tuple = ()  # shared parameters whose None the preset works out itself (e.g. TabularModel's lr)

    def _refuse_weight_decay(self, engine: str) -> None:
        """weight_decay is read by torch's optimisers only: an engine that would ignore it refuses it."""
        if self.weight_decay:
            raise ValueError(f"weight_decay is for torch's optimisers; {engine} regularises with reg")

    def _uses_valid(self) -> bool:
        """Whether held-out rows would be used: for early stopping (``patience``) unless a preset says more."""
        return self.patience is not None

    def _holdout(self, n: int):
        """(training positions, validation positions) of ``n`` rows, or None: rows are held out when the model
        uses them, ``valid_frac`` > 0 and there are at least ``MIN_HOLDOUT_ROWS`` rows (one rule, every preset)."""
        if not self._uses_valid() or not float(self.valid_frac) or n < MIN_HOLDOUT_ROWS:
            return None
        return holdout(n, self.valid_frac, self.seed)

    def _fit(self, data, valid=None, **side) -> "BaseModel":
        """The one fit of every preset: check the parameters -> check the data (errors name rows of the frame
        given) -> hold out validation rows by the one rule (``_holdout``) unless ``valid`` is given -> fit the
        encoders on the training part -> encode both parts as rows -> build the network (seeded) -> train it
        (the Trainer, or a fused engine over the same epoch loop) -> what the preset keeps after training.
        A fit that fails leaves the model unfitted, not half-updated."""
        spec = self._check_params()
        self.net_ = None
        data = self._prepare(data, spec, "data", **side)
        if valid is not None:
            valid = self._prepare_valid(valid)
        elif (split := self._holdout(self._n_rows(data))) is not None:
            data, valid = self._take(data, split[0]), self._take(data, split[1])
        self._fit_encoders(data)
        device = resolve_device(self.device)
        train = self._rows(data, device, True)
        valid = None if valid is None else self._rows(valid, device, False)
        with seeded(self.seed, device):  # the network's initial weights and the training draws; the caller's RNGs kept
            net = self._build_net(data, train, valid, device)
            self.history_ = self._train(net, train, valid, device)
            self._after_fit(net, train, valid)
        self._vectors = None
        return self

    # the steps of _fit, each preset's own
    def _check_params(self):
        """Check the parameters (``_validate_params``, then the preset's own rules); returns what the
        preset derives from them, for ``_prepare``."""
        self._validate_params()

    def _prepare(self, data, spec, what: str, **side):
        raise NotImplementedError

    def _prepare_valid(self, valid):
        raise NotImplementedError

    def _n_rows(self, data) -> int:
        return len(data)

    def _take(self, data, positions):
        raise NotImplementedError

    def _fit_encoders(self, data) -> None:
        """Vocabularies, scalings and sizes from the training part only (nothing by default)."""

    def _rows(self, data, device, training: bool):
        raise NotImplementedError

    def _build_net(self, data, train, valid, device):
        raise NotImplementedError

    def _train(self, net, train, valid, device) -> list[dict]:
        raise NotImplementedError

    def _after_fit(self, net, train, valid) -> None:
        self.net_ = net.eval()

    def get_params(self, deep: bool = False) -> dict:
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> "BaseModel":
        for k, v in params.items():
            if k not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) is not v and defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "net_", None) is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    # ---- scikit-learn's protocol (clone, check_is_fitted, cross_val_score); scikit-learn itself is optional
    _estimator_type = None  # "classifier" / "regressor" where a preset is one

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=False),
                    input_tags=InputTags(categorical=True, string=True, allow_nan=True),
                    no_validation=True)

    def save(self, path):
        """Write the model to the folder ``path`` (safetensors + JSON); returns the path. In a data-parallel
        fit's process group only rank 0 writes (the ranks hold the same model)."""
        self._check_fitted()
        if not is_writer():
            return Path(path)
        config, tensors = self._state()
        return persistence.save_state(path, type(self).__name__, config, tensors)

    @classmethod
    def load(cls, path):
        model = persistence.load(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
