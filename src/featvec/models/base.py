"""What every preset shares: scikit-learn style parameters and persistence."""
from __future__ import annotations

import inspect

from featvec.io import persistence
from featvec.models.params import RULES, check, holdout

MIN_HOLDOUT_ROWS = 20  # fewer rows than this: no validation rows are held out


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
            check(k, getattr(self, k), rules)

    def _uses_valid(self) -> bool:
        """Whether held-out rows would be used: for early stopping (``patience``) unless a preset says more."""
        return self.patience is not None

    def _holdout(self, n: int):
        """(training positions, validation positions) of ``n`` rows, or None: rows are held out when the model
        uses them, ``valid_frac`` > 0 and there are at least ``MIN_HOLDOUT_ROWS`` rows (one rule, every preset)."""
        if not self._uses_valid() or not float(self.valid_frac) or n < MIN_HOLDOUT_ROWS:
            return None
        return holdout(n, self.valid_frac, self.seed)

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
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    def save(self, path):
        """Write the model to the folder ``path`` (safetensors + JSON); returns the path."""
        self._check_fitted()
        config, tensors = self._state()
        return persistence.save_state(path, type(self).__name__, config, tensors)

    @classmethod
    def load(cls, path):
        model = persistence.load(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
